//! The data folder: everything the platform keeps on disk, created on first run.
//!
//! ```text
//! <data>/customs.db            SQLite store (WAL: also customs.db-wal, customs.db-shm)
//! <data>/audit-signing.key     Ed25519 secret of the audit checkpoints, hex, mode 0600
//! <data>/buyer-id.key          HMAC key of the CBEC buyers' identity hashes, hex, mode 0600
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use audit::AuditSigner;
use clearance::{BuyerIdKey, Clearance, ClearanceConfig, SystemClock};
use rand::RngCore;
use reference::ReferenceData;
use store_sqlite::{SqliteOptions, SqliteStore};

pub const DATABASE_FILE: &str = "customs.db";
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";
pub const BUYER_ID_KEY_FILE: &str = "buyer-id.key";

pub struct DataDir {
    pub path: PathBuf,
}

impl DataDir {
    pub fn create(path: &Path) -> anyhow::Result<DataDir> {
        fs::create_dir_all(path)
            .with_context(|| format!("creating the data folder {}", path.display()))?;
        Ok(DataDir {
            path: path.to_path_buf(),
        })
    }

    pub fn database(&self) -> PathBuf {
        self.path.join(DATABASE_FILE)
    }

    /// The audit signing key, generated on first run. Losing it does not break the chain (hashes
    /// still verify) but checkpoints signed with it can then no longer be checked. A store that
    /// already holds entries or checkpoints never gets a new key silently: a new key would sign
    /// over whatever the folder holds, so its absence is an error to investigate.
    pub fn signer(&self) -> anyhow::Result<AuditSigner> {
        let key = self.path.join(SIGNING_KEY_FILE);
        if !key.exists() && SqliteStore::holds_records(&self.database())? {
            bail!(
                "the audit signing key {} is missing, but the store {} already holds audit \
                 records: refusing to create a new key over them (restore the key file from its \
                 backup; `customs audit verify --public-key FILE` checks the store without it) / \
                 审计签名密钥缺失而存储已有审计记录，拒绝生成新密钥，请从备份恢复密钥文件",
                key.display(),
                self.database().display()
            );
        }
        Ok(AuditSigner::from_secret_bytes(
            &self.secret(SIGNING_KEY_FILE)?,
        ))
    }

    /// The public half of the folder's signing key, if the key file exists; never creates one.
    pub fn folder_public_key(&self) -> anyhow::Result<Option<audit::AuditPublicKey>> {
        if !self.path.join(SIGNING_KEY_FILE).exists() {
            return Ok(None);
        }
        Ok(Some(self.signer()?.public_key()))
    }

    /// The key of the CBEC buyers' identity hashes, generated on first run. Losing it means the
    /// same buyer gets a new hash: the annual allowance then starts again from zero.
    pub fn buyer_id_key(&self) -> anyhow::Result<BuyerIdKey> {
        Ok(BuyerIdKey::from_bytes(self.secret(BUYER_ID_KEY_FILE)?))
    }

    /// A 32-byte secret kept in `file` as hex, created on first use (mode 0600).
    fn secret(&self, file: &str) -> anyhow::Result<[u8; 32]> {
        let path = self.path.join(file);
        if path.exists() {
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let bytes = hex::decode(text.trim())
                .with_context(|| format!("{} is not hex", path.display()))?;
            let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                bail!("{} does not hold a 32-byte key", path.display())
            };
            return Ok(secret);
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        write_private(&path, hex::encode(secret).as_bytes())?;
        Ok(secret)
    }

    pub fn open_store(&self, options: SqliteOptions) -> anyhow::Result<SqliteStore> {
        SqliteStore::open(&self.database(), self.signer()?, options)
    }

    /// The service over the store opened for reading only: `show` and `audit verify` add nothing
    /// (not even a checkpoint) to the record they read.
    pub fn open_clearance_read_only(
        &self,
        config: ClearanceConfig,
    ) -> anyhow::Result<Arc<Clearance<SqliteStore>>> {
        let config = ClearanceConfig {
            audit_public_key: self.folder_public_key()?,
            audit_checkpoint_bound: Some(checkpoint_bound()),
            ..config
        };
        let store = SqliteStore::open_read_only(&self.database(), 2)?;
        let reference = Arc::new(ReferenceData::embedded().clone());
        Ok(Arc::new(Clearance::new(
            store,
            reference,
            config,
            Arc::new(SystemClock),
        )))
    }

    pub fn open_clearance(
        &self,
        options: SqliteOptions,
        config: ClearanceConfig,
    ) -> anyhow::Result<Arc<Clearance<SqliteStore>>> {
        let signer = self.signer()?;
        let config = ClearanceConfig {
            audit_public_key: Some(signer.public_key()),
            audit_checkpoint_bound: Some(checkpoint_bound()),
            buyer_id_key: Some(self.buyer_id_key()?),
            ..config
        };
        let store = SqliteStore::open(&self.database(), signer, options)?;
        let reference = Arc::new(ReferenceData::embedded().clone());
        Ok(Arc::new(Clearance::new(
            store,
            reference,
            config,
            Arc::new(SystemClock),
        )))
    }
}

/// The bound the production writer keeps between checkpoints, for `audit verify` to report a
/// missing one.
fn checkpoint_bound() -> clearance::AuditCheckpointBound {
    let (entries_max, ms_max) = SqliteOptions::production().checkpoint_bound();
    clearance::AuditCheckpointBound {
        entries_max,
        ms_max,
    }
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}
