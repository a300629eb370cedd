//! Backup and restore: an online backup taken while the server lodges holds every declaration
//! acknowledged before it began, restores into a fresh folder whose chain verifies, and a backup
//! altered after the fact, or given another key, is refused before anything is put in place.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::crash::{assert_served, serve};
use crate::support::{EXAMPLE, customs, customs_binary, declarations_file, ok, seed_broker};

/// Concurrent lodging clients while the backup runs.
const CLIENTS: usize = 6;
/// Acknowledgements to wait for before the backup starts.
const ACKS_BEFORE_BACKUP: usize = 120;

/// An acknowledged lodging: the declaration's id and number, and when the answer came.
#[derive(Clone, Debug)]
struct Ack {
    id: String,
    number: String,
    at: Instant,
}

async fn lodge_until_stopped(
    address: String,
    token: String,
    client: usize,
    acks: Arc<Mutex<Vec<Ack>>>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let response = http
            .post(format!("http://{address}/v1/declarations"))
            .bearer_auth(&token)
            .header("Idempotency-Key", format!("backup-{client}-{n}"))
            .header("Content-Type", "application/json")
            .body(EXAMPLE)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(
            response.status(),
            201,
            "lodging is refused during the backup"
        );
        let body: Value = response.json().await.unwrap();
        acks.lock().unwrap().push(Ack {
            id: body["id"].as_str().unwrap().into(),
            number: body["number"].as_str().unwrap().into(),
            at: Instant::now(),
        });
    }
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `customs ARGS...` with no `--data` of the helper's (a restore names its own).
fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(customs_binary())
        .args(args)
        .env_remove("CUSTOMS_TOKEN")
        .env_remove("CUSTOMS_DATA")
        .output()
        .expect("the customs binary runs")
}

fn restore(backup: &Path, target: &Path) -> std::process::Output {
    run(&[
        "--data",
        target.to_str().unwrap(),
        "restore",
        backup.to_str().unwrap(),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_concurrent_lodging_restores_every_declaration_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = seed_broker(&data);
    let (mut server, address) = serve(&data);
    let acks = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(lodge_until_stopped(
                address.clone(),
                token.clone(),
                c,
                acks.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    while acks.lock().unwrap().len() < ACKS_BEFORE_BACKUP {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the clients did not lodge"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before: Vec<Ack> = acks.lock().unwrap().clone();
    let backup_began = Instant::now();
    let backup = dir.path().join("backup");
    let data_arg = data.clone();
    let backup_arg = backup.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(customs_binary())
            .arg("--data")
            .arg(&data_arg)
            .arg("backup")
            .arg(&backup_arg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let backup_ended = Instant::now();
    assert!(output.status.success(), "backup: {}", stderr_of(&output));
    // The server kept lodging while the backup ran, and after it.
    let after_start = |from: Instant| acks.lock().unwrap().iter().filter(|a| a.at > from).count();
    let during = acks
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.at > backup_began && a.at < backup_ended)
        .count();
    let lodged_after = after_start(backup_ended);
    while after_start(backup_ended) < 10 {
        assert!(
            backup_ended.elapsed() < Duration::from_secs(60),
            "lodging stopped after the backup"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        during > 0,
        "no lodging was acknowledged while the backup ran ({lodged_after} after it)"
    );
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(backup.join("backup-manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["binary_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["schema_version"], store_sqlite::SCHEMA_VERSION);
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["audit-signing.key", "buyer-id.key", "customs.db"],
        "the store and every key kept beside it, no WAL, no lock"
    );
    // The backup holds the keys: as private as the data folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&backup), 0o700, "the backup folder");
        for file in &files {
            assert_eq!(mode(&backup.join(file)), 0o600, "{file}");
        }
    }
    let entries = manifest["chain_entries"].as_u64().unwrap();
    assert!(
        entries as usize >= before.len(),
        "{entries} entries for {} declarations",
        before.len()
    );

    let restored = dir.path().join("restored");
    let output = restore(&backup, &restored);
    assert!(output.status.success(), "restore: {}", stderr_of(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(&format!("audit chain of {entries} entries verified")),
        "{said}"
    );
    let report = ok(&restored, &["audit", "verify"]);
    assert!(report.contains("the audit chain is intact"), "{report}");

    let (mut server, address) = serve(&restored);
    assert_served(
        &address,
        &token,
        before
            .iter()
            .map(|ack| (ack.id.as_str(), ack.number.as_str())),
    )
    .await;
    server.kill().unwrap();
    server.wait().unwrap();
}

/// A small data folder with a few declarations, and its backup.
fn backed_up(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    let token = seed_broker(&data);
    let file = declarations_file(dir, 3);
    ok(&data, &["lodge", file.to_str().unwrap(), "--token", &token]);
    let backup = dir.join("backup");
    ok(&data, &["backup", backup.to_str().unwrap()]);
    (data, backup)
}

/// Rewrites the manifest's size and digest of `path` to the file's current ones, as someone who
/// altered the file and knew to fix the manifest would.
fn fix_manifest(backup: &Path, path: &str) {
    use sha2::Digest;
    let manifest_file = backup.join("backup-manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_file).unwrap()).unwrap();
    let bytes = std::fs::read(backup.join(path)).unwrap();
    for file in manifest["files"].as_array_mut().unwrap() {
        if file["path"] == path {
            file["size"] = bytes.len().into();
            file["sha256"] = hex::encode(sha2::Sha256::digest(&bytes)).into();
        }
    }
    std::fs::write(manifest_file, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

/// Restoring `backup` into a new folder of `dir` is refused with a message that holds every one
/// of `needles`, and nothing of it is left: no target folder, no temporary folder beside it.
fn assert_restore_refused(dir: &Path, backup: &Path, needles: &[&str]) {
    let target = dir.join("restored");
    let refused = restore(backup, &target);
    assert!(!refused.status.success(), "the backup was restored");
    let stderr = stderr_of(&refused);
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
    assert!(!target.exists(), "{} was created", target.display());
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_backup_file_altered_after_the_backup_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_, backup) = backed_up(dir.path());
    let key = backup.join("buyer-id.key");
    let mut bytes = std::fs::read(&key).unwrap();
    bytes[0] = if bytes[0] == b'0' { b'1' } else { b'0' };
    std::fs::write(&key, bytes).unwrap();

    assert_restore_refused(
        dir.path(),
        &backup,
        &["buyer-id.key", "but the manifest says", "与清单不符"],
    );
}

/// Altering the store and fixing its digest in the manifest does not help: the copy's audit chain
/// is verified before it is put in place.
#[test]
fn a_store_altered_with_its_manifest_fixed_is_refused_by_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (_, backup) = backed_up(dir.path());
    let store = backup.join("customs.db");
    {
        let conn = rusqlite::Connection::open(&store).unwrap();
        let changed = conn
            .execute(
                "UPDATE events SET actor_user = 'someone-else' WHERE seq = \
                 (SELECT max(seq) FROM events WHERE action = 'declaration.accepted')",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    fix_manifest(&backup, "customs.db");

    assert_restore_refused(
        dir.path(),
        &backup,
        &[
            "customs.db",
            "the audit chain of the backup does not verify",
            "审计链验证失败",
        ],
    );
}

#[test]
fn a_backup_with_another_signing_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, backup) = backed_up(dir.path());
    std::fs::write(backup.join("audit-signing.key"), hex::encode([9u8; 32])).unwrap();
    fix_manifest(&backup, "audit-signing.key");

    assert_restore_refused(
        dir.path(),
        &backup,
        &[
            "audit-signing.key",
            "is not the key that signed the chain's checkpoints",
            "不是签署检查点的密钥",
        ],
    );
}

#[test]
fn backup_and_restore_refuse_a_folder_that_holds_something() {
    let dir = tempfile::tempdir().unwrap();
    let (data, backup) = backed_up(dir.path());
    let again = customs(&data, &["backup", backup.to_str().unwrap()]);
    assert!(!again.status.success(), "a backup overwrote another");
    let stderr = stderr_of(&again);
    assert!(
        stderr.contains("exists and is not an empty folder") && stderr.contains("不是空目录"),
        "{stderr}"
    );
    let refused = restore(&backup, &data);
    assert!(
        !refused.status.success(),
        "a restore overwrote a data folder"
    );
    assert!(
        stderr_of(&refused).contains("exists and is not an empty folder"),
        "{}",
        stderr_of(&refused)
    );
    // An empty folder is taken, and the restored folder verifies.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = restore(&backup, &empty);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(ok(&empty, &["audit", "verify"]).contains("intact"));
    let missing = run(&[
        "--data",
        dir.path().join("nowhere").to_str().unwrap(),
        "backup",
        dir.path().join("b2").to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    assert!(
        stderr_of(&missing).contains("no store to back up"),
        "{}",
        stderr_of(&missing)
    );
    assert!(
        !dir.path().join("nowhere").exists(),
        "a backup created the data folder it was asked to read"
    );
}
