//! Signed checkpoints over the chain head.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::{AuditError, ChainHead, Hash};

/// Domain separator for checkpoint signatures, so a checkpoint signature can
/// never be replayed as a signature over anything else made with the same key.
pub const CHECKPOINT_DOMAIN: &[u8] = b"opencustoms-audit-checkpoint-v1";

/// The exact bytes a checkpoint signature covers:
/// `CHECKPOINT_DOMAIN || seq BE || head_hash || signed_at_ms BE`.
pub fn checkpoint_message(seq: u64, head_hash: &Hash, signed_at_ms: i64) -> Vec<u8> {
    let mut msg = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 8 + 32 + 8);
    msg.extend_from_slice(CHECKPOINT_DOMAIN);
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(head_hash);
    msg.extend_from_slice(&signed_at_ms.to_be_bytes());
    msg
}

/// A signed statement "the chain had head `head_hash` at `seq`"; it exists
/// because a hash chain alone cannot detect a consistent rewrite or a deleted
/// tail, while a signature the attacker cannot forge can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub head_hash: Hash,
    /// Milliseconds since the Unix epoch, as passed in by the caller.
    pub signed_at_ms: i64,
    /// Hex of the first 8 bytes of SHA-256(public key); names the signing key.
    pub key_id: String,
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// The bytes this checkpoint's signature must cover.
    pub fn message(&self) -> Vec<u8> {
        checkpoint_message(self.seq, &self.head_hash, self.signed_at_ms)
    }
}

/// The writer's checkpoint signing key; it exists to keep the secret behind a
/// narrow API (sign checkpoints, export for storage) and out of `Debug` output.
#[derive(Clone)]
pub struct AuditSigner {
    key: SigningKey,
}

impl AuditSigner {
    /// Rebuilds a signer from its 32-byte Ed25519 secret (seed).
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Self {
        AuditSigner {
            key: SigningKey::from_bytes(bytes),
        }
    }

    /// The 32-byte secret (seed), for the caller to store securely.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn public_key(&self) -> AuditPublicKey {
        AuditPublicKey(self.key.verifying_key())
    }

    /// The key itself, for the other signatures this crate makes (`heads`).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs the current chain head. `signed_at_ms` comes from the caller
    /// because this crate never reads a clock.
    pub fn sign(&self, head: &ChainHead, signed_at_ms: i64) -> Checkpoint {
        let msg = checkpoint_message(head.seq, &head.hash, signed_at_ms);
        Checkpoint {
            seq: head.seq,
            head_hash: head.hash,
            signed_at_ms,
            key_id: self.public_key().key_id(),
            signature: self.key.sign(&msg).to_bytes(),
        }
    }
}

/// Lets callers generate a key with any CSPRNG, e.g.
/// `AuditSigner::from(SigningKey::generate(&mut OsRng))`, without this crate
/// naming `rand_core` (which it cannot depend on).
impl From<SigningKey> for AuditSigner {
    fn from(key: SigningKey) -> Self {
        AuditSigner { key }
    }
}

impl fmt::Debug for AuditSigner {
    // Never print the secret; the key id is enough to tell signers apart.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.public_key().key_id())
            .finish_non_exhaustive()
    }
}

/// The public half used by verifiers; it exists so that anyone holding it
/// (auditors, courts, the CLI) can check checkpoints without the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPublicKey(VerifyingKey);

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): SEQUENCE,
/// AlgorithmIdentifier { id-Ed25519 1.3.101.112 }, BIT STRING of 32 bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl AuditPublicKey {
    /// Parses the 32 raw key bytes; rejects points that are not on the curve
    /// and small-order ("weak") keys, for which signatures prove nothing.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, AuditError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| AuditError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(AuditError::InvalidPublicKey);
        }
        Ok(AuditPublicKey(key))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// Lowercase hex of the 32 raw key bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// Parses [`Self::to_hex`] output (either case; no surrounding whitespace).
    pub fn from_hex(s: &str) -> Result<Self, AuditError> {
        let bytes = hex::decode(s)?;
        let actual = bytes.len();
        let raw: [u8; 32] = bytes.try_into().map_err(|_| AuditError::InvalidLength {
            expected: 32,
            actual,
        })?;
        Self::from_bytes(&raw)
    }

    /// Lowercase hex of SHA-256(public key), all 32 bytes: what an auditor writes down to
    /// recognise the key later (`audit verify --key-fingerprint`). [`Self::key_id`] is its
    /// first 16 characters.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Parses a PEM made by [`Self::to_pem`] (any Ed25519 SubjectPublicKeyInfo PEM) or the hex
    /// of the 32 raw bytes, surrounding whitespace ignored: what `audit public-key` printed.
    pub fn from_pem_or_hex(text: &str) -> Result<Self, AuditError> {
        let text = text.trim();
        // The whole output of `customs audit public-key` saved to a file (fingerprint and hex
        // lines before the PEM) is taken as its PEM.
        let text = match text.find("-----BEGIN PUBLIC KEY-----") {
            Some(start) => &text[start..],
            None => text,
        };
        let Some(body) = text.strip_prefix("-----BEGIN PUBLIC KEY-----") else {
            return Self::from_hex(text);
        };
        let body = body
            .trim()
            .strip_suffix("-----END PUBLIC KEY-----")
            .ok_or(AuditError::InvalidPublicKey)?;
        let der = unbase64(body).ok_or(AuditError::InvalidPublicKey)?;
        let raw = der
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .ok_or(AuditError::InvalidPublicKey)?;
        let actual = raw.len();
        let raw: [u8; 32] = raw.try_into().map_err(|_| AuditError::InvalidLength {
            expected: 32,
            actual,
        })?;
        Self::from_bytes(&raw)
    }

    /// Hex of the first 8 bytes of SHA-256(public key): short enough to show,
    /// long enough to tell keys apart after a rotation.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        hex::encode(&digest[..8])
    }

    /// True if the checkpoint names this key and its signature is valid over
    /// its own `seq`, `head_hash` and `signed_at_ms`. Uses strict verification
    /// so that no second, malleated signature verifies for the same checkpoint.
    pub fn verify(&self, checkpoint: &Checkpoint) -> bool {
        let signature = Signature::from_bytes(&checkpoint.signature);
        checkpoint.key_id == self.key_id()
            && self
                .0
                .verify_strict(&checkpoint.message(), &signature)
                .is_ok()
    }

    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), readable by
    /// OpenSSL (`openssl pkey -pubin -in key.pem -text`). Built by hand: the
    /// DER for an Ed25519 key is a fixed 12-byte prefix plus the key.
    pub fn to_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.as_bytes());
        // 44 DER bytes encode to 60 base64 characters: one PEM line.
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64(&der)
        )
    }
}

/// Decodes standard base64, padded or not, ignoring whitespace; `None` on any other character.
fn unbase64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// Standard, padded base64 (RFC 4648 §4); only needed for the PEM body.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
