//! The CEB senders' registered certificates, read once (`dsig::RegisteredKey`: the certificate
//! parsed, its SM2 key, and the fixed-base table fast verification builds on first use).
//!
//! Reading the certificate again for every message cost most of a CEB list's CPU (the Singles'
//! Day bench: 2.2–2.9 ms of verification per list, 0.3 ms with the key kept). Keys are found by
//! the SHA-256 of the certificate's DER, so a key is only ever used for the very bytes it was read
//! from: a new certificate in force is read afresh and nothing needs invalidating, on this
//! instance or another.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// At most this many keys are kept (each holds a table of about 70 KB: 1,000 is about 70 MB);
/// when full, the cache starts again empty rather than grow.
pub const CEB_KEYS_CACHED_MAX: usize = 1_000;

pub(crate) struct CebKeys {
    keys: Mutex<HashMap<[u8; 32], dsig::RegisteredKey>>,
    capacity: usize,
}

impl Default for CebKeys {
    fn default() -> Self {
        Self::with_capacity(CEB_KEYS_CACHED_MAX)
    }
}

impl CebKeys {
    fn with_capacity(capacity: usize) -> Self {
        CebKeys {
            keys: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// Verifies `document`'s signature against the registered certificate `der`, as
    /// `dsig::verify` does, with the certificate read once.
    pub(crate) fn verify(
        &self,
        document: &[u8],
        der: &[u8],
    ) -> Result<dsig::Verified, dsig::SignatureError> {
        self.key(der)?.verify(document)
    }

    fn key(&self, der: &[u8]) -> Result<dsig::RegisteredKey, dsig::SignatureError> {
        let id: [u8; 32] = Sha256::digest(der).into();
        // A panic elsewhere while the lock was held leaves a map still worth reading.
        let lock = || self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = lock().get(&id) {
            return Ok(key.clone());
        }
        // Read outside the lock: another message may read the same certificate at once; both
        // keys are the same, the last one stays.
        let key = dsig::RegisteredKey::from_certificate(der)
            .map_err(dsig::SignatureError::RegisteredCertificate)?;
        let mut keys = lock();
        if keys.len() >= self.capacity && !keys.contains_key(&id) {
            keys.clear();
        }
        keys.insert(id, key.clone());
        Ok(key)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(name: &str) -> (Vec<u8>, Vec<u8>) {
        let identity = dsig::Identity::generate(name, name.as_bytes()).unwrap();
        let document = format!(
            "<ceb:CEB311Message xmlns:ceb=\"http://www.chinaport.gov.cn/ceb\" guid=\"{name}\">\
             <ceb:Order/></ceb:CEB311Message>"
        );
        let signed = dsig::sign(document.as_bytes(), &identity).unwrap();
        (signed, identity.certificate_der().to_vec())
    }

    #[test]
    fn a_key_is_read_once_and_used_only_for_its_own_certificate() {
        let keys = CebKeys::default();
        let (first, first_der) = signed("first");
        let (second, second_der) = signed("second");
        keys.verify(&first, &first_der).unwrap();
        keys.verify(&first, &first_der).unwrap();
        assert_eq!(keys.len(), 1);
        // Another certificate is another key: the first's message does not verify with it.
        assert!(keys.verify(&first, &second_der).is_err());
        keys.verify(&second, &second_der).unwrap();
        assert_eq!(keys.len(), 2);
        let mut tampered = first.clone();
        let at = tampered.len() / 3;
        tampered[at] ^= 1;
        assert!(keys.verify(&tampered, &first_der).is_err());
        assert!(keys.verify(&first, b"not a certificate").is_err());
        assert_eq!(
            keys.len(),
            2,
            "a certificate that cannot be read is not kept"
        );
    }

    #[test]
    fn at_its_capacity_the_cache_starts_again() {
        let keys = CebKeys::with_capacity(2);
        let messages: Vec<_> = ["a", "b", "c"].iter().map(|n| signed(n)).collect();
        keys.verify(&messages[0].0, &messages[0].1).unwrap();
        keys.verify(&messages[1].0, &messages[1].1).unwrap();
        assert_eq!(keys.len(), 2, "at the capacity, everything kept");
        // Again a kept key: nothing dropped.
        keys.verify(&messages[1].0, &messages[1].1).unwrap();
        assert_eq!(keys.len(), 2);
        // One over: the cache starts again with the new key alone, and still verifies.
        keys.verify(&messages[2].0, &messages[2].1).unwrap();
        assert_eq!(keys.len(), 1);
        keys.verify(&messages[0].0, &messages[0].1).unwrap();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn the_production_capacity_is_the_named_limit() {
        assert_eq!(CebKeys::default().capacity, CEB_KEYS_CACHED_MAX);
    }
}
