//! Upgrades: one version everywhere; a store of every released schema (a fixture kept per release
//! in `tests/fixtures/store-v<VERSION>/`) opens with this binary, migrates, verifies and reads;
//! a store newer than this binary is refused.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::crash::serve;
use crate::support::{customs, customs_binary, declarations_file, ok, seed_broker};

/// The folder of the stores kept from every release.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every release's fixture: a backup folder made by that release's `customs backup`, with the
/// numbers of its declarations in `declarations.txt`.
fn released_stores() -> Vec<PathBuf> {
    let mut stores: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("store-v"))
        })
        .collect();
    stores.sort();
    stores
}

fn numbers_of(fixture: &Path) -> Vec<String> {
    std::fs::read_to_string(fixture.join("declarations.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

fn schema_version_of(data: &Path) -> u32 {
    rusqlite::Connection::open(data.join("customs.db"))
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

/// This release's own fixture is committed: the test of every released schema includes it.
#[test]
fn this_release_keeps_a_fixture_store() {
    let own = fixtures().join(format!("store-v{}", env!("CARGO_PKG_VERSION")));
    assert!(
        own.join("backup-manifest.json").is_file(),
        "no fixture store for this release at {}: make it with `cargo test -p customs --test it \
         -- --ignored make_this_releases_fixture_store` (see docs/operations.md)",
        own.display()
    );
}

/// Each released store, restored and opened as a data folder by this binary: restored (digests,
/// key, chain checked; migrated), then opened for writing (migrations), verified, and every
/// declaration read.
#[test]
fn every_released_store_migrates_verifies_and_reads_its_declarations() {
    let stores = released_stores();
    assert!(
        !stores.is_empty(),
        "no fixture store in {}",
        fixtures().display()
    );
    for fixture in stores {
        let dir = tempfile::tempdir().unwrap();
        // Restored from the release's backup.
        let restored = dir.path().join("restored");
        let output = std::process::Command::new(customs_binary())
            .arg("--data")
            .arg(&restored)
            .arg("restore")
            .arg(&fixture)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "restoring {}: {}",
            fixture.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        // Copied as a data folder, as an operator upgrading in place has it.
        let in_place = dir.path().join("in-place");
        std::fs::create_dir(&in_place).unwrap();
        for file in ["customs.db", "audit-signing.key", "buyer-id.key"] {
            std::fs::copy(fixture.join(file), in_place.join(file)).unwrap();
        }
        ok(&in_place, &["audit", "checkpoint"]);
        for data in [&restored, &in_place] {
            assert_eq!(schema_version_of(data), store_sqlite::SCHEMA_VERSION);
            let report = ok(data, &["audit", "verify"]);
            assert!(report.contains("the audit chain is intact"), "{report}");
            let numbers = numbers_of(&fixture);
            assert!(numbers.len() >= 3, "{}", fixture.display());
            for number in numbers {
                let shown: Value =
                    serde_json::from_str(&ok(data, &["show", &number, "--json"])).unwrap();
                assert_eq!(
                    shown["declaration"]["number"],
                    number.as_str(),
                    "{number} in {}",
                    fixture.display()
                );
                // Stored before search existed, it is searchable after the migration: its keys
                // are those of its document in force.
                let document = &shown["declaration"]["declaration"];
                let mut expected = vec![
                    (
                        "bill_of_lading".to_owned(),
                        document["transport"]["document"]["number"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    ),
                    (
                        "trader_name".to_owned(),
                        document["trader"]["name"].as_str().unwrap().to_owned(),
                    ),
                ];
                if let Some(invoice) = document["invoice"]["number"].as_str() {
                    expected.push(("invoice".to_owned(), invoice.to_owned()));
                }
                for item in document["items"].as_array().unwrap() {
                    let code = item["commodity_code"].as_str().unwrap().to_owned();
                    if !expected.contains(&("commodity_code".to_owned(), code.clone())) {
                        expected.push(("commodity_code".to_owned(), code));
                    }
                }
                expected.sort();
                assert_eq!(
                    search_keys_of(data, &number),
                    expected,
                    "{number} in {}",
                    fixture.display()
                );
            }
        }
    }
}

/// The search keys the store keeps for a declaration, sorted.
fn search_keys_of(data: &Path, number: &str) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("customs.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut statement = db
        .prepare(
            "SELECT s.kind, s.value FROM declaration_search s \
             JOIN declarations d ON d.row = s.declaration_row WHERE d.number = ?1 \
             ORDER BY s.kind, s.value",
        )
        .unwrap();
    statement
        .query_map([number], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Makes this release's fixture store: a few declarations, one assessed by an officer (its
/// manual-assessment task closed), the others with their task open. Run it once per release and
/// commit the folder.
#[test]
#[ignore = "run by hand once per release: it writes into tests/fixtures"]
fn make_this_releases_fixture_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = seed_broker(&data);
    ok(
        &data,
        &["admin", "user", "--name", "officer-li", "--role", "officer"],
    );
    let officer = ok(&data, &["admin", "token", "--user", "officer-li"])
        .trim()
        .to_owned();
    let file = declarations_file(dir.path(), 3);
    let lodged = ok(
        &data,
        &[
            "lodge",
            file.to_str().unwrap(),
            "--token",
            &broker,
            "--json",
        ],
    );
    let numbers: Vec<String> = lodged
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["number"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ok(
        &data,
        &[
            "tasks",
            "assess",
            &numbers[0],
            "--customs-duty",
            "120.00",
            "--import-vat",
            "1560.00",
            "--reason",
            "fixture: assessed by hand",
            "--token",
            &officer,
        ],
    );
    let target = fixtures().join(format!("store-v{}", env!("CARGO_PKG_VERSION")));
    assert!(!target.exists(), "{} exists already", target.display());
    ok(&data, &["backup", target.to_str().unwrap()]);
    std::fs::write(target.join("declarations.txt"), numbers.join("\n") + "\n").unwrap();
}

#[test]
fn a_store_newer_than_the_binary_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["admin", "init", "--name", "root"]);
    let newer = store_sqlite::SCHEMA_VERSION + 1;
    rusqlite::Connection::open(data.join("customs.db"))
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    for args in [&["audit", "checkpoint"][..], &["audit", "verify"][..]] {
        let refused = customs(&data, args);
        assert!(!refused.status.success(), "{args:?} opened a newer store");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains(&format!(
                "schema version {newer} is newer than this build knows ({}, customs {})",
                store_sqlite::SCHEMA_VERSION,
                env!("CARGO_PKG_VERSION")
            )) && stderr.contains("高于本程序支持的版本"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(
        schema_version_of(&data),
        newer,
        "the refused store was changed"
    );
}

/// `customs --version`, `/v1/health` and the OpenAPI document's `info.version` are the workspace
/// version; health also names the store's schema version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_is_the_same_everywhere() {
    let version = env!("CARGO_PKG_VERSION");
    assert_ne!(version, "0.0.0", "the workspace has no real version");
    let printed = std::process::Command::new(customs_binary())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).trim(),
        format!("customs {version}")
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, address) = serve(&data);
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    for path in ["/v1/health", "/openapi.json"] {
        let response = http.get(format!("http://{address}{path}")).send().await;
        answers.push(response.unwrap().json::<Value>().await.unwrap());
    }
    let [health, document] = <[Value; 2]>::try_from(answers).unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(health["version"], version);
    assert_eq!(health["schema_version"], store_sqlite::SCHEMA_VERSION);
    assert_eq!(document["info"]["version"], version);
}
