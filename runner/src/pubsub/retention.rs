//! Retention of the Pub/Sub dedupe table: `processed_messages` rows older than 7 days are
//! deleted by `purge_processed_messages()` (Pub/Sub retains and redelivers a message for at
//! most 7 days, so an older id can no longer come back). `runner retention` runs it once;
//! `runner serve` (roles `all` and `sync`) runs it at start-up and then daily.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::server::Shutdown;
use crate::store::StoreError;

/// How often the embedded task purges.
pub const PURGE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Deletes processed message ids older than 7 days; returns how many.
pub async fn purge_processed(pool: &PgPool) -> Result<i64, StoreError> {
    sqlx::query_scalar("select purge_processed_messages()")
        .fetch_one(pool)
        .await
        .map_err(|e| StoreError::from_sqlx("purge processed_messages", e))
}

/// Purges now and then every [`PURGE_EVERY`] until `stop`. Several instances purging at once
/// is harmless: the deletes are idempotent.
pub fn spawn_daily_purge(pool: PgPool, mut stop: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match purge_processed(&pool).await {
                Ok(n) => tracing::info!(purged = n, "Processed Pub/Sub message ids purged."),
                Err(e) => {
                    tracing::warn!(error = %e, "Purging processed_messages failed; retrying tomorrow.");
                }
            }
            tokio::select! {
                () = stop.wait() => break,
                () = tokio::time::sleep(PURGE_EVERY) => {}
            }
        }
    })
}
