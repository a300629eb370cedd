//! SM2 keys and X.509 certificates: the registered certificate read once into a verifying key
//! (`RegisteredKey`), and a signing identity (`Identity`: a key and its certificate), made
//! deterministically from a seed for tests and the bench, or imported from PEM or DER.

use der::asn1::{BitString, ObjectIdentifier, SetOfVec, UintRef, Utf8StringRef};
use der::{Decode, DecodePem, Encode, EncodePem, Sequence};
use sm2::dsa::signature::Signer;
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sm2::{PublicKey, SecretKey};
use sm3::{Digest, Sm3};
use x509_cert::Certificate;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::CertificateError;
use crate::limits::{CERTIFICATE_BYTES_MAX, COMMON_NAME_CHARS_MAX};

/// The SM2 distinguishing identifier hashed into Z_A: GB/T 35276's default, which the e-port's
/// clients use.
pub const DISTINGUISHING_ID: &str = "1234567812345678";
/// An SM2 public key (as the curve of id-ecPublicKey, or as the key's algorithm itself).
pub const SM2_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");
/// The SM2-SM3 signature algorithm of certificates.
pub const SM2_SM3_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const COMMON_NAME_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// How an SM2 signature is written in a SignatureValue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// r‖s, 32 bytes each, big-endian (what this crate writes, as the e-port's clients send).
    Raw,
    /// A DER `SEQUENCE { r INTEGER, s INTEGER }` (GB/T 35276's form, accepted on verification).
    Der,
}

#[derive(Sequence)]
struct DerSignature<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// An SM2 signature from its bytes in either encoding.
pub(crate) fn decode_signature(bytes: &[u8]) -> Option<(Signature, SignatureEncoding)> {
    if bytes.len() == Signature::BYTE_SIZE {
        return Signature::from_slice(bytes)
            .ok()
            .map(|s| (s, SignatureEncoding::Raw));
    }
    let der = DerSignature::from_der(bytes).ok()?;
    let mut raw = [0u8; 64];
    let (r, s) = (der.r.as_bytes(), der.s.as_bytes());
    if r.len() > 32 || s.len() > 32 {
        return None;
    }
    raw[32 - r.len()..32].copy_from_slice(r);
    raw[64 - s.len()..].copy_from_slice(s);
    Signature::from_slice(&raw)
        .ok()
        .map(|s| (s, SignatureEncoding::Der))
}

fn der_signature(signature: &Signature) -> Result<Vec<u8>, CertificateError> {
    let (r, s) = (signature.r_bytes(), signature.s_bytes());
    let encoding = |e: der::Error| CertificateError::Encoding {
        detail: e.to_string(),
    };
    DerSignature {
        r: UintRef::new(&r).map_err(encoding)?,
        s: UintRef::new(&s).map_err(encoding)?,
    }
    .to_der()
    .map_err(encoding)
}

/// A registered certificate read once: its bytes (compared with the certificate a message
/// carries) and its SM2 verifying key, Z_A included. Made once per enterprise and reused.
#[derive(Debug, Clone)]
pub struct RegisteredKey {
    certificate_der: Vec<u8>,
    pub(crate) verifying_key: VerifyingKey,
    /// The same key for fast verification; shared by clones, so its table is made once.
    pub(crate) fast: std::sync::Arc<crate::fast::FastKey>,
    serial: String,
    subject: String,
}

impl RegisteredKey {
    /// Reads a DER certificate whose key is SM2 and which is signed with SM2-SM3.
    pub fn from_certificate(der: &[u8]) -> Result<RegisteredKey, CertificateError> {
        if der.len() > CERTIFICATE_BYTES_MAX {
            return Err(CertificateError::TooLarge);
        }
        let certificate = Certificate::from_der(der).map_err(|e| CertificateError::Unreadable {
            detail: e.to_string(),
        })?;
        if certificate.signature_algorithm.oid != SM2_SM3_OID {
            return Err(CertificateError::SignatureAlgorithm {
                algorithm: certificate.signature_algorithm.oid.to_string(),
            });
        }
        let verifying_key = sm2_key(&certificate.tbs_certificate.subject_public_key_info)?;
        let fast = crate::fast::FastKey::new(DISTINGUISHING_ID, &PublicKey::from(&verifying_key))
            .ok_or_else(|| CertificateError::NotSm2 {
            algorithm: "an SM2 key unusable with the distinguishing identifier".into(),
        })?;
        Ok(RegisteredKey {
            certificate_der: der.to_vec(),
            verifying_key,
            fast: std::sync::Arc::new(fast),
            serial: hex_upper(certificate.tbs_certificate.serial_number.as_bytes()),
            subject: certificate.tbs_certificate.subject.to_string(),
        })
    }

    /// Reads a PEM certificate (`-----BEGIN CERTIFICATE-----`).
    pub fn from_certificate_pem(pem: &str) -> Result<RegisteredKey, CertificateError> {
        RegisteredKey::from_certificate(&certificate_der_from_pem(pem)?)
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The certificate's serial number in upper-case hex (what `KeyName` carries when this crate
    /// signs).
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The public key, SEC 1 uncompressed (`04 ‖ x ‖ y`).
    pub fn public_key_sec1(&self) -> Vec<u8> {
        self.verifying_key.to_sec1_bytes().into_vec()
    }

    /// The certificate's subject (RFC 4514 form).
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// Verifies an SM2-SM3 signature (r‖s or DER) of `message` by the public key `public` (SEC 1,
/// or x‖y without the `04`), with the default distinguishing identifier: for checks against
/// other implementations. `None` when the key or the signature cannot be read. It makes the
/// key's table each call (about a millisecond): for many messages use a [`RegisteredKey`].
pub fn verify_sm2(public: &[u8], message: &[u8], signature: &[u8]) -> Option<bool> {
    let public = if public.len() == 64 {
        [&[0x04], public].concat()
    } else {
        public.to_vec()
    };
    let public = PublicKey::from_sec1_bytes(&public).ok()?;
    let (signature, _) = decode_signature(signature)?;
    Some(crate::fast::FastKey::new(DISTINGUISHING_ID, &public)?.verify(message, &signature))
}

fn sm2_key(spki: &SubjectPublicKeyInfoOwned) -> Result<VerifyingKey, CertificateError> {
    let algorithm = &spki.algorithm;
    let named_curve = algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let sm2 = algorithm.oid == SM2_OID
        || (algorithm.oid == EC_PUBLIC_KEY_OID && named_curve == Some(SM2_OID));
    if !sm2 {
        return Err(CertificateError::NotSm2 {
            algorithm: match named_curve {
                Some(curve) => format!("{} ({curve})", algorithm.oid),
                None => algorithm.oid.to_string(),
            },
        });
    }
    let bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| CertificateError::Unreadable {
            detail: "the public key is not a whole number of bytes".into(),
        })?;
    let public_key = PublicKey::from_sec1_bytes(bytes).map_err(|_| CertificateError::NotSm2 {
        algorithm: "a point not on the SM2 curve".into(),
    })?;
    VerifyingKey::new(DISTINGUISHING_ID, public_key).map_err(|_| CertificateError::NotSm2 {
        algorithm: "an SM2 key unusable with the distinguishing identifier".into(),
    })
}

fn certificate_der_from_pem(pem: &str) -> Result<Vec<u8>, CertificateError> {
    if pem.len() > CERTIFICATE_BYTES_MAX * 2 {
        return Err(CertificateError::TooLarge);
    }
    let certificate =
        Certificate::from_pem(pem.as_bytes()).map_err(|e| CertificateError::Unreadable {
            detail: e.to_string(),
        })?;
    certificate
        .to_der()
        .map_err(|e| CertificateError::Unreadable {
            detail: e.to_string(),
        })
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A signing identity: an SM2 key and the certificate of its public key.
#[derive(Clone)]
pub struct Identity {
    pub(crate) signing_key: SigningKey,
    pub(crate) registered: RegisteredKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Identity")
            .field("subject", &self.registered.subject)
            .field("serial", &self.registered.serial)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A self-signed identity made deterministically from `seed`: the same name and seed give
    /// the same key and certificate (valid 2026-01-01 to 2049-12-31), for tests and the bench.
    /// Not for production keys: a seed is only as secret as whoever chose it.
    pub fn generate(common_name: &str, seed: &[u8]) -> Result<Identity, CertificateError> {
        if common_name.chars().count() > COMMON_NAME_CHARS_MAX {
            return Err(CertificateError::CommonNameTooLong);
        }
        let derive = |label: &[u8], counter: u32| {
            Sm3::new()
                .chain_update(b"OpenCustoms dsig test identity\0")
                .chain_update(label)
                .chain_update((seed.len() as u64).to_be_bytes())
                .chain_update(seed)
                .chain_update(counter.to_be_bytes())
                .finalize()
        };
        // A digest is a valid scalar unless it is 0 or not below n: a retry or two at most.
        let secret = (0..64u32)
            .find_map(|counter| SecretKey::from_slice(&derive(b"key", counter)).ok())
            .ok_or_else(|| CertificateError::PrivateKey {
                detail: "no scalar could be derived from the seed".into(),
            })?;
        let signing_key = SigningKey::new(DISTINGUISHING_ID, &secret).map_err(|_| {
            CertificateError::PrivateKey {
                detail: "the derived key is not usable".into(),
            }
        })?;
        let mut serial = derive(b"serial", 0)[..16].to_vec();
        // Positive, and 16 bytes long in DER (no leading zero to strip).
        serial[0] = (serial[0] & 0x7F) | 0x40;
        let certificate_der = self_signed_certificate(&signing_key, common_name, &serial)?;
        Identity::new(signing_key, &certificate_der)
    }

    fn new(signing_key: SigningKey, certificate_der: &[u8]) -> Result<Identity, CertificateError> {
        let registered = RegisteredKey::from_certificate(certificate_der)?;
        if registered.verifying_key.as_affine() != signing_key.verifying_key().as_affine() {
            return Err(CertificateError::KeyMismatch);
        }
        Ok(Identity {
            signing_key,
            registered,
        })
    }

    /// An identity from a PKCS#8 DER private key and a DER certificate; the key must be the
    /// certificate's.
    pub fn from_der(
        private_key_der: &[u8],
        certificate_der: &[u8],
    ) -> Result<Identity, CertificateError> {
        let secret = SecretKey::from_pkcs8_der(private_key_der).map_err(|e| {
            CertificateError::PrivateKey {
                detail: e.to_string(),
            }
        })?;
        Identity::from_secret(&secret, certificate_der)
    }

    /// An identity from a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) and a PEM
    /// certificate.
    pub fn from_pem(
        private_key_pem: &str,
        certificate_pem: &str,
    ) -> Result<Identity, CertificateError> {
        let secret = SecretKey::from_pkcs8_pem(private_key_pem).map_err(|e| {
            CertificateError::PrivateKey {
                detail: e.to_string(),
            }
        })?;
        Identity::from_secret(&secret, &certificate_der_from_pem(certificate_pem)?)
    }

    fn from_secret(
        secret: &SecretKey,
        certificate_der: &[u8],
    ) -> Result<Identity, CertificateError> {
        let signing_key = SigningKey::new(DISTINGUISHING_ID, secret).map_err(|_| {
            CertificateError::PrivateKey {
                detail: "the key is not usable".into(),
            }
        })?;
        Identity::new(signing_key, certificate_der)
    }

    pub fn certificate_der(&self) -> &[u8] {
        self.registered.certificate_der()
    }

    pub fn certificate_pem(&self) -> Result<String, CertificateError> {
        let certificate = Certificate::from_der(self.certificate_der()).map_err(|e| {
            CertificateError::Unreadable {
                detail: e.to_string(),
            }
        })?;
        certificate
            .to_pem(LineEnding::LF)
            .map_err(|e| CertificateError::Encoding {
                detail: e.to_string(),
            })
    }

    /// The private key as PKCS#8 DER.
    pub fn private_key_der(&self) -> Result<Vec<u8>, CertificateError> {
        let secret = SecretKey::from(self.signing_key.as_nonzero_scalar());
        secret
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| CertificateError::Encoding {
                detail: e.to_string(),
            })
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn private_key_pem(&self) -> Result<String, CertificateError> {
        let secret = SecretKey::from(self.signing_key.as_nonzero_scalar());
        secret
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .map_err(|e| CertificateError::Encoding {
                detail: e.to_string(),
            })
    }

    /// The identity's certificate as a registry would hold it.
    pub fn registered_key(&self) -> &RegisteredKey {
        &self.registered
    }

    /// An SM2 signature (SM3 with Z_A of [`DISTINGUISHING_ID`]) of `message`, deterministic
    /// (RFC 6979 nonce), as r‖s.
    pub fn sign_bytes(&self, message: &[u8]) -> Result<[u8; 64], crate::SignError> {
        let signature: Signature = self
            .signing_key
            .try_sign(message)
            .map_err(|_| crate::SignError::Signing)?;
        Ok(signature.to_bytes())
    }
}

fn self_signed_certificate(
    signing_key: &SigningKey,
    common_name: &str,
    serial: &[u8],
) -> Result<Vec<u8>, CertificateError> {
    let encoding = |e: der::Error| CertificateError::Encoding {
        detail: e.to_string(),
    };
    let name = {
        let value = der::Any::from(Utf8StringRef::new(common_name).map_err(encoding)?);
        let rdn = SetOfVec::try_from(vec![AttributeTypeAndValue {
            oid: COMMON_NAME_OID,
            value,
        }])
        .map_err(encoding)?;
        Name::from(RdnSequence(vec![RelativeDistinguishedName(rdn)]))
    };
    let time = |year| -> Result<Time, CertificateError> {
        let date = der::DateTime::new(year, 1, 1, 0, 0, 0).map_err(encoding)?;
        Ok(Time::UtcTime(
            der::asn1::UtcTime::from_date_time(date).map_err(encoding)?,
        ))
    };
    let public_key = PublicKey::from(signing_key.verifying_key())
        .to_public_key_der()
        .map_err(|e| CertificateError::Encoding {
            detail: e.to_string(),
        })?;
    let algorithm = AlgorithmIdentifierOwned {
        oid: SM2_SM3_OID,
        parameters: None,
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(serial).map_err(encoding)?,
        signature: algorithm.clone(),
        issuer: name.clone(),
        validity: Validity {
            not_before: time(2026)?,
            // UTCTime's last year: GeneralizedTime after it.
            not_after: Time::UtcTime(
                der::asn1::UtcTime::from_date_time(
                    der::DateTime::new(2049, 12, 31, 23, 59, 59).map_err(encoding)?,
                )
                .map_err(encoding)?,
            ),
        },
        subject: name,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(public_key.as_bytes())
            .map_err(encoding)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let tbs_der = tbs.to_der().map_err(encoding)?;
    let signature: Signature =
        signing_key
            .try_sign(&tbs_der)
            .map_err(|e| CertificateError::Encoding {
                detail: e.to_string(),
            })?;
    let certificate = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&der_signature(&signature)?).map_err(encoding)?,
    };
    certificate.to_der().map_err(encoding)
}
