//! One signature over the heads of several chains: what binds a partitioned record together.
//!
//! A store that keeps its record as several chains (each verified alone by [`crate::verify_chain`])
//! signs, in each signing round, every chain's head at once. Without it, whoever holds the store
//! could cut the tail of one chain and leave the others; with it, each round's heads are
//! [`Anchor`]s for the chains' verification, and rounds number themselves, so a chain shorter than
//! a verified round says, or a round missing from the sequence shows.

use ed25519_dalek::{Signature, Signer};

use crate::{Anchor, AuditPublicKey, AuditSigner, ChainHead};

/// Domain separator of a round's signature, distinct from a single chain's
/// ([`crate::CHECKPOINT_DOMAIN`]), so neither can be passed off as the other.
pub const HEADS_DOMAIN: &[u8] = b"opencustoms-audit-heads-v1";

/// Bytes of one head in [`heads_message`] and in [`HeadsCheckpoint::heads_to_bytes`].
const HEAD_BYTES: usize = 8 + 32;

/// The exact bytes a round's signature covers: `HEADS_DOMAIN || round BE || chain count (u32 BE)
/// || per chain in order (seq BE || head hash) || signed_at_ms BE`.
pub fn heads_message(round: u64, heads: &[ChainHead], signed_at_ms: i64) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADS_DOMAIN.len() + 8 + 4 + heads.len() * HEAD_BYTES + 8);
    msg.extend_from_slice(HEADS_DOMAIN);
    msg.extend_from_slice(&round.to_be_bytes());
    let count = u32::try_from(heads.len()).expect("fewer than 2^32 chains");
    msg.extend_from_slice(&count.to_be_bytes());
    msg.extend_from_slice(&HeadsCheckpoint::heads_to_bytes(heads));
    msg.extend_from_slice(&signed_at_ms.to_be_bytes());
    msg
}

/// A signed statement "in round `round`, chain `i` had head `heads[i]`, for every chain".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadsCheckpoint {
    /// 1-based, gap-free: the rounds a store signed.
    pub round: u64,
    /// Every chain's head, chain 0 first.
    pub heads: Vec<ChainHead>,
    pub signed_at_ms: i64,
    /// As [`crate::Checkpoint::key_id`].
    pub key_id: String,
    pub signature: [u8; 64],
}

impl HeadsCheckpoint {
    /// The heads as stored: per chain, seq (8 bytes BE) then hash (32 bytes).
    pub fn heads_to_bytes(heads: &[ChainHead]) -> Vec<u8> {
        let mut out = Vec::with_capacity(heads.len() * HEAD_BYTES);
        for head in heads {
            out.extend_from_slice(&head.seq.to_be_bytes());
            out.extend_from_slice(&head.hash);
        }
        out
    }

    /// [`Self::heads_to_bytes`] read back; `None` unless whole heads.
    pub fn heads_from_bytes(bytes: &[u8]) -> Option<Vec<ChainHead>> {
        if !bytes.len().is_multiple_of(HEAD_BYTES) {
            return None;
        }
        Some(
            bytes
                .chunks_exact(HEAD_BYTES)
                .map(|chunk| ChainHead {
                    seq: u64::from_be_bytes(chunk[..8].try_into().expect("8 bytes")),
                    hash: chunk[8..].try_into().expect("32 bytes"),
                })
                .collect(),
        )
    }

    /// The bytes this round's signature must cover.
    pub fn message(&self) -> Vec<u8> {
        heads_message(self.round, &self.heads, self.signed_at_ms)
    }

    /// The head of `chain` in this round as an anchor for that chain's verification (`None`
    /// for an empty chain or a chain the round does not name).
    pub fn anchor(&self, chain: usize) -> Option<Anchor> {
        let head = self.heads.get(chain)?;
        (head.seq > 0).then_some(Anchor {
            seq: head.seq,
            head_hash: head.hash,
        })
    }
}

impl AuditSigner {
    /// Signs every chain's head at once (`heads[i]` is chain `i`'s).
    pub fn sign_heads(
        &self,
        round: u64,
        heads: &[ChainHead],
        signed_at_ms: i64,
    ) -> HeadsCheckpoint {
        let signature = self
            .signing_key()
            .sign(&heads_message(round, heads, signed_at_ms))
            .to_bytes();
        HeadsCheckpoint {
            round,
            heads: heads.to_vec(),
            signed_at_ms,
            key_id: self.public_key().key_id(),
            signature,
        }
    }
}

impl AuditPublicKey {
    /// True if the round names this key and its signature is valid over its own round, heads
    /// and time (strict verification, as [`AuditPublicKey::verify`]).
    pub fn verify_heads(&self, checkpoint: &HeadsCheckpoint) -> bool {
        let signature = Signature::from_bytes(&checkpoint.signature);
        checkpoint.key_id == self.key_id()
            && self
                .verifying_key()
                .verify_strict(&checkpoint.message(), &signature)
                .is_ok()
    }
}

/// Why a store's rounds cannot vouch for its chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoundFault {
    #[error("the checkpoint of all chain heads, round {round}, has an invalid signature")]
    BadSignature { round: u64 },
    #[error(
        "the checkpoints of all chain heads skip from round {after} to {next}: rounds were deleted"
    )]
    Missing { after: u64, next: u64 },
    #[error(
        "the checkpoint of all chain heads, round {round}, names {named} chains where the store has {chains}"
    )]
    ChainCount {
        round: u64,
        named: usize,
        chains: usize,
    },
}

/// Checks every round (numbered from 1 without gaps, each naming `chains` heads and validly
/// signed by `key`) and answers, per chain, the anchors the rounds give it.
pub fn round_anchors(
    rounds: &[HeadsCheckpoint],
    chains: usize,
    key: &AuditPublicKey,
) -> Result<Vec<Vec<Anchor>>, RoundFault> {
    let mut anchors = vec![Vec::new(); chains];
    let mut previous = 0;
    for round in rounds {
        if round.round != previous + 1 {
            return Err(RoundFault::Missing {
                after: previous,
                next: round.round,
            });
        }
        previous = round.round;
        if round.heads.len() != chains {
            return Err(RoundFault::ChainCount {
                round: round.round,
                named: round.heads.len(),
                chains,
            });
        }
        if !key.verify_heads(round) {
            return Err(RoundFault::BadSignature { round: round.round });
        }
        for (chain, anchors) in anchors.iter_mut().enumerate() {
            anchors.extend(round.anchor(chain));
        }
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GENESIS_HASH;

    fn signer() -> AuditSigner {
        AuditSigner::from_secret_bytes(&[7; 32])
    }

    fn heads() -> Vec<ChainHead> {
        vec![
            ChainHead {
                seq: 3,
                hash: [1; 32],
            },
            ChainHead {
                seq: 0,
                hash: GENESIS_HASH,
            },
            ChainHead {
                seq: 9,
                hash: [2; 32],
            },
        ]
    }

    #[test]
    fn a_round_verifies_and_anchors_each_chain() {
        let round = signer().sign_heads(1, &heads(), 1_000);
        let key = signer().public_key();
        assert!(key.verify_heads(&round));
        let anchors = round_anchors(&[round], 3, &key).unwrap();
        assert_eq!(
            anchors[0],
            vec![Anchor {
                seq: 3,
                head_hash: [1; 32]
            }]
        );
        assert!(
            anchors[1].is_empty(),
            "an empty chain has nothing to anchor"
        );
        assert_eq!(anchors[2][0].seq, 9);
        assert_eq!(
            HeadsCheckpoint::heads_from_bytes(&HeadsCheckpoint::heads_to_bytes(&heads())),
            Some(heads())
        );
        assert_eq!(HeadsCheckpoint::heads_from_bytes(&[0; 41]), None);
    }

    #[test]
    fn an_edited_missing_or_foreign_round_is_refused() {
        let key = signer().public_key();
        let mut edited = signer().sign_heads(1, &heads(), 1_000);
        edited.heads[2].seq = 8;
        assert_eq!(
            round_anchors(&[edited], 3, &key),
            Err(RoundFault::BadSignature { round: 1 })
        );
        let first = signer().sign_heads(1, &heads(), 1_000);
        let third = signer().sign_heads(3, &heads(), 3_000);
        assert_eq!(
            round_anchors(&[first.clone(), third], 3, &key),
            Err(RoundFault::Missing { after: 1, next: 3 })
        );
        assert_eq!(
            round_anchors(std::slice::from_ref(&first), 4, &key),
            Err(RoundFault::ChainCount {
                round: 1,
                named: 3,
                chains: 4
            })
        );
        let other = AuditSigner::from_secret_bytes(&[8; 32]).public_key();
        assert!(!other.verify_heads(&first));
        // A single chain's checkpoint signature is no round's.
        let single = signer().sign(&heads()[0], 1_000);
        let forged = HeadsCheckpoint {
            signature: single.signature,
            ..first
        };
        assert!(!key.verify_heads(&forged));
    }
}
