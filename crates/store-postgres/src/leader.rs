//! One instance at a time: the work that several instances on one database must not all do
//! (the event relay to NATS, the hourly drift check) runs where this process holds a
//! session-level advisory lock, on a connection of its own outside the pool.
//!
//! PostgreSQL releases a session's advisory locks when the session ends, whatever ends it (the
//! process killed, the machine gone, the connection cut), so a leader that dies hands over
//! without anyone deciding it: a follower asks again every [`LEADER_RETRY`] and gets the lock
//! once the server has closed the dead leader's session. A leader notices that it lost its
//! connection within [`LEADER_HEARTBEAT`] + [`LEADER_HEARTBEAT_TIMEOUT`] and stops leading,
//! then tries again like any follower. The locks are per database: instances on different
//! databases never wait for each other.
//!
//! Between a leader's session ending on the server and the leader noticing, both may believe
//! they lead for at most the heartbeat's bound: what is led must be safe then too (the relay
//! publishes with JetStream's expected sequence, so a second relay's publishes are refused, not
//! repeated; a drift check run twice records two checks, nothing wrong).

use std::time::Duration;

use crate::tls::{PostgresTls, parse_database_url};
use tokio::sync::watch;

/// What one leadership is for: its advisory lock's key (documented in docs/operations.md,
/// Many instances; any constant all processes share, distinct from the store's own locks) and
/// a name for logs and the connection's `application_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderLock {
    pub key: i64,
    pub name: &'static str,
}

/// The event relay to NATS JetStream (`serve --bus`): one instance publishes.
pub const RELAY_LEADER: LeaderLock = LeaderLock {
    key: 0x0C05_B005,
    name: "relay",
};

/// The hourly drift check of the active model: one instance checks.
pub const DRIFT_LEADER: LeaderLock = LeaderLock {
    key: 0x0C05_D21F,
    name: "drift",
};

/// How often a follower asks for the lock again, and how long after losing its connection a
/// leadership waits before connecting again.
pub const LEADER_RETRY: Duration = Duration::from_secs(1);

/// How often the leader's connection is asked a trivial query: a connection that died without
/// a word is noticed within this and [`LEADER_HEARTBEAT_TIMEOUT`].
pub const LEADER_HEARTBEAT: Duration = Duration::from_secs(1);

/// How long the heartbeat's answer (or the lock's) may take before the connection counts as
/// lost.
pub const LEADER_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a follower takes to lead once the leader's session has ended on the server (a
/// process killed: at once, its socket closes): one retry, a connection and the lock's answer.
pub const LEADER_TAKEOVER_MAX: Duration = Duration::from_secs(1 + 5 + 2);

/// The `application_name` of a leadership's connection (in `pg_stat_activity`): the lock's name
/// and this process's id, so an operator (and a test) sees which instance leads.
pub fn leader_application_name(lock: LeaderLock) -> String {
    format!("customs-{}-leader:{}", lock.name, std::process::id())
}

/// A leadership in progress: whether this process holds the lock now. The lock is given up
/// (its connection closed) when this is dropped or [`Leadership::stop`]ped.
pub struct Leadership {
    leading: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Starts asking for `lock` on the database at `url` (a `serve.database` URL), and keeps
    /// asking: never gives up.
    pub fn for_url(url: &str, lock: LeaderLock) -> anyhow::Result<Leadership> {
        let (config, tls) =
            parse_database_url(url).map_err(|err| anyhow::anyhow!("the database URL {err}"))?;
        Ok(Leadership::start_with_tls(config, tls, lock))
    }

    /// As [`Leadership::for_url`], with a parsed configuration.
    pub fn start(config: tokio_postgres::Config, lock: LeaderLock) -> Leadership {
        let tls = PostgresTls::unverified(&config);
        Leadership::start_with_tls(config, tls, lock)
    }

    /// As [`Leadership::start`], with the TLS connector given.
    pub fn start_with_tls(
        mut config: tokio_postgres::Config,
        tls: PostgresTls,
        lock: LeaderLock,
    ) -> Leadership {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_millis(crate::CONNECT_TIMEOUT_MS));
        }
        config.application_name(leader_application_name(lock));
        let (sender, leading) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let error = lead_once(&config, &tls, lock, &sender).await;
                tracing::debug!(lock = lock.name, error = %format!("{error:#}"), "leadership: asking again");
                tokio::time::sleep(LEADER_RETRY).await;
            }
        });
        Leadership { leading, task }
    }

    /// Whether this process holds the lock now.
    pub fn is_leading(&self) -> bool {
        *self.leading.borrow()
    }

    /// Follows the leadership: `true` while this process holds the lock. Once the leadership
    /// is stopped the receiver's `changed` fails.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Gives the lock up (closes its connection): another instance leads within
    /// [`LEADER_TAKEOVER_MAX`].
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // The task owns the connection: aborting it closes the session, which frees the lock.
        self.task.abort();
    }
}

/// Aborts the connection's driver when dropped (the leadership's task aborted mid-await).
struct Driver(tokio::task::JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One connection's life: connect, ask for the lock until granted, then hold it (heartbeat)
/// until the connection fails.
async fn lead_once(
    config: &tokio_postgres::Config,
    tls: &PostgresTls,
    lock: LeaderLock,
    leading: &watch::Sender<bool>,
) -> anyhow::Error {
    let (client, connection) = match config.connect(tls.clone()).await {
        Ok(connected) => connected,
        Err(err) => return anyhow::Error::new(err).context("connecting to ask for the lock"),
    };
    let driver = Driver(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let failed: anyhow::Result<std::convert::Infallible> = async {
        let statement = "SELECT pg_try_advisory_lock($1)";
        loop {
            let granted = tokio::time::timeout(
                LEADER_HEARTBEAT_TIMEOUT,
                client.query_one(statement, &[&lock.key]),
            )
            .await
            .map_err(|_| anyhow::anyhow!("the lock's answer took too long"))??;
            if granted.try_get::<_, bool>(0)? {
                break;
            }
            if driver.0.is_finished() {
                anyhow::bail!("the lock's connection was closed");
            }
            tokio::time::sleep(LEADER_RETRY).await;
        }
        tracing::info!(
            lock = lock.name,
            key = lock.key,
            "leading: this instance holds the lock"
        );
        leading.send_replace(true);
        let mut heartbeat = tokio::time::interval(LEADER_HEARTBEAT);
        loop {
            heartbeat.tick().await;
            let answer =
                tokio::time::timeout(LEADER_HEARTBEAT_TIMEOUT, client.simple_query("SELECT 1"))
                    .await;
            match answer {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    return Err(anyhow::Error::new(err).context("the heartbeat failed"));
                }
                Err(_) => anyhow::bail!(
                    "the heartbeat went unanswered for {} ms",
                    LEADER_HEARTBEAT_TIMEOUT.as_millis()
                ),
            }
        }
    }
    .await;
    // Not leading from here: said before the connection closes, so this process has stopped
    // before another can take the lock.
    let was_leading = leading.send_replace(false);
    drop(client);
    drop(driver);
    let error = match failed {
        Err(error) => error,
        Ok(never) => match never {},
    };
    if was_leading {
        tracing::warn!(
            lock = lock.name,
            error = %format!("{error:#}"),
            "no longer leading: the lock's connection was lost; asking again"
        );
    }
    error
}
