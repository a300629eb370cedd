//! The data folder: everything the platform keeps on disk, created on first run.
//!
//! ```text
//! <data>/customs.db            SQLite store (WAL: also customs.db-wal, customs.db-shm)
//! <data>/audit-signing.key     Ed25519 secret of the audit checkpoints, hex, mode 0600
//! <data>/buyer-id.key          HMAC key of the CBEC buyers' identity hashes, hex, mode 0600
//! <data>/customs.lock          held (flock) by the one process that writes: a server or a command
//! <data>/demo-tokens.txt       `serve --demo` only: the demo users' tokens and passwords, mode 0600
//! <data>/simulated-bank.key    `serve --demo` only: the simulated paying bank's key
//! ```
//!
//! `customs backup` copies every file here but the WAL, the shared memory and the lock, so a new
//! file kept in the folder is backed up without a change to the backup.
//!
//! The folder is 0700 and every file in it 0600: the store holds personal and commercial data,
//! and the keys sign the record. One process writes at a time: `serve` and every writing command
//! take the lock for as long as they run; reading (`show`, `audit verify`) needs none.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail};
use audit::AuditSigner;
use clearance::{BuyerIdKey, Clearance, ClearanceConfig, Clock, PinnedClock, SystemClock};
use rand::RngCore;
use reference::ReferenceData;
use store_sqlite::{SqliteOptions, SqliteStore};

pub const DATABASE_FILE: &str = "customs.db";
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";
pub const BUYER_ID_KEY_FILE: &str = "buyer-id.key";
pub const LOCK_FILE: &str = "customs.lock";

/// For tests and demonstrations only: an RFC 3339 instant (e.g. `2027-03-15T10:00:00Z`) the
/// process's clock starts at, running on from there, instead of the machine's clock. Every
/// command reads the time through [`process_clock`], so a test pins the lodging date, the rates
/// in force and the year of the declaration numbers. Never set it in production: it backdates the
/// audit record.
pub const CLOCK_FIXED_VARIABLE: &str = "CUSTOMS_CLOCK_FIXED";

/// The clock of this process: the machine's, or one pinned by [`CLOCK_FIXED_VARIABLE`]. Read
/// once, so every command and the server see one clock.
pub fn process_clock() -> anyhow::Result<Arc<dyn Clock>> {
    static CLOCK: OnceLock<Result<Arc<dyn Clock>, String>> = OnceLock::new();
    CLOCK
        .get_or_init(|| match std::env::var(CLOCK_FIXED_VARIABLE) {
            Ok(start) if !start.trim().is_empty() => PinnedClock::parse(&start)
                .map(|clock| Arc::new(clock) as Arc<dyn Clock>)
                .map_err(|why| format!("{CLOCK_FIXED_VARIABLE}: {why} / 时钟设置无效")),
            _ => Ok(Arc::new(SystemClock)),
        })
        .clone()
        .map_err(|why| anyhow::anyhow!(why))
}

pub struct DataDir {
    pub path: PathBuf,
    /// The writer's lock, held from the first writing open until the process ends.
    lock: OnceLock<fs::File>,
}

impl DataDir {
    /// The data folder, created 0700 if it is new; an existing one that others may read or enter
    /// is made private (0700), and the store's files 0600.
    pub fn create(path: &Path) -> anyhow::Result<DataDir> {
        create_private_folder(path)
            .with_context(|| format!("creating the data folder {}", path.display()))?;
        make_private(path, 0o700)?;
        for file in [DATABASE_FILE, "customs.db-wal", "customs.db-shm"] {
            let file = path.join(file);
            if file.exists() {
                make_private(&file, 0o600)?;
            }
        }
        Ok(DataDir {
            path: path.to_path_buf(),
            lock: OnceLock::new(),
        })
    }

    /// The data folder of a command that works on an existing store: a folder that does not
    /// exist is refused, never created (a mistyped `--data` would otherwise be a new, empty store
    /// with new keys). Only `serve` (first run), `admin init`, `restore` and `bench` make one.
    pub fn open_existing(path: &Path) -> anyhow::Result<DataDir> {
        match fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => DataDir::create(path),
            Ok(_) => bail!(
                "the data folder {} is not a folder / 数据目录 {} 不是文件夹",
                path.display(),
                path.display()
            ),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
                "the data folder {path} does not exist: check --data (or CUSTOMS_DATA, the file's \
                 `data`); a new one is made by `customs --data {path} admin init --name NAME` or \
                 `customs --data {path} serve`, or use --server to work on a running server / \
                 数据目录 {path} 不存在：请检查 --data；新数据目录由 `customs admin init` 或 \
                 `customs serve` 创建，或用 --server 连接正在运行的服务",
                path = path.display()
            ),
            Err(error) => {
                Err(error).with_context(|| format!("reading the data folder {}", path.display()))
            }
        }
    }

    /// Takes the data folder's write lock (once per process): one server or writing command per
    /// folder, so that two writers never interleave their chains, caches and numbering.
    pub fn lock_for_writing(&self) -> anyhow::Result<()> {
        if self.lock.get().is_some() {
            return Ok(());
        }
        let path = self.path.join(LOCK_FILE);
        let file = private_options(fs::OpenOptions::new().read(true).write(true).create(true))
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => bail!(
                "the data folder {} is in use by another customs process (a server or a writing \
                 command); stop it first, or make the change through the running server's API / \
                 数据目录 {} 正被另一个 customs 进程使用（服务或写入命令），请先停止该进程，或通过正在运行的服务的 API 操作",
                self.path.display(),
                self.path.display()
            ),
            Err(fs::TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("locking {}", path.display()));
            }
        }
        let _ = self.lock.set(file);
        Ok(())
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
        self.lock_for_writing()?;
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
            process_clock()?,
        )))
    }

    pub fn open_clearance(
        &self,
        options: SqliteOptions,
        config: ClearanceConfig,
    ) -> anyhow::Result<Arc<Clearance<SqliteStore>>> {
        self.lock_for_writing()?;
        let signer = self.signer()?;
        let config = self.writing_config(&signer, config)?;
        let store = SqliteStore::open(&self.database(), signer, options)?;
        writing_clearance(store, config)
    }

    /// The configuration of a service that writes: it signs with this folder's audit key and
    /// protects buyers with its buyer-identity key.
    fn writing_config(
        &self,
        signer: &AuditSigner,
        config: ClearanceConfig,
    ) -> anyhow::Result<ClearanceConfig> {
        Ok(ClearanceConfig {
            audit_public_key: Some(signer.public_key()),
            audit_checkpoint_bound: Some(checkpoint_bound()),
            buyer_id_key: Some(self.buyer_id_key()?),
            ..config
        })
    }
}

/// The service over `store` with the embedded reference data and the process's clock.
fn writing_clearance<S: store::Store>(
    store: S,
    config: ClearanceConfig,
) -> anyhow::Result<Arc<Clearance<S>>> {
    let reference = Arc::new(ReferenceData::embedded().clone());
    Ok(Arc::new(Clearance::new(
        store,
        reference,
        config,
        process_clock()?,
    )))
}

impl DataDir {
    /// The service over the PostgreSQL store at `url`, signing with this folder's audit key
    /// and protecting buyers with its buyer-identity key: every instance serving one database
    /// needs the same keys in its folder. The folder is not locked (several instances may
    /// share a machine); the database orders their writes.
    pub async fn open_clearance_postgres(
        &self,
        url: &str,
        config: ClearanceConfig,
    ) -> anyhow::Result<Arc<Clearance<store_postgres::PostgresStore>>> {
        let signer = self.signer()?;
        let config = self.writing_config(&signer, config)?;
        let options = store_postgres::PostgresOptions::production();
        let store = store_postgres::PostgresStore::connect(url, options, signer)
            .await
            .with_context(|| {
                format!(
                    "serve.database {}: cannot open the PostgreSQL store / 无法打开 PostgreSQL 数据库",
                    store_postgres::redacted_url(url)
                )
            })?;
        writing_clearance(store, config)
    }

    /// [`Self::open_clearance_postgres`] without reaching the database: its first connection
    /// migrates it (an instance starting in continuity).
    pub fn open_clearance_postgres_deferred(
        &self,
        url: &str,
        config: ClearanceConfig,
    ) -> anyhow::Result<Arc<Clearance<store_postgres::PostgresStore>>> {
        let signer = self.signer()?;
        let config = self.writing_config(&signer, config)?;
        let options = store_postgres::PostgresOptions::production();
        let store = store_postgres::PostgresStore::connect_deferred(url, options, signer)?;
        writing_clearance(store, config)
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
    let mut file = create_private_file(path)?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// Creates the new file `path` (refusing one that exists), readable by its owner only.
pub fn create_private_file(path: &Path) -> anyhow::Result<fs::File> {
    private_options(fs::OpenOptions::new().write(true).create_new(true))
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Creates the folder `path` and its missing parents, entered by its owner only (0700).
pub fn create_private_folder(path: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Writes `contents` to `path` (replacing it), readable by its owner only.
pub fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = private_options(
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
    .open(path)
    .with_context(|| format!("writing {}", path.display()))?;
    // An existing file keeps its mode on open: make it private before anything is written.
    make_private(path, 0o600)?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

fn private_options(options: &mut fs::OpenOptions) -> &mut fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Takes away every permission of group and others from `path` (to `mode`), if it has any.
pub(crate) fn make_private(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode();
        if current & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .with_context(|| format!("making {} private ({mode:o})", path.display()))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
