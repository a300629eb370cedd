//! Signing and verifying the enveloped `ds:Signature` of a CEB message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sm3::{Digest, Sm3};

use crate::c14n::{self, Canonical, Node, RootEnd};
use crate::identity::{SignatureEncoding, decode_signature};
use crate::{
    C14N_ALGORITHM, DSIG_NAMESPACE, ENVELOPED_SIGNATURE_TRANSFORM, Identity, RegisteredKey,
    SM2_SM3_ALGORITHM, SM3_ALGORITHM, SignError, SignatureError,
};

/// What a verified signature said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The SM3 digest of the canonical message (without its signature).
    pub digest: [u8; 32],
    /// `ds:KeyInfo/ds:KeyName`, when given (the e-port writes the certificate's number there).
    pub key_name: Option<String>,
    pub encoding: SignatureEncoding,
}

/// Signs `document` with `identity`: the root's `ds:Signature` child, if there is one (a masked
/// sample's, an old one), is replaced; otherwise one is added as the root's last child. The
/// rest of the message is left byte for byte as it was.
pub fn sign(document: &[u8], identity: &Identity) -> Result<Vec<u8>, SignError> {
    let canonical = c14n::canonicalize_enveloped(document)?;
    let digest = Sm3::digest(&canonical.document);
    let (head, tail) = signature_element(
        &STANDARD.encode(digest),
        identity.registered_key().serial(),
        &STANDARD.encode(identity.certificate_der()),
    );
    let (mut signed, value_at) = splice(document, &canonical, &head, &tail);
    // SignedInfo is canonicalized as verification will: from the message it is now part of (its
    // canonical form carries the namespaces in scope there).
    let placed = c14n::canonicalize_enveloped(&signed)?;
    let signed_info = match placed.signature {
        Some(found) if placed.document == canonical.document => found.signed_info,
        _ => return Err(SignError::Signing),
    };
    let value = STANDARD.encode(identity.sign_bytes(&signed_info)?);
    signed.splice(value_at..value_at, value.bytes());
    Ok(signed)
}

/// The signature element in two parts, the SignatureValue's text going between them.
fn signature_element(digest: &str, key_name: &str, certificate: &str) -> (String, String) {
    let head = format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NAMESPACE}\">\n<ds:SignedInfo>\n\
         <ds:CanonicalizationMethod Algorithm=\"{C14N_ALGORITHM}\"></ds:CanonicalizationMethod>\n\
         <ds:SignatureMethod Algorithm=\"{SM2_SM3_ALGORITHM}\"></ds:SignatureMethod>\n\
         <ds:Reference URI=\"\">\n<ds:Transforms>\n\
         <ds:Transform Algorithm=\"{ENVELOPED_SIGNATURE_TRANSFORM}\"></ds:Transform>\n\
         </ds:Transforms>\n\
         <ds:DigestMethod Algorithm=\"{SM3_ALGORITHM}\"></ds:DigestMethod>\n\
         <ds:DigestValue>{digest}</ds:DigestValue>\n</ds:Reference>\n</ds:SignedInfo>\n\
         <ds:SignatureValue>"
    );
    let tail = format!(
        "</ds:SignatureValue>\n<ds:KeyInfo>\n<ds:KeyName>{key_name}</ds:KeyName>\n<ds:X509Data>\n\
         <ds:X509Certificate>{certificate}</ds:X509Certificate>\n</ds:X509Data>\n</ds:KeyInfo>\n\
         </ds:Signature>"
    );
    (head, tail)
}

/// The document with the signature element in place, and where the SignatureValue's text goes.
fn splice(document: &[u8], canonical: &Canonical, head: &str, tail: &str) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(document.len() + head.len() + tail.len() + 128);
    let place = |out: &mut Vec<u8>| {
        out.extend_from_slice(head.as_bytes());
        let at = out.len();
        out.extend_from_slice(tail.as_bytes());
        at
    };
    let (rest, root_end) = match &canonical.signature {
        // In place: the layout around it stays.
        Some(found) if !found.followed => {
            out.extend_from_slice(&document[..found.span.start]);
            let at = place(&mut out);
            out.extend_from_slice(&document[found.span.end..]);
            return (out, at);
        }
        // Not last: taken out, and a new one goes last.
        Some(found) => {
            let mut rest = document[..found.span.start].to_vec();
            rest.extend_from_slice(&document[found.span.end..]);
            let removed = found.span.len();
            let end = match canonical.root_end {
                RootEnd::EndTag(at) => RootEnd::EndTag(at - removed),
                RootEnd::EmptyTag(at) => RootEnd::EmptyTag(at - removed),
            };
            (rest, end)
        }
        None => (document.to_vec(), canonical.root_end),
    };
    let at = match root_end {
        RootEnd::EndTag(end) => {
            out.extend_from_slice(&rest[..end]);
            let at = place(&mut out);
            out.extend_from_slice(&rest[end..]);
            at
        }
        RootEnd::EmptyTag(slash) => {
            out.extend_from_slice(&rest[..slash]);
            out.push(b'>');
            let at = place(&mut out);
            out.extend_from_slice(b"</");
            out.extend_from_slice(canonical.root_qname.as_bytes());
            out.push(b'>');
            out.extend_from_slice(&rest[slash + 2..]);
            at
        }
    };
    (out, at)
}

/// Verifies `document`'s signature against the enterprise's registered certificate (DER). To
/// verify many messages of one enterprise, read its certificate once with
/// [`RegisteredKey::from_certificate`] and call [`RegisteredKey::verify`].
pub fn verify(
    document: &[u8],
    registered_certificate_der: &[u8],
) -> Result<Verified, SignatureError> {
    RegisteredKey::from_certificate(registered_certificate_der)
        .map_err(SignatureError::RegisteredCertificate)?
        .verify_with(document, Arithmetic::Plain)
}

/// How the SM2 equation is computed: with the key's precomputed table (worth its making, about
/// 1 ms, when the key verifies many messages) or without.
#[derive(Clone, Copy)]
enum Arithmetic {
    Table,
    Plain,
}

impl RegisteredKey {
    /// Verifies `document`'s enveloped signature: present as the root's last child, exactly the
    /// CEB algorithms, the embedded certificate this one, the SignatureValue valid over the
    /// canonical SignedInfo with this key, then the canonical message's SM3 digest the one
    /// SignedInfo carries. SignedInfo is authenticated before its DigestValue is trusted.
    pub fn verify(&self, document: &[u8]) -> Result<Verified, SignatureError> {
        self.verify_with(document, Arithmetic::Table)
    }

    fn verify_with(
        &self,
        document: &[u8],
        arithmetic: Arithmetic,
    ) -> Result<Verified, SignatureError> {
        let canonical = c14n::canonicalize_enveloped(document).map_err(SignatureError::Xml)?;
        let root = format!("/{}", canonical.root_qname);
        let path = |rest: &str| format!("{root}/ds:Signature{rest}");
        let Some(found) = canonical.signature else {
            return Err(SignatureError::Missing { path: path("") });
        };
        if found.followed {
            return Err(SignatureError::NotLast { path: path("") });
        }
        let parts = read_signature(&found.tree, &path)?;
        let certificate_path = path("/ds:KeyInfo/ds:X509Data/ds:X509Certificate");
        let certificate = base64(&parts.certificate, &certificate_path)?;
        if certificate != self.certificate_der() {
            return Err(SignatureError::CertificateNotRegistered {
                path: certificate_path,
            });
        }
        let value_path = path("/ds:SignatureValue");
        let value = base64(&parts.signature_value, &value_path)?;
        let Some((signature, encoding)) = decode_signature(&value) else {
            return Err(SignatureError::SignatureEncoding {
                path: value_path,
                length: value.len(),
            });
        };
        let digest_path = path("/ds:SignedInfo/ds:Reference/ds:DigestValue");
        let digest_value = base64(&parts.digest_value, &digest_path)?;
        if digest_value.len() != 32 {
            return Err(SignatureError::DigestLength {
                path: digest_path,
                length: digest_value.len(),
            });
        }
        let valid = match arithmetic {
            Arithmetic::Table => self.fast.verify(&found.signed_info, &signature),
            Arithmetic::Plain => {
                use sm2::dsa::signature::Verifier;
                self.verifying_key
                    .verify(&found.signed_info, &signature)
                    .is_ok()
            }
        };
        if !valid {
            return Err(SignatureError::SignatureMismatch { path: value_path });
        }
        let digest: [u8; 32] = Sm3::digest(&canonical.document).into();
        if digest[..] != digest_value[..] {
            return Err(SignatureError::DigestMismatch { path: digest_path });
        }
        Ok(Verified {
            digest,
            key_name: parts.key_name,
            encoding,
        })
    }
}

fn base64(text: &str, path: &str) -> Result<Vec<u8>, SignatureError> {
    // XML-DSig's base64 may be wrapped in lines.
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .collect();
    STANDARD
        .decode(compact)
        .map_err(|_| SignatureError::Base64 {
            path: path.to_owned(),
        })
}

struct Parts {
    digest_value: String,
    signature_value: String,
    certificate: String,
    key_name: Option<String>,
}

/// The element children of `node`, each checked against `expected` in order (a `?` after a
/// name makes it optional); text between them must be whitespace.
fn children<'a>(
    node: &'a Node,
    expected: &[&'static str],
    here: &str,
) -> Result<Vec<Option<&'a Node>>, SignatureError> {
    if !node
        .text
        .chars()
        .all(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
    {
        return Err(SignatureError::Structure {
            path: here.to_owned(),
            expected: "only elements",
            found: format!("text \"{}\"", node.text.trim()),
        });
    }
    let mut found = Vec::with_capacity(expected.len());
    let mut next = node.children.iter().peekable();
    for want in expected {
        let (name, optional) = match want.strip_suffix('?') {
            Some(name) => (name, true),
            None => (*want, false),
        };
        match next.peek() {
            Some(child) if child.namespace == DSIG_NAMESPACE && child.local == name => {
                found.push(next.next());
            }
            _ if optional => found.push(None),
            other => {
                return Err(SignatureError::Structure {
                    path: format!("{here}/ds:{name}"),
                    expected: want_name(name),
                    found: describe(other.copied()),
                });
            }
        }
    }
    if let Some(extra) = next.next() {
        return Err(SignatureError::Structure {
            path: format!("{here}/{}", extra.local),
            expected: "no further element",
            found: describe(Some(extra)),
        });
    }
    Ok(found)
}

fn want_name(name: &str) -> &'static str {
    match name {
        "SignedInfo" => "ds:SignedInfo",
        "SignatureValue" => "ds:SignatureValue",
        "KeyInfo" => "ds:KeyInfo",
        "CanonicalizationMethod" => "ds:CanonicalizationMethod",
        "SignatureMethod" => "ds:SignatureMethod",
        "Reference" => "ds:Reference",
        "Transforms" => "ds:Transforms",
        "Transform" => "ds:Transform",
        "DigestMethod" => "ds:DigestMethod",
        "DigestValue" => "ds:DigestValue",
        "KeyName" => "ds:KeyName",
        "X509Data" => "ds:X509Data",
        "X509Certificate" => "ds:X509Certificate",
        _ => "an XML-DSig element",
    }
}

fn describe(node: Option<&Node>) -> String {
    match node {
        None => "nothing".into(),
        Some(node) if node.namespace == DSIG_NAMESPACE => format!("ds:{}", node.local),
        Some(node) => format!("{{{}}}{}", node.namespace, node.local),
    }
}

/// The element's only content is text (no child element).
fn leaf<'a>(node: &'a Node, here: &str) -> Result<&'a str, SignatureError> {
    match node.children.first() {
        None => Ok(&node.text),
        Some(child) => Err(SignatureError::Structure {
            path: here.to_owned(),
            expected: "text only",
            found: describe(Some(child)),
        }),
    }
}

fn algorithm(node: &Node, expected: &'static str, here: &str) -> Result<(), SignatureError> {
    let path = format!("{here}/@Algorithm");
    match node.attribute("Algorithm") {
        Some(found) if found == expected => {}
        found => {
            return Err(SignatureError::Algorithm {
                path,
                expected,
                found: found.unwrap_or("(none)").to_owned(),
            });
        }
    }
    // An algorithm's parameters (child elements) would change what it does: none is accepted.
    children(node, &[], here).map(|_| ())
}

fn read_signature(
    signature: &Node,
    path: &dyn Fn(&str) -> String,
) -> Result<Parts, SignatureError> {
    let [Some(signed_info), Some(value), Some(key_info)] = children(
        signature,
        &["SignedInfo", "SignatureValue", "KeyInfo"],
        &path(""),
    )?[..] else {
        unreachable_structure(&path(""))?
    };
    let si = path("/ds:SignedInfo");
    let [Some(c14n), Some(method), Some(reference)] = children(
        signed_info,
        &["CanonicalizationMethod", "SignatureMethod", "Reference"],
        &si,
    )?[..] else {
        unreachable_structure(&si)?
    };
    algorithm(
        c14n,
        C14N_ALGORITHM,
        &format!("{si}/ds:CanonicalizationMethod"),
    )?;
    algorithm(
        method,
        SM2_SM3_ALGORITHM,
        &format!("{si}/ds:SignatureMethod"),
    )?;
    let r = format!("{si}/ds:Reference");
    match reference.attribute("URI") {
        Some("") => {}
        found => {
            return Err(SignatureError::Reference {
                path: format!("{r}/@URI"),
                found: found.unwrap_or("(none)").to_owned(),
            });
        }
    }
    let [Some(transforms), Some(digest_method), Some(digest_value)] = children(
        reference,
        &["Transforms", "DigestMethod", "DigestValue"],
        &r,
    )?[..] else {
        unreachable_structure(&r)?
    };
    let t = format!("{r}/ds:Transforms");
    let [Some(transform)] = children(transforms, &["Transform"], &t)?[..] else {
        unreachable_structure(&t)?
    };
    algorithm(
        transform,
        ENVELOPED_SIGNATURE_TRANSFORM,
        &format!("{t}/ds:Transform"),
    )?;
    algorithm(
        digest_method,
        SM3_ALGORITHM,
        &format!("{r}/ds:DigestMethod"),
    )?;
    let digest_value = leaf(digest_value, &format!("{r}/ds:DigestValue"))?.to_owned();
    let signature_value = leaf(value, &path("/ds:SignatureValue"))?.to_owned();
    let k = path("/ds:KeyInfo");
    let [key_name, Some(x509_data)] = children(key_info, &["KeyName?", "X509Data"], &k)?[..] else {
        unreachable_structure(&k)?
    };
    let key_name = match key_name {
        Some(node) => Some(leaf(node, &format!("{k}/ds:KeyName"))?.trim().to_owned()),
        None => None,
    };
    let x = format!("{k}/ds:X509Data");
    let [Some(certificate)] = children(x509_data, &["X509Certificate"], &x)?[..] else {
        unreachable_structure(&x)?
    };
    let certificate = leaf(certificate, &format!("{x}/ds:X509Certificate"))?.to_owned();
    Ok(Parts {
        digest_value,
        signature_value,
        certificate,
        key_name,
    })
}

/// `children` returns one slot per expected name, filled unless optional: a shape it cannot
/// return, answered as a refusal rather than a panic.
fn unreachable_structure<T>(path: &str) -> Result<T, SignatureError> {
    Err(SignatureError::Structure {
        path: path.to_owned(),
        expected: "the XML-DSig structure",
        found: "another".into(),
    })
}
