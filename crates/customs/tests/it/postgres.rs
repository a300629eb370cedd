//! `serve --database`: the records in PostgreSQL instead of the data folder's SQLite file.
//! Against the real PostgreSQL (`CUSTOMS_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`), in a fresh database dropped at the end; the
//! test fails, never skips, when PostgreSQL is unreachable.

use std::process::Command;

use crate::support::{NOW, start_server};

/// A database of the test's own, made and dropped with `psql`.
pub(crate) struct TestDatabase {
    admin_url: String,
    name: String,
}

pub(crate) fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-Atc", sql])
        .output()
        .expect("psql runs (Debian's postgresql-client)");
    assert!(
        output.status.success(),
        "psql {sql:?} against {url} failed (is PostgreSQL running? these tests never skip): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl TestDatabase {
    pub(crate) fn create() -> TestDatabase {
        let admin_url = std::env::var("CUSTOMS_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("customs_test_{:016x}", rand::random::<u64>());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        TestDatabase { admin_url, name }
    }

    /// The URL of the test's database: the admin URL with its database replaced.
    pub(crate) fn url(&self) -> String {
        let (server, _) = self
            .admin_url
            .rsplit_once('/')
            .expect("a URL with a database");
        format!("{server}/{}", self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin_url,
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

#[tokio::test]
async fn serve_keeps_its_records_in_postgres_with_database() {
    let database = TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, address, printed) = start_server(&data, &["--database", &url], NOW)
        .unwrap_or_else(|printed| panic!("serve --database did not start:\n{printed}"));
    assert!(printed.contains("Records: PostgreSQL"), "{printed}");

    let health: serde_json::Value = reqwest::get(format!("http://{address}/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["store"], "ok", "{health}");
    assert_eq!(
        health["schema_version"],
        store_postgres::SCHEMA_VERSION,
        "{health}"
    );
    server.kill().unwrap();
    server.wait().unwrap();

    // The schema is PostgreSQL's; the data folder holds keys, no SQLite store.
    assert_eq!(
        psql(&url, "SELECT max(version) FROM schema_migrations"),
        store_postgres::SCHEMA_VERSION.to_string()
    );
    assert!(
        !data.join("customs.db").exists(),
        "no SQLite file in the folder"
    );
}

#[test]
fn serve_refuses_demo_with_database_and_a_bad_url() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = "postgres://postgres@127.0.0.1:5432/test";
    let refused = start_server(&data, &["--database", url, "--demo"], NOW)
        .expect_err("--demo is refused with --database");
    assert!(refused.contains("--demo"), "{refused}");
    let refused = start_server(&data, &["--database", "mysql://db/customs"], NOW)
        .expect_err("a URL that is not PostgreSQL's is refused");
    assert!(refused.contains("serve.database"), "{refused}");
    assert!(refused.contains("PostgreSQL"), "{refused}");
}

#[test]
fn config_show_never_shows_the_database_password() {
    let output = crate::support::command()
        .args(["config", "show"])
        .env(
            "CUSTOMS_DATABASE",
            "postgres://customs:s3cret-pw@db1:5432/customs",
        )
        .output()
        .expect("the customs binary runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("postgres://customs:<redacted>@db1:5432/customs"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret-pw"), "{shown}");
}

/// With `serve.database` set, the commands that know only the folder's SQLite store are refused,
/// naming the setting, rather than acting on records no instance serves; `admin`, `audit` and
/// `config` still work (`audit` on the database: `audit_on_postgres` below).
#[test]
fn commands_of_the_folders_store_are_refused_when_the_records_are_in_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        crate::support::command()
            .env("CUSTOMS_DATABASE", "postgres://customs@127.0.0.1:1/customs")
            .env_remove("CUSTOMS_TOKEN")
            .arg("--data")
            .arg(&data)
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["lodge", "declarations.json", "--token", "t"][..],
        &["tasks", "list", "--token", "t"],
        &["show", "0000", "--token", "t"],
        &["tariff", "list", "--token", "t"],
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains("serve.database") && stderr.contains(&format!("customs {}", args[0])),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("数据目录"), "{stderr}");
        assert!(
            !data.join("customs.db").exists(),
            "{args:?} opened the folder's store"
        );
    }
    assert!(run(&["config", "check"]).status.success());
}

/// `customs audit --database`: the auditor's export is a round, every chain's head under one
/// signature; verifying with it anchors each chain at its own head. A head kept for a chain is
/// checked against that chain (one it does not reach fails, naming the chain), a head of a chain
/// the record does not have fails, and an edited head in the file breaks its signature.
#[test]
fn audit_on_postgres_exports_and_checks_every_chains_head() {
    let database = TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin =
        |token: Option<&str>, args: &[&str]| crate::instances::admin(&data, &url, token, args);
    let root = admin(None, &["init", "--name", "root"]);
    // Users are events about themselves: their subjects fall in several chains.
    for n in 0..12 {
        admin(
            Some(&root),
            &["user", "--name", &format!("clerk-{n}"), "--role", "officer"],
        );
    }
    let audit = |args: &[&str]| {
        crate::support::command()
            .env_remove("CUSTOMS_DATABASE")
            .arg("--data")
            .arg(&data)
            .args(["audit", "--database", &url])
            .args(args)
            .output()
            .unwrap()
    };
    let heads_file = dir.path().join("heads.json");
    let exported = audit(&["checkpoint", "--export", heads_file.to_str().unwrap()]);
    let printed = String::from_utf8_lossy(&exported.stdout);
    assert!(
        exported.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert!(printed.contains("exported checkpoint round"), "{printed}");
    let round: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&heads_file).unwrap()).unwrap();
    let heads = round["heads"].as_array().unwrap();
    assert_eq!(heads.len(), usize::from(store_postgres::CHAINS), "{round}");
    let seqs: Vec<u64> = heads.iter().map(|h| h["seq"].as_u64().unwrap()).collect();
    let events: u64 = psql(&url, "SELECT count(*) FROM events").parse().unwrap();
    assert_eq!(
        seqs.iter().sum::<u64>(),
        events,
        "every chain's head: {seqs:?}"
    );
    let used = seqs.iter().filter(|s| **s > 0).count();
    assert!(used > 1, "the record is in several chains: {seqs:?}");
    for (chain, head) in heads.iter().enumerate() {
        assert_eq!(head["chain"], chain);
        let stored = psql(
            &url,
            &format!(
                "SELECT COALESCE((SELECT encode(head_hash, 'hex') FROM chain_heads \
                 WHERE chain = {chain}), '')"
            ),
        );
        if seqs[chain] > 0 {
            assert_eq!(head["head_hash"].as_str().unwrap(), stored, "chain {chain}");
        }
    }

    // Verified with the exported round: each chain anchored at its own head.
    let anchor = ["verify", "--json", "--anchor", heads_file.to_str().unwrap()];
    let verified = audit(&anchor);
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&verified.stderr)));
    assert!(verified.status.success(), "{report}");
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["anchors_checked"], used, "{report}");
    assert_eq!(report["entries_checked"], events, "{report}");

    // A head the chain does not reach: the fault names that chain.
    let (chain, seq) = seqs
        .iter()
        .enumerate()
        .rev()
        .find(|(_, s)| **s > 0)
        .map(|(c, s)| (c, *s))
        .unwrap();
    let hash = heads[chain]["head_hash"].as_str().unwrap();
    let beyond = format!("{chain}:{}:{hash}", seq + 1);
    let refused = audit(&["verify", "--expect-head", &beyond]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains(&format!("chain {chain}")), "{said}");
    // The same head given as chain 0's (SEQ:HASH) is not chain 0's: refused too.
    if chain != 0 {
        let as_chain_0 = format!("{seq}:{hash}");
        assert!(
            !audit(&["verify", "--expect-head", &as_chain_0])
                .status
                .success()
        );
    }
    // Its true head passes.
    let true_head = format!("{chain}:{seq}:{hash}");
    assert!(
        audit(&["verify", "--expect-head", &true_head])
            .status
            .success()
    );
    // A chain the record does not have.
    let foreign = format!("{}:1:{hash}", store_postgres::CHAINS);
    let refused = audit(&["verify", "--expect-head", &foreign]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("16 chain(s)"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A head edited in the exported file: its round's signature no longer verifies.
    let mut edited = round.clone();
    edited["heads"][chain]["seq"] = serde_json::json!(seq - 1);
    let edited_file = dir.path().join("edited.json");
    std::fs::write(&edited_file, edited.to_string()).unwrap();
    let refused = audit(&["verify", "--anchor", edited_file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not signed by the key"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The auditor's console on PostgreSQL lists the signing rounds over every chain's head, not
/// chain 0's checkpoints alone: the round `audit checkpoint` signed, with the entries of every
/// chain it covers and the digest of the heads it signs.
#[tokio::test(flavor = "multi_thread")]
async fn the_auditors_console_on_postgres_lists_the_rounds_over_every_chain() {
    use sha2::Digest;
    let database = TestDatabase::create();
    let url = database.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let admin =
        |token: Option<&str>, args: &[&str]| crate::instances::admin(&data, &url, token, args);
    let root = admin(None, &["init", "--name", "root"]);
    for n in 0..12 {
        admin(
            Some(&root),
            &["user", "--name", &format!("clerk-{n}"), "--role", "officer"],
        );
    }
    admin(
        Some(&root),
        &["user", "--name", "auditor-li", "--role", "auditor"],
    );
    let auditor = admin(Some(&root), &["token", "--user", "auditor-li"]);
    let heads_file = dir.path().join("heads.json");
    let exported = crate::support::command()
        .env_remove("CUSTOMS_DATABASE")
        .arg("--data")
        .arg(&data)
        .args(["audit", "--database", &url, "checkpoint", "--export"])
        .arg(&heads_file)
        .output()
        .unwrap();
    assert!(exported.status.success());
    let round: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&heads_file).unwrap()).unwrap();
    let mut signed = Vec::new();
    let mut entries = 0;
    for head in round["heads"].as_array().unwrap() {
        let seq = head["seq"].as_u64().unwrap();
        entries += seq;
        signed.extend_from_slice(&seq.to_be_bytes());
        let hash = head["head_hash"].as_str().unwrap_or_default();
        signed.extend_from_slice(&hex::decode(hash).unwrap_or_else(|_| vec![0; 32]));
    }
    let digest = hex::encode(sha2::Sha256::digest(&signed));

    let (_server, at) = crate::worker::start(
        &data,
        &["serve", "--listen", "127.0.0.1:0", "--database", &url],
        &[],
        "listening on http://",
    );
    let page = reqwest::Client::new()
        .get(format!("http://{at}/console/audit?lang=en"))
        .header("cookie", format!("oc_session={auditor}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = format!("Round {} · {entries}", round["round"]);
    assert!(page.contains(&row), "no «{row}» in:\n{page}");
    assert!(
        page.contains(&digest),
        "no heads digest {digest} in:\n{page}"
    );
}
