//! The feed of changes other instances commit: a connection of its own (outside the pool) that
//! `LISTEN`s on [`CHANGES_CHANNEL`], where the database announces each committed event that may
//! change what an instance caches (migration 0003: a trigger on `events`, so every writer is
//! heard, whichever process or command it is, and only once its transaction commits).
//!
//! What the listener is told, in order: [`ChangeNotice::Listening`] once its `LISTEN` answered
//! (every change committed from then on will be heard), [`ChangeNotice::Changed`] for each
//! announced event, and [`ChangeNotice::Lost`] when the connection fails or stops answering its
//! heartbeat; it then reconnects after [`CHANGES_RETRY`] and says `Listening` again. Between
//! `Lost` and `Listening` changes may go unheard, so the caches must not be trusted.

use std::time::Duration;

use tokio_postgres::AsyncMessage;

use crate::tls::{PostgresTls, parse_database_url};

/// The channel the database announces changes on (see `migrations/0003_change_notifications.sql`).
pub const CHANGES_CHANNEL: &str = "customs_changes";

/// The listening connection's `application_name` (in `pg_stat_activity`).
pub const CHANGES_APPLICATION_NAME: &str = "customs-changes";

/// How often the listening connection is asked a trivial query: a connection that died without
/// a word (a host gone, a cable cut) is noticed within this and [`CHANGES_HEARTBEAT_TIMEOUT`].
pub const CHANGES_HEARTBEAT: Duration = Duration::from_secs(1);

/// How long the heartbeat's answer may take before the connection counts as lost.
pub const CHANGES_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long to wait before connecting again after the feed was lost.
pub const CHANGES_RETRY: Duration = Duration::from_millis(500);

/// What the feed tells its listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeNotice {
    /// `LISTEN` answered: every change committed from now on is announced.
    Listening,
    /// An event of this action was committed (by any instance, this one included).
    Changed { action: String },
    /// The connection failed: changes may go unheard until the next `Listening`.
    Lost { error: String },
}

/// Listens for changes on the database at `url` until the returned task is aborted, calling
/// `on_notice` for each notice. Never gives up: after a loss it retries every
/// [`CHANGES_RETRY`].
pub fn listen_for_changes(
    url: &str,
    on_notice: impl Fn(ChangeNotice) + Send + Sync + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let (mut config, tls) =
        parse_database_url(url).map_err(|err| anyhow::anyhow!("the database URL {err}"))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_millis(crate::CONNECT_TIMEOUT_MS));
    }
    // Seen in pg_stat_activity under this name.
    config.application_name(CHANGES_APPLICATION_NAME);
    Ok(tokio::spawn(async move {
        loop {
            let error = listen_once(&config, &tls, &on_notice).await;
            on_notice(ChangeNotice::Lost {
                error: format!("{error:#}"),
            });
            tokio::time::sleep(CHANGES_RETRY).await;
        }
    }))
}

/// One connection's life: connect, `LISTEN`, pass on notifications, until it fails.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &PostgresTls,
    on_notice: &(impl Fn(ChangeNotice) + Send + Sync),
) -> anyhow::Error {
    let (client, mut connection) = match config.connect(tls.clone()).await {
        Ok(connected) => connected,
        Err(err) => return anyhow::Error::new(err).context("connecting to listen for changes"),
    };
    // The connection is driven here: its messages are notifications (and notices, ignored);
    // it ends when the server or the network does.
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(note))) => {
                    if sender.send(Ok(note.payload().to_owned())).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    let _ = sender.send(Err(anyhow::Error::new(err)));
                    return;
                }
                None => {
                    let _ =
                        sender.send(Err(anyhow::anyhow!("the listening connection was closed")));
                    return;
                }
            }
        }
    });
    let failed: anyhow::Result<std::convert::Infallible> = async {
        client
            .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
            .await?;
        on_notice(ChangeNotice::Listening);
        let mut heartbeat = tokio::time::interval(CHANGES_HEARTBEAT);
        loop {
            tokio::select! {
                note = notifications.recv() => match note {
                    Some(Ok(action)) => on_notice(ChangeNotice::Changed { action }),
                    Some(Err(err)) => return Err(err),
                    None => anyhow::bail!("the listening connection's driver stopped"),
                },
                _ = heartbeat.tick() => {
                    let answer = tokio::time::timeout(
                        CHANGES_HEARTBEAT_TIMEOUT,
                        client.simple_query("SELECT 1"),
                    )
                    .await;
                    match answer {
                        Ok(Ok(_)) => {}
                        Ok(Err(err)) => {
                            return Err(anyhow::Error::new(err).context("the heartbeat failed"));
                        }
                        Err(_) => anyhow::bail!(
                            "the heartbeat went unanswered for {} ms",
                            CHANGES_HEARTBEAT_TIMEOUT.as_millis()
                        ),
                    }
                }
            }
        }
    }
    .await;
    driver.abort();
    match failed {
        Err(error) => error,
        Ok(never) => match never {},
    }
}
