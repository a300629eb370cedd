//! Copies of the store for `customs backup` and `customs restore`.
//!
//! The copy is taken with `VACUUM INTO` on a read-only connection: it is one read transaction, so
//! the copy is the store as of one commit, and in WAL mode a reader never blocks the writer, so a
//! running server keeps lodging while the copy is made. What the copy holds (schema version,
//! chain length and head) is read from the copy itself, never from the live file, so the facts a
//! manifest records are those of the snapshot.

use std::path::Path;

use anyhow::{Context, bail};
use audit::{AuditSigner, Checkpoint};
use rusqlite::{Connection, OpenFlags};

use crate::{checkpoint, connection, migrate, rows};

/// What a store file holds, read from it without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFacts {
    /// `PRAGMA user_version`: the number of the last migration applied.
    pub schema_version: u32,
    /// Entries in the audit chain (its last sequence number; they are gap-free from 1).
    pub chain_entries: u64,
    /// The hash of the last entry ([`audit::GENESIS_HASH`] for an empty chain).
    pub head_hash: [u8; 32],
    /// The key ids of the signed checkpoints, oldest first (one per checkpoint).
    pub checkpoint_key_ids: Vec<String>,
}

/// Copies the store at `source` into the new file `target` as one consistent snapshot, while
/// other connections (a running server) keep writing. `target` must not exist.
pub fn copy_online(source: &Path, target: &Path) -> anyhow::Result<()> {
    if target.exists() {
        bail!("{} already exists", target.display());
    }
    let conn = connection::open_reader(source)?;
    // VACUUM INTO would create the file with the umask's permissions: the copy holds what the
    // store holds, so it is made private first (VACUUM INTO accepts an empty file).
    connection::create_private(target)?;
    let target_text = target
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", target.display()))?;
    conn.execute("VACUUM INTO ?1", [target_text])
        .with_context(|| format!("copying the store into {}", target.display()))?;
    drop(conn);
    // VACUUM INTO does not sync what it wrote.
    std::fs::File::open(target)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("syncing {}", target.display()))?;
    Ok(())
}

/// Signs a checkpoint of the head of the copy at `path` (when its tail is unsigned), in the copy
/// only: a backup taken between two of the server's checkpoints would otherwise end in an unsigned
/// run that `audit verify` reports as a missing checkpoint once it is older than the bound.
pub fn seal_copy(
    path: &Path,
    signer: &AuditSigner,
    now_ms: i64,
) -> anyhow::Result<Option<Checkpoint>> {
    let mut conn = open_copy(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let signed = checkpoint::sign_head(&mut conn, signer, now_ms)?;
    conn.close()
        .map_err(|(_, err)| err)
        .with_context(|| format!("closing {}", path.display()))?;
    Ok(signed)
}

/// The schema version, chain length, head and checkpoint keys of the store file at `path`, read
/// only.
pub fn store_facts(path: &Path) -> anyhow::Result<StoreFacts> {
    let conn = open_copy(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let schema_version = migrate::schema_version(&conn)?;
    let head = rows::chain_head(&conn)?;
    let checkpoint_key_ids = conn
        .prepare("SELECT key_id FROM checkpoints ORDER BY seq")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(StoreFacts {
        schema_version,
        chain_entries: head.seq,
        head_hash: head.hash,
        checkpoint_key_ids,
    })
}

/// Applies the migrations this build knows to the store file at `path` (a restored copy of an
/// older version's backup), returning the schema versions before and after.
pub fn migrate_copy(path: &Path) -> anyhow::Result<(u32, u32)> {
    let mut conn = open_copy(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let before = migrate::schema_version(&conn)?;
    migrate::migrate(&mut conn)?;
    let after = migrate::schema_version(&conn)?;
    Ok((before, after))
}

/// A connection to a copy that no server uses (no WAL set up, nothing created).
fn open_copy(path: &Path, flags: OpenFlags) -> anyhow::Result<Connection> {
    if !path.is_file() {
        bail!("no store file at {}", path.display());
    }
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| format!("opening the store copy {}", path.display()))?;
    conn.busy_timeout(connection::BUSY_TIMEOUT)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy is a store of its own: same schema version, same chain, readable on its own
    /// without the live file's WAL.
    #[test]
    fn an_online_copy_holds_the_schema_version_and_the_chain_of_the_live_store() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("customs.db");
        let mut conn = connection::open_writer(&live).unwrap();
        migrate::migrate(&mut conn).unwrap();
        let signer = AuditSigner::from_secret_bytes(&[7; 32]);
        // A server would have appended; a head is enough for the copy's facts.
        conn.execute(
            "INSERT INTO checkpoints (seq, head_hash, signed_at_ms, key_id, signature) \
             VALUES (0, zeroblob(32), 0, 'k', zeroblob(64))",
            [],
        )
        .unwrap();
        let copy = dir.path().join("copy.db");
        copy_online(&live, &copy).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "the copy is readable by others: {mode:o}"
            );
        }
        let facts = store_facts(&copy).unwrap();
        assert_eq!(facts.schema_version, migrate::SCHEMA_VERSION);
        assert_eq!(facts.chain_entries, 0);
        assert_eq!(facts.checkpoint_key_ids, vec!["k".to_owned()]);
        // An empty chain needs no seal.
        assert_eq!(seal_copy(&copy, &signer, 1).unwrap(), None);
        let again = copy_online(&live, &copy).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
        drop(conn);
    }
}
