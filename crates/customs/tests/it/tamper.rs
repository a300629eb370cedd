//! The record of the whole enforcement process cannot be changed unseen: each test alters the
//! database file the way an insider with file access could, and `customs audit verify` names
//! the first damaged entry.

use std::path::Path;

use crate::support::{customs, declarations_file, ok, seed_broker};

/// A store with admin events and 4 lodged declarations, closed (so its head is checkpointed).
fn populated_store(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let token = seed_broker(&data);
    let file = declarations_file(dir, 4);
    ok(&data, &["lodge", file.to_str().unwrap(), "--token", &token]);
    data
}

fn tamper(data: &Path, sql: &str) {
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    let changed = connection.execute_batch(sql);
    assert!(changed.is_ok(), "{sql}: {changed:?}");
}

fn accepted_seqs(data: &Path) -> Vec<i64> {
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    let mut statement = connection
        .prepare("SELECT seq FROM events WHERE action = 'declaration.accepted' ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn newest_seq(data: &Path) -> i64 {
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    connection
        .query_row("SELECT max(seq) FROM events", [], |row| row.get(0))
        .unwrap()
}

fn count_checkpoints(data: &Path) -> i64 {
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    connection
        .query_row("SELECT count(*) FROM checkpoints", [], |row| row.get(0))
        .unwrap()
}

fn verify_fails_with(data: &Path, expected: &str) {
    let output = customs(data, &["audit", "verify"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "verify passed a tampered store");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}

#[test]
fn an_untouched_store_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    let report = ok(&data, &["audit", "verify"]);
    assert!(report.contains("intact"), "{report}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&data, &["audit", "verify", "--json"])).unwrap();
    assert_eq!(json["intact"], true);
    assert!(json["entries_checked"].as_u64().unwrap() >= 9);
    let key = ok(&data, &["audit", "public-key"]);
    assert!(key.contains("BEGIN PUBLIC KEY"), "{key}");
}

/// A tampering: its name, the SQL that does it, and the fault `verify` must name, both given the
/// seqs of the lodged declarations and, last, the newest seq.
type TamperCase = (&'static str, fn(&[i64]) -> String, fn(&[i64]) -> String);

#[test]
fn tampering_is_caught_and_the_first_damaged_entry_named() {
    let cases: [TamperCase; 4] = [
        (
            "a declaration's payload edited in place",
            |s| {
                format!(
                    "UPDATE events SET payload = replace(payload, '8000.00', '800.00') WHERE seq = {};",
                    s[1]
                )
            },
            |s| format!("entry {} was altered", s[1]),
        ),
        (
            "an entry deleted from the middle",
            |s| format!("DELETE FROM events WHERE seq = {};", s[1]),
            |s| format!("entry {} was deleted", s[1]),
        ),
        (
            "two entries swapped",
            |s| {
                format!(
                    "UPDATE events SET seq = -1 WHERE seq = {a}; UPDATE events SET seq = {a} WHERE seq = {b}; \
                     UPDATE events SET seq = {b} WHERE seq = -1;",
                    a = s[1],
                    b = s[2]
                )
            },
            |s| format!("entry {} was altered", s[1]),
        ),
        (
            // The newest entry (`s[4]`): the last declaration's selection or, when it went to a
            // lane with a task, that task.
            "the newest entry deleted",
            |s| format!("DELETE FROM events WHERE seq = {};", s[4]),
            |s| format!("entry {} was deleted from the end of the chain", s[4]),
        ),
    ];
    for (name, sql, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = populated_store(dir.path());
        let mut seqs = accepted_seqs(&data);
        assert_eq!(seqs.len(), 4, "{name}");
        seqs.push(newest_seq(&data));
        tamper(&data, &sql(&seqs));
        let checkpoints_before = count_checkpoints(&data);
        verify_fails_with(&data, &expected(&seqs));
        // Verifying reads only: it must not sign a checkpoint over the damaged chain.
        assert_eq!(count_checkpoints(&data), checkpoints_before, "{name}");
    }
}

/// The files kept beside the chain (a release's files, a history batch, an officer's photo) are
/// vouched for by the digests their entries record: altering or deleting one breaks `verify`,
/// and the fault names the file and the entry.
#[test]
fn a_file_kept_beside_the_chain_cannot_be_changed_unseen() {
    const SAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tariff/sample_release_cn_2026"
    );
    const HISTORY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../model/test_data/kcs_valid_200.csv"
    );
    let dir = tempfile::tempdir().unwrap();
    let data = populated_store(dir.path());
    ok(&data, &["tariff", "import", SAMPLE]);
    ok(
        &data,
        &["admin", "user", "--name", "wang", "--role", "risk_analyst"],
    );
    let wang = ok(&data, &["admin", "token", "--user", "wang"])
        .trim()
        .to_owned();
    ok(
        &data,
        &[
            "history", "import", HISTORY, "--format", "kcs", "--token", &wang,
        ],
    );
    ok(
        &data,
        &["admin", "user", "--name", "li", "--role", "officer"],
    );
    let li = ok(&data, &["admin", "token", "--user", "li"])
        .trim()
        .to_owned();
    let connection = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    let number: String = connection
        .query_row("SELECT number FROM declarations LIMIT 1", [], |row| {
            row.get(0)
        })
        .unwrap();
    drop(connection);
    let held: serde_json::Value = serde_json::from_str(&ok(
        &data,
        &[
            "hold", &number, "--reason", "seal", "--token", &li, "--json",
        ],
    ))
    .unwrap();
    let photo = dir.path().join("seal.jpg");
    std::fs::write(&photo, b"\xff\xd8\xff\xe0 seal 0042").unwrap();
    let task = held["id"].as_str().unwrap();
    ok(
        &data,
        &[
            "tasks",
            "attach",
            task,
            photo.to_str().unwrap(),
            "--token",
            &li,
        ],
    );
    let report = ok(&data, &["audit", "verify"]);
    assert!(report.contains("intact"), "{report}");

    let cases = [
        (
            "UPDATE release_files SET text = text || ' ' WHERE position = 0",
            "release TR-0001 (its files) was altered",
        ),
        (
            "UPDATE history_batches SET text = replace(text, '2021-01-01', '2021-01-02')",
            "history batch H-0001 was altered",
        ),
        (
            "UPDATE task_attachments SET content = X'FFD8FFE0'",
            "was altered: its content no longer has the digest entry",
        ),
        ("DELETE FROM task_attachments", "is missing"),
    ];
    for (sql, expected) in cases {
        let copy = tempfile::tempdir().unwrap();
        for file in ["customs.db", "audit-signing.key", "buyer-id.key"] {
            std::fs::copy(data.join(file), copy.path().join(file)).unwrap();
        }
        tamper(copy.path(), sql);
        verify_fails_with(copy.path(), expected);
    }
}
