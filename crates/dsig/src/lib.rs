//! The enveloped XML signature of China's cross-border e-commerce (CEB) messages: SM2 with SM3,
//! over inclusive Canonical XML 1.0, as the e-port (中国电子口岸) specifies it.
//!
//! Pure: bytes in, bytes out; no I/O, no clock.
//!
//! - [`sign`] puts a `ds:Signature` as the root's last child (replacing one already there, e.g. a
//!   masked sample's), [`verify`] / [`RegisteredKey::verify`] checks one against the certificate
//!   the sending enterprise registered.
//! - [`c14n`]: Canonical XML 1.0 (inclusive, without comments) of the document without its
//!   signature, and of `SignedInfo` as a document subset.
//! - [`Identity`]: an SM2 key with its X.509 certificate (deterministic test identities, PEM and
//!   DER import and export); [`RegisteredKey`]: a registered certificate read once.
//!
//! *Encoding chosen*: the SignatureValue this crate writes is r‖s (64 bytes, base64), as the
//! e-port's clients send; verification accepts r‖s and DER (`SEQUENCE { INTEGER, INTEGER }`).
//! SM2 uses GB/T 35276's default distinguishing identifier `1234567812345678`.

// A refusal carries its place and words in two languages; it is made once per refused message.
#![allow(clippy::result_large_err)]

pub mod c14n;
mod error;
mod fast;
mod identity;
mod signature;

pub use c14n::canonicalize;
pub use error::{CertificateError, SignError, SignatureError, XmlError};
pub use identity::{
    DISTINGUISHING_ID, Identity, RegisteredKey, SM2_OID, SM2_SM3_OID, SignatureEncoding, verify_sm2,
};
pub use signature::{Verified, sign, verify};

/// XML-DSig's namespace.
pub const DSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The one canonicalization accepted: inclusive C14N 1.0 without comments.
pub const C14N_ALGORITHM: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// The e-port's SM2-SM3 signature method.
pub const SM2_SM3_ALGORITHM: &str = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm2-sm3";
/// The e-port's SM3 digest method.
pub const SM3_ALGORITHM: &str = "http://www.chinaport.gov.cn/2022/04/xmldsig#sm3";
/// The one transform accepted.
pub const ENVELOPED_SIGNATURE_TRANSFORM: &str =
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Every limit, checked before the work it bounds.
pub mod limits {
    /// The largest message read: a CEB message of many items is well under 1 MiB (the largest
    /// shared sample is 36 KiB); the same bound as the WCO XML edge.
    pub const DOCUMENT_BYTES_MAX: usize = 4 * 1024 * 1024;
    /// The deepest nesting of elements: a CEB message is 4 deep, its signature 6.
    pub const DEPTH_MAX: usize = 32;
    /// The most elements in one message.
    pub const ELEMENTS_MAX: usize = 100_000;
    /// The most attributes (namespace declarations included) on one element.
    pub const ATTRIBUTES_PER_ELEMENT_MAX: usize = 64;
    /// The most elements inside one `ds:Signature` (it has 14 as CEB messages write it).
    pub const SIGNATURE_ELEMENTS_MAX: usize = 64;
    /// The largest certificate, DER (an SM2 certificate is about 600 bytes to 2 KiB).
    pub const CERTIFICATE_BYTES_MAX: usize = 16 * 1024;
    /// X.509's upper bound of a common name (ub-common-name, RFC 5280).
    pub const COMMON_NAME_CHARS_MAX: usize = 64;
}

#[cfg(test)]
mod tests;
