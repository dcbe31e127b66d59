//! Coda push: the Coda client, column-ID mapping of rows to cells, diff-only batched
//! `upsertRows` confirmed through `mutationStatus`, the outbox worker and dead letters.

use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Plan;
use crate::config::systems::Coda;

/// The Coda REST client (shared write and read budgets).
#[derive(Debug, Clone)]
pub struct CodaClient {
    _pool: PgPool,
}

impl CodaClient {
    /// The client described by `systems.yaml`; calls are logged in `access_log`.
    pub fn new(_coda: &Coda, pool: PgPool) -> Self {
        CodaClient { _pool: pool }
    }
}

/// What one push did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Rows sent in `upsertRows` calls.
    pub rows_sent: u64,
    /// Write calls made.
    pub calls: u64,
    /// Rows skipped because Coda already holds their content.
    pub unchanged: u64,
    /// Rows moved to the dead letters.
    pub dead: u64,
}

/// Why a push failed as a whole (retryable: nothing was confirmed).
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Not implemented yet.
    #[error("push not available")]
    Unavailable,
}

/// Pushes the current content of rows `ids` of PostgreSQL table `table` to every Coda table
/// mapped from it, confirms the writes through `mutationStatus` and records their hashes.
pub async fn push_records(_pool: &PgPool, _plan: &Plan, _coda: &CodaClient, _table: &str, _ids: &[Uuid]) -> Result<PushOutcome, PushError> {
    Err(PushError::Unavailable)
}
