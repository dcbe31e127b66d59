//! The backlog counts that health, readiness and metrics show: inbox entries waiting or failed,
//! outbox events pending, relayed or dead, the age of the oldest pending event, quarantined records.
//! Read through `runner_backlog()`, a SECURITY DEFINER function every runtime role may call,
//! so no role needs to read the inbox (webhook bodies) to count it.

use sqlx::PgPool;

/// The counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, sqlx::FromRow)]
pub struct Backlog {
    /// Inbox entries not processed yet.
    pub inbox_received: i64,
    /// Inbox entries whose processing failed.
    pub inbox_failed: i64,
    /// Outbox events not pushed (or relayed) yet.
    pub outbox_pending: i64,
    /// Outbox events published to Pub/Sub, waiting for the push role.
    pub outbox_relayed: i64,
    /// Outbox events given up.
    pub outbox_dead: i64,
    /// Age of the oldest pending outbox event, in seconds.
    pub oldest_pending_secs: Option<f64>,
    /// Source records waiting in the quarantine.
    pub quarantined: i64,
}

/// Reads the backlog.
pub async fn backlog(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    sqlx::query_as("select * from runner_backlog()")
        .fetch_one(pool)
        .await
}
