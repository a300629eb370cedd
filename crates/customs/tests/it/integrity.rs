//! The record anchored outside the data folder (issue 10, defect 9): whoever holds the folder
//! holds its signing key and its tables, so each test here alters the folder the way such an
//! insider could, and shows that `customs audit verify` with what the auditor kept elsewhere
//! (the public key, exported checkpoints) names the damage, and that `serve` refuses to act on
//! tables that differ from the chain.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use audit::{AuditEntry, ChainHead};

use crate::support::{BROKER, TRADER, customs, declarations_file, ok, seed_broker};

/// A store with admin events and 3 lodged declarations, closed (so its head is checkpointed).
fn populated_store(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let token = seed_broker(&data);
    let file = declarations_file(dir, 3);
    ok(&data, &["lodge", file.to_str().unwrap(), "--token", &token]);
    data
}

fn sql(data: &Path, sql: &str) {
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    let done = connection.execute_batch(sql);
    assert!(done.is_ok(), "{sql}: {done:?}");
}

fn query_i64(data: &Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    connection.query_row(sql, [], |row| row.get(0)).unwrap()
}

fn head_hash_at(data: &Path, seq: i64) -> String {
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    let hash: Vec<u8> = connection
        .query_row(
            "SELECT entry_hash FROM events WHERE seq = ?1",
            [seq],
            |row| row.get(0),
        )
        .unwrap();
    hex::encode(hash)
}

/// The auditor's copy of the public key, kept outside the data folder.
fn export_public_key(data: &Path, auditor: &Path) -> (PathBuf, String) {
    let printed = ok(data, &["audit", "public-key"]);
    let pem_start = printed.find("-----BEGIN").unwrap();
    let file = auditor.join("audit-public-key.pem");
    std::fs::write(&file, &printed[pem_start..]).unwrap();
    let fingerprint = printed
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: "))
        .unwrap()
        .to_owned();
    (file, fingerprint)
}

fn verify_fails_with(data: &Path, args: &[&str], expected: &str) {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    let output = customs(data, &all);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "verify {args:?} passed:\n{stderr}"
    );
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}

/// Recomputes every entry hash from `from_seq` on (with each entry's own encoding), as an
/// insider covering an edit would, and drops every checkpoint: the chain is self-consistent.
fn rehash_chain(data: &Path, from_seq: i64) {
    let mut connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    let tx = connection.transaction().unwrap();
    let rows: Vec<(AuditEntry, Vec<u8>)> = {
        let mut statement = tx
            .prepare(
                "SELECT seq, recorded_at_ms, actor_user, actor_role, action, subject, \
                 idempotency_key, payload, encoding_version, idempotency_scope, request_digest, \
                 projection, prev_hash FROM events ORDER BY seq",
            )
            .unwrap();
        statement
            .query_map([], |row| {
                Ok((
                    AuditEntry {
                        seq: row.get(0)?,
                        recorded_at_ms: row.get(1)?,
                        actor: row.get(2)?,
                        role: row.get(3)?,
                        action: row.get(4)?,
                        subject: row.get(5)?,
                        idempotency_key: row.get(6)?,
                        payload: row.get(7)?,
                        encoding_version: row.get(8)?,
                        idempotency_scope: row.get(9)?,
                        request_digest: row.get(10)?,
                        projection: row.get(11)?,
                    },
                    row.get(12)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut head = ChainHead::genesis();
    for (entry, stored_prev) in rows {
        if (entry.seq as i64) < from_seq {
            head.seq = entry.seq;
            head.hash = audit::entry_hash(&stored_prev.try_into().unwrap(), &entry);
            continue;
        }
        let prev = head.hash;
        let hash = head.append(&entry);
        tx.execute(
            "UPDATE events SET prev_hash = ?2, entry_hash = ?3 WHERE seq = ?1",
            rusqlite::params![entry.seq, prev.to_vec(), hash.to_vec()],
        )
        .unwrap();
    }
    tx.execute("DELETE FROM checkpoints", []).unwrap();
    tx.commit().unwrap();
}

#[test]
fn a_deleted_tail_re_signed_with_the_folder_key_shows_against_the_auditors_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    let (public_key, _) = export_public_key(&data, dir.path());
    // The newest entry: an officer registered (one event, one `users` row).
    ok(
        &data,
        &["admin", "user", "--name", "li", "--role", "officer"],
    );
    let exported = dir.path().join("checkpoint.json");
    let said = ok(
        &data,
        &[
            "audit",
            "checkpoint",
            "--export",
            exported.to_str().unwrap(),
        ],
    );
    assert!(said.contains("exported the checkpoint at entry"), "{said}");
    let head = query_i64(&data, "SELECT max(seq) FROM events");
    let expect_head = format!("{head}:{}", head_hash_at(&data, head));
    let key = public_key.to_str().unwrap();
    let anchor = exported.to_str().unwrap();
    let report = ok(
        &data,
        &["audit", "verify", "--public-key", key, "--anchor", anchor],
    );
    assert!(report.contains("intact"), "{report}");
    assert!(report.contains("held by the auditor"), "{report}");

    // A careful insider deletes the officer's registration, its row and every checkpoint
    // covering it, then signs the new end with the key in the folder.
    let cut = head - 1;
    sql(
        &data,
        &format!(
            "DELETE FROM events WHERE seq > {cut}; DELETE FROM checkpoints WHERE seq > {cut}; \
             DELETE FROM users WHERE name = 'li';"
        ),
    );
    ok(&data, &["audit", "checkpoint"]);
    // With only the folder, nothing shows, and verify says it is only as good as the folder.
    let output = customs(&data, &["audit", "verify"]);
    let warned = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{warned}");
    assert!(
        warned.contains("only as good as the folder") && warned.contains("no chain head held"),
        "{warned}"
    );
    // The exported checkpoint and the written-down head both show it.
    let deleted = format!(
        "deleted from the end of the chain (the auditor holds the head at entry {head}, but the \
         chain ends at entry {cut})"
    );
    verify_fails_with(&data, &["--public-key", key, "--anchor", anchor], &deleted);
    verify_fails_with(&data, &["--expect-head", &expect_head], &deleted);
}

#[test]
fn deleted_checkpoints_show_as_a_missing_checkpoint_once_the_bound_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    assert!(ok(&data, &["audit", "verify"]).contains("intact"));
    // The entries are made to look 10 minutes old, past the bound (3 minutes in production),
    // and every checkpoint deleted: an unsigned run that no honest writer leaves.
    sql(
        &data,
        "UPDATE events SET recorded_at_ms = recorded_at_ms - 600000;",
    );
    rehash_chain(&data, 1);
    verify_fails_with(&data, &[], "a checkpoint is missing: entries 1 to");
}

#[test]
fn a_chain_rewritten_and_re_signed_with_a_new_key_fails_with_the_auditors_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    let (public_key, fingerprint) = export_public_key(&data, dir.path());
    let accepted = query_i64(
        &data,
        "SELECT min(seq) FROM events WHERE action = 'declaration.accepted'",
    );
    // The insider edits a declaration, recomputes every later hash, throws away the key and the
    // checkpoints, and signs the rewritten chain with a key of its own.
    sql(
        &data,
        &format!(
            "UPDATE events SET payload = replace(payload, '8000.00', '800.00') WHERE seq = {accepted};"
        ),
    );
    rehash_chain(&data, accepted);
    std::fs::remove_file(data.join("audit-signing.key")).unwrap();
    std::fs::write(data.join("audit-signing.key"), hex::encode([9u8; 32])).unwrap();
    ok(&data, &["audit", "checkpoint"]);
    // Checked with the folder's (new) key, the forgery passes: the warning says why that is weak.
    let output = customs(&data, &["audit", "verify"]);
    assert!(output.status.success());
    // The key the auditor kept does not verify the new checkpoints.
    verify_fails_with(
        &data,
        &["--public-key", public_key.to_str().unwrap()],
        "has an invalid signature",
    );
    verify_fails_with(
        &data,
        &["--key-fingerprint", &fingerprint],
        "the checkpoints are signed with another key than the one you hold",
    );
}

#[test]
fn a_role_raised_to_admin_in_the_file_fails_verification_and_serve_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    let report = ok(&data, &["audit", "verify", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(json["intact"], true, "{report}");
    assert_eq!(json["key_held_by_auditor"], false);
    assert_eq!(json["key_fingerprint"].as_str().unwrap().len(), 64);
    let tables: Vec<&str> = json["tables_checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for table in [
        "users",
        "tokens",
        "broker_authorisations",
        "inspection_tasks",
        "cbec_ledger",
        "enterprise_credit",
        "watch_entries",
        "risk_rules",
        "declarations",
    ] {
        assert!(tables.contains(&table), "{table} not in {tables:?}");
    }

    sql(
        &data,
        "UPDATE users SET role = 'admin' WHERE name = 'broker';",
    );
    verify_fails_with(
        &data,
        &[],
        r#"role is "admin" in the store but "broker" in the chain"#,
    );
    verify_fails_with(&data, &[], "users row (id=");
    serve_refuses(&data, "refusing to serve: the data folder's tables differ");
}

#[test]
fn a_forged_broker_authorisation_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    // The trader is made a broker for the broker's own enterprise, with no event saying so.
    sql(
        &data,
        &format!(
            "INSERT INTO broker_authorisations (broker_enterprise_id, principal_enterprise_id) \
             SELECT t.id, b.id FROM enterprises t, enterprises b \
             WHERE t.credit_code = '{TRADER}' AND b.credit_code = '{BROKER}';"
        ),
    );
    verify_fails_with(
        &data,
        &[],
        "broker_authorisations row (broker_enterprise_id=",
    );
    verify_fails_with(&data, &[], "is in the store but no event records it");
    // An authorisation the chain records, deleted from the file, shows too.
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    sql(&data, "DELETE FROM broker_authorisations;");
    verify_fails_with(
        &data,
        &[],
        "recorded by the chain, is missing from the store",
    );
}

#[test]
fn a_missing_signing_key_is_never_regenerated_over_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    let (public_key, _) = export_public_key(&data, dir.path());
    std::fs::remove_file(data.join("audit-signing.key")).unwrap();
    for args in [
        &["audit", "public-key"][..],
        &["admin", "user", "--name", "li", "--role", "officer"][..],
        &["audit", "checkpoint"][..],
    ] {
        let output = customs(&data, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} ran without the key");
        assert!(
            stderr.contains("refusing to create a new key over them"),
            "{args:?}: {stderr}"
        );
        assert!(!data.join("audit-signing.key").exists(), "{args:?}");
    }
    // The auditor's key still checks the store.
    let report = ok(
        &data,
        &[
            "audit",
            "verify",
            "--public-key",
            public_key.to_str().unwrap(),
        ],
    );
    assert!(report.contains("intact"), "{report}");
    // A fresh folder (made, but without records) still gets its key; one that does not exist is
    // refused rather than made.
    let fresh = dir.path().join("fresh");
    assert!(!customs(&fresh, &["audit", "public-key"]).status.success());
    std::fs::create_dir(&fresh).unwrap();
    ok(&fresh, &["audit", "public-key"]);
    assert!(fresh.join("audit-signing.key").exists());
}

#[test]
fn entries_of_the_old_encoding_still_verify_next_to_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    // The store as an older build wrote it: every entry in encoding 1, with no projection, its
    // hashes those of encoding 1, signed.
    sql(
        &data,
        "UPDATE events SET encoding_version = 1, projection = '';",
    );
    rehash_chain(&data, 1);
    ok(&data, &["audit", "checkpoint"]);
    let old_head = query_i64(&data, "SELECT max(seq) FROM events");
    // This build appends in encoding 2 after them.
    ok(
        &data,
        &["admin", "user", "--name", "li", "--role", "officer"],
    );
    assert_eq!(
        query_i64(
            &data,
            &format!("SELECT min(encoding_version) FROM events WHERE seq > {old_head}")
        ),
        2
    );
    let output = customs(&data, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("the audit chain is intact"), "{stdout}");
    assert!(
        stderr.contains("the derived tables were not compared")
            && stderr.contains("audit encoding version 1"),
        "{stderr}"
    );
    // An old entry is still protected by its own encoding.
    sql(
        &data,
        "UPDATE events SET payload = replace(payload, '8000.00', '800.00') \
         WHERE action = 'declaration.accepted';",
    );
    verify_fails_with(&data, &[], "was altered");
}

/// `serve` on `data` must exit with an error containing `expected` before it listens.
fn serve_refuses(data: &Path, expected: &str) {
    let mut child = crate::support::command()
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve started on a tampered store");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}
