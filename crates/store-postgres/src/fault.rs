//! How a write can fail: refused for a reason the caller can act on, or a database fault.

use store::StoreError;
use tokio_postgres::error::SqlState;

/// A failed write. Either way the append's transaction is rolled back whole: PostgreSQL aborts
/// a transaction at its first error, and an append is all or nothing anyway.
#[derive(Debug)]
pub(crate) enum Fault {
    Refused(StoreError),
    Database(anyhow::Error),
}

impl From<tokio_postgres::Error> for Fault {
    fn from(err: tokio_postgres::Error) -> Self {
        Fault::Database(err.into())
    }
}

impl From<anyhow::Error> for Fault {
    fn from(err: anyhow::Error) -> Self {
        Fault::Database(err)
    }
}

impl From<Fault> for StoreError {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Refused(err) => err,
            Fault::Database(err) => store_error(err),
        }
    }
}

pub(crate) fn conflict(what: String) -> Fault {
    Fault::Refused(StoreError::Conflict(what))
}

pub(crate) fn not_found(what: String) -> Fault {
    Fault::Refused(StoreError::NotFound(what))
}

pub(crate) fn refused(message: String) -> Fault {
    Fault::Refused(StoreError::Other(anyhow::anyhow!(message)))
}

/// The constraint a unique violation names (`<table>_<column>_key`, `<table>_pkey`), if `err`
/// is one.
pub(crate) fn taken_constraint(err: &tokio_postgres::Error) -> Option<&str> {
    let db = err.as_db_error()?;
    (db.code() == &SqlState::UNIQUE_VIOLATION).then(|| db.constraint().unwrap_or(""))
}

/// True when PostgreSQL aborted the transaction to break a lock cycle (or a serialization
/// conflict): the same write, tried again as a new transaction, may pass.
pub(crate) fn is_retryable(err: &anyhow::Error) -> bool {
    err.downcast_ref::<tokio_postgres::Error>()
        .and_then(|err| err.as_db_error())
        .is_some_and(|db| {
            db.code() == &SqlState::T_R_DEADLOCK_DETECTED
                || db.code() == &SqlState::T_R_SERIALIZATION_FAILURE
        })
}

/// True when PostgreSQL could not be reached or the connection broke: the caller may retry.
fn is_unavailable(err: &anyhow::Error) -> bool {
    if let Some(err) = err.downcast_ref::<tokio_postgres::Error>() {
        let io = std::error::Error::source(err).is_some_and(|source| source.is::<std::io::Error>());
        // A primary that became a standby (failover) refuses writes as read-only.
        return err.is_closed()
            || io
            || err.as_db_error().is_some_and(|db| {
                let code = db.code();
                code == &SqlState::ADMIN_SHUTDOWN
                    || code == &SqlState::CANNOT_CONNECT_NOW
                    || code == &SqlState::READ_ONLY_SQL_TRANSACTION
                    || code == &SqlState::TOO_MANY_CONNECTIONS
            });
    }
    err.downcast_ref::<deadpool_postgres::PoolError>().is_some()
}

/// Whether opening the store failed because PostgreSQL could not be reached (no connection,
/// a time-out, a server shutting down or starting), not because it answered with a refusal (a
/// wrong password, a missing database, a failed migration): what lets an instance start in
/// continuity rather than refuse to start.
pub fn is_unreachable(err: &anyhow::Error) -> bool {
    let unreachable = |err: &tokio_postgres::Error| match err.as_db_error() {
        None => true,
        Some(db) => {
            db.code() == &SqlState::ADMIN_SHUTDOWN || db.code() == &SqlState::CANNOT_CONNECT_NOW
        }
    };
    if let Some(pool) = err.downcast_ref::<deadpool_postgres::PoolError>() {
        return match pool {
            deadpool_postgres::PoolError::Timeout(_) => true,
            deadpool_postgres::PoolError::Backend(err) => unreachable(err),
            _ => false,
        };
    }
    err.downcast_ref::<tokio_postgres::Error>()
        .is_some_and(unreachable)
}

/// The error a caller sees for a database fault.
pub(crate) fn store_error(err: anyhow::Error) -> StoreError {
    if is_unavailable(&err) {
        StoreError::Unavailable(format!("PostgreSQL is unreachable: {err:#}"))
    } else {
        StoreError::Other(err)
    }
}
