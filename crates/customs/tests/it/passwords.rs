//! Passwords from the command line (issue 11): `customs admin password --user NAME` reads the
//! password from standard input, needs a token, is recorded as the administrator, keeps only an
//! argon2id hash, and that hash is a projection of the chain (`audit verify` names a changed one).

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::support::{admin_token, customs, ok};

/// `customs admin password --user USER` with `stdin` as its standard input.
fn set_password(data: &Path, user: &str, token: Option<&str>, stdin: &str) -> Output {
    let mut command = crate::support::command();
    command
        .arg("--data")
        .arg(data)
        .args(["admin", "password", "--user", user])
        .env_remove("CUSTOMS_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("CUSTOMS_TOKEN", token);
    }
    let mut child = command.spawn().expect("the customs binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn an_administrator_sets_a_password_from_standard_input_and_only_its_hash_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let root = admin_token(&data);
    ok(
        &data,
        &[
            "admin",
            "user",
            "--name",
            "officer-zhao",
            "--role",
            "officer",
        ],
    );
    let password = "passage through the gate";

    let no_token = set_password(&data, "officer-zhao", None, &format!("{password}\n"));
    assert!(!no_token.status.success());
    assert!(text(&no_token.stderr).contains("needs a token"));

    let short = set_password(&data, "officer-zhao", Some(&root), "eleven char\n");
    assert!(!short.status.success(), "eleven characters are too few");
    let said = text(&short.stderr);
    assert!(said.contains("password"), "{said}");
    assert!(said.contains("12 至 128 个字符"), "{said}");
    assert!(
        !said.contains("eleven char"),
        "the password is not echoed: {said}"
    );

    let nothing = set_password(&data, "officer-zhao", Some(&root), "");
    assert!(!nothing.status.success());
    assert!(text(&nothing.stderr).contains("standard input"));

    // The line ending (CRLF too) is not part of the password; only the first line is read.
    let set = set_password(
        &data,
        "officer-zhao",
        Some(&root),
        &format!("{password}\r\nsecond line\n"),
    );
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert!(text(&set.stdout).contains("password of officer-zhao set"));

    let db = rusqlite::Connection::open(data.join("customs.db")).unwrap();
    let (actor_role, payload, projection): (String, String, String) = db
        .query_row(
            "SELECT actor_role, payload, projection FROM events WHERE action = 'user.password_set'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(actor_role, "admin", "recorded as the administrator");
    let hash: String = db
        .query_row(
            "SELECT password_hash FROM users WHERE name = 'officer-zhao'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(password));
    assert!(
        !payload.contains(password) && !payload.contains(&hash),
        "{payload}"
    );
    assert!(
        projection.contains(&hash),
        "the chain records the hash to rebuild it"
    );
    assert!(!projection.contains(password));
    assert!(!projection.contains("second line"));

    // The hash is verified against the chain like every projected column.
    let verified = customs(&data, &["audit", "verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    db.execute(
        "UPDATE users SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$forged' \
         WHERE name = 'officer-zhao'",
        [],
    )
    .unwrap();
    drop(db);
    let tampered = customs(&data, &["audit", "verify"]);
    assert!(!tampered.status.success(), "a replaced hash is found");
    let said = text(&tampered.stdout) + &text(&tampered.stderr);
    assert!(
        said.contains("users row") && said.contains("password_hash"),
        "{said}"
    );
}

#[test]
fn a_person_sets_their_own_password_but_not_anothers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["officer-qian", "officer-sun"] {
        ok(
            &data,
            &["admin", "user", "--name", name, "--role", "officer"],
        );
    }
    let token = ok(&data, &["admin", "token", "--user", "officer-qian"]);
    let token = token.trim();
    let own = set_password(&data, "officer-qian", Some(token), "my own good password\n");
    assert!(own.status.success(), "{}", text(&own.stderr));
    let other = set_password(&data, "officer-sun", Some(token), "not my own password\n");
    assert!(!other.status.success());
    assert!(
        text(&other.stderr).contains("only its own password"),
        "{}",
        text(&other.stderr)
    );
}
