//! Many instances on one PostgreSQL database: each `serve --database` follows the changes the
//! others commit (`store_postgres::listen_for_changes`, PostgreSQL's LISTEN/NOTIFY) and empties
//! the caches they make stale (`clearance::invalidation`). Until the feed is listening, and
//! whenever it is lost, the caches are bypassed: a revoked token or a retired rule never keeps
//! working here because a notification went unheard.

use std::sync::Arc;

use clearance::Clearance;
use store_postgres::{ChangeNotice, PostgresStore};

/// Starts following the changes committed to the database at `url`; the caches stay bypassed
/// until the feed listens. Abort the task to stop.
pub fn follow_changes(
    clearance: &Arc<Clearance<PostgresStore>>,
    url: &str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    clearance.distrust_caches();
    let followed = clearance.clone();
    store_postgres::listen_for_changes(url, move |notice| match notice {
        ChangeNotice::Listening => {
            followed.trust_caches();
            tracing::info!(
                channel = store_postgres::CHANGES_CHANNEL,
                "following the changes other instances commit; caches in use"
            );
        }
        ChangeNotice::Changed { action } => {
            tracing::debug!(%action, "a change was committed: its caches emptied");
            followed.invalidate_after(&action);
        }
        ChangeNotice::Lost { error } => {
            // Said once per loss: the feed retries quietly until it listens again.
            if followed.caches_trusted() {
                tracing::warn!(
                    %error,
                    "lost the feed of changes from other instances; caches bypassed until it is back"
                );
            }
            followed.distrust_caches();
        }
    })
}
