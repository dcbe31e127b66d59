//! What `runner outbox` shows and does by hand: depth, oldest waiting event, dead letters,
//! and bringing dead letters back.

use sqlx::PgPool;
use uuid::Uuid;

use crate::push::error::PushError;

/// A dead letter, as `runner outbox` lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetter {
    /// The event id.
    pub id: i64,
    /// The PostgreSQL table.
    pub table_name: String,
    /// The row id.
    pub record_id: Uuid,
    /// Attempts made.
    pub attempts: i32,
    /// Why (table ids, column ids and status codes only).
    pub last_error: Option<String>,
}

/// The state of the outbox.
#[derive(Debug, Clone)]
pub struct OutboxStatus {
    /// Pending events (not yet pushed, nor relayed to Pub/Sub).
    pub pending: i64,
    /// Relayed events (published to Pub/Sub, waiting for the push role's worker).
    pub relayed: i64,
    /// Age of the oldest pending or relayed event, in seconds.
    pub oldest_pending_secs: Option<f64>,
    /// Dead letters, oldest first.
    pub dead: Vec<DeadLetter>,
}

/// Depth, oldest waiting age and dead letters.
pub async fn status(pool: &PgPool) -> Result<OutboxStatus, PushError> {
    let (pending, relayed, oldest): (i64, i64, Option<f64>) = sqlx::query_as(
        "select count(*) filter (where status = 'pending'), count(*) filter (where status = 'relayed'),
                extract(epoch from now() - min(created_at))::float8
           from outbox where status in ('pending', 'relayed')",
    )
    .fetch_one(pool)
    .await
    .map_err(PushError::store("outbox status"))?;
    let dead = sqlx::query_as(
        "select id, table_name, record_id, attempts, last_error from outbox where status = 'dead' order by id",
    )
    .fetch_all(pool)
    .await
    .map_err(PushError::store("outbox dead letters"))?;
    Ok(OutboxStatus {
        pending,
        relayed,
        oldest_pending_secs: oldest,
        dead,
    })
}

/// Brings dead letters back to pending (all, or the one with `id`), with their attempts
/// reset; returns how many. In the GCP topology the relay publishes them again.
pub async fn retry(pool: &PgPool, id: Option<i64>) -> Result<u64, PushError> {
    let r = sqlx::query(
        "update outbox set status = 'pending', attempts = 0, available_at = now(), claimed_at = null, claimed_by = null
          where status = 'dead' and ($1::bigint is null or id = $1)",
    )
    .bind(id)
    .execute(pool)
    .await
    .map_err(PushError::store("retry dead letters"))?;
    Ok(r.rows_affected())
}
