//! The writer thread: the only connection that writes, fed over a channel.
//!
//! One thread owning one connection makes the chain's "seq = head + 1" trivially race-free within
//! the process, and lets the writer group waiting requests into one transaction: one fsync for the
//! batch instead of one per request (group commit), which is what makes `synchronous=FULL`
//! affordable. Each request runs in its own savepoint so a refused request rolls back alone.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use audit::{AuditSigner, ChainHead, Checkpoint};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use store::{
    Append, AppendOutcome, CbecBooking, CbecBookingOutcome, SearchKeys, StoreError, StoreResult,
};
use tokio::sync::oneshot;

use crate::checkpoint::{self, ChainPosition, CheckpointPolicy};
use crate::fault::{Fault, is_busy, store_error};
use crate::stats::{RunningGuard, WriterStats};
use crate::{SqliteOptions, append, cbec, rows};

pub(crate) enum Command {
    Write(WriteRequest),
    CheckpointNow(oneshot::Sender<StoreResult<Option<Checkpoint>>>),
    /// Answered as soon as the writer takes it: readiness, a round trip that writes nothing.
    Ping(oneshot::Sender<()>),
    /// Drain the queue, sign a final checkpoint and stop; `None` when sent by `Drop`.
    Close(Option<oneshot::Sender<()>>),
}

/// A request that changes data and is committed as part of a batch.
pub(crate) enum WriteRequest {
    Append {
        append: Box<Append>,
        /// Read from `append` by the caller's task, off the writer thread.
        keys: SearchKeys,
        reply: oneshot::Sender<StoreResult<AppendOutcome>>,
    },
    ReserveSerials {
        counter_key: String,
        count: u64,
        reply: oneshot::Sender<StoreResult<u64>>,
    },
    BookCbec {
        booking: Box<CbecBooking>,
        reply: oneshot::Sender<StoreResult<CbecBookingOutcome>>,
    },
    /// Webhook delivery state: operational, not part of the chain.
    Delivery {
        change: Box<store::DeliveryChange>,
        reply: oneshot::Sender<StoreResult<bool>>,
    },
}

/// What a write request produced, before its reply is sent (only after COMMIT).
enum Done {
    Append(AppendOutcome),
    Serials(u64),
    Cbec(CbecBookingOutcome),
    Delivery(bool),
}

impl Done {
    /// Duplicates and version conflicts write nothing, even if a linked event was written before
    /// the conflict was found; neither do refused or repeated CBEC bookings.
    fn keeps_writes(&self) -> bool {
        !matches!(
            self,
            Done::Append(
                AppendOutcome::Duplicate { .. }
                    | AppendOutcome::VersionConflict { .. }
                    | AppendOutcome::CbecLimitExceeded { .. }
                    | AppendOutcome::CbecOrderBooked { .. }
                    | AppendOutcome::GuaranteeExhausted { .. }
                    | AppendOutcome::CebDocumentAlready { .. }
            ) | Done::Cbec(
                CbecBookingOutcome::Exceeded { .. } | CbecBookingOutcome::Duplicate { .. }
            )
        )
    }
}

impl WriteRequest {
    fn reply(self, result: StoreResult<Done>) {
        // A caller that stopped waiting (its request was cancelled) is not an error here: the
        // write is durable either way, and a retry with the same key will find it.
        match (self, result) {
            (WriteRequest::Append { reply, .. }, Ok(Done::Append(outcome))) => {
                let _ = reply.send(Ok(outcome));
            }
            (WriteRequest::Append { reply, .. }, Err(err)) => {
                let _ = reply.send(Err(err));
            }
            (WriteRequest::ReserveSerials { reply, .. }, Ok(Done::Serials(first))) => {
                let _ = reply.send(Ok(first));
            }
            (WriteRequest::ReserveSerials { reply, .. }, Err(err)) => {
                let _ = reply.send(Err(err));
            }
            (WriteRequest::BookCbec { reply, .. }, Ok(Done::Cbec(outcome))) => {
                let _ = reply.send(Ok(outcome));
            }
            (WriteRequest::BookCbec { reply, .. }, Err(err)) => {
                let _ = reply.send(Err(err));
            }
            (WriteRequest::Delivery { reply, .. }, Ok(Done::Delivery(changed))) => {
                let _ = reply.send(Ok(changed));
            }
            (WriteRequest::Delivery { reply, .. }, Err(err)) => {
                let _ = reply.send(Err(err));
            }
            _ => unreachable!("a write request received the outcome of another kind of request"),
        }
    }
}

enum Next {
    Command(Command),
    /// Nothing arrived for a while: a time-based checkpoint may be due.
    Idle,
    /// The queue is drained after a close, or every handle is gone.
    Finished,
}

pub(crate) struct Writer {
    conn: Connection,
    signer: AuditSigner,
    commands: Receiver<Command>,
    batch_max: usize,
    policy: CheckpointPolicy,
    /// The chain as of the last commit by this writer; `None` before the first batch.
    position: Option<ChainPosition>,
    started_at_ms: i64,
    /// A non-write command met while collecting a batch; handled right after that batch so it
    /// sees every write queued before it.
    deferred: Option<Command>,
    closing: bool,
    closers: Vec<oneshot::Sender<()>>,
    stats: Arc<WriterStats>,
    /// The WAL file and its bound: past it, batches are refused until a checkpoint truncates it.
    wal: Option<std::path::PathBuf>,
    wal_bytes_max: u64,
    /// From this many bytes of frames the writer restarts the WAL itself between batches (see
    /// `restart_wal`).
    wal_truncate_at: u64,
    /// The database's page size: a WAL frame holds one page.
    page_bytes: u64,
}

thread_local! {
    /// Frames in the WAL after the last commit on this thread's connection, as SQLite's WAL hook
    /// reports it (`sqlite3_wal_hook`): the log's content, which its file size no longer tells
    /// once the log is reused from its beginning. Only the writer thread commits.
    static WAL_FRAMES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// SQLite's WAL hook (a plain `fn`: the hook carries no state, so the count lives in a
/// thread-local of the committing thread).
fn record_wal_frames(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|f| f.set(u64::try_from(frames).unwrap_or(0)));
    Ok(())
}

fn wal_frames_after_last_commit() -> u64 {
    WAL_FRAMES.with(std::cell::Cell::get)
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        signer: AuditSigner,
        options: &SqliteOptions,
        commands: Receiver<Command>,
        stats: Arc<WriterStats>,
    ) -> Writer {
        let truncate_at = crate::wal_truncate_at(options.wal_bytes_max);
        // After the WAL restarts, its first commit cuts the file back to this size (SQLite's
        // `journal_size_limit`): the reused log stays bounded without being truncated to zero.
        if let Err(err) = conn.pragma_update(
            None,
            "journal_size_limit",
            i64::try_from(truncate_at).unwrap_or(i64::MAX),
        ) {
            tracing::warn!(error = %err, "could not set the WAL's size limit");
        }
        // Set after `wal_autocheckpoint` (in `open_writer`), which installs a hook of its own.
        conn.wal_hook(Some(record_wal_frames));
        let page_bytes = conn
            .pragma_query_value(None, "page_size", |row| row.get::<_, i64>(0))
            .ok()
            .and_then(|b| u64::try_from(b).ok())
            .filter(|b| *b > 0)
            .unwrap_or(4096);
        Writer {
            signer,
            commands,
            batch_max: options.batch_max.max(1),
            policy: CheckpointPolicy {
                every_entries: options.checkpoint_every_entries,
                every_ms: options.checkpoint_every_ms,
            },
            position: None,
            started_at_ms: now_ms(),
            deferred: None,
            closing: false,
            closers: Vec::new(),
            stats,
            wal: conn
                .path()
                .filter(|p| !p.is_empty())
                .map(|p| crate::wal::wal_path(std::path::Path::new(p))),
            wal_bytes_max: options.wal_bytes_max,
            wal_truncate_at: crate::wal_truncate_at(options.wal_bytes_max),
            page_bytes,
            conn,
        }
    }

    pub(crate) fn run(mut self) {
        let _span = tracing::info_span!("store_writer").entered();
        let stats = Arc::clone(&self.stats);
        let running = RunningGuard(&stats);
        // A tail left unsigned (the last run crashed) is signed now, so the chain never stays
        // unsigned longer than the checkpoint bound once the store is open again.
        if let Err(err) = self.checkpoint_now() {
            tracing::warn!(error = %err, "could not sign the unsigned tail at start");
        }
        loop {
            match self.next_command() {
                Next::Command(Command::Write(first)) => self.group_commit(first),
                Next::Command(Command::CheckpointNow(reply)) => {
                    let _ = reply.send(self.checkpoint_now());
                }
                Next::Command(Command::Ping(reply)) => {
                    let _ = reply.send(());
                }
                Next::Command(Command::Close(closer)) => {
                    self.closing = true;
                    self.closers.extend(closer);
                }
                Next::Idle => self.checkpoint_if_due(),
                Next::Finished => break,
            }
        }
        // The last head is signed so that a deleted tail is detectable after a restart.
        if let Err(err) = self.checkpoint_now() {
            tracing::warn!(error = %err, "could not sign the final audit checkpoint");
        }
        // Stopped before anyone waiting for the close hears of it.
        drop(running);
        for closer in self.closers.drain(..) {
            let _ = closer.send(());
        }
        tracing::info!("store writer stopped");
    }

    fn next_command(&mut self) -> Next {
        if let Some(command) = self.deferred.take() {
            return Next::Command(command);
        }
        if self.closing {
            // Requests queued before (or while) closing are still served, then we stop.
            return self
                .commands
                .try_recv()
                .map_or(Next::Finished, Next::Command);
        }
        match self.commands.recv_timeout(self.idle_wait()) {
            Ok(command) => Next::Command(command),
            Err(RecvTimeoutError::Timeout) => Next::Idle,
            Err(RecvTimeoutError::Disconnected) => Next::Finished,
        }
    }

    fn idle_wait(&self) -> Duration {
        let ms = u64::try_from(self.policy.every_ms).unwrap_or(0);
        Duration::from_millis(ms.max(10))
    }

    fn group_commit(&mut self, first: WriteRequest) {
        let batch = self.collect_batch(first);
        self.stats.dequeued(batch.len());
        let _span = tracing::debug_span!("group_commit", requests = batch.len()).entered();
        if let Some(bytes) = self.wal_over_bound() {
            refuse_all(batch, bytes, self.wal_bytes_max);
            return;
        }
        let started = Instant::now();
        let committed = self.commit(&batch);
        self.stats
            .commit_seconds
            .record(started.elapsed().as_secs_f64());
        self.stats.batch_sizes.record(batch.len() as f64);
        match committed {
            Ok(results) => {
                for (request, result) in batch.into_iter().zip(results) {
                    request.reply(result);
                }
            }
            Err(err) if batch.len() > 1 && !is_busy(&err) => self.retry_alone(batch, &err),
            Err(err) => fail_all(batch, &err),
        }
        self.checkpoint_if_due();
        self.restart_wal();
    }

    /// Copies the WAL back and restarts it from its beginning once it holds `wal_truncate_at`
    /// bytes of frames. Done here, between batches, because a busy writer holds the write lock
    /// nearly all the time: the checkpoint thread, which needs that lock, rarely got it under
    /// sustained lodging (the WAL reached 174 MB with a truncation due from 64 MiB). The
    /// checkpoint thread's PASSIVE copies keep what is left to copy here small; readers on an
    /// older snapshot are waited for at most `WAL_TRUNCATE_WAIT`, then the restart waits for a
    /// later batch.
    ///
    /// A RESTART, not a TRUNCATE: the next commits overwrite the log's first frames in place, in
    /// pages the kernel already holds, where a truncated log made every commit grow the file
    /// again (block allocation and zeroed pages: ~10 % of the writer's CPU at full speed). The
    /// file keeps its size, cut back to `wal_truncate_at` by `journal_size_limit` (set in
    /// `Writer::new`) at the first commit after a restart, so it stays bounded all the same.
    fn restart_wal(&mut self) {
        if self.wal.is_none() {
            return;
        }
        let frames = wal_frames_after_last_commit();
        if frames.saturating_mul(self.page_bytes) < self.wal_truncate_at {
            return;
        }
        let _ = self.conn.busy_timeout(crate::wal::WAL_TRUNCATE_WAIT);
        let outcome = crate::wal::checkpoint_recorded(&self.conn, "RESTART", &self.stats);
        let _ = self.conn.busy_timeout(crate::connection::BUSY_TIMEOUT);
        match outcome {
            // Restarted: the next commit writes from the log's beginning.
            Ok(()) => WAL_FRAMES.with(|f| f.set(0)),
            // Readers on an older snapshot, or a busy database: retried after a later batch.
            Err(err) => tracing::debug!(error = %err, "WAL restart postponed"),
        }
    }

    /// The WAL's size when it is at or past its bound (checked before each batch, so the log
    /// exceeds the bound by one batch at most).
    fn wal_over_bound(&self) -> Option<u64> {
        let bytes = crate::wal::wal_bytes(self.wal.as_deref()?);
        (bytes >= self.wal_bytes_max).then_some(bytes)
    }

    fn collect_batch(&mut self, first: WriteRequest) -> Vec<WriteRequest> {
        let mut batch = vec![first];
        while batch.len() < self.batch_max {
            match self.commands.try_recv() {
                Ok(Command::Write(request)) => batch.push(request),
                Ok(other) => {
                    self.deferred = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        batch
    }

    /// One transaction for the whole batch. Replies are returned, not sent: the caller sends
    /// them only after COMMIT has returned, so an acknowledged write is on disk.
    fn commit(&mut self, batch: &[WriteRequest]) -> anyhow::Result<Vec<StoreResult<Done>>> {
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Under the write lock, the stored head is the truth: another process may have appended.
        let mut head = rows::chain_head(&tx)?;
        let last_checkpoint = rows::last_checkpoint(&tx)?;
        let mut results = Vec::with_capacity(batch.len());
        for request in batch {
            results.push(execute_in_savepoint(&mut tx, request, &mut head)?);
        }
        tx.commit()?;
        self.position = Some(ChainPosition {
            head_seq: head.seq,
            last_checkpoint_seq: last_checkpoint.map_or(0, |(seq, _)| seq),
            last_checkpoint_at_ms: last_checkpoint.map_or(self.started_at_ms, |(_, at)| at),
        });
        Ok(results)
    }

    fn retry_alone(&mut self, batch: Vec<WriteRequest>, err: &anyhow::Error) {
        tracing::warn!(
            error = format!("{err:#}"),
            requests = batch.len(),
            "group commit failed; retrying each request alone"
        );
        for request in batch {
            let result = match self.commit(std::slice::from_ref(&request)) {
                Ok(mut results) => results.pop().expect("one result per request"),
                Err(err) => Err(store_error(err)),
            };
            request.reply(result);
        }
    }

    fn checkpoint_if_due(&mut self) {
        let Some(position) = self.position else {
            return;
        };
        let now = now_ms();
        if !self.policy.is_due(&position, now) {
            return;
        }
        match checkpoint::sign_head(&mut self.conn, &self.signer, now) {
            Ok(_) => self.note_checkpoint(now),
            // Not fatal: the chain is intact, only less pinned; the next commit tries again.
            Err(err) => tracing::warn!(error = format!("{err:#}"), "could not sign a checkpoint"),
        }
    }

    fn checkpoint_now(&mut self) -> StoreResult<Option<Checkpoint>> {
        let now = now_ms();
        let signed =
            checkpoint::sign_head(&mut self.conn, &self.signer, now).map_err(store_error)?;
        self.note_checkpoint(now);
        Ok(signed)
    }

    /// After signing (or finding the stored head already signed, perhaps by another process),
    /// nothing is due until this writer commits new entries.
    fn note_checkpoint(&mut self, now: i64) {
        if let Some(position) = &mut self.position {
            position.last_checkpoint_seq = position.head_seq;
            position.last_checkpoint_at_ms = now;
        }
    }
}

/// Runs one request in its own savepoint: kept if it wrote something, rolled back (with the
/// in-memory head) if refused. A database fault aborts the whole batch.
fn execute_in_savepoint(
    tx: &mut Transaction<'_>,
    request: &WriteRequest,
    head: &mut ChainHead,
) -> anyhow::Result<StoreResult<Done>> {
    let mut savepoint = tx.savepoint()?;
    let before = *head;
    let result = match execute(&savepoint, request, head) {
        Ok(done) => Ok(done),
        Err(Fault::Refused(err)) => Err(err),
        Err(Fault::Database(err)) => return Err(err),
    };
    if !matches!(&result, Ok(done) if done.keeps_writes()) {
        *head = before;
        savepoint.rollback()?;
    }
    savepoint.commit()?;
    Ok(result)
}

fn execute(conn: &Connection, request: &WriteRequest, head: &mut ChainHead) -> Result<Done, Fault> {
    match request {
        WriteRequest::Append { append, keys, .. } => {
            append::record(conn, append, keys, head).map(Done::Append)
        }
        WriteRequest::ReserveSerials {
            counter_key, count, ..
        } => reserve_serials(conn, counter_key, *count).map(Done::Serials),
        WriteRequest::BookCbec { booking, .. } => cbec::book(conn, booking, head).map(Done::Cbec),
        WriteRequest::Delivery { change, .. } => {
            crate::delivery::change(conn, change).map(Done::Delivery)
        }
    }
}

/// Hands out `count` serials from the stored counter (a fresh counter starts at 1). The counter
/// moves forward durably before anyone sees the serials, so none is handed out twice.
fn reserve_serials(conn: &Connection, counter_key: &str, count: u64) -> Result<u64, Fault> {
    let next: Option<u64> = conn
        .prepare_cached("SELECT next_serial FROM counters WHERE counter_key = ?1")?
        .query_row([counter_key], |row| row.get(0))
        .optional()?;
    let first = next.unwrap_or(1);
    let after = first
        .checked_add(count)
        .filter(|after| i64::try_from(*after).is_ok())
        .ok_or_else(|| {
            let message = format!("numbering counter {counter_key} would run out of serials");
            Fault::Refused(StoreError::Other(anyhow::anyhow!(message)))
        })?;
    let sql = "INSERT INTO counters (counter_key, next_serial) VALUES (?1, ?2) \
         ON CONFLICT (counter_key) DO UPDATE SET next_serial = excluded.next_serial";
    conn.prepare_cached(sql)?.execute((counter_key, after))?;
    Ok(first)
}

/// Replies with the batch's error to everyone (a lock held elsewhere, or a single request).
fn fail_all(batch: Vec<WriteRequest>, err: &anyhow::Error) {
    let busy = is_busy(err);
    let message = format!("{err:#}");
    tracing::warn!(error = message, requests = batch.len(), "write failed");
    for request in batch {
        let error = if busy {
            StoreError::Unavailable(format!(
                "the database is locked by another writer: {message}"
            ))
        } else {
            StoreError::Other(anyhow::anyhow!("{message}"))
        };
        request.reply(Err(error));
    }
}

/// Refuses a batch while the WAL is past its bound: backpressure before the disk fills. The
/// caller retries (503 + Retry-After) once the checkpoint thread truncated the log.
fn refuse_all(batch: Vec<WriteRequest>, bytes: u64, bound: u64) {
    tracing::warn!(
        wal_bytes = bytes,
        wal_bytes_max = bound,
        requests = batch.len(),
        "write-ahead log past its bound: writes refused until a checkpoint truncates it"
    );
    for request in batch {
        request.reply(Err(StoreError::Unavailable(format!(
            "the store's write-ahead log ({bytes} bytes) is past its bound of {bound} bytes \
             until a checkpoint copies it back; retry shortly"
        ))));
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
