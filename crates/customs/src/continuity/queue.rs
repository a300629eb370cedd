//! The local durable queue of continuity: lodgings received while the central store was
//! unreachable, in a SQLite file of the instance's data folder, each committed (fsync'd, WAL
//! with `synchronous = FULL`) before the instance answers 202.
//!
//! One row per lodging, in receipt order (`seq`), unique on (scope, idempotency key): a resend
//! during the outage finds its first row and gets the same provisional reference. A row is
//! `queued` until the reconciler settles it `reconciled` (with the customs number) or `refused`
//! (with the reasons, in English and Chinese); settled rows are kept, so that the provisional
//! reference keeps answering.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{Connection, OptionalExtension, params};

/// The queue's file in the data folder. Never copy it to another instance's folder: its
/// instance id would then be two instances'.
pub const QUEUE_FILE: &str = "continuity-queue.sqlite";

/// Hex characters of a random instance id, made when the queue is created: 32 bits keep the
/// provisional references of a few hundred instances apart.
const INSTANCE_ID_HEX: usize = 8;

/// Where a queued lodging stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Queued,
    Reconciled,
    Refused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Reconciled => "reconciled",
            State::Refused => "refused",
        }
    }

    fn parse(text: &str) -> anyhow::Result<State> {
        match text {
            "queued" => Ok(State::Queued),
            "reconciled" => Ok(State::Reconciled),
            "refused" => Ok(State::Refused),
            other => anyhow::bail!("unknown continuity state {other:?}"),
        }
    }
}

/// A lodging as received in continuity.
#[derive(Debug, Clone)]
pub struct NewLodging {
    /// The idempotency scope: the caller's user id.
    pub scope: String,
    pub idempotency_key: String,
    /// The SHA-256 of the caller's bearer token: the token is never stored; the reconciler finds
    /// its principal again by it.
    pub token_hash: String,
    /// The lodging's request digest (`Clearance::check_at_the_door`).
    pub request_digest: String,
    pub body: Vec<u8>,
    pub received_at_ms: i64,
}

/// A lodging of the queue.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: i64,
    pub reference: String,
    pub scope: String,
    pub idempotency_key: String,
    pub token_hash: String,
    pub request_digest: String,
    pub body: Vec<u8>,
    pub received_at_ms: i64,
    pub state: State,
    /// Reconciled: the declaration's id and customs number.
    pub declaration_id: Option<String>,
    pub number: Option<String>,
    /// Refused: the reasons, a JSON object (code, messages, field errors).
    pub refusal: Option<String>,
    pub settled_at_ms: Option<i64>,
    /// Attempts that failed for a reason a retry may cure.
    pub attempts: u32,
}

/// What `enqueue` did.
#[derive(Debug)]
pub enum Enqueued {
    /// A new row, durable.
    New(Entry),
    /// The same request under the same key was received before: its row.
    Resent(Entry),
    /// The key was used before by this caller for another request.
    KeyReused,
    /// `queue_max` lodgings are queued already.
    Full,
}

pub struct Queue {
    connection: Mutex<Connection>,
    instance: String,
}

const COLUMNS: &str = "seq, reference, scope, idempotency_key, token_hash, request_digest, body, \
     received_at_ms, state, declaration_id, number, refusal, settled_at_ms, attempts";

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Entry, String)> {
    Ok((
        Entry {
            seq: row.get(0)?,
            reference: row.get(1)?,
            scope: row.get(2)?,
            idempotency_key: row.get(3)?,
            token_hash: row.get(4)?,
            request_digest: row.get(5)?,
            body: row.get(6)?,
            received_at_ms: row.get(7)?,
            state: State::Queued,
            declaration_id: row.get(9)?,
            number: row.get(10)?,
            refusal: row.get(11)?,
            settled_at_ms: row.get(12)?,
            attempts: row.get(13)?,
        },
        row.get(8)?,
    ))
}

fn with_state((mut entry, state): (Entry, String)) -> anyhow::Result<Entry> {
    entry.state = State::parse(&state)?;
    Ok(entry)
}

impl Queue {
    /// Opens the queue in `folder`, creating it (and the instance id) on first use.
    pub fn open(folder: &Path) -> anyhow::Result<Queue> {
        let path = folder.join(QUEUE_FILE);
        let connection = Connection::open(&path)
            .with_context(|| format!("opening the continuity queue {}", path.display()))?;
        // Acknowledged means durable: every commit is synced before `enqueue` returns.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS instance (id TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS lodgings (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 reference TEXT NOT NULL UNIQUE,
                 scope TEXT NOT NULL,
                 idempotency_key TEXT NOT NULL,
                 token_hash TEXT NOT NULL,
                 request_digest TEXT NOT NULL,
                 body BLOB NOT NULL,
                 received_at_ms INTEGER NOT NULL,
                 state TEXT NOT NULL CHECK (state IN ('queued', 'reconciled', 'refused')),
                 declaration_id TEXT,
                 number TEXT,
                 refusal TEXT,
                 settled_at_ms INTEGER,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 UNIQUE (scope, idempotency_key)
             );
             CREATE INDEX IF NOT EXISTS lodgings_queued ON lodgings (state, seq);
             CREATE TABLE IF NOT EXISTS trusted_tokens (
                 token_hash TEXT PRIMARY KEY,
                 principal TEXT NOT NULL,
                 verified_at_ms INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS kept (
                 name TEXT PRIMARY KEY,
                 value TEXT NOT NULL,
                 saved_at_ms INTEGER NOT NULL
             );",
        )?;
        let existing: Option<String> = connection
            .query_row("SELECT id FROM instance", [], |row| row.get(0))
            .optional()?;
        let instance = match existing {
            Some(id) => id,
            None => {
                let id: String = hex::encode(rand::random::<[u8; INSTANCE_ID_HEX / 2]>());
                connection.execute("INSERT INTO instance (id) VALUES (?1)", [&id])?;
                id
            }
        };
        crate::datadir::make_private(&path, 0o600)?;
        Ok(Queue {
            connection: Mutex::new(connection),
            instance,
        })
    }

    /// This instance's id, part of every provisional reference it gives.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic inside cannot leave a transaction half-done: SQLite rolls it back.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `lodging` unless its key was seen (then its first row, or `KeyReused`) or
    /// `queue_max` lodgings are already queued (`Full`). A new row is committed and synced
    /// before this returns.
    pub fn enqueue(&self, lodging: &NewLodging, queue_max: usize) -> anyhow::Result<Enqueued> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        let first = transaction
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM lodgings WHERE scope = ?1 AND idempotency_key = ?2"
                ),
                params![lodging.scope, lodging.idempotency_key],
                entry,
            )
            .optional()?;
        if let Some(first) = first {
            let first = with_state(first)?;
            if first.request_digest != lodging.request_digest {
                return Ok(Enqueued::KeyReused);
            }
            return Ok(Enqueued::Resent(first));
        }
        let queued: i64 = transaction.query_row(
            "SELECT count(*) FROM lodgings WHERE state = 'queued'",
            [],
            |row| row.get(0),
        )?;
        if queued as usize >= queue_max {
            return Ok(Enqueued::Full);
        }
        let next: i64 = transaction.query_row(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'lodgings'), 0) + 1",
            [],
            |row| row.get(0),
        )?;
        let reference = provisional_reference(&self.instance, next);
        transaction.execute(
            "INSERT INTO lodgings (seq, reference, scope, idempotency_key, token_hash, \
             request_digest, body, received_at_ms, state) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued')",
            params![
                next,
                reference,
                lodging.scope,
                lodging.idempotency_key,
                lodging.token_hash,
                lodging.request_digest,
                lodging.body,
                lodging.received_at_ms
            ],
        )?;
        transaction.commit()?;
        Ok(Enqueued::New(Entry {
            seq: next,
            reference,
            scope: lodging.scope.clone(),
            idempotency_key: lodging.idempotency_key.clone(),
            token_hash: lodging.token_hash.clone(),
            request_digest: lodging.request_digest.clone(),
            body: lodging.body.clone(),
            received_at_ms: lodging.received_at_ms,
            state: State::Queued,
            declaration_id: None,
            number: None,
            refusal: None,
            settled_at_ms: None,
            attempts: 0,
        }))
    }

    /// The oldest lodging still queued: the reconciler's next.
    pub fn next_queued(&self) -> anyhow::Result<Option<Entry>> {
        self.connection()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM lodgings WHERE state = 'queued' ORDER BY seq LIMIT 1"
                ),
                [],
                entry,
            )
            .optional()?
            .map(with_state)
            .transpose()
    }

    /// Lodgings queued now.
    pub fn queued(&self) -> anyhow::Result<u64> {
        let n: i64 = self.connection().query_row(
            "SELECT count(*) FROM lodgings WHERE state = 'queued'",
            [],
            |row| row.get(0),
        )?;
        Ok(n as u64)
    }

    /// The lodging given `reference`, if this instance gave it.
    pub fn by_reference(&self, reference: &str) -> anyhow::Result<Option<Entry>> {
        self.connection()
            .query_row(
                &format!("SELECT {COLUMNS} FROM lodgings WHERE reference = ?1"),
                [reference],
                entry,
            )
            .optional()?
            .map(with_state)
            .transpose()
    }

    /// The store accepted the lodging (now or before: a resend lodged directly). False if it
    /// was settled already (another process on the same folder got there first).
    pub fn settle_reconciled(
        &self,
        seq: i64,
        declaration_id: &str,
        number: &str,
        at_ms: i64,
    ) -> anyhow::Result<bool> {
        let changed = self.connection().execute(
            "UPDATE lodgings SET state = 'reconciled', declaration_id = ?2, number = ?3, \
             settled_at_ms = ?4 WHERE seq = ?1 AND state = 'queued'",
            params![seq, declaration_id, number, at_ms],
        )?;
        Ok(changed == 1)
    }

    /// The store refused the lodging: `refusal` says why (kept, shown on the reference). False
    /// if it was settled already.
    pub fn settle_refused(&self, seq: i64, refusal: &str, at_ms: i64) -> anyhow::Result<bool> {
        let changed = self.connection().execute(
            "UPDATE lodgings SET state = 'refused', refusal = ?2, settled_at_ms = ?3 \
             WHERE seq = ?1 AND state = 'queued'",
            params![seq, refusal, at_ms],
        )?;
        Ok(changed == 1)
    }

    /// Forgets the lodgings settled before `before_ms` (their declarations are in the store,
    /// found by number; a refusal was answered on the reference meanwhile); how many.
    pub fn prune_settled(&self, before_ms: i64) -> anyhow::Result<usize> {
        Ok(self.connection().execute(
            "DELETE FROM lodgings WHERE state <> 'queued' AND settled_at_ms < ?1",
            [before_ms],
        )?)
    }

    /// One more failed attempt that a retry may cure; the new count.
    pub fn count_attempt(&self, seq: i64) -> anyhow::Result<u32> {
        Ok(self.connection().query_row(
            "UPDATE lodgings SET attempts = attempts + 1 WHERE seq = ?1 RETURNING attempts",
            [seq],
            |row| row.get(0),
        )?)
    }

    /// Test support: `n` queued lodgings of one scope in one transaction, without a sync each
    /// (filling a queue to its limit one commit at a time would take minutes).
    #[cfg(test)]
    pub fn fill_for_test(&self, n: usize) -> anyhow::Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        for i in 0..n {
            let seq: i64 = transaction.query_row(
                "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'lodgings'), 0) + 1",
                [],
                |row| row.get(0),
            )?;
            transaction.execute(
                "INSERT INTO lodgings (seq, reference, scope, idempotency_key, token_hash, \
                 request_digest, body, received_at_ms, state) \
                 VALUES (?1, ?2, 'filler', ?3, '', '', x'', 0, 'queued')",
                params![
                    seq,
                    provisional_reference(&self.instance, seq),
                    format!("fill-{i}")
                ],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }
}

/// What continuity keeps besides the queue, for an instance that starts while the store is
/// unreachable: the tokens it verified (by their hash, with the principal found, never the
/// token) and the code lists it last read. In the same file (0600) as the queue, which already
/// holds the trade's declarations; a token's hash does not let anyone present the token.
impl Queue {
    /// Remembers (or refreshes) a token verified against the store at `at_ms` (wall clock).
    pub fn keep_token(&self, token_hash: &str, principal: &str, at_ms: i64) -> anyhow::Result<()> {
        self.connection().execute(
            "INSERT INTO trusted_tokens (token_hash, principal, verified_at_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (token_hash) DO UPDATE SET principal = ?2, verified_at_ms = ?3",
            params![token_hash, principal, at_ms],
        )?;
        Ok(())
    }

    pub fn forget_token(&self, token_hash: &str) -> anyhow::Result<()> {
        self.connection().execute(
            "DELETE FROM trusted_tokens WHERE token_hash = ?1",
            [token_hash],
        )?;
        Ok(())
    }

    /// Forgets the tokens verified before `before_ms` and all but the `max` most recent.
    pub fn prune_tokens(&self, before_ms: i64, max: usize) -> anyhow::Result<()> {
        self.connection().execute(
            "DELETE FROM trusted_tokens WHERE verified_at_ms < ?1 OR token_hash NOT IN \
             (SELECT token_hash FROM trusted_tokens ORDER BY verified_at_ms DESC LIMIT ?2)",
            params![before_ms, max as i64],
        )?;
        Ok(())
    }

    /// [`Self::prune_tokens`], then the rest, newest first: (hash, principal, verified at).
    pub fn kept_tokens(
        &self,
        before_ms: i64,
        max: usize,
    ) -> anyhow::Result<Vec<(String, String, i64)>> {
        self.prune_tokens(before_ms, max)?;
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT token_hash, principal, verified_at_ms FROM trusted_tokens \
             ORDER BY verified_at_ms DESC",
        )?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Keeps `value` under `name` (replacing it), saved at `at_ms`.
    pub fn keep(&self, name: &str, value: &str, at_ms: i64) -> anyhow::Result<()> {
        self.connection().execute(
            "INSERT INTO kept (name, value, saved_at_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET value = ?2, saved_at_ms = ?3",
            params![name, value, at_ms],
        )?;
        Ok(())
    }

    /// Marks what is kept under `name` as still current at `at_ms`.
    pub fn touch(&self, name: &str, at_ms: i64) -> anyhow::Result<()> {
        self.connection().execute(
            "UPDATE kept SET saved_at_ms = ?2 WHERE name = ?1",
            params![name, at_ms],
        )?;
        Ok(())
    }

    /// What is kept under `name`, and when it was saved.
    pub fn kept(&self, name: &str) -> anyhow::Result<Option<(String, i64)>> {
        Ok(self
            .connection()
            .query_row(
                "SELECT value, saved_at_ms FROM kept WHERE name = ?1",
                [name],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }
}

/// `CP-<instance>-<seq>`: continuity's provisional reference (应急受理编号), unique across
/// instances by the instance id and within one by the queue's sequence. Never a customs number,
/// whose format it cannot be mistaken for.
pub fn provisional_reference(instance: &str, seq: i64) -> String {
    format!("CP-{instance}-{seq:09}")
}

/// Whether `text` has the form of a provisional reference (`CP-` then the instance and seq).
pub fn is_provisional_reference(text: &str) -> bool {
    text.strip_prefix("CP-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(instance, seq)| {
            instance.len() == INSTANCE_ID_HEX
                && instance.bytes().all(|b| b.is_ascii_hexdigit())
                && !seq.is_empty()
                && seq.bytes().all(|b| b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lodging(key: &str, body: &str) -> NewLodging {
        NewLodging {
            scope: "user-1".into(),
            idempotency_key: key.into(),
            token_hash: "h".into(),
            request_digest: format!("digest of {body}"),
            body: body.as_bytes().to_vec(),
            received_at_ms: 1_000,
        }
    }

    #[test]
    fn a_resend_gets_its_first_row_and_another_request_under_the_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let Enqueued::New(first) = queue.enqueue(&lodging("k1", "a"), 10).unwrap() else {
            panic!("new")
        };
        assert!(
            is_provisional_reference(&first.reference),
            "{}",
            first.reference
        );
        assert!(first.reference.contains(queue.instance()));
        let Enqueued::Resent(again) = queue.enqueue(&lodging("k1", "a"), 10).unwrap() else {
            panic!("resent")
        };
        assert_eq!(again.reference, first.reference);
        assert!(matches!(
            queue.enqueue(&lodging("k1", "b"), 10).unwrap(),
            Enqueued::KeyReused
        ));
        assert_eq!(queue.queued().unwrap(), 1);
    }

    #[test]
    fn the_queue_survives_reopening_in_receipt_order_with_its_instance() {
        let dir = tempfile::tempdir().unwrap();
        let (instance, references) = {
            let queue = Queue::open(dir.path()).unwrap();
            let mut references = Vec::new();
            for key in ["k1", "k2", "k3"] {
                let Enqueued::New(entry) = queue.enqueue(&lodging(key, key), 10).unwrap() else {
                    panic!("new")
                };
                references.push(entry.reference);
            }
            (queue.instance().to_owned(), references)
        };
        let queue = Queue::open(dir.path()).unwrap();
        assert_eq!(queue.instance(), instance);
        let next = queue.next_queued().unwrap().unwrap();
        assert_eq!(next.reference, references[0]);
        queue
            .settle_reconciled(next.seq, "id-1", "220020261000000001", 2_000)
            .unwrap();
        let next = queue.next_queued().unwrap().unwrap();
        assert_eq!(next.reference, references[1]);
        queue.settle_refused(next.seq, "{}", 2_000).unwrap();
        assert_eq!(
            queue.next_queued().unwrap().unwrap().reference,
            references[2]
        );
        assert_eq!(queue.queued().unwrap(), 1);
        let settled = queue.by_reference(&references[0]).unwrap().unwrap();
        assert_eq!(settled.state, State::Reconciled);
        assert_eq!(settled.number.as_deref(), Some("220020261000000001"));
        assert_eq!(
            queue.by_reference(&references[1]).unwrap().unwrap().state,
            State::Refused
        );
        // A settled row is never settled again.
        assert!(!queue.settle_refused(settled.seq, "{}", 3_000).unwrap());
        assert_eq!(
            queue.by_reference(&references[0]).unwrap().unwrap().state,
            State::Reconciled
        );
    }

    #[test]
    fn the_queue_takes_lodgings_up_to_its_limit_and_refuses_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let max = super::super::CONTINUITY_QUEUE_MAX;
        queue.fill_for_test(max - 1).unwrap();
        assert!(matches!(
            queue.enqueue(&lodging("last", "x"), max).unwrap(),
            Enqueued::New(_)
        ));
        assert_eq!(queue.queued().unwrap(), max as u64);
        assert!(matches!(
            queue.enqueue(&lodging("one-more", "y"), max).unwrap(),
            Enqueued::Full
        ));
        // A resend of a queued lodging is still answered when the queue is full.
        assert!(matches!(
            queue.enqueue(&lodging("last", "x"), max).unwrap(),
            Enqueued::Resent(_)
        ));
        // Settling one makes room for one.
        let first = queue.next_queued().unwrap().unwrap();
        queue.settle_reconciled(first.seq, "id", "n", 1).unwrap();
        assert!(matches!(
            queue.enqueue(&lodging("one-more", "y"), max).unwrap(),
            Enqueued::New(_)
        ));
    }

    #[test]
    fn settled_lodgings_are_kept_for_their_period_and_queued_ones_always() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        let kept_ms = super::super::CONTINUITY_SETTLED_KEPT.as_millis() as i64;
        let now_ms = 10 * kept_ms;
        let mut references = Vec::new();
        for key in ["old", "edge", "queued"] {
            let Enqueued::New(entry) = queue.enqueue(&lodging(key, key), 10).unwrap() else {
                panic!("new")
            };
            references.push(entry);
        }
        queue
            .settle_reconciled(references[0].seq, "id", "n", now_ms - kept_ms - 1)
            .unwrap();
        queue
            .settle_refused(references[1].seq, "{}", now_ms - kept_ms)
            .unwrap();
        assert_eq!(queue.prune_settled(now_ms - kept_ms).unwrap(), 1);
        assert!(
            queue
                .by_reference(&references[0].reference)
                .unwrap()
                .is_none()
        );
        assert!(
            queue
                .by_reference(&references[1].reference)
                .unwrap()
                .is_some()
        );
        assert!(
            queue
                .by_reference(&references[2].reference)
                .unwrap()
                .is_some()
        );
        // A new row after pruning never takes a pruned row's reference.
        let Enqueued::New(next) = queue.enqueue(&lodging("next", "next"), 10).unwrap() else {
            panic!("new")
        };
        assert!(next.seq > references[2].seq);
    }

    #[test]
    fn kept_tokens_are_forgotten_past_their_trust_and_beyond_their_most() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(dir.path()).unwrap();
        for (hash, at) in [("a", 100), ("b", 200), ("c", 300), ("d", 400)] {
            queue.keep_token(hash, "{}", at).unwrap();
        }
        // Verified at 200 is kept when the trust starts at 200, not at 201.
        let kept = queue.kept_tokens(200, 10).unwrap();
        let hashes: Vec<&str> = kept.iter().map(|(h, _, _)| h.as_str()).collect();
        assert_eq!(hashes, ["d", "c", "b"]);
        // At most `max`, the most recent.
        let kept = queue.kept_tokens(0, 2).unwrap();
        let hashes: Vec<&str> = kept.iter().map(|(h, _, _)| h.as_str()).collect();
        assert_eq!(hashes, ["d", "c"]);
        queue.forget_token("d").unwrap();
        queue.keep_token("c", "{\"x\":1}", 500).unwrap();
        assert_eq!(
            queue.kept_tokens(0, 10).unwrap(),
            [("c".to_owned(), "{\"x\":1}".to_owned(), 500)]
        );
        // Kept values survive reopening; `touch` renews only their age.
        queue.keep("code_lists", "[]", 10).unwrap();
        queue.touch("code_lists", 20).unwrap();
        queue.touch("absent", 20).unwrap();
        drop(queue);
        let queue = Queue::open(dir.path()).unwrap();
        assert_eq!(
            queue.kept("code_lists").unwrap(),
            Some(("[]".to_owned(), 20))
        );
        assert_eq!(queue.kept("absent").unwrap(), None);
    }

    #[test]
    fn provisional_references_are_told_from_numbers_and_ids() {
        assert!(is_provisional_reference("CP-0a1b2c3d-000000001"));
        assert!(!is_provisional_reference("220020261000000002"));
        assert!(!is_provisional_reference(
            "0193a1b2-0000-7000-8000-000000000000"
        ));
        assert!(!is_provisional_reference("CP-xyz-1"));
        assert!(!is_provisional_reference("CP-0a1b2c3d-"));
    }
}
