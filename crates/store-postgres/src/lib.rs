//! The PostgreSQL store: the same `Store` as the embedded SQLite one, for many `customs`
//! processes on one database (scale-out, high availability).
//!
//! - The record is [`CHAINS`] audit chains; an event goes to the chain of its subject (a stable
//!   hash), so every event about one declaration is in one chain, in order, and each chain
//!   verifies alone with the same `audit::AuditEntry` encoding and hashes as SQLite. Signing
//!   rounds sign every chain's head at once, binding them (`checkpoint`).
//! - Every append is one PostgreSQL transaction: the idempotency key is locked and looked up,
//!   the head rows of the chains it writes to are locked (`FOR UPDATE`, ascending), then the
//!   CBEC booking, the events and the projections; the head rows move and everything commits
//!   together. Appends about different declarations do not wait for each other.
//! - No writer thread and no group commit: PostgreSQL runs many transactions at once.
//! - Numbering counters move with one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`.
//! - Connections come from a deadpool-postgres pool over tokio-postgres (pure Rust); each
//!   connection prepares each statement once.

mod append;
mod cbec;
mod changes;
mod checkpoint;
mod databases;
mod db;
mod delivery;
mod ecommerce;
mod fault;
mod leader;
mod migrate;
mod projection;
mod queries;
mod replay;
mod rows;
mod tls;

pub use append::chain_of;
pub use changes::{
    CHANGES_APPLICATION_NAME, CHANGES_CHANNEL, CHANGES_HEARTBEAT, CHANGES_HEARTBEAT_TIMEOUT,
    CHANGES_RETRY, ChangeNotice, listen_for_changes,
};
pub use databases::{count_declarations, create_database, drop_database};
pub use leader::{
    DRIFT_LEADER, LEADER_HEARTBEAT, LEADER_HEARTBEAT_TIMEOUT, LEADER_RETRY, LEADER_TAKEOVER_MAX,
    LeaderLock, Leadership, RELAY_LEADER, leader_application_name,
};
pub use migrate::SCHEMA_VERSION;
pub use replay::PROJECTION_DIFFERENCES_MAX;
pub use tls::{PostgresTls, SslMode, parse_database_url};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use audit::{AuditSigner, Checkpoint, StoredEntry};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use store::{
    Append, AppendOutcome, CbecBooking, CbecBookingOutcome, ChainPosition, CheckpointPolicy,
    DeclarationQuery, DeclarationRow, EnterpriseRow, EventRow, HistogramSnapshot,
    ListedDeclaration, OfficeTasks, OperationalStats, Principal, ReleaseFileRow, ReleaseRow,
    RiskRuleRow, Store, StoreError, StoreResult, TaskQuery, TaskRow, TokenRow, TraderHistory,
    UserRow,
};
use tokio_postgres::IsolationLevel;

pub use crate::fault::is_unreachable;
use crate::fault::{Fault, store_error};
use crate::queries::DeclarationKey;

/// Connections a production store keeps to PostgreSQL at most. Each append holds one for its
/// transaction (PostgreSQL's default `max_connections` is 100, shared by every instance).
pub const POOL_SIZE_DEFAULT: usize = 16;

/// The audit chains of a PostgreSQL store. Recorded in the database (`chain_config`, by the
/// migration that partitioned the chain): a store refuses a database with another count, since
/// an event's chain is its subject's hash modulo the count. 16 chains let 16 appends about
/// different declarations chain at once, which is more than the pool's connections do.
pub const CHAINS: u16 = 16;

/// The most chains a database may record (the migration's check): a signing round signs every
/// head, and a reader walks every chain.
pub const CHAINS_MAX: u16 = 1024;

/// How often one write is tried again after PostgreSQL broke a lock cycle between it and
/// another (`deadlock_detected`, or a serialization failure): appends on different chains may
/// lock the same projection rows in different orders. Each try is a whole new transaction.
pub const WRITE_TRIES_MAX: u32 = 4;

/// How long a request waits for a free connection before it is refused with `Unavailable`
/// (503 + Retry-After), like the SQLite store's full write queue.
pub const POOL_WAIT_MS: u64 = 5_000;

/// How long opening one connection may take (an unreachable host fails within it).
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

/// Tuning of a [`PostgresStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Connections in the pool (at least 1).
    pub pool_size: usize,
    /// Sign a checkpoint once this many entries were appended since the last one...
    pub checkpoint_every_entries: u64,
    /// ...or once this long has passed with entries unsigned.
    pub checkpoint_every_ms: i64,
}

impl PostgresOptions {
    /// The SQLite store's checkpoint policy, and [`POOL_SIZE_DEFAULT`] connections.
    pub fn production() -> PostgresOptions {
        PostgresOptions {
            pool_size: POOL_SIZE_DEFAULT,
            checkpoint_every_entries: 1_000,
            checkpoint_every_ms: 60_000,
        }
    }
}

/// A `Store` on PostgreSQL. Cheap to clone; every clone shares the pool.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    signer: AuditSigner,
    policy: CheckpointPolicy,
    /// Set once the first connection applied the migrations and read the chains' heads
    /// ([`PostgresStore::prepare`]): at once by `connect`, later by `connect_deferred`.
    prepared: tokio::sync::OnceCell<()>,
    /// What this process last saw of the chains, to decide when a checkpoint is due:
    /// `head_seq` is the entries of all chains as far as this process saw them move.
    position: Mutex<Position>,
    /// A checkpoint is being signed in the background: no second one is started meanwhile.
    signing: AtomicBool,
    commits: AtomicU64,
    commit_micros: AtomicU64,
    /// Requests refused because no connection came free in time.
    pool_refusals: AtomicU64,
}

/// [`ChainPosition`] over many chains: the seqs of each chain as last seen.
struct Position {
    chains: ChainPosition,
    seqs: Vec<u64>,
}

impl Position {
    fn saw(&mut self, chain: i16, seq: u64) {
        if let Some(slot) = usize::try_from(chain)
            .ok()
            .and_then(|c| self.seqs.get_mut(c))
        {
            *slot = (*slot).max(seq);
        }
        self.chains.head_seq = self.chains.head_seq.max(self.seqs.iter().sum());
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl PostgresStore {
    /// Connects to the database named by `url` (`postgres://user@host:port/db`, or a key=value
    /// string; several hosts and `target_session_attrs=read-write` pick the primary), applies
    /// pending migrations and opens the pool.
    pub async fn connect(
        url: &str,
        options: PostgresOptions,
        signer: AuditSigner,
    ) -> anyhow::Result<PostgresStore> {
        let (config, tls) = tls::parse_database_url(url)
            .map_err(|err| anyhow::anyhow!("the database URL {err}"))?;
        PostgresStore::open_with_tls(config, tls, options, signer).await
    }

    /// As [`PostgresStore::connect`], with a parsed configuration: TLS as its `sslmode` says
    /// (disable, prefer or require), the server's certificate not verified.
    pub async fn open(
        config: tokio_postgres::Config,
        options: PostgresOptions,
        signer: AuditSigner,
    ) -> anyhow::Result<PostgresStore> {
        let tls = PostgresTls::unverified(&config);
        PostgresStore::open_with_tls(config, tls, options, signer).await
    }

    /// As [`PostgresStore::open`], with the TLS connector (what it verifies) given.
    pub async fn open_with_tls(
        config: tokio_postgres::Config,
        tls: PostgresTls,
        options: PostgresOptions,
        signer: AuditSigner,
    ) -> anyhow::Result<PostgresStore> {
        let store = PostgresStore::open_deferred(config, tls, options, signer)?;
        let mut client = store
            .inner
            .pool
            .get()
            .await
            .context("connecting to PostgreSQL")?;
        store.prepare(&mut client).await?;
        Ok(store)
    }

    /// Like [`Self::connect`], without reaching the database: the pool is built and the first
    /// connection any request takes applies pending migrations and reads the chains' heads
    /// first. For an instance that starts while PostgreSQL is unreachable (continuity: it
    /// queues lodgings until the database answers, then migrates and lodges them).
    pub fn connect_deferred(
        url: &str,
        options: PostgresOptions,
        signer: AuditSigner,
    ) -> anyhow::Result<PostgresStore> {
        let (config, tls) = tls::parse_database_url(url)
            .map_err(|err| anyhow::anyhow!("the database URL {err}"))?;
        PostgresStore::open_deferred(config, tls, options, signer)
    }

    fn open_deferred(
        mut config: tokio_postgres::Config,
        tls: PostgresTls,
        options: PostgresOptions,
        signer: AuditSigner,
    ) -> anyhow::Result<PostgresStore> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
        }
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_millis(POOL_WAIT_MS)))
            .create_timeout(Some(Duration::from_millis(CONNECT_TIMEOUT_MS)))
            .build()
            .context("building the PostgreSQL connection pool")?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                signer,
                policy: CheckpointPolicy {
                    every_entries: options.checkpoint_every_entries.max(1),
                    every_ms: options.checkpoint_every_ms,
                },
                prepared: tokio::sync::OnceCell::new(),
                position: Mutex::new(Position {
                    chains: ChainPosition {
                        head_seq: 0,
                        last_checkpoint_seq: 0,
                        last_checkpoint_at_ms: now_ms(),
                    },
                    seqs: vec![0; usize::from(CHAINS)],
                }),
                signing: AtomicBool::new(false),
                commits: AtomicU64::new(0),
                commit_micros: AtomicU64::new(0),
                pool_refusals: AtomicU64::new(0),
            }),
        })
    }

    /// Once per store, on its first connection: pending migrations applied, the chain count
    /// checked and the chains' heads read (what this process then counts checkpoints from).
    async fn prepare(&self, client: &mut Object) -> anyhow::Result<()> {
        self.inner
            .prepared
            .get_or_try_init(|| async {
                migrate::migrate(client).await?;
                let chains = migrate::chain_count(&*client).await?;
                anyhow::ensure!(
                    chains == CHAINS,
                    "the database records {chains} audit chains and this build writes {CHAINS}: an \
                     event's chain is its subject's hash modulo the count, so the count cannot change \
                     under a store (open it with a build of {chains} chains)"
                );
                let heads = checkpoint::heads(&*client, CHAINS).await?;
                let last = checkpoint::last_round(&*client).await?;
                let seqs: Vec<u64> = heads.iter().map(|h| h.seq).collect();
                *self
                    .inner
                    .position
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Position {
                    chains: ChainPosition {
                        head_seq: seqs.iter().sum(),
                        last_checkpoint_seq: last.as_ref().map_or(0, |r| r.entries),
                        last_checkpoint_at_ms: last.as_ref().map_or_else(now_ms, |r| r.signed_at_ms),
                    },
                    seqs,
                };
                anyhow::Ok(())
            })
            .await?;
        Ok(())
    }

    /// Closes the pool: connections in use close when returned, later requests are refused.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    async fn client(&self) -> StoreResult<Object> {
        let mut client = self.inner.pool.get().await.map_err(|err| {
            if matches!(err, deadpool_postgres::PoolError::Timeout(_)) {
                self.inner.pool_refusals.fetch_add(1, Ordering::Relaxed);
            }
            StoreError::Unavailable(format!("no PostgreSQL connection: {err}"))
        })?;
        if self.inner.prepared.get().is_none()
            && let Err(err) = self.prepare(&mut client).await
        {
            let error = store_error(err);
            if matches!(error, StoreError::Unavailable(_)) {
                drop(Object::take(client));
            }
            return Err(error);
        }
        Ok(client)
    }

    /// One write: tried again, as a new transaction, when PostgreSQL broke a lock cycle it
    /// was part of (at most [`WRITE_TRIES_MAX`] times).
    async fn write(&self, write: Write<'_>) -> StoreResult<Done> {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut client = self.client().await?;
            let result = match self.write_once(&mut client, &write).await {
                Err(Fault::Database(err))
                    if tries < WRITE_TRIES_MAX && fault::is_retryable(&err) =>
                {
                    tracing::debug!(error = %err, tries, "append retried after a lock cycle");
                    continue;
                }
                other => other.map_err(StoreError::from),
            };
            discard_if_unavailable(client, &result);
            let done = result?;
            if !done.recorded() {
                // Answered from what the transaction read (a duplicate, a conflict, a limit).
                self.confirm_durable().await?;
            }
            return Ok(done);
        }
    }

    /// One write transaction: the idempotency key locked and looked up, the heads of the
    /// chains it writes to locked, the write recorded after them, and the whole committed if
    /// it was recorded, else rolled back.
    async fn write_once(&self, client: &mut Object, write: &Write<'_>) -> Result<Done, Fault> {
        let started = Instant::now();
        let tx = client.transaction().await?;
        let chains = match write {
            Write::Append(a) => {
                if let Some(duplicate) = append::duplicate_of(&tx, a).await? {
                    tx.rollback().await?;
                    return Ok(Done::Append(duplicate));
                }
                append::chains_of(a, CHAINS)
            }
            Write::Cbec(b) => {
                append::lock_idempotency_key(&tx, store::CBEC_IDEMPOTENCY_SCOPE, &b.order_ref)
                    .await?;
                vec![append::chain_of(&store::cbec_subject(b), CHAINS)]
            }
        };
        let mut heads = append::lock_heads(&tx, chains).await?;
        let done = match write {
            Write::Append(a) => Done::Append(append::record(&tx, a, &mut heads, CHAINS).await?),
            Write::Cbec(b) => {
                let chain = append::chain_of(&store::cbec_subject(b), CHAINS);
                let head = heads.head(chain)?;
                Done::Cbec(cbec::book(&tx, b, head, CHAINS).await?)
            }
        };
        if !done.recorded() {
            tx.rollback().await?;
            return Ok(done);
        }
        append::store_heads(&tx, &heads).await?;
        tx.commit().await?;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.inner.commits.fetch_add(1, Ordering::Relaxed);
        self.inner
            .commit_micros
            .fetch_add(micros, Ordering::Relaxed);
        self.after_commit(&heads);
        Ok(done)
    }

    /// Signs a checkpoint in the background when the policy says one is due.
    fn after_commit(&self, heads: &append::Heads) {
        let due = {
            let mut position = self
                .inner
                .position
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (chain, head) in heads.iter() {
                position.saw(chain, head.seq);
            }
            self.inner.policy.is_due(&position.chains, now_ms())
        };
        if !due || self.inner.signing.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(err) = store.sign().await {
                tracing::warn!(error = %err, "signing an audit checkpoint failed; retried later");
            }
            store.inner.signing.store(false, Ordering::Release);
        });
    }

    /// Returns once everything this process could have read is as durable as an acknowledged
    /// commit. PostgreSQL shows a commit to other sessions as soon as it is in the primary's
    /// WAL, before a synchronous standby has it: an answer built on it (a resent lodging
    /// answered 200 with its number, a duplicate refused) could otherwise be heard for a
    /// lodging that a failover then loses. A commit that writes WAL waits for the standby up
    /// to its own position, which is past every commit already visible; a transactional
    /// logical-decoding message is the smallest such write (no table, any role). Without a
    /// synchronous standby it costs one local WAL flush; only answers from rolled-back writes
    /// and idempotent replays pay it.
    async fn confirm_durable(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let result = async {
            let tx = client.transaction().await?;
            tx.simple_query("SELECT pg_logical_emit_message(true, 'customs.durable', '')")
                .await?;
            tx.commit().await
        }
        .await
        .map_err(|err| {
            store_error(anyhow::Error::from(err).context("confirming a commit durable"))
        });
        discard_if_unavailable(client, &result);
        result
    }

    async fn sign(&self) -> StoreResult<Option<Checkpoint>> {
        let mut client = self.client().await?;
        let now = now_ms();
        let result = async {
            let signed =
                checkpoint::sign_round(&mut client, &self.inner.signer, now, CHAINS).await?;
            let last = checkpoint::last_round(&client).await?;
            anyhow::Ok((signed, last))
        }
        .await
        .map_err(store_error);
        discard_if_unavailable(client, &result);
        let (signed, last) = result?;
        if let Some(last) = last {
            let mut position = self
                .inner
                .position
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let chains = &mut position.chains;
            chains.head_seq = chains.head_seq.max(last.entries);
            chains.last_checkpoint_seq = last.entries;
            chains.last_checkpoint_at_ms = last.signed_at_ms;
        }
        Ok(signed.map(|signed| signed.checkpoint))
    }
}

/// The two writes that chain events.
enum Write<'a> {
    Append(&'a Append),
    Cbec(&'a CbecBooking),
}

enum Done {
    Append(AppendOutcome),
    Cbec(CbecBookingOutcome),
}

impl Done {
    /// Whether the write was committed (else it was answered from what it read, and rolled back).
    fn recorded(&self) -> bool {
        matches!(
            self,
            Done::Append(AppendOutcome::Appended { .. })
                | Done::Cbec(CbecBookingOutcome::Booked { .. })
        )
    }
}

/// Closes a connection whose use failed as unavailable instead of returning it to the pool.
/// The pool's fast recycling only notices connections already known closed; a connection
/// reset mid-request, or one that reached a server refusing writes (a primary demoted to a
/// standby, one shutting down), would otherwise be handed out again and fail the next request
/// too. Closed, its slot is free: the next request connects afresh, through HAProxy to the
/// current primary.
fn discard_if_unavailable<T>(client: Object, result: &StoreResult<T>) {
    if matches!(result, Err(StoreError::Unavailable(_))) {
        drop(Object::take(client));
    }
}

/// The error a caller sees for a failed read.
fn read_failed(what: &str, err: anyhow::Error) -> StoreError {
    store_error(err.context(format!("{what} failed")))
}

/// A read on a pooled connection: `$c` is the connection in `$body`.
macro_rules! read {
    ($self:ident, $what:literal, |$c:ident| $body:expr) => {{
        let client = $self.client().await?;
        let $c = &client;
        // A match keeps the body's temporaries (its parameters) alive across the await.
        let read = match $body.await {
            Ok(found) => Ok(found),
            Err(err) => Err(read_failed($what, err)),
        };
        discard_if_unavailable(client, &read);
        read
    }};
}

/// A read of several statements in one snapshot: `$tx` is a read-only REPEATABLE READ
/// transaction in `$body`.
macro_rules! snapshot {
    ($self:ident, $what:literal, |$tx:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let read = async {
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(|err| read_failed($what, err.into()))?;
            let $tx = &tx;
            let read = $body.await.map_err(|err| read_failed($what, err));
            drop(tx);
            read
        }
        .await;
        discard_if_unavailable(client, &read);
        read
    }};
}

#[async_trait]
impl Store for PostgresStore {
    #[tracing::instrument(skip_all, fields(action = %append.action, subject = %append.subject))]
    async fn append(&self, append: Append) -> StoreResult<AppendOutcome> {
        match self.write(Write::Append(&append)).await? {
            Done::Append(outcome) => Ok(outcome),
            Done::Cbec(_) => unreachable!("an append answers with an append's outcome"),
        }
    }

    /// One statement: the counter row is created or moved and read back under its row lock,
    /// so no two processes ever get the same serials.
    async fn trade_feed(
        &self,
        visibility: &store::Visibility,
        chain: u16,
        after_chain_seq: u64,
        window: u64,
        limit: usize,
    ) -> StoreResult<store::FeedWindow> {
        let chain = i16::try_from(chain).unwrap_or(i16::MAX);
        snapshot!(self, "reading the receipts feed", |tx| {
            delivery::trade_feed(tx, visibility, chain, after_chain_seq, window, limit)
        })
    }

    async fn webhooks(&self, enterprise: Option<&str>) -> StoreResult<Vec<store::WebhookRow>> {
        read!(self, "reading webhooks", |c| delivery::webhooks(
            c, enterprise
        ))
    }

    async fn dead_letters(&self, enterprise: &str) -> StoreResult<Vec<store::DeadLetterRow>> {
        read!(self, "reading dead letters", |c| delivery::dead_letters(
            c, enterprise
        ))
    }

    async fn change_delivery(&self, change: store::DeliveryChange) -> StoreResult<bool> {
        let client = self.client().await?;
        let changed = delivery::change(&client, &change)
            .await
            .map_err(|err| store_error(err.context("changing the webhook delivery state failed")));
        discard_if_unavailable(client, &changed);
        changed
    }

    async fn reserve_serials(&self, counter_key: &str, count: u64) -> StoreResult<u64> {
        let run_out = || {
            StoreError::Other(anyhow::anyhow!(
                "numbering counter {counter_key} would run out of serials"
            ))
        };
        let count = i64::try_from(count)
            .ok()
            .filter(|count| *count < i64::MAX)
            .ok_or_else(run_out)?;
        let sql = "INSERT INTO counters (counter_key, next_serial) VALUES ($1, 1 + $2::BIGINT) \
             ON CONFLICT (counter_key) DO UPDATE SET next_serial = counters.next_serial + $2::BIGINT \
             WHERE counters.next_serial <= 9223372036854775807 - $2::BIGINT \
             RETURNING next_serial - $2::BIGINT";
        let client = self.client().await?;
        let row = db::query_opt(&client, sql, &[&counter_key, &count])
            .await
            .map_err(|err| store_error(err.into()));
        discard_if_unavailable(client, &row);
        let row = row?.ok_or_else(run_out)?;
        rows::u64_at(&row, 0).map_err(StoreError::Other)
    }

    async fn event_by_idempotency(&self, scope: &str, key: &str) -> StoreResult<Option<EventRow>> {
        let found = read!(self, "reading an event by idempotency key", |c| {
            append::event_by_idempotency(c, scope, key)
        })?;
        if found.is_some() {
            // The caller answers a resent request from it: only once it is durable.
            self.confirm_durable().await?;
        }
        Ok(found.map(|(event, _)| event))
    }

    async fn declaration(&self, id: &str) -> StoreResult<Option<DeclarationRow>> {
        read!(self, "reading a declaration", |c| queries::declaration(
            c,
            DeclarationKey::Id,
            id
        ))
    }

    async fn schema_version(&self) -> StoreResult<u32> {
        read!(self, "reading the schema version", |c| {
            migrate::schema_version(c)
        })
    }

    async fn declaration_by_number(&self, number: &str) -> StoreResult<Option<DeclarationRow>> {
        read!(self, "reading a declaration by number", |c| {
            queries::declaration(c, DeclarationKey::Number, number)
        })
    }

    async fn list_declarations(
        &self,
        query: &DeclarationQuery,
    ) -> StoreResult<Vec<ListedDeclaration>> {
        read!(
            self,
            "listing declarations",
            |c| queries::list_declarations(c, query)
        )
    }

    async fn events(&self, subject: &str) -> StoreResult<Vec<EventRow>> {
        read!(self, "reading a subject's events", |c| queries::events(
            c, subject
        ))
    }

    async fn principal_by_token(&self, token_hash: &str) -> StoreResult<Option<Principal>> {
        snapshot!(self, "resolving a token's principal", |tx| {
            queries::principal(tx, token_hash)
        })
    }

    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<TokenRow>> {
        read!(self, "reading a token by hash", |c| {
            queries::token_where(c, "token_hash", token_hash)
        })
    }

    async fn token(&self, id: &str) -> StoreResult<Option<TokenRow>> {
        read!(self, "reading a token", |c| queries::token_where(
            c, "id", id
        ))
    }

    async fn tokens(&self, user_id: Option<&str>) -> StoreResult<Vec<TokenRow>> {
        read!(self, "listing tokens", |c| queries::tokens(c, user_id))
    }

    async fn user(&self, id: &str) -> StoreResult<Option<UserRow>> {
        read!(self, "reading a user", |c| queries::user_where(c, "id", id))
    }

    async fn password_hash(&self, user_id: &str) -> StoreResult<Option<String>> {
        read!(self, "reading a user's password hash", |c| {
            queries::password_hash(c, user_id)
        })
    }

    async fn broker_principals(&self, broker_enterprise_id: &str) -> StoreResult<Vec<String>> {
        read!(self, "listing a broker's principals", |c| {
            queries::broker_principals(c, broker_enterprise_id)
        })
    }

    async fn enterprise_by_credit_code(
        &self,
        credit_code: &str,
    ) -> StoreResult<Option<EnterpriseRow>> {
        read!(self, "reading an enterprise by credit code", |c| {
            queries::enterprise_where(c, "credit_code", credit_code)
        })
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<UserRow>> {
        read!(self, "reading a user by name", |c| queries::user_where(
            c, "name", name
        ))
    }

    /// Chain 0's entries ([`Store::chain_entries`] reads every chain).
    async fn audit_entries(&self, after_seq: u64, limit: usize) -> StoreResult<Vec<StoredEntry>> {
        self.chain_entries(0, after_seq, limit).await
    }

    /// Every chain's entries in row order, up to the settled horizon ([`queries::settled_row`]).
    async fn record_entries(
        &self,
        after_row: u64,
        limit: usize,
    ) -> StoreResult<Vec<store::RecordEntry>> {
        let horizon = {
            let mut client = self.client().await?;
            let settled = queries::settled_row(&mut client).await;
            let settled = settled.map_err(|err| read_failed("reading the settled record", err));
            discard_if_unavailable(client, &settled);
            settled?
        };
        if horizon <= after_row {
            return Ok(Vec::new());
        }
        read!(self, "reading the record's entries", |c| {
            queries::record_entries(c, after_row, horizon, limit)
        })
    }

    /// Chain 0's checkpoints ([`Store::chain_checkpoints`] reads every chain's).
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        self.chain_checkpoints(0).await
    }

    fn chain_count(&self) -> u16 {
        CHAINS
    }

    async fn chain_entries(
        &self,
        chain: u16,
        after_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<StoredEntry>> {
        let chain = i16::try_from(chain).unwrap_or(i16::MAX);
        read!(self, "reading audit entries", |c| {
            queries::chain_entries(c, chain, after_seq, limit)
        })
    }

    async fn chain_checkpoints(&self, chain: u16) -> StoreResult<Vec<Checkpoint>> {
        let chain = i16::try_from(chain).unwrap_or(i16::MAX);
        read!(self, "reading audit checkpoints", |c| queries::checkpoints(
            c, chain
        ))
    }

    async fn chain_heads(&self) -> StoreResult<Vec<u64>> {
        let heads = read!(self, "reading the chain heads", |c| checkpoint::heads(
            c, CHAINS
        ))?;
        Ok(heads.iter().map(|h| h.seq).collect())
    }

    async fn checkpoint_rounds(&self) -> StoreResult<Vec<audit::HeadsCheckpoint>> {
        read!(self, "reading the checkpoints of all chains", |c| {
            queries::checkpoint_rounds(c)
        })
    }

    async fn entry_of_event(&self, seq: u64) -> StoreResult<Option<(u16, StoredEntry)>> {
        read!(self, "reading an event's audit entry", |c| {
            queries::entry_of_event(c, seq)
        })
    }

    async fn check_projections(&self) -> StoreResult<store::ProjectionCheck> {
        let client = self.client().await?;
        replay::check(client)
            .await
            .map_err(|err| read_failed("rebuilding the tables from the chain", err))
    }

    async fn checkpoint_now(&self) -> StoreResult<Option<Checkpoint>> {
        self.sign().await
    }

    async fn book_cbec_purchase(&self, booking: CbecBooking) -> StoreResult<CbecBookingOutcome> {
        match self.write(Write::Cbec(&booking)).await? {
            Done::Cbec(outcome) => Ok(outcome),
            Done::Append(_) => unreachable!("a booking answers with a booking's outcome"),
        }
    }

    async fn cbec_year_to_date(&self, buyer_id: &str, year: i32) -> StoreResult<i64> {
        read!(self, "reading a CBEC buyer's year to date", |c| {
            cbec::year_to_date(c, buyer_id, year)
        })
    }

    async fn ceb_document(&self, guid: &str) -> StoreResult<Option<store::CebDocumentRow>> {
        read!(self, "reading a CEB document", |c| ecommerce::ceb_document(
            c, guid
        ))
    }

    async fn ceb_documents_for_order(
        &self,
        ebp_code: &str,
        order_no: &str,
    ) -> StoreResult<Vec<store::CebDocumentRow>> {
        read!(self, "reading an order's CEB documents", |c| {
            ecommerce::documents_for_order(c, ebp_code, order_no)
        })
    }

    async fn ceb_waybill(
        &self,
        logistics_code: &str,
        logistics_no: &str,
    ) -> StoreResult<Option<store::CebDocumentRow>> {
        read!(self, "reading a CEB waybill", |c| ecommerce::waybill(
            c,
            logistics_code,
            logistics_no
        ))
    }

    async fn inventory_list(&self, id: &str) -> StoreResult<Option<store::InventoryListRow>> {
        read!(self, "reading an inventory list", |c| {
            ecommerce::inventory_list(c, id)
        })
    }

    async fn inventory_lists_waiting(
        &self,
        key: &store::CebKey,
    ) -> StoreResult<Vec<store::InventoryListRow>> {
        read!(self, "listing waiting inventory lists", |c| {
            ecommerce::lists_waiting(c, key)
        })
    }

    async fn expired_waiting(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<store::InventoryListRow>> {
        read!(self, "listing expired inventory lists", |c| {
            ecommerce::expired_waiting(c, now_ms, limit)
        })
    }

    async fn guarantee(&self, assure_code: &str) -> StoreResult<Option<store::GuaranteeRow>> {
        read!(self, "reading a guarantee", |c| ecommerce::guarantee(
            c,
            assure_code
        ))
    }

    async fn ceb_registration(
        &self,
        enterprise_code: &str,
    ) -> StoreResult<Option<store::CebRegistration>> {
        read!(self, "reading a CEB registration", |c| {
            ecommerce::registration(c, enterprise_code)
        })
    }

    async fn releases(&self, kind: &str) -> StoreResult<Vec<ReleaseRow>> {
        read!(self, "listing releases", |c| queries::releases(c, kind))
    }

    async fn release(&self, id: &str) -> StoreResult<Option<ReleaseRow>> {
        read!(self, "reading a release", |c| queries::release(c, id))
    }

    async fn release_files(&self, id: &str) -> StoreResult<Option<Vec<ReleaseFileRow>>> {
        snapshot!(self, "reading a release's files", |tx| {
            queries::release_files(tx, id)
        })
    }

    async fn risk_rules(&self, status: Option<&str>) -> StoreResult<Vec<RiskRuleRow>> {
        read!(self, "listing targeting rules", |c| queries::risk_rules(
            c, status
        ))
    }

    async fn release_durations(
        &self,
        released_from_ms: i64,
        released_to_ms: i64,
        office: Option<&str>,
    ) -> StoreResult<Vec<i64>> {
        read!(self, "reading release times", |c| {
            queries::release_durations(c, released_from_ms, released_to_ms, office)
        })
    }

    async fn trader_history(&self, credit_code: &str, since_ms: i64) -> StoreResult<TraderHistory> {
        snapshot!(self, "reading a trader's history", |tx| {
            queries::trader_history(tx, credit_code, since_ms)
        })
    }

    async fn origin_proof_user(&self, proof_key: &str) -> StoreResult<Option<String>> {
        read!(self, "reading a proof of origin's user", |c| {
            queries::origin_proof_user(c, proof_key)
        })
    }

    async fn tasks(&self, query: &TaskQuery) -> StoreResult<Vec<TaskRow>> {
        read!(self, "listing tasks", |c| queries::tasks(c, query))
    }

    async fn task(&self, id: &str) -> StoreResult<Option<TaskRow>> {
        read!(self, "reading a task", |c| queries::task(c, id))
    }

    async fn users_by_role(&self, role: &str) -> StoreResult<Vec<UserRow>> {
        read!(self, "listing users by role", |c| queries::users_by_role(
            c, role
        ))
    }

    async fn watch_entries(&self) -> StoreResult<Vec<store::WatchEntryRow>> {
        read!(self, "listing the watch list", |c| queries::watch_entries(
            c
        ))
    }

    async fn credit_level(&self, credit_code: &str) -> StoreResult<Option<String>> {
        read!(self, "reading a credit level", |c| queries::credit_level(
            c,
            credit_code
        ))
    }

    async fn history_batches(&self) -> StoreResult<Vec<store::HistoryBatchRow>> {
        read!(self, "reading history batches", |c| {
            queries::history_batches(c)
        })
    }

    async fn history_text(&self, id: &str) -> StoreResult<Option<String>> {
        read!(self, "reading a history batch", |c| {
            queries::history_text(c, id)
        })
    }

    async fn risk_models(&self) -> StoreResult<Vec<store::RiskModelRow>> {
        read!(self, "reading risk models", |c| queries::risk_models(c))
    }

    async fn risk_model_bytes(&self, id: &str) -> StoreResult<Option<Vec<u8>>> {
        read!(self, "reading a risk model", |c| {
            queries::risk_model_bytes(c, id)
        })
    }

    async fn attachments(&self, task_id: &str) -> StoreResult<Vec<store::AttachmentRow>> {
        read!(self, "reading a task's attachments", |c| {
            queries::attachments(c, task_id)
        })
    }

    async fn attachment_content(
        &self,
        task_id: &str,
        digest: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        read!(self, "reading an attachment", |c| {
            queries::attachment_content(c, task_id, digest)
        })
    }

    async fn officers_on_duty(&self, office: Option<&str>) -> StoreResult<Vec<store::DutyRow>> {
        read!(self, "reading the officers on duty", |c| {
            queries::officers_on_duty(c, office)
        })
    }

    async fn drafts(&self, enterprise_id: &str) -> StoreResult<Vec<store::DraftRow>> {
        read!(self, "reading an enterprise's drafts", |c| queries::drafts(
            c,
            enterprise_id
        ))
    }

    async fn draft(&self, id: &str) -> StoreResult<Option<store::DraftRow>> {
        read!(self, "reading a draft", |c| queries::draft(c, id))
    }

    async fn documents(&self, declaration_id: &str) -> StoreResult<Vec<store::DocumentRow>> {
        read!(self, "reading a declaration's documents", |c| {
            queries::documents(c, declaration_id)
        })
    }

    async fn document_content(
        &self,
        declaration_id: &str,
        digest: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        read!(self, "reading a declaration's document", |c| {
            queries::document_content(c, declaration_id, digest)
        })
    }

    async fn users(&self, limit: usize) -> StoreResult<Vec<UserRow>> {
        read!(self, "listing users", |c| queries::users(c, limit))
    }

    async fn enterprises(&self, limit: usize) -> StoreResult<Vec<EnterpriseRow>> {
        read!(self, "listing enterprises", |c| queries::enterprises(
            c, limit
        ))
    }

    async fn dashboard_figures(
        &self,
        query: &store::DashboardQuery,
    ) -> StoreResult<store::DashboardFigures> {
        snapshot!(self, "counting the dashboards' figures", |tx| {
            queries::dashboard_figures(tx, query)
        })
    }

    async fn open_tasks_by_office(&self, overdue_before_ms: i64) -> StoreResult<Vec<OfficeTasks>> {
        read!(self, "counting the open tasks per office", |c| {
            queries::open_tasks_by_office(c, overdue_before_ms)
        })
    }

    /// PostgreSQL's figures, honestly: the chain head is the entries of all chains, and the
    /// last checkpoint the last signing round's (entries covered, time); there is no write queue (a request waits for a pooled
    /// connection instead, so the "queue" is the requests waiting for one and its capacity the
    /// pool's size); each commit is one request, so no batch sizes; the database's size is
    /// `pg_database_size`. The WAL, the disk and the server's own checkpoints belong to the
    /// PostgreSQL server and its monitoring (they need privileges a store should not hold):
    /// 0 and `None` here.
    async fn operational_stats(&self) -> StoreResult<OperationalStats> {
        let (database_bytes, head, last_checkpoint) =
            snapshot!(self, "reading the database's figures", |tx| async move {
                let sql = "SELECT pg_database_size(current_database())";
                let size: i64 = db::query_one(tx, sql, &[]).await?.try_get(0)?;
                let heads = checkpoint::heads(tx, CHAINS).await?;
                let entries: u64 = heads.iter().map(|h| h.seq).sum();
                let last = checkpoint::last_round(tx)
                    .await?
                    .map(|round| (round.entries, round.signed_at_ms));
                anyhow::Ok((size, entries, last))
            })?;
        let status = self.inner.pool.status();
        let commits = self.inner.commits.load(Ordering::Relaxed);
        let commit_seconds = self.inner.commit_micros.load(Ordering::Relaxed) as f64 / 1e6;
        Ok(OperationalStats {
            write_queue_depth: status.waiting as u64,
            write_queue_capacity: status.max_size as u64,
            write_queue_refusals: self.inner.pool_refusals.load(Ordering::Relaxed),
            writer_running: !self.inner.pool.is_closed(),
            commit_batch_sizes: HistogramSnapshot {
                buckets: Vec::new(),
                count: commits,
                sum: commits as f64,
            },
            commit_seconds: HistogramSnapshot {
                buckets: Vec::new(),
                count: commits,
                sum: commit_seconds,
            },
            database_bytes: u64::try_from(database_bytes).unwrap_or(0),
            wal_bytes: 0,
            disk_free_bytes: None,
            chain_head_seq: head,
            last_audit_checkpoint: last_checkpoint,
            last_wal_checkpoint_at_ms: None,
        })
    }

    /// A round trip to the database (`SELECT 1`) on a pooled connection.
    async fn ping_writer(&self) -> StoreResult<()> {
        let client = self.client().await?;
        let answered = client
            .simple_query("SELECT 1")
            .await
            .map(drop)
            .map_err(|err| StoreError::Unavailable(format!("PostgreSQL does not answer: {err}")));
        discard_if_unavailable(client, &answered);
        answered
    }
}

/// Checks a database setting without connecting: a PostgreSQL URL (`postgres://` or
/// `postgresql://`) naming a host and a database. The answer never repeats the text (it may
/// hold a password).
pub fn check_database_url(text: &str) -> Result<(), String> {
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err("must be a PostgreSQL URL: postgres://user@host:5432/database".to_owned());
    }
    // sslmode and sslrootcert too: a CA file that cannot be read is said at the check.
    let (config, _) = tls::parse_database_url(text)?;
    if config.get_hosts().is_empty() {
        return Err("names no host".to_owned());
    }
    if config.get_dbname().is_none_or(str::is_empty) {
        return Err("names no database".to_owned());
    }
    Ok(())
}

/// The URL with any password replaced by `<redacted>`, to show or log.
pub fn redacted_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, hosts)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:<redacted>@{hosts}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail: Vec<String> = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((before, _)) => format!("{before}password=<redacted>"),
            None => part.to_owned(),
        })
        .collect();
    format!("{scheme}://{authority}{}", tail.join("&"))
}

#[cfg(test)]
mod url_tests {
    use super::{check_database_url, redacted_url};

    #[test]
    fn a_database_url_names_a_host_and_a_database() {
        assert!(
            check_database_url(
                "postgres://customs@db1:5432,db2:5432/customs?target_session_attrs=read-write"
            )
            .is_ok()
        );
        assert!(check_database_url("postgres://customs@db1/").is_err());
        assert!(check_database_url("mysql://customs@db1/customs").is_err());
        assert!(check_database_url("host=db1 dbname=customs").is_err());
    }

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            redacted_url("postgres://customs:s3cret@db1:5432/customs"),
            "postgres://customs:<redacted>@db1:5432/customs"
        );
        assert_eq!(
            redacted_url("postgres://db1/customs?user=customs&password=s3cret"),
            "postgres://db1/customs?user=customs&password=<redacted>"
        );
        assert_eq!(
            redacted_url("postgres://db1/customs"),
            "postgres://db1/customs"
        );
    }
}
