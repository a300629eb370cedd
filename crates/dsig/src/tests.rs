use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use sm3::{Digest, Sm3};

use crate::c14n::canonicalize_enveloped;
use crate::limits::*;
use crate::*;

const SAMPLES: [(&str, &[u8]); 5] = [
    (
        "CEB311Message.xml",
        include_bytes!("../test_data/ceb/CEB311Message.xml"),
    ),
    (
        "CEB411Message.xml",
        include_bytes!("../test_data/ceb/CEB411Message.xml"),
    ),
    (
        "CEB511Message.xml",
        include_bytes!("../test_data/ceb/CEB511Message.xml"),
    ),
    (
        "CEB621Message.xml",
        include_bytes!("../test_data/ceb/CEB621Message.xml"),
    ),
    (
        "CEB622Message.xml",
        include_bytes!("../test_data/ceb/CEB622Message.xml"),
    ),
];

fn sample(name: &str) -> &'static [u8] {
    SAMPLES.iter().find(|(n, _)| *n == name).unwrap().1
}

fn identity() -> &'static Identity {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY
        .get_or_init(|| Identity::generate("测试企业 Test Enterprise", b"enterprise-1").unwrap())
}

fn other_identity() -> &'static Identity {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY
        .get_or_init(|| Identity::generate("其他企业 Other Enterprise", b"enterprise-2").unwrap())
}

fn signed(name: &str) -> String {
    String::from_utf8(sign(sample(name), identity()).unwrap()).unwrap()
}

fn verify_text(document: &str) -> Result<Verified, SignatureError> {
    identity().registered_key().verify(document.as_bytes())
}

/// `text` with the first occurrence of `from` replaced by `to`.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from} occurs");
    text.replacen(from, to, 1)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap() + start.len();
    let to = from + text[from..].find(end).unwrap();
    &text[from..to]
}

/// `text` with the character at `index` of the content between `start` and `end` changed.
fn tamper_between(text: &str, start: &str, end: &str, index: usize) -> String {
    assert!(between(text, start, end).len() > index);
    let from = text.find(start).unwrap() + start.len() + index;
    let old = text[from..].chars().next().unwrap();
    let new = if old == 'A' { 'B' } else { 'A' };
    format!("{}{new}{}", &text[..from], &text[from + old.len_utf8()..])
}

#[test]
fn sm3_answers_the_standards_example() {
    // GB/T 32905-2016 Appendix A, example 1: "abc".
    assert_eq!(
        hex::encode(Sm3::digest(b"abc")),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
}

#[test]
fn every_sample_signed_verifies_and_keeps_its_content_byte_for_byte() {
    for (name, original) in SAMPLES {
        let signed = sign(original, identity()).unwrap();
        let verified = identity()
            .registered_key()
            .verify(&signed)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.encoding, SignatureEncoding::Raw);
        assert_eq!(
            verified.key_name.as_deref(),
            Some(identity().registered_key().serial())
        );
        // The digest is the SM3 of the canonical message without any signature.
        let canonical = canonicalize_enveloped(original).unwrap().document;
        assert_eq!(verified.digest, <[u8; 32]>::from(Sm3::digest(&canonical)));
        // Outside the signature element, the message is unchanged.
        let original = std::str::from_utf8(original).unwrap();
        let signed = std::str::from_utf8(&signed).unwrap();
        match original.find("<ds:Signature") {
            Some(at) => {
                let end = original.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
                assert!(signed.starts_with(&original[..at]), "{name}");
                assert!(signed.ends_with(&original[end..]), "{name}");
                assert!(!signed.contains("MASKED"), "{name}");
            }
            None => {
                let end = original.rfind("</").unwrap();
                assert!(signed.starts_with(&original[..end]), "{name}");
                assert!(signed.ends_with(&original[end..]), "{name}");
            }
        }
        // The free function reads the certificate each time and agrees.
        assert!(verify(signed.as_bytes(), identity().certificate_der()).is_ok());
    }
}

#[test]
fn signing_is_deterministic_and_resigning_replaces_the_signature() {
    let once = signed("CEB411Message.xml");
    assert_eq!(once, signed("CEB411Message.xml"));
    let twice = String::from_utf8(sign(once.as_bytes(), identity()).unwrap()).unwrap();
    assert_eq!(once, twice);
    // Re-signed by another enterprise: one signature, the other's.
    let other = String::from_utf8(sign(once.as_bytes(), other_identity()).unwrap()).unwrap();
    assert_eq!(other.matches("<ds:Signature ").count(), 1);
    assert!(
        other_identity()
            .registered_key()
            .verify(other.as_bytes())
            .is_ok()
    );
}

#[test]
fn a_changed_amount_is_refused_as_a_digest_mismatch() {
    let signed = signed("CEB411Message.xml");
    let tampered = replace_once(
        &signed,
        "<ceb:amountPaid>19050</ceb:amountPaid>",
        "<ceb:amountPaid>19051</ceb:amountPaid>",
    );
    let error = verify_text(&tampered).unwrap_err();
    assert_eq!(error.code(), "digest_mismatch");
    assert_eq!(
        error.path(),
        "/ceb:CEB411Message/ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue"
    );
    // Text whitespace is content: C14N keeps it, so it is refused too.
    let spaced = replace_once(&signed, "<ceb:amountPaid>19050<", "<ceb:amountPaid>19050 <");
    assert_eq!(verify_text(&spaced).unwrap_err().code(), "digest_mismatch");
}

#[test]
fn a_changed_signed_info_is_refused() {
    let signed = signed("CEB511Message.xml");
    // Its algorithm: not the CEB one.
    let algorithm = replace_once(&signed, "xmldsig#sm2-sm3", "xmldsig#sm2-sm4");
    let error = verify_text(&algorithm).unwrap_err();
    assert_eq!(error.code(), "signature_algorithm");
    assert_eq!(
        error.path(),
        "/ceb:CEB511Message/ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm"
    );
    // Its DigestValue (still 32 bytes): SignedInfo is authenticated first, so the signature
    // does not verify.
    let digest = tamper_between(&signed, "<ds:DigestValue>", "</ds:DigestValue>", 5);
    assert_ne!(digest, signed);
    assert_eq!(
        verify_text(&digest).unwrap_err().code(),
        "signature_mismatch"
    );
    // Whitespace between its elements is part of its canonical form.
    let layout = replace_once(&signed, "<ds:SignedInfo>\n", "<ds:SignedInfo>\n\n");
    assert_eq!(
        verify_text(&layout).unwrap_err().code(),
        "signature_mismatch"
    );
}

#[test]
fn a_changed_signature_value_is_refused() {
    let signed = signed("CEB621Message.xml");
    let tampered = tamper_between(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>", 50);
    let error = verify_text(&tampered).unwrap_err();
    assert_eq!(error.code(), "signature_mismatch");
    assert_eq!(
        error.path(),
        "/ceb:CEB621Message/ds:Signature/ds:SignatureValue"
    );
    let (en, zh) = error.messages();
    assert!(en.contains("does not verify") && zh.contains("无法"));
    // Cut short: not an SM2 signature at all.
    let short = replace_once(
        &signed,
        between(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>"),
        "AAAA",
    );
    assert_eq!(
        verify_text(&short).unwrap_err().code(),
        "signature_value_encoding"
    );
    let not_base64 = tamper_between(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>", 3)
        .replacen("<ds:SignatureValue>", "<ds:SignatureValue>!", 1);
    assert_eq!(
        verify_text(&not_base64).unwrap_err().code(),
        "signature_base64"
    );
}

#[test]
fn the_three_tampers_have_three_distinct_reasons() {
    let signed = signed("CEB311Message.xml");
    let content = replace_once(
        &signed,
        "<ceb:totalPrice>12000</ceb:totalPrice>",
        "<ceb:totalPrice>12001</ceb:totalPrice>",
    );
    let signed_info = replace_once(&signed, "xmldsig#sm3\"", "xmldsig#sm4\"");
    let value = tamper_between(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>", 60);
    let codes: Vec<&str> = [content, signed_info, value]
        .iter()
        .map(|d| verify_text(d).unwrap_err().code())
        .collect();
    assert_eq!(
        codes,
        [
            "digest_mismatch",
            "signature_algorithm",
            "signature_mismatch"
        ]
    );
}

#[test]
fn a_certificate_other_than_the_registered_one_is_refused() {
    let signed = signed("CEB311Message.xml");
    // Verified against another enterprise's registration.
    let error = other_identity()
        .registered_key()
        .verify(signed.as_bytes())
        .unwrap_err();
    assert_eq!(error.code(), "certificate_not_registered");
    assert_eq!(
        error.path(),
        "/ceb:CEB311Message/ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate"
    );
    // Signed with another key, carrying the registered certificate: the key does not match.
    let forged = String::from_utf8(sign(sample("CEB311Message.xml"), other_identity()).unwrap())
        .unwrap()
        .replace(
            &STANDARD.encode(other_identity().certificate_der()),
            &STANDARD.encode(identity().certificate_der()),
        );
    assert_eq!(
        verify_text(&forged).unwrap_err().code(),
        "signature_mismatch"
    );
    // The registered certificate unreadable: the caller's problem, said so.
    let error = verify(signed.as_bytes(), b"not a certificate").unwrap_err();
    assert_eq!(error.code(), "registered_certificate_invalid");
}

#[test]
fn a_missing_or_masked_signature_is_refused() {
    let error = verify_text(std::str::from_utf8(sample("CEB622Message.xml")).unwrap()).unwrap_err();
    assert_eq!(error.code(), "signature_missing");
    assert_eq!(error.path(), "/CEB622Message/ds:Signature");
    let field = error.to_field_error();
    assert_eq!(field.code, domain::problem::ErrorCode::Required);
    assert!(field.message_zh.contains("未签名"));
    let error = verify_text(std::str::from_utf8(sample("CEB411Message.xml")).unwrap()).unwrap_err();
    assert_eq!(error.code(), "signature_base64");
    assert_eq!(
        error.path(),
        "/ceb:CEB411Message/ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate"
    );
}

#[test]
fn insignificant_changes_inside_tags_still_verify() {
    let signed = signed("CEB311Message.xml");
    let root = "<ceb:CEB311Message guid=\"4CDE1CFD-EDED-46B1-946C-B8022E42FC94\" version=\"1.0\"\n                   xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\">";
    let reordered = replace_once(
        &signed,
        root,
        "<ceb:CEB311Message   xmlns:ceb='http://www.chinaport.gov.cn/ceb'\tversion=\"1.0\"\r\n guid='4CDE1CFD-EDED-46B1-946C-B8022E42FC94' >",
    );
    let reordered = reordered
        .replace("<ceb:note></ceb:note>", "<ceb:note/>")
        .replace("</ceb:OrderHead>", "</ceb:OrderHead   >")
        .replace("<ds:Reference URI=\"\">", "<ds:Reference\n  URI=''>")
        .replace(
            "<ceb:currency>142</ceb:currency>",
            "<ceb:currency>&#49;42</ceb:currency>",
        );
    assert!(verify_text(&reordered).is_ok());
    // CR LF line ends everywhere: normalised.
    let crlf = signed.replace('\n', "\r\n");
    assert!(verify_text(&crlf).is_ok());
    // A comment anywhere: not in the canonical form.
    let commented = replace_once(&signed, "<ceb:Order>", "<ceb:Order><!-- a note -->");
    assert!(verify_text(&commented).is_ok());
}

#[test]
fn a_der_signature_value_is_accepted() {
    let signed = signed("CEB511Message.xml");
    let raw_text = between(&signed, "<ds:SignatureValue>", "</ds:SignatureValue>");
    let raw = STANDARD.decode(raw_text).unwrap();
    let integer = |bytes: &[u8]| {
        let bytes: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut out = vec![0x02];
        if bytes[0] & 0x80 != 0 {
            out.push(bytes.len() as u8 + 1);
            out.push(0);
        } else {
            out.push(bytes.len() as u8);
        }
        out.extend(bytes);
        out
    };
    let mut body = integer(&raw[..32]);
    body.extend(integer(&raw[32..]));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    // Wrapped in lines of 64, as some clients write base64.
    let encoded = STANDARD.encode(&der);
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let document = replace_once(&signed, raw_text, &wrapped.join("\n"));
    assert_eq!(
        verify_text(&document).unwrap().encoding,
        SignatureEncoding::Der
    );
}

#[test]
fn a_signature_not_last_or_repeated_is_refused() {
    let signed = signed("CEB511Message.xml");
    let not_last = replace_once(
        &signed,
        "</ds:Signature>",
        "</ds:Signature><ceb:Extra>1</ceb:Extra>",
    );
    assert_eq!(
        verify_text(&not_last).unwrap_err().code(),
        "signature_not_last"
    );
    let signature_start = signed.find("<ds:Signature").unwrap();
    let signature_end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let element = &signed[signature_start..signature_end];
    let twice = replace_once(&signed, element, &format!("{element}{element}"));
    assert_eq!(
        verify_text(&twice).unwrap_err().code(),
        "signature_repeated"
    );
    // Signing a message whose signature is not last moves it last.
    let moved = sign(not_last.as_bytes(), identity()).unwrap();
    let moved = String::from_utf8(moved).unwrap();
    assert!(moved.contains("<ceb:Extra>1</ceb:Extra>\n<ds:Signature "));
    assert!(verify_text(&moved).is_ok());
}

#[test]
fn structure_problems_name_their_element() {
    let signed = signed("CEB411Message.xml");
    let cases = [
        (
            replace_once(
                &signed,
                "<ds:Reference URI=\"\">",
                "<ds:Reference URI=\"#order\">",
            ),
            "signature_reference",
            "/ceb:CEB411Message/ds:Signature/ds:SignedInfo/ds:Reference/@URI",
        ),
        (
            replace_once(
                &signed,
                "</ds:Transforms>",
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"></ds:Transform></ds:Transforms>",
            ),
            "signature_structure",
            "/ceb:CEB411Message/ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms/Transform",
        ),
        (
            replace_once(&signed, "xmldsig#sm3\"", "xmldsig#sha1\""),
            "signature_algorithm",
            "/ceb:CEB411Message/ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestMethod/@Algorithm",
        ),
        (
            replace_once(
                &signed,
                "REC-xml-c14n-20010315",
                "REC-xml-c14n-20010315#WithComments",
            ),
            "signature_algorithm",
            "/ceb:CEB411Message/ds:Signature/ds:SignedInfo/ds:CanonicalizationMethod/@Algorithm",
        ),
        (
            replace_once(
                &signed,
                between(&signed, "<ds:KeyInfo>", "</ds:KeyInfo>"),
                "",
            ),
            "signature_structure",
            "/ceb:CEB411Message/ds:Signature/ds:KeyInfo/ds:X509Data",
        ),
        (
            replace_once(
                &signed,
                between(&signed, "<ds:DigestValue>", "</ds:DigestValue>"),
                "SF/P+2sVsRQ9dJIqJSroW6ajb0Y=",
            ),
            "digest_value_length",
            "/ceb:CEB411Message/ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue",
        ),
    ];
    for (document, code, path) in cases {
        let error = verify_text(&document).unwrap_err();
        assert_eq!((error.code(), error.path()), (code, path), "{error}");
    }
}

#[test]
fn signed_info_is_canonicalized_as_a_subset_with_the_namespaces_in_scope() {
    // Worked by hand from C14N 1.0 §2.3 and §4.5 (document subsets): SignedInfo's ancestors are
    // not in the node-set, so it carries every namespace node in scope (ceb from the root, ds
    // from Signature) in prefix order, and the xml:lang it inherits; its children carry none
    // again; the empty element becomes a start and end tag; the line ends are kept as text.
    let document = "<?xml version=\"1.0\"?>\n<ceb:Msg xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\" xml:lang=\"zh\"><ceb:a>1</ceb:a>\
        <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo Id=\"s\">\r\n\
        <ds:CanonicalizationMethod Algorithm=\"x\"/>\r\n</ds:SignedInfo></ds:Signature></ceb:Msg>";
    let canonical = canonicalize_enveloped(document.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(canonical.signature.unwrap().signed_info).unwrap(),
        "<ds:SignedInfo xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"s\" xml:lang=\"zh\">\n\
         <ds:CanonicalizationMethod Algorithm=\"x\"></ds:CanonicalizationMethod>\n</ds:SignedInfo>"
    );
    // The enveloped transform: the document without the Signature element (and its xmlns:ds).
    assert_eq!(
        String::from_utf8(canonical.document).unwrap(),
        "<ceb:Msg xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\" xml:lang=\"zh\"><ceb:a>1</ceb:a></ceb:Msg>"
    );

    // A default namespace on the root (CEB622's form) and a dsig default on the Signature: the
    // nearest default wins, written first (its local name is empty).
    let document = "<Msg xmlns=\"http://www.chinaport.gov.cn/ceb\" xmlns:x=\"urn:x\"><Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo><Reference URI=\"\"/></SignedInfo></Signature></Msg>";
    let canonical = canonicalize_enveloped(document.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(canonical.signature.unwrap().signed_info).unwrap(),
        "<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\" xmlns:x=\"urn:x\"><Reference URI=\"\"></Reference></SignedInfo>"
    );

    // An empty default in scope is not written on the apex (nothing to undo: its parent is not
    // in the node-set).
    let document = "<ceb:Msg xmlns:ceb=\"urn:ceb\" xmlns=\"urn:d\"><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" xmlns=\"\"><ds:SignedInfo><e/></ds:SignedInfo></ds:Signature></ceb:Msg>";
    let canonical = canonicalize_enveloped(document.as_bytes()).unwrap();
    assert_eq!(
        String::from_utf8(canonical.signature.unwrap().signed_info).unwrap(),
        "<ds:SignedInfo xmlns:ceb=\"urn:ceb\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><e></e></ds:SignedInfo>"
    );
}

#[test]
fn signing_works_with_a_default_namespace_an_empty_root_and_a_byte_order_mark() {
    let cases = [
        "<CEB622Message xmlns=\"http://www.chinaport.gov.cn/ceb\"><a>1</a></CEB622Message>",
        "<ceb:Empty xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\" a=\"1\" />",
        "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<r><a>1</a></r>\r\n",
    ];
    for document in cases {
        let signed = sign(document.as_bytes(), identity()).unwrap();
        assert!(
            identity().registered_key().verify(&signed).is_ok(),
            "{document}"
        );
    }
}

#[test]
fn what_is_not_plain_utf8_xml_is_refused() {
    let cases: [(&[u8], &str); 9] = [
        (
            b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
            "xml_document_type",
        ),
        (b"<r>&nbsp;</r>", "xml_entity"),
        (
            b"<?xml version=\"1.0\" encoding=\"GBK\"?><r/>",
            "xml_not_utf8",
        ),
        (b"\xFF\xFE<\0r\0/\0>\0", "xml_not_utf8"),
        (b"<r><a></r>", "xml_malformed"),
        (b"<r a=\"1\" a=\"2\"/>", "xml_malformed"),
        (b"<p:r/>", "xml_namespace"),
        (b"", "xml_no_root"),
        (b"<r/><r/>", "xml_malformed"),
    ];
    for (document, code) in cases {
        let error = canonicalize(document).unwrap_err();
        assert_eq!(error.code(), code, "{}", String::from_utf8_lossy(document));
        let error = SignatureError::Xml(error);
        let (en, zh) = error.messages();
        assert!(!en.is_empty() && !zh.is_empty() && en != zh);
        assert_eq!(error.path(), "/");
        assert!(matches!(sign(document, identity()), Err(SignError::Xml(_))));
    }
}

#[test]
fn every_refusal_speaks_english_and_chinese() {
    let errors = [
        SignatureError::Xml(XmlError::TooLarge),
        SignatureError::Xml(XmlError::TooDeep),
        SignatureError::Xml(XmlError::TooManyElements),
        SignatureError::Xml(XmlError::TooManyAttributes),
        SignatureError::Xml(XmlError::SignatureTooLarge),
        SignatureError::Xml(XmlError::SecondSignature),
        SignatureError::Missing {
            path: "/r/ds:Signature".into(),
        },
        SignatureError::NotLast {
            path: "/r/ds:Signature".into(),
        },
        SignatureError::Structure {
            path: "/p".into(),
            expected: "ds:X",
            found: "nothing".into(),
        },
        SignatureError::Algorithm {
            path: "/p".into(),
            expected: SM3_ALGORITHM,
            found: "sha1".into(),
        },
        SignatureError::Reference {
            path: "/p".into(),
            found: "#x".into(),
        },
        SignatureError::Base64 { path: "/p".into() },
        SignatureError::DigestLength {
            path: "/p".into(),
            length: 20,
        },
        SignatureError::SignatureEncoding {
            path: "/p".into(),
            length: 3,
        },
        SignatureError::CertificateNotRegistered { path: "/p".into() },
        SignatureError::SignatureMismatch { path: "/p".into() },
        SignatureError::DigestMismatch { path: "/p".into() },
        SignatureError::RegisteredCertificate(CertificateError::KeyMismatch),
    ];
    let mut codes = std::collections::HashSet::new();
    for error in errors {
        let (en, zh) = error.messages();
        assert!(en.is_ascii() && !zh.is_ascii(), "{en} / {zh}");
        assert!(codes.insert(error.code()), "{} twice", error.code());
        let field = error.to_field_error();
        assert_eq!((field.path.as_str(), field.message_en), (error.path(), en));
    }
}

#[test]
fn identities_are_deterministic_and_round_trip_through_pem_and_der() {
    let again = Identity::generate("测试企业 Test Enterprise", b"enterprise-1").unwrap();
    assert_eq!(again.certificate_der(), identity().certificate_der());
    assert_ne!(
        other_identity().certificate_der(),
        identity().certificate_der()
    );
    assert_eq!(
        identity().registered_key().subject(),
        "CN=测试企业 Test Enterprise"
    );
    assert_eq!(identity().registered_key().serial().len(), 32);

    let key_pem = identity().private_key_pem().unwrap();
    let certificate_pem = identity().certificate_pem().unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let imported = Identity::from_pem(&key_pem, &certificate_pem).unwrap();
    let document = sign(sample("CEB411Message.xml"), &imported).unwrap();
    assert_eq!(document, signed("CEB411Message.xml").into_bytes());
    let imported = Identity::from_der(
        &identity().private_key_der().unwrap(),
        identity().certificate_der(),
    )
    .unwrap();
    assert_eq!(imported.certificate_der(), identity().certificate_der());
    let registered = RegisteredKey::from_certificate_pem(&certificate_pem).unwrap();
    assert_eq!(registered.certificate_der(), identity().certificate_der());

    // Another enterprise's key with this certificate: refused.
    let error = Identity::from_pem(
        &other_identity().private_key_pem().unwrap(),
        &certificate_pem,
    )
    .unwrap_err();
    assert_eq!(error, CertificateError::KeyMismatch);
    assert_eq!(
        Identity::from_pem("not a key", &certificate_pem)
            .unwrap_err()
            .code(),
        "private_key_unreadable"
    );
}

#[test]
fn the_self_signed_certificate_is_sm2_signed_with_sm2_sm3() {
    use der::Decode;
    use sm2::dsa::signature::Verifier;
    let certificate = x509_cert::Certificate::from_der(identity().certificate_der()).unwrap();
    assert_eq!(certificate.signature_algorithm.oid, SM2_SM3_OID);
    let spki = &certificate.tbs_certificate.subject_public_key_info;
    assert_eq!(
        spki.algorithm
            .parameters
            .as_ref()
            .unwrap()
            .decode_as::<der::asn1::ObjectIdentifier>()
            .unwrap(),
        SM2_OID
    );
    let tbs = der::Encode::to_der(&certificate.tbs_certificate).unwrap();
    let (signature, encoding) =
        crate::identity::decode_signature(certificate.signature.raw_bytes()).unwrap();
    assert_eq!(encoding, SignatureEncoding::Der);
    identity()
        .registered_key()
        .verifying_key
        .verify(&tbs, &signature)
        .unwrap();
}

#[test]
fn limits_are_enforced_at_their_edge() {
    // Message bytes.
    let sized = |n: usize| format!("<r>{}</r>", "a".repeat(n - 7)).into_bytes();
    assert!(canonicalize(&sized(DOCUMENT_BYTES_MAX)).is_ok());
    assert_eq!(
        canonicalize(&sized(DOCUMENT_BYTES_MAX + 1)),
        Err(XmlError::TooLarge)
    );
    // Depth.
    let nested = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n)).into_bytes();
    assert!(canonicalize(&nested(DEPTH_MAX)).is_ok());
    assert_eq!(canonicalize(&nested(DEPTH_MAX + 1)), Err(XmlError::TooDeep));
    // Elements.
    let many = |n: usize| format!("<r>{}</r>", "<a/>".repeat(n - 1)).into_bytes();
    assert!(canonicalize(&many(ELEMENTS_MAX)).is_ok());
    assert_eq!(
        canonicalize(&many(ELEMENTS_MAX + 1)),
        Err(XmlError::TooManyElements)
    );
    // Attributes.
    let attributes = |n: usize| {
        let list: String = (0..n).map(|i| format!(" a{i}=\"{i}\"")).collect();
        format!("<r{list}/>").into_bytes()
    };
    assert!(canonicalize(&attributes(ATTRIBUTES_PER_ELEMENT_MAX)).is_ok());
    assert_eq!(
        canonicalize(&attributes(ATTRIBUTES_PER_ELEMENT_MAX + 1)),
        Err(XmlError::TooManyAttributes)
    );
    // Elements of the signature (the Signature element counts).
    let signature = |n: usize| {
        format!(
            "<r><ds:Signature xmlns:ds=\"{DSIG_NAMESPACE}\">{}</ds:Signature></r>",
            "<ds:Object/>".repeat(n - 1)
        )
    };
    assert_eq!(
        verify_text(&signature(SIGNATURE_ELEMENTS_MAX))
            .unwrap_err()
            .code(),
        "signature_structure"
    );
    assert_eq!(
        verify_text(&signature(SIGNATURE_ELEMENTS_MAX + 1)).unwrap_err(),
        SignatureError::Xml(XmlError::SignatureTooLarge)
    );
    // Certificate bytes.
    let error = RegisteredKey::from_certificate(&vec![0x30; CERTIFICATE_BYTES_MAX]).unwrap_err();
    assert_eq!(error.code(), "certificate_unreadable");
    let error =
        RegisteredKey::from_certificate(&vec![0x30; CERTIFICATE_BYTES_MAX + 1]).unwrap_err();
    assert_eq!(error, CertificateError::TooLarge);
    // Common name.
    assert!(Identity::generate(&"名".repeat(COMMON_NAME_CHARS_MAX), b"s").is_ok());
    assert_eq!(
        Identity::generate(&"名".repeat(COMMON_NAME_CHARS_MAX + 1), b"s").unwrap_err(),
        CertificateError::CommonNameTooLong
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = canonicalize(&bytes);
        let _ = identity().registered_key().verify(&bytes);
        let _ = sign(&bytes, identity());
        let _ = RegisteredKey::from_certificate(&bytes);
    }

    #[test]
    fn a_changed_byte_of_a_signed_message_never_panics_nor_passes_as_other_content(
        at in 0usize..5000, byte in any::<u8>()
    ) {
        static SIGNED: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
        let (signed, digest) = SIGNED.get_or_init(|| {
            let signed = sign(sample("CEB411Message.xml"), identity()).unwrap();
            let digest = identity().registered_key().verify(&signed).unwrap().digest;
            (signed, digest)
        });
        let mut changed = signed.clone();
        let at = at % changed.len();
        changed[at] = byte;
        if let Ok(verified) = identity().registered_key().verify(&changed) {
            // Only a change C14N erases (inside a tag, a line end) may still verify.
            prop_assert_eq!(&verified.digest, digest);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The table-driven verification agrees with the `sm2` crate's on signatures valid and not.
    #[test]
    fn fast_verification_agrees_with_the_sm2_crate(
        seed in any::<[u8; 16]>(),
        message in proptest::collection::vec(any::<u8>(), 0..256),
        other in proptest::collection::vec(any::<u8>(), 0..256),
        forged in any::<[u8; 64]>(),
    ) {
        use sm2::dsa::signature::{Signer, Verifier};
        let secret = sm2::SecretKey::from_slice(&Sm3::digest(seed)).unwrap();
        let signing = sm2::dsa::SigningKey::new(DISTINGUISHING_ID, &secret).unwrap();
        let verifying = signing.verifying_key();
        let fast = crate::fast::FastKey::new(DISTINGUISHING_ID, &sm2::PublicKey::from(verifying)).unwrap();
        let signature: sm2::dsa::Signature = signing.sign(&message);
        prop_assert!(verifying.verify(&message, &signature).is_ok());
        prop_assert!(fast.verify(&message, &signature));
        prop_assert_eq!(
            fast.verify(&other, &signature),
            verifying.verify(&other, &signature).is_ok()
        );
        if let Ok(forged) = sm2::dsa::Signature::from_slice(&forged) {
            prop_assert_eq!(
                fast.verify(&message, &forged),
                verifying.verify(&message, &forged).is_ok()
            );
        }
        // A signature by another key over the same message.
        let stranger = sm2::dsa::SigningKey::new(
            DISTINGUISHING_ID,
            &sm2::SecretKey::from_slice(&Sm3::digest(&message)).unwrap_or(secret.clone()),
        ).unwrap();
        let theirs: sm2::dsa::Signature = stranger.sign(&message);
        prop_assert_eq!(
            fast.verify(&message, &theirs),
            verifying.verify(&message, &theirs).is_ok()
        );
    }
}

#[test]
fn raw_sm2_verification_and_the_signed_info_accessor() {
    let message = b"SignedInfo bytes";
    let signature = identity().sign_bytes(message).unwrap();
    let public = identity().registered_key().public_key_sec1();
    assert_eq!((public.len(), public[0]), (65, 0x04));
    assert_eq!(verify_sm2(&public, message, &signature), Some(true));
    assert_eq!(verify_sm2(&public[1..], message, &signature), Some(true));
    assert_eq!(verify_sm2(&public, b"other bytes", &signature), Some(false));
    assert_eq!(verify_sm2(b"not a key", message, &signature), None);
    assert_eq!(verify_sm2(&public, message, b"short"), None);

    let signed = signed("CEB511Message.xml");
    let signed_info = c14n::signed_info(signed.as_bytes()).unwrap().unwrap();
    assert!(signed_info.starts_with(
        b"<ds:SignedInfo xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">"
    ));
    let value = STANDARD
        .decode(between(
            &signed,
            "<ds:SignatureValue>",
            "</ds:SignatureValue>",
        ))
        .unwrap();
    assert_eq!(verify_sm2(&public, &signed_info, &value), Some(true));
    assert_eq!(
        c14n::signed_info(sample("CEB622Message.xml")).unwrap(),
        None
    );
}
