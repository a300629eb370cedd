//! How a write request can fail inside a batch, which decides what the rest of the batch does.

use rusqlite::ErrorCode;
use store::StoreError;

/// A failed write request.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The request is refused for a reason the caller can act on (a number taken, an unknown
    /// enterprise). Only its own savepoint is rolled back; the rest of the batch commits.
    Refused(StoreError),
    /// Something unexpected went wrong in the database. The whole batch transaction is rolled
    /// back and each request retried alone, so one bad request cannot fail the others.
    Database(anyhow::Error),
}

impl From<rusqlite::Error> for Fault {
    fn from(err: rusqlite::Error) -> Self {
        Fault::Database(err.into())
    }
}

pub(crate) fn conflict(what: String) -> Fault {
    Fault::Refused(StoreError::Conflict(what))
}

pub(crate) fn not_found(what: String) -> Fault {
    Fault::Refused(StoreError::NotFound(what))
}

/// The `table.column` list a UNIQUE or PRIMARY KEY violation names, if `err` is one.
pub(crate) fn taken_columns(err: &rusqlite::Error) -> Option<&str> {
    const UNIQUE: i32 = rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE;
    const PRIMARY_KEY: i32 = rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY;
    match err {
        rusqlite::Error::SqliteFailure(failure, Some(message))
            if matches!(failure.extended_code, UNIQUE | PRIMARY_KEY) =>
        {
            Some(
                message
                    .strip_prefix("UNIQUE constraint failed: ")
                    .unwrap_or(message),
            )
        }
        _ => None,
    }
}

/// True if the database was locked by someone else for longer than the busy timeout: the
/// request did nothing and may simply be retried later.
pub(crate) fn is_busy(err: &anyhow::Error) -> bool {
    err.downcast_ref::<rusqlite::Error>().is_some_and(|err| {
        matches!(
            err.sqlite_error_code(),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        )
    })
}

/// The error a caller sees for a database fault.
pub(crate) fn store_error(err: anyhow::Error) -> StoreError {
    if is_busy(&err) {
        StoreError::Unavailable(format!("the database is locked by another writer: {err}"))
    } else {
        StoreError::Other(err)
    }
}
