use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::*;

// ---------------------------------------------------------------- fixtures

fn entry(seq: u64) -> AuditEntry {
    AuditEntry {
        encoding_version: ENCODING_VERSION,
        seq,
        recorded_at_ms: 1_700_000_000_000 + seq as i64,
        actor: format!("officer-{seq}"),
        role: "inspector".into(),
        action: "inspect".into(),
        subject: format!("DEC-{seq:06}"),
        idempotency_key: format!("idem-{seq}"),
        payload: format!(r#"{{"step":{seq}}}"#),
        idempotency_scope: format!("user-{seq}"),
        request_digest: format!("digest-{seq}"),
        projection: format!(r#"{{"Nothing":{seq}}}"#),
    }
}

/// Appends entries the way the single writer does, returning stored rows.
fn store(entries: Vec<AuditEntry>) -> (Vec<StoredEntry>, ChainHead) {
    let mut head = ChainHead::genesis();
    let rows = entries
        .into_iter()
        .map(|entry| {
            let prev_hash = head.hash;
            let entry_hash = head.append(&entry);
            StoredEntry {
                entry,
                prev_hash,
                entry_hash,
            }
        })
        .collect();
    (rows, head)
}

fn chain(n: u64) -> Vec<StoredEntry> {
    store((1..=n).map(entry).collect()).0
}

fn signer() -> AuditSigner {
    AuditSigner::from_secret_bytes(&[7; 32])
}

fn other_signer() -> AuditSigner {
    AuditSigner::from_secret_bytes(&[8; 32])
}

/// The head the honest chain `rows` had at `seq`.
fn head_at(rows: &[StoredEntry], seq: u64) -> ChainHead {
    match seq {
        0 => ChainHead::genesis(),
        _ => ChainHead {
            seq,
            hash: rows[seq as usize - 1].entry_hash,
        },
    }
}

fn checkpoint(by: &AuditSigner, rows: &[StoredEntry], seq: u64) -> Checkpoint {
    by.sign(&head_at(rows, seq), 1_800_000_000_000 + seq as i64)
}

fn verify(rows: Vec<StoredEntry>, checkpoints: &[Checkpoint]) -> VerifyReport {
    verify_chain(rows, checkpoints, &signer().public_key())
}

/// Recomputes row `i`'s own hash, as an attacker covering an edit would.
fn rehash(rows: &mut [StoredEntry], i: usize) {
    rows[i].entry_hash = entry_hash(&rows[i].prev_hash, &rows[i].entry);
}

/// Rewrites rows `i..` into a fully consistent chain (every link recomputed).
fn relink_from(rows: &mut [StoredEntry], i: usize) {
    for j in i..rows.len() {
        if j > 0 {
            rows[j].prev_hash = rows[j - 1].entry_hash;
        }
        rehash(rows, j);
    }
}

// ------------------------------------------------------------------ golden

fn golden_entry() -> AuditEntry {
    AuditEntry {
        encoding_version: 1,
        seq: 42,
        recorded_at_ms: 1_700_000_000_000,
        actor: "officer-7".into(),
        role: "inspector".into(),
        action: "release".into(),
        subject: "DEC-2024-000123".into(),
        idempotency_key: "idem-0042".into(),
        payload: r#"{"decision":"release","note":"货物放行"}"#.into(),
        // Outside the version-1 encoding: an old entry's hash does not depend on them.
        idempotency_scope: "ignored by v1".into(),
        request_digest: "ignored by v1".into(),
        projection: "ignored by v1".into(),
    }
}

// These constants were computed independently (Python hashlib and
// `cryptography`) from the layout documented on `canonical_encoding`. If this
// test fails, the chain format changed: every stored chain would stop
// verifying. Bump ENCODING_VERSION instead of editing the constants.
const GOLDEN_ENCODING: &str = "01000000000000002a0000018bcfe56800000000096f6666696365722d3700\
    000009696e73706563746f720000000772656c656173650000000f4445432d323032342d303030313233\
    000000096964656d2d303034320000002c7b226465636973696f6e223a2272656c65617365222c226e6f\
    7465223a22e8b4a7e789a9e694bee8a18c227d";
const GOLDEN_HASH: &str = "14f4aa874643d889d03114e711b7c33af5ffad00a3d8a0ee2aa1b3c1e1a31b29";
const GOLDEN_PUBLIC_KEY: &str = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";
const GOLDEN_KEY_ID: &str = "fe812c12f3ab4ce6";
const GOLDEN_SIGNATURE: &str = "1e6d7aa6b29d4fbd446f6afa2ad02670e549cae336d79a7a0b22eb8f996c08f9\
    206d7fc2f639305560358fd153b735261c115467f2735e2e3bc5f41e74731d06";

#[test]
fn golden_encoding_and_hash_are_pinned() {
    let entry = golden_entry();
    assert_eq!(hex::encode(canonical_encoding(&entry)), GOLDEN_ENCODING);
    assert_eq!(hex::encode(entry_hash(&[0x11; 32], &entry)), GOLDEN_HASH);
}

#[test]
fn golden_checkpoint_is_pinned() {
    // Ed25519 is deterministic, so the signature is a fixed value too.
    let head = ChainHead {
        seq: 42,
        hash: entry_hash(&[0x11; 32], &golden_entry()),
    };
    let cp = signer().sign(&head, 1_700_000_000_123);
    assert_eq!(signer().public_key().to_hex(), GOLDEN_PUBLIC_KEY);
    assert_eq!(cp.key_id, GOLDEN_KEY_ID);
    assert_eq!(hex::encode(cp.signature), GOLDEN_SIGNATURE);
    let expected_message = [
        CHECKPOINT_DOMAIN,
        &42u64.to_be_bytes(),
        &head.hash,
        &1_700_000_000_123i64.to_be_bytes(),
    ]
    .concat();
    assert_eq!(cp.message(), expected_message);
    assert!(signer().public_key().verify(&cp));
}

#[test]
fn pem_matches_openssl_layout() {
    // RFC 8410 §10.1 example key.
    let key = AuditPublicKey::from_hex(
        "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",
    )
    .unwrap();
    let rfc = "-----BEGIN PUBLIC KEY-----\n\
               MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
               -----END PUBLIC KEY-----\n";
    assert_eq!(key.to_pem(), rfc);
    // Same key as Python `cryptography` exports for the golden signer.
    assert!(
        signer()
            .public_key()
            .to_pem()
            .contains("MCowBQYDK2VwAyEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=")
    );
}

#[test]
fn encoding_is_injective_across_field_boundaries() {
    // Without length prefixes, moving a character between adjacent fields
    // would keep the concatenation and therefore the hash the same.
    let a = entry(1);
    let mut b = a.clone();
    let moved = b.actor.pop().unwrap();
    b.role.insert(0, moved);
    assert_eq!(a.actor.clone() + &a.role, b.actor.clone() + &b.role);
    assert_ne!(canonical_encoding(&a), canonical_encoding(&b));
}

// ----------------------------------------------------------- chain head

#[test]
fn chain_head_links_each_entry_to_the_previous_hash() {
    let (rows, head) = store((1..=3).map(entry).collect());
    assert_eq!(rows[0].prev_hash, GENESIS_HASH);
    assert_eq!(rows[1].prev_hash, rows[0].entry_hash);
    assert_eq!(head, head_at(&rows, 3));
}

#[test]
#[should_panic(expected = "must follow the chain head")]
fn chain_head_rejects_a_skipped_seq() {
    ChainHead::genesis().append(&entry(2));
}

// ------------------------------------------------------------------ keys

#[test]
fn public_key_round_trips_through_hex() {
    let key = signer().public_key();
    assert_eq!(AuditPublicKey::from_hex(&key.to_hex()), Ok(key));
    assert_eq!(key.key_id().len(), 16);
}

#[test]
fn public_key_parsing_rejects_bad_input() {
    assert!(matches!(
        AuditPublicKey::from_hex("zz"),
        Err(AuditError::InvalidHex(_))
    ));
    assert_eq!(
        AuditPublicKey::from_hex("abcd"),
        Err(AuditError::InvalidLength {
            expected: 32,
            actual: 2
        })
    );
    // y = 0 decodes to a point of order 4: a "weak" key that could
    // validate forged signatures under lax verification.
    assert_eq!(
        AuditPublicKey::from_bytes(&[0; 32]),
        Err(AuditError::InvalidPublicKey)
    );
}

#[test]
fn signer_round_trips_and_hides_its_secret() {
    let generated = AuditSigner::from(SigningKey::generate(&mut rand::rngs::OsRng));
    let restored = AuditSigner::from_secret_bytes(&generated.secret_bytes());
    assert_eq!(restored.public_key(), generated.public_key());
    let debug = format!("{generated:?}");
    assert!(!debug.contains(&hex::encode(generated.secret_bytes())));
    assert!(debug.contains(&generated.public_key().key_id()));
}

// ---------------------------------------------------------- verification

#[test]
fn empty_chain_verifies_with_a_genesis_checkpoint() {
    let cp = checkpoint(&signer(), &[], 0);
    let report = verify(Vec::new(), &[cp]);
    assert!(report.is_ok());
    assert_eq!((report.last_seq, report.head_hash), (0, GENESIS_HASH));
    assert_eq!(report.last_checkpoint_seq, Some(0));
}

#[test]
fn honest_chain_report_covers_everything() {
    let rows = chain(6);
    let cps = [
        checkpoint(&signer(), &rows, 6),
        checkpoint(&signer(), &rows, 2),
    ];
    let head = head_at(&rows, 6);
    let report = verify(rows, &cps);
    assert_eq!(
        report,
        VerifyReport {
            entries_checked: 6,
            checkpoints_checked: 2,
            last_seq: 6,
            head_hash: head.hash,
            last_checkpoint_seq: Some(6),
            first_fault: None,
        }
    );
}

#[test]
fn report_after_a_fault_stops_at_the_intact_prefix() {
    // Entry 3 rewritten with its own hash recomputed: only row 4 reveals it,
    // but the trusted prefix must end at entry 2.
    let mut rows = chain(6);
    rows[2].entry.payload = r#"{"step":"forged"}"#.into();
    rehash(&mut rows, 2);
    let intact = head_at(&rows, 2);
    let report = verify(rows, &[]);
    assert_eq!(report.first_fault, Some(ChainFault::Altered { seq: 3 }));
    assert_eq!((report.last_seq, report.head_hash), (2, intact.hash));
    assert_eq!(report.entries_checked, 4);
}

type Tamper = fn(&mut Vec<StoredEntry>, &mut Vec<Checkpoint>);

struct Case {
    name: &'static str,
    tamper: Tamper,
    expected: Option<ChainFault>,
}

fn case(name: &'static str, tamper: Tamper, expected: Option<ChainFault>) -> Case {
    Case {
        name,
        tamper,
        expected,
    }
}

fn altered(seq: u64) -> Option<ChainFault> {
    Some(ChainFault::Altered { seq })
}

fn deleted(after_seq: u64, missing_to: u64) -> Option<ChainFault> {
    Some(ChainFault::Deleted {
        after_seq,
        missing_from: after_seq + 1,
        missing_to,
    })
}

/// Every field of entry 3 altered in place (hash not recomputed).
fn field_cases() -> Vec<Case> {
    vec![
        case(
            "seq-3 recorded_at_ms",
            |r, _| r[2].entry.recorded_at_ms += 1,
            altered(3),
        ),
        case("seq-3 actor", |r, _| r[2].entry.actor.push('!'), altered(3)),
        case(
            "seq-3 role",
            |r, _| r[2].entry.role = "director".into(),
            altered(3),
        ),
        case(
            "seq-3 action",
            |r, _| r[2].entry.action = "release".into(),
            altered(3),
        ),
        case(
            "seq-3 subject",
            |r, _| r[2].entry.subject.push('9'),
            altered(3),
        ),
        case(
            "seq-3 idempotency_key",
            |r, _| r[2].entry.idempotency_key.clear(),
            altered(3),
        ),
        case(
            "seq-3 payload",
            |r, _| r[2].entry.payload.push(' '),
            altered(3),
        ),
        case("seq-3 prev_hash", |r, _| r[2].prev_hash[0] ^= 1, altered(3)),
        case(
            "seq-3 entry_hash",
            |r, _| r[2].entry_hash[31] ^= 1,
            altered(3),
        ),
    ]
}

fn rewrite_cases() -> Vec<Case> {
    vec![
        case(
            "entry 3 edited, own hash recomputed: blamed on 3, found at 4",
            |r, _| {
                r[2].entry.payload = "{}".into();
                rehash(r, 2);
            },
            altered(3),
        ),
        case(
            "entry 2 edited, own hash recomputed: checkpoint 2 catches it",
            |r, _| {
                r[1].entry.actor = "someone-else".into();
                rehash(r, 1);
            },
            Some(ChainFault::CheckpointMismatch { seq: 2 }),
        ),
        case(
            "entry 3 prev_hash forged, hash recomputed: checkpoint 2 vouches for 2",
            |r, _| {
                r[2].prev_hash = [9; 32];
                rehash(r, 2);
            },
            altered(3),
        ),
        case(
            "entry 1 prev_hash forged, hash recomputed: nothing precedes it",
            |r, _| {
                r[0].prev_hash = [9; 32];
                rehash(r, 0);
            },
            altered(1),
        ),
        case(
            "suffix from 3 rewritten consistently: only checkpoint 6 catches it",
            |r, _| {
                r[2].entry.payload = "{}".into();
                relink_from(r, 2);
            },
            Some(ChainFault::CheckpointMismatch { seq: 6 }),
        ),
        case(
            "suffix rewritten after the last checkpoint: undetectable (by design)",
            |r, c| {
                c.retain(|cp| cp.seq < 6);
                r[3].entry.payload = "{}".into();
                relink_from(r, 3);
            },
            None,
        ),
    ]
}

fn deletion_and_order_cases() -> Vec<Case> {
    vec![
        case(
            "middle row 4 deleted",
            |r, _| drop(r.remove(3)),
            deleted(3, 4),
        ),
        case(
            "rows 3 to 5 deleted",
            |r, _| drop(r.drain(2..5)),
            deleted(2, 5),
        ),
        case("first row deleted", |r, _| drop(r.remove(0)), deleted(0, 1)),
        case(
            "tail rows 5 and 6 deleted, checkpoint 6 remains",
            |r, _| r.truncate(4),
            Some(ChainFault::TruncatedAfterCheckpoint {
                checkpoint_seq: 6,
                last_seq: 4,
            }),
        ),
        case(
            "every row deleted",
            |r, _| r.clear(),
            Some(ChainFault::TruncatedAfterCheckpoint {
                checkpoint_seq: 6,
                last_seq: 0,
            }),
        ),
        case(
            "tail deleted after the last checkpoint: undetectable (by design)",
            |r, c| {
                c.retain(|cp| cp.seq < 6);
                r.truncate(4);
            },
            None,
        ),
        case(
            "seq values of rows 2 and 5 swapped, read ordered by seq",
            |r, _| {
                (r[1].entry.seq, r[4].entry.seq) = (5, 2);
                r.sort_by_key(|s| s.entry.seq);
            },
            altered(2),
        ),
        case(
            "row 3 replayed (duplicate seq)",
            |r, _| r.insert(3, r[2].clone()),
            Some(ChainFault::Reordered {
                seq: 3,
                expected_seq: 4,
            }),
        ),
        case(
            "rows 3 and 4 delivered out of order: 4 arrives where 3 is due",
            |r, _| r.swap(2, 3),
            deleted(2, 3),
        ),
    ]
}

fn checkpoint_cases() -> Vec<Case> {
    vec![
        case("untampered", |_, _| {}, None),
        case(
            "checkpoint 6 signature forged",
            |_, c| c[1].signature[0] ^= 1,
            Some(ChainFault::BadSignature { seq: 6 }),
        ),
        case(
            "checkpoint 6 head edited after signing",
            |_, c| c[1].head_hash = [1; 32],
            Some(ChainFault::BadSignature { seq: 6 }),
        ),
        case(
            "checkpoint 2 time edited after signing",
            |_, c| c[0].signed_at_ms += 1,
            Some(ChainFault::BadSignature { seq: 2 }),
        ),
        case(
            "checkpoint 6 signed by another key",
            |r, c| c[1] = checkpoint(&other_signer(), r, 6),
            Some(ChainFault::BadSignature { seq: 6 }),
        ),
        case(
            "checkpoint 6 signed by another key, relabelled with our key id",
            |r, c| {
                c[1] = checkpoint(&other_signer(), r, 6);
                c[1].key_id = signer().public_key().key_id();
            },
            Some(ChainFault::BadSignature { seq: 6 }),
        ),
        case(
            "forged checkpoint beyond the tail cannot fake a truncation",
            |_, c| {
                let mut fake = c[1].clone();
                fake.seq = 100;
                c.push(fake);
            },
            Some(ChainFault::BadSignature { seq: 100 }),
        ),
    ]
}

#[test]
fn every_tampering_names_its_exact_fault() {
    let cases = [
        field_cases(),
        rewrite_cases(),
        deletion_and_order_cases(),
        checkpoint_cases(),
    ];
    for case in cases.into_iter().flatten() {
        // Six entries with honest checkpoints at 2 and 6.
        let mut rows = chain(6);
        let mut cps = vec![
            checkpoint(&signer(), &rows, 2),
            checkpoint(&signer(), &rows, 6),
        ];
        (case.tamper)(&mut rows, &mut cps);
        let report = verify(rows, &cps);
        assert_eq!(report.first_fault, case.expected, "case: {}", case.name);
    }
}

#[test]
fn faults_read_as_english_naming_the_entry() {
    let cases = [
        (ChainFault::Altered { seq: 42 }, "entry 42 was altered"),
        (
            ChainFault::Deleted {
                after_seq: 16,
                missing_from: 17,
                missing_to: 19,
            },
            "entries 17 to 19 were deleted",
        ),
        (
            ChainFault::Deleted {
                after_seq: 16,
                missing_from: 17,
                missing_to: 17,
            },
            "entry 17 was deleted",
        ),
        (
            ChainFault::Reordered {
                seq: 3,
                expected_seq: 5,
            },
            "entry 3 is out of order or repeated: expected entry 5",
        ),
        (
            ChainFault::TruncatedAfterCheckpoint {
                checkpoint_seq: 10,
                last_seq: 7,
            },
            "entries 8 to 10 were deleted from the end of the chain \
             (the checkpoint at entry 10 covers them, but the chain ends at entry 7)",
        ),
        (
            ChainFault::CheckpointMismatch { seq: 6 },
            "the checkpoint at entry 6 does not match the chain: \
             an entry up to 6 was rewritten",
        ),
        (
            ChainFault::BadSignature { seq: 6 },
            "the checkpoint at entry 6 has an invalid signature",
        ),
    ];
    for (fault, text) in cases {
        assert_eq!(fault.to_string(), text);
    }
}

// ---------------------------------------------------------------- property

fn arb_entry() -> impl Strategy<Value = AuditEntry> {
    let text = "\\PC{0,12}";
    (
        any::<i64>(),
        (text, text, text, text, text),
        // ASCII payloads, so that flipping any byte with a 7-bit mask still
        // leaves valid UTF-8 (the stored payload is text).
        "[ -~]{1,40}",
    )
        .prop_map(
            |(recorded_at_ms, (actor, role, action, subject, idempotency_key), payload)| {
                AuditEntry {
                    encoding_version: ENCODING_VERSION,
                    idempotency_scope: actor.clone(),
                    request_digest: role.clone(),
                    projection: payload.clone(),
                    seq: 0, // assigned when appended
                    recorded_at_ms,
                    actor,
                    role,
                    action,
                    subject,
                    idempotency_key,
                    payload,
                }
            },
        )
}

fn arb_chain() -> impl Strategy<Value = Vec<StoredEntry>> {
    proptest::collection::vec(arb_entry(), 1..24).prop_map(|mut entries| {
        for (i, e) in entries.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        store(entries).0
    })
}

proptest! {
    #[test]
    fn random_chain_verifies(rows in arb_chain(), at in any::<Index>()) {
        let n = rows.len() as u64;
        let cp_seq = at.index(rows.len() + 1) as u64;
        let cp = checkpoint(&signer(), &rows, cp_seq);
        let report = verify(rows, &[cp]);
        prop_assert_eq!(report.first_fault, None);
        prop_assert_eq!((report.entries_checked, report.last_seq), (n, n));
        prop_assert_eq!(report.last_checkpoint_seq, Some(cp_seq));
    }

    #[test]
    fn any_flipped_payload_byte_is_caught_at_its_entry(
        mut rows in arb_chain(),
        which in any::<Index>(),
        byte in any::<Index>(),
        mask in 1u8..0x80,
    ) {
        let n = rows.len() as u64;
        let cps = [checkpoint(&signer(), &rows, n)];
        let i = which.index(rows.len());
        let mut bytes = std::mem::take(&mut rows[i].entry.payload).into_bytes();
        let j = byte.index(bytes.len());
        bytes[j] ^= mask;
        rows[i].entry.payload = String::from_utf8(bytes).expect("ASCII stays ASCII");
        let report = verify(rows, &cps);
        prop_assert_eq!(report.first_fault, Some(ChainFault::Altered { seq: i as u64 + 1 }));
    }
}

// ------------------------------------------------------- encoding version 2

fn golden_entry_v2() -> AuditEntry {
    AuditEntry {
        encoding_version: ENCODING_V2,
        idempotency_scope: "user-7".into(),
        request_digest: "d1g3st".into(),
        projection: r#"{"Nothing":null}"#.into(),
        ..golden_entry()
    }
}

// Computed independently (Python hashlib, struct) from the version-2 layout documented on
// `canonical_encoding`.
const GOLDEN_ENCODING_V2: &str = "02000000000000002a0000018bcfe56800000000096f6666696365722d37\
    00000009696e73706563746f720000000772656c656173650000000f4445432d323032342d30303031323300\
    000006757365722d37000000096964656d2d30303432000000066431673373740000002c7b22646563697369\
    6f6e223a2272656c65617365222c226e6f7465223a22e8b4a7e789a9e694bee8a18c227d000000107b224e6f\
    7468696e67223a6e756c6c7d";
const GOLDEN_HASH_V2: &str = "2117e2deaafee4f7845e1d9f9c24bba051c4756a1ee3afa48439fd41c002ecc2";

#[test]
fn golden_encoding_v2_is_pinned_and_the_writer_uses_it() {
    assert_eq!(ENCODING_VERSION, ENCODING_V2);
    let entry = golden_entry_v2();
    assert_eq!(hex::encode(canonical_encoding(&entry)), GOLDEN_ENCODING_V2);
    assert_eq!(hex::encode(entry_hash(&[0x11; 32], &entry)), GOLDEN_HASH_V2);
}

#[test]
fn version_2_covers_the_idempotency_scope_the_request_digest_and_the_projection() {
    let honest = golden_entry_v2();
    let hash = entry_hash(&GENESIS_HASH, &honest);
    let edits: [fn(&mut AuditEntry); 3] = [
        |e| e.idempotency_scope = "user-8".into(),
        |e| e.request_digest = "other".into(),
        |e| e.projection = r#"{"NewUser":{"role":"admin"}}"#.into(),
    ];
    for edit in edits {
        let mut forged = honest.clone();
        edit(&mut forged);
        assert_ne!(entry_hash(&GENESIS_HASH, &forged), hash, "{forged:?}");
    }
    // Version 1 never covered them: an old entry keeps its hash whatever they hold.
    let old = golden_entry();
    let mut other = old.clone();
    other.projection = "anything".into();
    assert_eq!(
        entry_hash(&GENESIS_HASH, &old),
        entry_hash(&GENESIS_HASH, &other)
    );
    // Relabelling an entry's version changes its hash, so a downgrade is an alteration.
    let mut relabelled = honest.clone();
    relabelled.encoding_version = ENCODING_V1;
    assert_ne!(entry_hash(&GENESIS_HASH, &relabelled), hash);
}

#[test]
fn a_chain_of_old_then_new_entries_verifies() {
    let entries = (1..=6)
        .map(|seq| AuditEntry {
            encoding_version: if seq <= 3 { ENCODING_V1 } else { ENCODING_V2 },
            ..entry(seq)
        })
        .collect();
    let rows = store(entries).0;
    let cps = [checkpoint(&signer(), &rows, 6)];
    assert_eq!(verify(rows, &cps).first_fault, None);
}

// ------------------------------------------------------------ anchors, bound

fn verify_with(
    rows: Vec<StoredEntry>,
    checkpoints: &[Checkpoint],
    options: &VerifyOptions,
) -> VerifyReport {
    let key = signer().public_key();
    let mut verifier = ChainVerifier::with_options(checkpoints, &key, options);
    for row in &rows {
        if !verifier.push(row) {
            break;
        }
    }
    verifier.finish()
}

fn anchor(rows: &[StoredEntry], seq: u64) -> Anchor {
    let head = head_at(rows, seq);
    Anchor {
        seq,
        head_hash: head.hash,
    }
}

#[test]
fn a_deleted_tail_re_signed_with_the_folder_key_shows_against_the_auditors_anchor() {
    let rows = chain(10);
    let held = anchor(&rows, 9);
    let options = VerifyOptions {
        anchors: vec![held],
        checkpoint_bound: None,
    };
    // The honest chain passes.
    let report = verify_with(rows.clone(), &[checkpoint(&signer(), &rows, 10)], &options);
    assert_eq!(report.first_fault, None);
    // Entries 8 to 10 deleted and the new end signed with the same (stolen) key: only the
    // anchor shows it.
    let truncated: Vec<_> = rows[..7].to_vec();
    let resigned = [checkpoint(&signer(), &rows, 7)];
    assert_eq!(verify(truncated.clone(), &resigned).first_fault, None);
    let report = verify_with(truncated, &resigned, &options);
    assert_eq!(
        report.first_fault,
        Some(ChainFault::TruncatedBeforeAnchor {
            anchor_seq: 9,
            last_seq: 7
        })
    );
    assert!(
        report
            .first_fault
            .unwrap()
            .to_string()
            .contains("entries 8 to 9 were deleted from the end of the chain")
    );
    // The suffix from 5 rewritten consistently and re-signed: the anchor at 9 no longer matches.
    let mut rewritten = rows.clone();
    rewritten[4].entry.payload = r#"{"step":"forged"}"#.into();
    rehash(&mut rewritten, 4);
    relink_from(&mut rewritten, 5);
    let resigned = [checkpoint(&signer(), &rewritten, 10)];
    let report = verify_with(rewritten, &resigned, &options);
    assert_eq!(
        report.first_fault,
        Some(ChainFault::AnchorMismatch { seq: 9 })
    );
}

fn bound(entries_max: u64, ms_max: i64, now_ms: i64) -> VerifyOptions {
    VerifyOptions {
        anchors: Vec::new(),
        checkpoint_bound: Some(CheckpointBound {
            entries_max,
            ms_max,
            now_ms,
        }),
    }
}

#[test]
fn a_run_of_entries_longer_than_the_bound_without_a_checkpoint_is_reported() {
    let rows = chain(10);
    // `entry(seq)` is recorded at 1_700_000_000_000 + seq ms.
    let now = 1_700_000_000_010;
    let cps = [
        checkpoint(&signer(), &rows, 4),
        checkpoint(&signer(), &rows, 8),
    ];
    // At the edge: 4 entries between checkpoints, 2 unsigned at the end.
    assert_eq!(
        verify_with(rows.clone(), &cps, &bound(4, 1_000, now)).first_fault,
        None
    );
    // The checkpoint at 4 deleted: 8 entries unsigned, one more than the bound allows at 5.
    let report = verify_with(rows.clone(), &cps[1..], &bound(4, 1_000, now));
    assert_eq!(
        report.first_fault,
        Some(ChainFault::MissingCheckpoint {
            from_seq: 1,
            to_seq: 5
        })
    );
    assert!(
        report
            .first_fault
            .unwrap()
            .to_string()
            .contains("a checkpoint is missing")
    );
    // By time: entries 1 to 4 span 3 ms; a bound of 2 ms is one short.
    assert_eq!(
        verify_with(rows.clone(), &cps, &bound(100, 3, now)).first_fault,
        None
    );
    let report = verify_with(rows.clone(), &cps, &bound(100, 2, now));
    assert_eq!(
        report.first_fault,
        Some(ChainFault::MissingCheckpoint {
            from_seq: 1,
            to_seq: 4
        })
    );
}

#[test]
fn an_unsigned_tail_older_than_the_bound_is_reported() {
    let rows = chain(10);
    let cps = [checkpoint(&signer(), &rows, 8)];
    // Entry 9 was recorded at ...009: at the edge of 100 ms it passes, one ms later it does not.
    let fresh = verify_with(rows.clone(), &cps, &bound(100, 100, 1_700_000_000_109));
    assert_eq!(fresh.first_fault, None);
    let stale = verify_with(rows, &cps, &bound(100, 100, 1_700_000_000_110));
    assert_eq!(
        stale.first_fault,
        Some(ChainFault::MissingCheckpoint {
            from_seq: 9,
            to_seq: 10
        })
    );
}

#[test]
fn a_public_key_reads_back_from_its_pem_and_hex_and_has_a_full_fingerprint() {
    let key = signer().public_key();
    assert_eq!(AuditPublicKey::from_pem_or_hex(&key.to_pem()), Ok(key));
    assert_eq!(
        AuditPublicKey::from_pem_or_hex(&format!("  {}\n", key.to_hex())),
        Ok(key)
    );
    // The whole of `customs audit public-key`'s output, saved as it is.
    let printed = format!(
        "fingerprint: {}\nkey id: {}\nhex: {}\n{}",
        key.fingerprint(),
        key.key_id(),
        key.to_hex(),
        key.to_pem()
    );
    assert_eq!(AuditPublicKey::from_pem_or_hex(&printed), Ok(key));
    assert_eq!(key.fingerprint().len(), 64);
    assert!(key.fingerprint().starts_with(&key.key_id()));
    assert!(
        AuditPublicKey::from_pem_or_hex("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----")
            .is_err()
    );
    assert!(AuditPublicKey::from_pem_or_hex("abcd").is_err());
}
