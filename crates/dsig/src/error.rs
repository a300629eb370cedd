//! Every refusal, in English and Chinese, with the place it concerns (a path from the message's
//! root) and a stable code. `to_field_error` gives the platform's `FieldError`, so the HTTP layer
//! answers a refused signature like any other refused field.

use std::fmt;

use domain::FieldError;
use domain::problem::{ErrorCode, echoed};

use crate::limits::{
    ATTRIBUTES_PER_ELEMENT_MAX, CERTIFICATE_BYTES_MAX, COMMON_NAME_CHARS_MAX, DEPTH_MAX,
    DOCUMENT_BYTES_MAX, ELEMENTS_MAX, SIGNATURE_ELEMENTS_MAX,
};

/// Why a message could not be read as XML (for C14N) at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    TooLarge,
    TooDeep,
    TooManyElements,
    TooManyAttributes,
    SignatureTooLarge,
    /// The bytes are not UTF-8 (offset of the first bad byte).
    NotUtf8 {
        at: usize,
    },
    /// The XML declaration names another encoding.
    NotUtf8Declared {
        encoding: String,
    },
    DocumentType,
    Entity {
        name: String,
    },
    Namespace {
        at: usize,
        detail: String,
    },
    Malformed {
        at: usize,
        detail: String,
    },
    NoRoot,
    /// Two `ds:Signature` children of the root.
    SecondSignature,
}

impl XmlError {
    pub fn code(&self) -> &'static str {
        match self {
            XmlError::TooLarge => "message_too_large",
            XmlError::TooDeep => "xml_too_deep",
            XmlError::TooManyElements => "xml_too_many_elements",
            XmlError::TooManyAttributes => "xml_too_many_attributes",
            XmlError::SignatureTooLarge => "signature_too_large",
            XmlError::NotUtf8 { .. } | XmlError::NotUtf8Declared { .. } => "xml_not_utf8",
            XmlError::DocumentType => "xml_document_type",
            XmlError::Entity { .. } => "xml_entity",
            XmlError::Namespace { .. } => "xml_namespace",
            XmlError::Malformed { .. } => "xml_malformed",
            XmlError::NoRoot => "xml_no_root",
            XmlError::SecondSignature => "signature_repeated",
        }
    }

    pub fn messages(&self) -> (String, String) {
        match self {
            XmlError::TooLarge => (
                format!("the message is larger than {DOCUMENT_BYTES_MAX} bytes"),
                format!("报文超过 {DOCUMENT_BYTES_MAX} 字节"),
            ),
            XmlError::TooDeep => (
                format!("elements are nested more than {DEPTH_MAX} deep"),
                format!("元素嵌套超过 {DEPTH_MAX} 层"),
            ),
            XmlError::TooManyElements => (
                format!("the message has more than {ELEMENTS_MAX} elements"),
                format!("报文元素超过 {ELEMENTS_MAX} 个"),
            ),
            XmlError::TooManyAttributes => (
                format!("an element has more than {ATTRIBUTES_PER_ELEMENT_MAX} attributes"),
                format!("元素的属性超过 {ATTRIBUTES_PER_ELEMENT_MAX} 个"),
            ),
            XmlError::SignatureTooLarge => (
                format!("the signature has more than {SIGNATURE_ELEMENTS_MAX} elements"),
                format!("签名元素超过 {SIGNATURE_ELEMENTS_MAX} 个"),
            ),
            XmlError::NotUtf8 { at } => (
                format!("is not UTF-8 (byte {at})"),
                format!("不是 UTF-8 编码（第 {at} 字节）"),
            ),
            XmlError::NotUtf8Declared { encoding } => (
                format!(
                    "declares the encoding {}; only UTF-8 is accepted",
                    echoed(encoding)
                ),
                format!("声明的编码为 {}，仅接受 UTF-8", echoed(encoding)),
            ),
            XmlError::DocumentType => (
                "a document type declaration (DTD) is not accepted".into(),
                "不接受文档类型声明（DTD）".into(),
            ),
            XmlError::Entity { name } => (
                format!(
                    "the entity reference &{}; is not accepted (only XML's five and character references)",
                    echoed(name)
                ),
                format!(
                    "不接受实体引用 &{};（仅接受 XML 预定义实体和字符引用）",
                    echoed(name)
                ),
            ),
            XmlError::Namespace { at, detail } => (
                format!("has a namespace error at byte {at}: {}", echoed(detail)),
                format!("第 {at} 字节处命名空间错误：{}", echoed(detail)),
            ),
            XmlError::Malformed { at, detail } => (
                format!("is not well-formed XML at byte {at}: {}", echoed(detail)),
                format!("第 {at} 字节处不是格式正确的 XML：{}", echoed(detail)),
            ),
            XmlError::NoRoot => ("has no root element".into(), "没有根元素".into()),
            XmlError::SecondSignature => (
                "the root has more than one ds:Signature".into(),
                "根元素下有多个 ds:Signature 签名".into(),
            ),
        }
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.messages().0)
    }
}

impl std::error::Error for XmlError {}

/// Why a certificate or key is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateError {
    TooLarge,
    /// Not a DER X.509 certificate (or PEM of one).
    Unreadable {
        detail: String,
    },
    /// Its public key is not an SM2 key.
    NotSm2 {
        algorithm: String,
    },
    /// It is not signed with SM2-SM3.
    SignatureAlgorithm {
        algorithm: String,
    },
    /// The private key is not a PKCS#8 SM2 key.
    PrivateKey {
        detail: String,
    },
    /// The private key is not the certificate's.
    KeyMismatch,
    /// A common name longer than X.509's upper bound.
    CommonNameTooLong,
    /// Making a certificate failed (encoding).
    Encoding {
        detail: String,
    },
}

impl CertificateError {
    pub fn code(&self) -> &'static str {
        match self {
            CertificateError::TooLarge => "certificate_too_large",
            CertificateError::Unreadable { .. } => "certificate_unreadable",
            CertificateError::NotSm2 { .. } => "certificate_not_sm2",
            CertificateError::SignatureAlgorithm { .. } => "certificate_signature_algorithm",
            CertificateError::PrivateKey { .. } => "private_key_unreadable",
            CertificateError::KeyMismatch => "private_key_mismatch",
            CertificateError::CommonNameTooLong => "common_name_too_long",
            CertificateError::Encoding { .. } => "certificate_encoding",
        }
    }

    pub fn messages(&self) -> (String, String) {
        match self {
            CertificateError::TooLarge => (
                format!("the certificate is larger than {CERTIFICATE_BYTES_MAX} bytes"),
                format!("证书超过 {CERTIFICATE_BYTES_MAX} 字节"),
            ),
            CertificateError::Unreadable { detail } => (
                format!("is not an X.509 certificate: {}", echoed(detail)),
                format!("不是 X.509 证书：{}", echoed(detail)),
            ),
            CertificateError::NotSm2 { algorithm } => (
                format!(
                    "the certificate's public key is not SM2 (algorithm {})",
                    echoed(algorithm)
                ),
                format!("证书公钥不是 SM2 公钥（算法 {}）", echoed(algorithm)),
            ),
            CertificateError::SignatureAlgorithm { algorithm } => (
                format!(
                    "the certificate is signed with {}, not SM2-SM3 (1.2.156.10197.1.501)",
                    echoed(algorithm)
                ),
                format!(
                    "证书签名算法为 {}，不是 SM2-SM3（1.2.156.10197.1.501）",
                    echoed(algorithm)
                ),
            ),
            CertificateError::PrivateKey { detail } => (
                format!("is not a PKCS#8 SM2 private key: {}", echoed(detail)),
                format!("不是 PKCS#8 格式的 SM2 私钥：{}", echoed(detail)),
            ),
            CertificateError::KeyMismatch => (
                "the private key does not belong to the certificate".into(),
                "私钥与证书不匹配".into(),
            ),
            CertificateError::CommonNameTooLong => (
                format!("the common name is longer than {COMMON_NAME_CHARS_MAX} characters"),
                format!("通用名称超过 {COMMON_NAME_CHARS_MAX} 个字符"),
            ),
            CertificateError::Encoding { detail } => (
                format!("the certificate could not be encoded: {}", echoed(detail)),
                format!("证书无法编码：{}", echoed(detail)),
            ),
        }
    }
}

impl fmt::Display for CertificateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.messages().0)
    }
}

impl std::error::Error for CertificateError {}

/// Why a message's signature is refused. Each variant is one reason, with its own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The message is not XML C14N can read.
    Xml(XmlError),
    /// The root has no `ds:Signature` child.
    Missing { path: String },
    /// An element follows the `ds:Signature` inside the root.
    NotLast { path: String },
    /// An element of the signature is missing, repeated or unexpected.
    Structure {
        path: String,
        expected: &'static str,
        found: String,
    },
    /// An algorithm other than the one CEB messages use.
    Algorithm {
        path: String,
        expected: &'static str,
        found: String,
    },
    /// The Reference does not point at the whole document (`URI=""`).
    Reference { path: String, found: String },
    /// Not base64.
    Base64 { path: String },
    /// A DigestValue that is not an SM3 digest (32 bytes).
    DigestLength { path: String, length: usize },
    /// A SignatureValue that is neither r‖s (64 bytes) nor a DER SEQUENCE of two INTEGERs.
    SignatureEncoding { path: String, length: usize },
    /// The embedded certificate is not the one the enterprise registered.
    CertificateNotRegistered { path: String },
    /// The SignatureValue does not verify over the canonical SignedInfo with the registered key:
    /// SignedInfo or the SignatureValue was changed, or another key signed.
    SignatureMismatch { path: String },
    /// The canonical message does not have the digest SignedInfo carries: the content was
    /// changed after signing.
    DigestMismatch { path: String },
    /// The registered certificate itself is not usable (the caller's, not the sender's, problem).
    RegisteredCertificate(CertificateError),
}

impl SignatureError {
    /// Where the problem is: `/` for the whole message, else a path from the root element, the
    /// signature's elements with the `ds:` prefix whatever prefix the message used.
    pub fn path(&self) -> &str {
        match self {
            SignatureError::Xml(_) | SignatureError::RegisteredCertificate(_) => "/",
            SignatureError::Missing { path }
            | SignatureError::NotLast { path }
            | SignatureError::Structure { path, .. }
            | SignatureError::Algorithm { path, .. }
            | SignatureError::Reference { path, .. }
            | SignatureError::Base64 { path }
            | SignatureError::DigestLength { path, .. }
            | SignatureError::SignatureEncoding { path, .. }
            | SignatureError::CertificateNotRegistered { path }
            | SignatureError::SignatureMismatch { path }
            | SignatureError::DigestMismatch { path } => path,
        }
    }

    /// A stable code for each reason; never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Xml(e) => e.code(),
            SignatureError::Missing { .. } => "signature_missing",
            SignatureError::NotLast { .. } => "signature_not_last",
            SignatureError::Structure { .. } => "signature_structure",
            SignatureError::Algorithm { .. } => "signature_algorithm",
            SignatureError::Reference { .. } => "signature_reference",
            SignatureError::Base64 { .. } => "signature_base64",
            SignatureError::DigestLength { .. } => "digest_value_length",
            SignatureError::SignatureEncoding { .. } => "signature_value_encoding",
            SignatureError::CertificateNotRegistered { .. } => "certificate_not_registered",
            SignatureError::SignatureMismatch { .. } => "signature_mismatch",
            SignatureError::DigestMismatch { .. } => "digest_mismatch",
            SignatureError::RegisteredCertificate(_) => "registered_certificate_invalid",
        }
    }

    pub fn messages(&self) -> (String, String) {
        match self {
            SignatureError::Xml(e) => e.messages(),
            SignatureError::Missing { .. } => (
                "the message is not signed: the root has no ds:Signature".into(),
                "报文未签名：根元素下没有 ds:Signature".into(),
            ),
            SignatureError::NotLast { .. } => (
                "the ds:Signature must be the last element of the root".into(),
                "ds:Signature 必须是根元素的最后一个子元素".into(),
            ),
            SignatureError::Structure {
                expected, found, ..
            } => (
                format!("expected {expected}, found {}", echoed(found)),
                format!("应为 {expected}，实际为 {}", echoed(found)),
            ),
            SignatureError::Algorithm {
                expected, found, ..
            } => (
                format!(
                    "the algorithm {} is not accepted; CEB messages use {expected}",
                    echoed(found)
                ),
                format!("不接受算法 {}；跨境电商报文应使用 {expected}", echoed(found)),
            ),
            SignatureError::Reference { found, .. } => (
                format!(
                    "the reference URI \"{}\" is not accepted; it must be \"\" (the whole message)",
                    echoed(found)
                ),
                format!("不接受引用 URI \"{}\"；应为 \"\"（整个报文）", echoed(found)),
            ),
            SignatureError::Base64 { .. } => ("is not base64".into(), "不是 base64 编码".into()),
            SignatureError::DigestLength { length, .. } => (
                format!("is {length} bytes long; an SM3 digest is 32"),
                format!("长度为 {length} 字节；SM3 摘要应为 32 字节"),
            ),
            SignatureError::SignatureEncoding { length, .. } => (
                format!(
                    "is {length} bytes and neither r||s (64 bytes) nor a DER SM2 signature"
                ),
                format!("长度为 {length} 字节，既不是 r||s（64 字节）也不是 DER 编码的 SM2 签名"),
            ),
            SignatureError::CertificateNotRegistered { .. } => (
                "the message is signed with a certificate the sending enterprise has not registered".into(),
                "报文所用签名证书不是发送企业备案的证书".into(),
            ),
            SignatureError::SignatureMismatch { .. } => (
                "the signature does not verify with the registered certificate: SignedInfo or the SignatureValue was changed, or another key signed".into(),
                "签名值无法用备案证书验证：SignedInfo 或签名值被改动，或非该密钥所签".into(),
            ),
            SignatureError::DigestMismatch { .. } => (
                "the message's SM3 digest does not match the signed DigestValue: the content was changed after signing".into(),
                "报文的 SM3 摘要与签名中的 DigestValue 不符：报文内容在签名后被改动".into(),
            ),
            SignatureError::RegisteredCertificate(e) => {
                let (en, zh) = e.messages();
                (
                    format!("the registered certificate: {en}"),
                    format!("备案证书：{zh}"),
                )
            }
        }
    }

    /// The platform's field error for this refusal.
    pub fn to_field_error(&self) -> FieldError {
        let code = match self {
            SignatureError::Xml(XmlError::TooLarge)
            | SignatureError::Xml(XmlError::TooDeep)
            | SignatureError::Xml(XmlError::TooManyElements)
            | SignatureError::Xml(XmlError::TooManyAttributes)
            | SignatureError::Xml(XmlError::SignatureTooLarge) => ErrorCode::TooLong,
            SignatureError::Xml(XmlError::SecondSignature) => ErrorCode::TooMany,
            SignatureError::Missing { .. } => ErrorCode::Required,
            SignatureError::Xml(_)
            | SignatureError::Structure { .. }
            | SignatureError::Base64 { .. }
            | SignatureError::DigestLength { .. }
            | SignatureError::SignatureEncoding { .. } => ErrorCode::InvalidFormat,
            SignatureError::NotLast { .. }
            | SignatureError::Algorithm { .. }
            | SignatureError::Reference { .. }
            | SignatureError::CertificateNotRegistered { .. }
            | SignatureError::SignatureMismatch { .. }
            | SignatureError::DigestMismatch { .. }
            | SignatureError::RegisteredCertificate(_) => ErrorCode::NotAllowed,
        };
        let (message_en, message_zh) = self.messages();
        FieldError {
            path: self.path().to_owned(),
            code,
            message_en,
            message_zh,
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.path(),
            self.messages().0,
            self.code()
        )
    }
}

impl std::error::Error for SignatureError {}

/// Why a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    Xml(XmlError),
    /// The signing key refused (not expected with a valid key).
    Signing,
}

impl SignError {
    pub fn code(&self) -> &'static str {
        match self {
            SignError::Xml(e) => e.code(),
            SignError::Signing => "signing_failed",
        }
    }

    pub fn messages(&self) -> (String, String) {
        match self {
            SignError::Xml(e) => e.messages(),
            SignError::Signing => (
                "the SM2 signature could not be made".into(),
                "无法生成 SM2 签名".into(),
            ),
        }
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.messages().0)
    }
}

impl std::error::Error for SignError {}

impl From<XmlError> for SignError {
    fn from(e: XmlError) -> Self {
        SignError::Xml(e)
    }
}
