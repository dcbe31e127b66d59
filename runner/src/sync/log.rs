//! `sync_log`: one row per pipeline run, opened as `running` and closed with its counts, and
//! one row per other unit of work (a batch of webhooks, a gridhook, a push of change events),
//! written when it is done: the clinic's spec asks that every operation be logged.

use sqlx::PgPool;
use uuid::Uuid;

use super::SyncReport;
use crate::store::StoreError;

/// Opens the run's row. Rows of the same pipeline still `running` belong to runs that died
/// (every caller that may run concurrently holds the pipeline's advisory lock), so they are
/// closed as failed first: a crash must not leave a run that looks alive for ever.
pub async fn open(pool: &PgPool, pipeline: &str, trigger: &str) -> Result<Uuid, sqlx::Error> {
    sqlx::query(
        "update sync_log set status = 'failed', finished_at = now(), \
         error = 'interrupted: the process stopped before the run finished' \
         where pipeline = $1 and status = 'running'",
    )
    .bind(pipeline)
    .execute(pool)
    .await?;
    sqlx::query_scalar("insert into sync_log (pipeline, trigger) values ($1, $2) returning id")
        .bind(pipeline)
        .bind(trigger)
        .fetch_one(pool)
        .await
}

/// Closes the run's row with its outcome.
pub async fn close(pool: &PgPool, id: Uuid, r: &SyncReport) -> Result<(), StoreError> {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "update sync_log set finished_at = now(), status = $2, pages = $3, inserted = $4, updated = $5, unchanged = $6, stale = $7, soft_deleted = $8, error = $9, quarantined = $10 where id = $1",
    )
    .bind(id)
    .bind(if r.error.is_none() { "succeeded" } else { "failed" })
    .bind(n(r.pages))
    .bind(n(r.counts.inserted))
    .bind(n(r.counts.updated))
    .bind(n(r.counts.unchanged))
    .bind(n(r.counts.stale))
    .bind(n(r.soft_deleted))
    .bind(r.error.as_deref())
    .bind(n(r.quarantined))
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_sqlx("close sync_log row", e))?;
    Ok(())
}

/// What a unit of work other than a pipeline run did, for its `sync_log` row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Work<'a> {
    /// What it was (`webhooks`, `deepcura`, `coda:outbox`).
    pub what: &'a str,
    /// What started it (`webhook`, `outbox`, `pubsub`).
    pub trigger: &'a str,
    /// When it started.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Rows inserted, updated, unchanged, stale.
    pub counts: crate::store::UpsertCounts,
    /// Rows removed (soft deletes, Coda row deletions).
    pub removed: u64,
    /// Why part of it failed (ids and counts only), if it did.
    pub error: Option<&'a str>,
}

/// Writes the finished `sync_log` row of `w`. Failing to write it is logged, not returned: the
/// work itself is done.
pub async fn record_work(pool: &PgPool, w: &Work<'_>) {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let written = sqlx::query(
        "insert into sync_log (pipeline, trigger, started_at, finished_at, status, inserted, updated, unchanged, stale, soft_deleted, error) \
         values ($1, $2, coalesce($3, now()), now(), $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(w.what)
    .bind(w.trigger)
    .bind(w.started_at)
    .bind(if w.error.is_none() { "succeeded" } else { "failed" })
    .bind(n(w.counts.inserted))
    .bind(n(w.counts.updated))
    .bind(n(w.counts.unchanged))
    .bind(n(w.counts.stale))
    .bind(n(w.removed))
    .bind(w.error)
    .execute(pool)
    .await;
    if let Err(e) = written {
        tracing::warn!(what = w.what, error = %crate::store::StoreError::from_sqlx("sync_log", e), "Could not log finished work.");
    }
}
