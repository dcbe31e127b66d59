//! Why a pipeline run failed. Ids, names and statuses only: a source record, a database value
//! or a response body never reaches the message.

use crate::source::SourceError;
use crate::store::StoreError;

/// A failed run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The pipeline has no list endpoint.
    #[error("pipeline {0} has no list endpoint (it is fed by webhooks only)")]
    NoEndpoint(String),
    /// The source failed (after its retries).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Full mode would soft-delete more than the breaker allows.
    #[error(
        "refusing to soft-delete {would} of {live} rows of {table} (more than {pct:.0}% in one run); check the source, or pass --allow-mass-delete"
    )]
    MassDelete {
        /// Rows that would go.
        would: u64,
        /// Live rows before the run.
        live: u64,
        /// The table.
        table: String,
        /// The breaker's share, in percent.
        pct: f64,
    },
}

impl SyncError {
    /// Whether retrying later may succeed without anyone changing anything: the database or
    /// the source was unreachable, or a conflict (deadlock, serialization) got in the way.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Store(e) => e.is_transient(),
            SyncError::Source(SourceError::Exhausted { .. }) => true,
            SyncError::Source(SourceError::Store(e)) => e.is_transient(),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        SyncError::Store(StoreError::from_sqlx("sync", e))
    }
}
