//! `sync_log`: one row per pipeline run, opened as `running` and closed with its counts.

use sqlx::PgPool;
use uuid::Uuid;

use super::SyncReport;

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
pub async fn close(pool: &PgPool, id: Uuid, r: &SyncReport) -> Result<(), sqlx::Error> {
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
    .await?;
    Ok(())
}
