//! The outbox relay of `runner serve --role sync`: pending outbox events go to the Pub/Sub
//! topic, and an event is `relayed` once Pub/Sub returned message ids for it. The push role's
//! outbox worker then pushes relayed events to Coda and marks them done.
//!
//! A batch is claimed with `FOR UPDATE SKIP LOCKED` in one transaction that stays open while
//! the batch is published, then marks it relayed and commits. Several relays (and the in-process
//! outbox worker, whose leases move `available_at` forward) therefore never take the same
//! event, and a relay that dies mid-publish releases its rows by ending its session: they are
//! published again (at least once; the push side is idempotent). A failed publish keeps the
//! events pending with `last_error` and a growing `available_at` (1 s doubling, at most
//! 10 min). The relay never dead-letters: a publish failure says nothing about the event.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::ChangeEvent;
use super::publish::{OutMessage, PublishError, Publisher};
use crate::app::Shutdown;
use crate::store::StoreError;

/// Events published in one request (Pub/Sub allows 1000).
pub const BATCH: i64 = 100;
/// Wait between polls when nothing is pending.
pub const IDLE_POLL: Duration = Duration::from_secs(1);

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Events published and marked relayed.
    pub published: u64,
    /// Events whose publish failed (kept pending for a retry).
    pub failed: u64,
}

/// Why a relay pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn db(op: &'static str) -> impl Fn(sqlx::Error) -> RelayError {
    move |e| RelayError::Store(StoreError::from_sqlx(op, e))
}

/// Claims up to `batch` due events, publishes them in one request and settles them.
pub async fn relay_once(
    pool: &PgPool,
    publisher: &Publisher,
    batch: i64,
    claimer: &str,
) -> Result<RelayPass, RelayError> {
    let mut tx = pool.begin().await.map_err(db("outbox relay begin"))?;
    let rows: Vec<(i64, String, Uuid, String)> = sqlx::query_as(
        "select id, table_name, record_id, operation from outbox
          where status = 'pending' and available_at <= now()
          order by id limit $1 for update skip locked",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("outbox relay claim"))?;
    if rows.is_empty() {
        return Ok(RelayPass::default());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let messages: Vec<OutMessage> = rows
        .into_iter()
        .map(|(outbox_id, table, record_id, operation)| {
            ChangeEvent {
                outbox_id,
                table,
                record_id,
                operation,
            }
            .message()
        })
        .collect();
    let n = ids.len() as u64;
    match publisher.publish(&messages).await {
        Ok(_) => {
            sqlx::query(
                // attempts restart at 0: from here on they count the push's refusals.
                "update outbox set status = 'relayed', attempts = 0,
                        claimed_at = now(), claimed_by = $2, last_error = null
                  where id = any($1)",
            )
            .bind(&ids)
            .bind(claimer)
            .execute(&mut *tx)
            .await
            .map_err(db("outbox relay relayed"))?;
            tx.commit().await.map_err(db("outbox relay commit"))?;
            Ok(RelayPass {
                published: n,
                failed: 0,
            })
        }
        Err(e) => {
            tracing::warn!(events = n, error = %e, "Publishing outbox events failed; they stay pending.");
            record_failure(&mut tx, &ids, &e).await?;
            tx.commit().await.map_err(db("outbox relay commit"))?;
            Ok(RelayPass {
                published: 0,
                failed: n,
            })
        }
    }
}

async fn record_failure(
    tx: &mut sqlx::PgConnection,
    ids: &[i64],
    e: &PublishError,
) -> Result<(), RelayError> {
    sqlx::query(
        "update outbox set attempts = attempts + 1, last_error = $2,
                available_at = now() + least(interval '10 minutes',
                                             interval '1 second' * power(2, least(attempts, 10)))
          where id = any($1)",
    )
    .bind(ids)
    .bind(e.to_string())
    .execute(tx)
    .await
    .map_err(db("outbox relay failure"))?;
    Ok(())
}

/// Runs the relay until `stop`: passes back to back while batches are full, a poll every
/// [`IDLE_POLL`] otherwise, and a pause after a failure.
pub fn spawn_relay(pool: PgPool, publisher: Arc<Publisher>, mut stop: Shutdown) -> JoinHandle<()> {
    let claimer = format!(
        "relay:{}:{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
        std::process::id()
    );
    tokio::spawn(async move {
        tracing::info!(url = %publisher.url(), "Outbox relay started.");
        while !stop.is_triggered() {
            let wait = match relay_once(&pool, &publisher, BATCH, &claimer).await {
                Ok(pass) if pass.published > 0 => {
                    tracing::info!(events = pass.published, "Outbox events published.");
                    if pass.published as i64 >= BATCH {
                        continue;
                    }
                    IDLE_POLL
                }
                Ok(pass) if pass.failed > 0 => Duration::from_secs(5),
                Ok(_) => IDLE_POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "Outbox relay pass failed.");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                () = stop.wait() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("Outbox relay stopped.");
    })
}
