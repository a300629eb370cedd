//! `customs backup` and `customs restore`: a consistent copy of a data folder taken while a server
//! keeps lodging, and putting one back only once it is proven whole.
//!
//! A backup is a folder: `customs.db` (a snapshot of the store, taken by `VACUUM INTO` on a
//! read-only connection, so the running writer is never stopped), every other file kept in the
//! data folder (the audit signing key, the buyer-identity key, ...), and `backup-manifest.json`
//! with each file's SHA-256 and size, the binary's version, the store's schema version, and the
//! audit chain's length and head at the snapshot. The backup signs a checkpoint of the copy's head
//! in the copy (with the folder's key), so the copy ends in a signed head however long after it
//! is restored. It holds the signing key, so a backup is as secret as the data folder.
//!
//! Restoring checks everything before anything is put in place: each file's digest and size
//! against the manifest, the schema version (a newer one is refused), the backup's key against
//! the key ids of the chain's checkpoints, and the whole audit verification (`audit verify`, with
//! the backup's key as the auditor's and the manifest's head as an anchor) on the copy, in a
//! temporary folder beside the target that is renamed into place at the end.
//!
//! The continuity queue (`continuity-queue.sqlite`, issue 13) is copied the same way, as a
//! consistent snapshot (`VACUUM INTO`) while the instance may be queuing, with its instance id
//! and counts in the manifest; restoring checks it opens whole and holds what the manifest says.
//! The folder of an instance on PostgreSQL (`serve --database`) has no store of its own: its
//! backup holds its keys and its queue (the records are PostgreSQL's, backed up there).

use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use audit::Anchor;
use clap::Args;
use clearance::AuditorsCheck;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store_sqlite::backup::{StoreFacts, copy_online, migrate_copy, seal_copy, store_facts};

use crate::datadir::{
    DATABASE_FILE, DataDir, LOCK_FILE, SIGNING_KEY_FILE, create_private_file, create_private_folder,
};

/// The manifest's name inside a backup folder.
pub const MANIFEST_FILE: &str = "backup-manifest.json";

/// The layout of the manifest this build writes and reads; a backup with another is refused
/// rather than half understood.
pub const MANIFEST_FORMAT: u32 = 1;

/// Files of the data folder a backup leaves out: the live store's WAL and shared memory (their
/// content is in the snapshot) and the writer's lock (it belongs to a running process).
const NOT_BACKED_UP: &[&str] = &[
    "customs.db-wal",
    "customs.db-shm",
    LOCK_FILE,
    "continuity-queue.sqlite-wal",
    "continuity-queue.sqlite-shm",
];

/// The continuity queue's file (snapshotted apart, like the store).
const QUEUE_FILE: &str = crate::continuity::queue::QUEUE_FILE;

/// Bytes read and written at a time when a file is restored: large enough for sequential I/O,
/// small enough that memory stays flat whatever the store's size.
const COPY_BLOCK_BYTES: usize = 64 * 1024;

#[derive(Args)]
pub struct BackupArgs {
    /// The backup folder to create (it must not exist, or be empty). It will hold the audit
    /// signing key: keep it as secret as the data folder.
    #[arg(value_name = "DEST")]
    dest: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A backup folder made by `customs backup`. The data folder it is restored into is `--data`,
    /// which must not exist or be empty.
    #[arg(value_name = "SRC")]
    src: PathBuf,
}

/// What a backup holds, written last into the backup folder.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The `customs` release that took the backup.
    pub binary_version: String,
    /// The store's schema version (its last migration's number) in the snapshot.
    pub schema_version: u32,
    /// Entries in the audit chain of the snapshot.
    pub chain_entries: u64,
    /// SHA-256 (hex) of the snapshot's last chain entry.
    pub head_hash: String,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub taken_at: String,
    pub files: Vec<ManifestFile>,
    /// Whether the folder had a store of its own (`customs.db`); false for the folder of an
    /// instance on PostgreSQL, whose store facts above are then zero. Absent in older backups:
    /// true.
    #[serde(default = "embedded_store_default")]
    pub embedded_store: bool,
    /// The continuity queue in the backup, if the folder had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity_queue: Option<QueueFacts>,
}

fn embedded_store_default() -> bool {
    true
}

/// What the snapshot of a continuity queue holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFacts {
    /// The instance id in its provisional references.
    pub instance: String,
    /// Lodgings in the queue, settled or not.
    pub lodgings: u64,
    /// Lodgings not yet lodged in PostgreSQL.
    pub queued: u64,
}

/// Copies the continuity queue at `source` into `target` (a new private file) as one
/// consistent snapshot, however the instance is writing it.
fn snapshot_queue(source: &Path, target: &Path) -> anyhow::Result<()> {
    let connection = rusqlite::Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", source.display()))?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    // VACUUM INTO accepts an empty file: made private first.
    drop(create_private_file(target)?);
    let target_text = target
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", target.display()))?;
    connection
        .execute("VACUUM INTO ?1", [target_text])
        .with_context(|| format!("copying the continuity queue into {}", target.display()))?;
    drop(connection);
    fs::File::open(target)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("syncing {}", target.display()))?;
    Ok(())
}

/// The facts of a continuity queue's file, which must open whole.
fn queue_facts(path: &Path) -> anyhow::Result<QueueFacts> {
    let connection =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", path.display()))?;
    let integrity: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    anyhow::ensure!(
        integrity == "ok",
        "{}: the continuity queue is damaged ({integrity}) / 应急队列文件已损坏",
        path.display()
    );
    let instance: String = connection.query_row("SELECT id FROM instance", [], |row| row.get(0))?;
    let (lodgings, queued): (i64, i64) = connection.query_row(
        "SELECT count(*), count(*) FILTER (WHERE state = 'queued') FROM lodgings",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(QueueFacts {
        instance,
        lodgings: lodgings as u64,
        queued: queued as u64,
    })
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The file's path in the backup folder, `/`-separated, the same in the data folder.
    pub path: String,
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

pub async fn backup(data_path: &Path, args: BackupArgs) -> anyhow::Result<()> {
    let store = data_path.join(DATABASE_FILE);
    let queue = data_path.join(QUEUE_FILE);
    let embedded_store = store.is_file();
    if !embedded_store && !queue.is_file() {
        bail!(
            "no store to back up at {}, nor a continuity queue (the folder of an instance on \
             PostgreSQL): give the data folder with --data / 未找到要备份的存储 {} 或应急队列，请用 --data 指定数据目录",
            store.display(),
            store.display()
        );
    }
    refuse_unless_free(&args.dest)?;
    let data = DataDir::create(data_path)?;
    let staging = staging_folder(&args.dest)?;
    let now = chrono::Utc::now();
    let facts = if embedded_store {
        let copy = staging.path().join(DATABASE_FILE);
        copy_online(&store, &copy)?;
        let signer = data.signer()?;
        seal_copy(&copy, &signer, now.timestamp_millis())?;
        store_facts(&copy)?
    } else {
        // The records are in PostgreSQL: nothing of a store to describe.
        StoreFacts {
            schema_version: 0,
            chain_entries: 0,
            head_hash: [0; 32],
            checkpoint_key_ids: vec![],
        }
    };
    let continuity_queue = if queue.is_file() {
        let copy = staging.path().join(QUEUE_FILE);
        snapshot_queue(&queue, &copy)?;
        Some(queue_facts(&copy)?)
    } else {
        None
    };
    copy_kept_files(&data.path, staging.path(), Path::new(""))?;

    let mut files = Vec::new();
    for relative in files_under(staging.path(), Path::new(""))? {
        let (size, sha256) = digest_of(&staging.path().join(&relative))?;
        files.push(ManifestFile {
            path: slash_path(&relative),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        binary_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: facts.schema_version,
        chain_entries: facts.chain_entries,
        head_hash: hex::encode(facts.head_hash),
        taken_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        files,
        embedded_store,
        continuity_queue,
    };
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    crate::datadir::write_private_file(&staging.path().join(MANIFEST_FILE), text.as_bytes())?;
    put_in_place(staging, &args.dest)?;
    if manifest.embedded_store {
        println!(
            "backed up {} files into {} (schema version {}, audit chain of {} entries, head {}); \
             the backup holds the audit signing key: keep it as secret as the data folder",
            manifest.files.len(),
            args.dest.display(),
            manifest.schema_version,
            manifest.chain_entries,
            manifest.head_hash
        );
    } else {
        println!(
            "backed up {} files into {} (an instance's folder: its keys and continuity queue; its \
             records are in PostgreSQL, backed up there); the backup holds the audit signing key: \
             keep it as secret as the data folder",
            manifest.files.len(),
            args.dest.display(),
        );
    }
    if let Some(queue) = &manifest.continuity_queue {
        println!(
            "continuity queue of instance {}: {} lodgings, {} not yet lodged",
            queue.instance, queue.lodgings, queue.queued
        );
    }
    Ok(())
}

pub async fn restore(args: RestoreArgs, target: &Path) -> anyhow::Result<()> {
    refuse_unless_free(target)?;
    let manifest = read_manifest(&args.src)?;
    let known = store_sqlite::SCHEMA_VERSION;
    if manifest.schema_version > known {
        bail!(
            "{}: the backup's store has schema version {}, newer than this build knows ({known}, \
             customs {}); restore it with customs {} or later / 备份存储的结构版本 {} 高于本程序支持的 \
             {known}，请用 customs {} 或更新版本恢复",
            manifest_path(&args.src).display(),
            manifest.schema_version,
            env!("CARGO_PKG_VERSION"),
            manifest.binary_version,
            manifest.schema_version,
            manifest.binary_version
        );
    }
    let required: &[&str] = if manifest.embedded_store {
        &[DATABASE_FILE, SIGNING_KEY_FILE]
    } else {
        &[QUEUE_FILE, SIGNING_KEY_FILE]
    };
    for &required in required {
        if !manifest.files.iter().any(|f| f.path == required) {
            bail!(
                "{}: the manifest lists no {required}; a backup holds the store and its audit \
                 signing key / 清单中没有 {required}：备份必须包含存储及其审计签名密钥",
                manifest_path(&args.src).display()
            );
        }
    }

    let staging = staging_folder(target)?;
    for file in &manifest.files {
        let relative = safe_relative(&file.path).with_context(|| {
            format!(
                "{} lists {:?}",
                manifest_path(&args.src).display(),
                file.path
            )
        })?;
        copy_checked(
            &args.src.join(&relative),
            &staging.path().join(&relative),
            file,
        )?;
    }
    if let Some(expected) = &manifest.continuity_queue {
        let facts = queue_facts(&staging.path().join(QUEUE_FILE))?;
        if &facts != expected {
            bail!(
                "{}: the continuity queue holds {facts:?}, the manifest says {expected:?} / \
                 应急队列与清单不符",
                args.src.join(QUEUE_FILE).display()
            );
        }
    }
    if !manifest.embedded_store {
        // An instance's folder: its keys and queue, checked; the records are PostgreSQL's.
        put_in_place(staging, target)?;
        println!(
            "restored {} files from {} into {} (an instance's folder: keys and continuity queue{})",
            manifest.files.len(),
            args.src.display(),
            target.display(),
            manifest
                .continuity_queue
                .as_ref()
                .map(|q| format!(", {} lodgings not yet lodged", q.queued))
                .unwrap_or_default()
        );
        return Ok(());
    }
    let copy = staging.path().join(DATABASE_FILE);
    let facts = store_facts(&copy)?;
    check_facts(&args.src, &manifest, &facts)?;
    if facts.schema_version < known {
        let (from, to) = migrate_copy(&copy)?;
        println!("migrated the restored store from schema version {from} to {to}");
    }

    let restored = DataDir::create(staging.path())?;
    let key = restored.signer()?.public_key();
    if let Some(other) = facts
        .checkpoint_key_ids
        .iter()
        .find(|id| **id != key.key_id())
    {
        bail!(
            "{}: the backup's audit signing key (key id {}) is not the key that signed the \
             chain's checkpoints (key id {other}); restore the key kept with this store / \
             备份中的审计签名密钥（{}）不是签署检查点的密钥（{other}）",
            args.src.join(SIGNING_KEY_FILE).display(),
            key.key_id(),
            key.key_id()
        );
    }
    if facts.chain_entries > 0 && facts.checkpoint_key_ids.is_empty() {
        bail!(
            "{}: the chain holds {} entries but no signed checkpoint, so the backup's key cannot \
             be matched to it / 审计链有 {} 条记录却没有签名检查点，无法核对备份的密钥",
            args.src.join(DATABASE_FILE).display(),
            facts.chain_entries,
            facts.chain_entries
        );
    }
    let mut anchors = Vec::new();
    if facts.chain_entries > 0 {
        anchors.push((
            0,
            Anchor {
                seq: facts.chain_entries,
                head_hash: facts.head_hash,
            },
        ));
    }
    let auditors = AuditorsCheck {
        public_key: Some(key),
        anchors,
    };
    let clearance = restored.open_clearance_read_only(clearance::ClearanceConfig::china())?;
    let verification = clearance
        .verify_audit_with(&crate::show::operator(), &auditors)
        .await;
    clearance.store().close().await;
    drop(clearance);
    let verification = verification.map_err(crate::show::explain)?;
    if let Some(fault) = verification.first_fault {
        bail!(
            "{}: the audit chain of the backup does not verify: {fault}; nothing was restored / \
             备份的审计链验证失败，未恢复任何文件",
            args.src.join(DATABASE_FILE).display()
        );
    }
    drop(restored);
    put_in_place(staging, target)?;
    println!(
        "restored {} files from {} into {}: audit chain of {} entries verified with the backup's \
         key, {} checkpoints, head {}",
        manifest.files.len(),
        args.src.display(),
        target.display(),
        verification.entries_checked,
        verification.checkpoints_checked,
        verification.head_hash
    );
    Ok(())
}

/// The snapshot must be the one the manifest describes.
fn check_facts(src: &Path, manifest: &Manifest, facts: &StoreFacts) -> anyhow::Result<()> {
    let store = src.join(DATABASE_FILE);
    if facts.schema_version != manifest.schema_version {
        bail!(
            "{}: the store has schema version {}, the manifest says {} / 存储的结构版本 {} 与清单 {} 不符",
            store.display(),
            facts.schema_version,
            manifest.schema_version,
            facts.schema_version,
            manifest.schema_version
        );
    }
    let head = hex::encode(facts.head_hash);
    if facts.chain_entries != manifest.chain_entries || head != manifest.head_hash {
        bail!(
            "{}: the audit chain ends at entry {} with head {head}, the manifest says entry {} \
             with head {} / 审计链末端（{} 条）与清单（{} 条）不符",
            store.display(),
            facts.chain_entries,
            manifest.chain_entries,
            manifest.head_hash,
            facts.chain_entries,
            manifest.chain_entries
        );
    }
    Ok(())
}

fn manifest_path(src: &Path) -> PathBuf {
    src.join(MANIFEST_FILE)
}

fn read_manifest(src: &Path) -> anyhow::Result<Manifest> {
    let path = manifest_path(src);
    let text = fs::read_to_string(&path).map_err(|err| {
        anyhow::anyhow!(
            "{}: cannot read the backup's manifest ({err}); give a folder made by `customs \
             backup` / 无法读取备份清单 {}",
            path.display(),
            path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|err| {
        anyhow::anyhow!(
            "{}: not a backup manifest ({err}) / 不是有效的备份清单",
            path.display()
        )
    })?;
    if manifest.format != MANIFEST_FORMAT {
        bail!(
            "{}: manifest format {} is not the one this build reads ({MANIFEST_FORMAT}) / \
             清单格式 {} 不受支持",
            path.display(),
            manifest.format,
            manifest.format
        );
    }
    Ok(manifest)
}

/// A manifest path must stay inside the folder: relative, with no `..`.
fn safe_relative(path: &str) -> anyhow::Result<PathBuf> {
    let relative = PathBuf::from(path);
    let inside = !path.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !inside {
        bail!(
            "a file path must be relative and stay inside the backup folder / 文件路径必须是备份目录内的相对路径"
        );
    }
    Ok(relative)
}

/// Copies `from` to `to` (0600), hashing the bytes as they are copied, and refuses a file whose
/// size or SHA-256 is not the manifest's: what is checked is exactly what gets restored.
fn copy_checked(from: &Path, to: &Path, expected: &ManifestFile) -> anyhow::Result<()> {
    let mut source = fs::File::open(from).map_err(|err| {
        anyhow::anyhow!(
            "{}: listed in the manifest but cannot be read ({err}) / 清单所列文件无法读取",
            from.display()
        )
    })?;
    if let Some(parent) = to.parent() {
        create_private_folder(parent)?;
    }
    let mut target = create_private_file(to)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buffer = vec![0u8; COPY_BLOCK_BYTES];
    loop {
        let read = source
            .read(&mut buffer)
            .with_context(|| format!("reading {}", from.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        target
            .write_all(&buffer[..read])
            .with_context(|| format!("writing {}", to.display()))?;
        size += read as u64;
    }
    target
        .sync_all()
        .with_context(|| format!("syncing {}", to.display()))?;
    let digest = hex::encode(hasher.finalize());
    if size != expected.size || digest != expected.sha256 {
        bail!(
            "{}: {size} bytes with SHA-256 {digest}, but the manifest says {} bytes with SHA-256 \
             {}: the file was altered or damaged after the backup; nothing was restored / \
             文件大小或摘要与清单不符（文件在备份后被修改或损坏），未恢复任何文件",
            from.display(),
            expected.size,
            expected.sha256
        );
    }
    Ok(())
}

/// Refuses a destination that exists and holds anything: a backup or a restore never mixes its
/// files with others, nor overwrites a data folder.
fn refuse_unless_free(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let empty = path.is_dir()
        && fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .next()
            .is_none();
    if !empty {
        bail!(
            "{} exists and is not an empty folder: give a new folder / {} 已存在且不是空目录，请指定新目录",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// A private temporary folder beside `target` (same file system, so the final rename is atomic);
/// removed if anything fails before it is put in place.
fn staging_folder(target: &Path) -> anyhow::Result<tempfile::TempDir> {
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .with_context(|| format!("{} does not name a folder", target.display()))?
        .to_string_lossy()
        .into_owned();
    create_private_folder(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    // It becomes the backup or the data folder: entered by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", staging.path().display()))?;
    }
    Ok(staging)
}

/// Renames the complete staging folder to `target` (removing `target` first if it is an empty
/// folder) and syncs the parent, so `target` appears whole or not at all.
fn put_in_place(staging: tempfile::TempDir, target: &Path) -> anyhow::Result<()> {
    let staged = staging.keep();
    sync_folder(&staged)?;
    if target.exists() {
        fs::remove_dir(target).with_context(|| format!("replacing {}", target.display()))?;
    }
    fs::rename(&staged, target)
        .with_context(|| format!("renaming {} to {}", staged.display(), target.display()))?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_folder(parent)?;
    }
    Ok(())
}

/// Copies every file kept in the data folder but the store (already snapshotted) and the files
/// of a running process, keeping the folder's layout.
fn copy_kept_files(data: &Path, staging: &Path, relative: &Path) -> anyhow::Result<()> {
    let folder = data.join(relative);
    for entry in fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let path = relative.join(&name);
        let top = relative.as_os_str().is_empty();
        let kind = entry.file_type()?;
        if top
            && (name == DATABASE_FILE
                || name == QUEUE_FILE
                || NOT_BACKED_UP.iter().any(|n| name == *n))
        {
            continue;
        }
        if kind.is_dir() {
            create_private_folder(&staging.join(&path))?;
            copy_kept_files(data, staging, &path)?;
        } else if kind.is_file() {
            let bytes = fs::read(data.join(&path))
                .with_context(|| format!("reading {}", data.join(&path).display()))?;
            let mut file = create_private_file(&staging.join(&path))?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        } else {
            eprintln!(
                "warning: {} is neither a file nor a folder and is not backed up / 非普通文件，未备份",
                data.join(&path).display()
            );
        }
    }
    Ok(())
}

/// Every file under `root/relative`, relative to `root`, sorted.
fn files_under(root: &Path, relative: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let folder = root.join(relative);
    for entry in fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            files.extend(files_under(root, &path)?);
        } else {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Size and SHA-256 (hex) of a file, read in blocks.
fn digest_of(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((size, hex::encode(hasher.finalize())))
}

fn sync_folder(path: &Path) -> anyhow::Result<()> {
    fs::File::open(path)
        .and_then(|folder| folder.sync_all())
        .with_context(|| format!("syncing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest cannot make a restore write outside the new folder.
    #[test]
    fn a_manifest_path_must_stay_inside_the_folder() {
        assert_eq!(
            safe_relative("docs/a.pdf").unwrap(),
            PathBuf::from("docs/a.pdf")
        );
        for escaping in [
            "",
            "../customs.db",
            "/etc/passwd",
            "docs/../../x",
            "./customs.db",
        ] {
            let refused = safe_relative(escaping).unwrap_err().to_string();
            assert!(
                refused.contains("stay inside the backup folder") && refused.contains("相对路径"),
                "{escaping}: {refused}"
            );
        }
    }

    /// Paths in the manifest are `/`-separated whatever the platform.
    #[test]
    fn manifest_paths_are_slash_separated() {
        assert_eq!(
            slash_path(Path::new("docs").join("a.pdf").as_path()),
            "docs/a.pdf"
        );
    }
}
