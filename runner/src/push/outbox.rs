//! The outbox relay: claims pending change events, pushes their rows to Coda, and settles
//! them. Several workers may run on one database:
//!
//! - A claim picks the oldest due events with `FOR UPDATE SKIP LOCKED`, together with every
//!   other due event of the same records, and leases them (`available_at = now() + lease`),
//!   so no other worker takes them while they are pushed; a crashed worker's lease expires
//!   and its events are claimed again. A transaction-level advisory lock per record during
//!   the claim keeps two concurrent claims from splitting one record's events between them
//!   (which would send the row twice).
//! - Events of tables no mapping reads are done at once.
//! - An event is done only after the push of its row was confirmed (or found unchanged).
//! - A row Coda refuses (400/413 for the row alone) costs its events one attempt; after
//!   `max_attempts` they are dead letters (`status = 'dead'`, reason: table id and status
//!   codes). Failures of the whole push (Coda unreachable, 429/5xx after the retries) only
//!   postpone the events with a growing delay: Coda being down is not the row's fault.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::client::CodaClient;
use super::error::PushError;
use super::{PushOutcome, compiled, push_ids};
use crate::config::Plan;
use crate::server::Shutdown;

/// Tuning of the outbox worker.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Events claimed at once (each claimed record holds an advisory lock for the claim's
    /// short transaction, so this stays well under the server's lock table). Default 500.
    pub batch: i64,
    /// How long claimed events are hidden from other workers. Default 10 minutes.
    pub lease: Duration,
    /// Refusals of a row before its events become dead letters. Default 5.
    pub max_attempts: i32,
    /// Delay before a failed event is tried again; doubles per attempt, at most 10 minutes.
    /// Default 5 s.
    pub retry_delay: Duration,
    /// Wait between looks at an empty outbox. Default 1 s.
    pub idle_poll: Duration,
    /// Name recorded in `claimed_by`.
    pub worker: String,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            batch: 500,
            lease: Duration::from_secs(600),
            max_attempts: 5,
            retry_delay: Duration::from_secs(5),
            idle_poll: Duration::from_secs(1),
            worker: format!(
                "push-{}-{}",
                std::process::id(),
                &Uuid::new_v4().simple().to_string()[..8]
            ),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Event {
    id: i64,
    table_name: String,
    record_id: Uuid,
    attempts: i32,
}

/// Claims due events (see the module docs).
async fn claim(pool: &PgPool, opts: &OutboxOptions) -> Result<Vec<Event>, PushError> {
    sqlx::query_as(
        "with picked as (
             select id, table_name, record_id from outbox
              where status = 'pending' and available_at <= now()
                -- CASE fixes the evaluation order: only due pending events take a lock.
                and case when status = 'pending' and available_at <= now()
                         then pg_try_advisory_xact_lock(hashtextextended(table_name || ':' || record_id::text, 7))
                         else false end
              order by id limit $1 for update skip locked),
         same as (
             select o.id from outbox o
               join (select distinct table_name, record_id from picked) p using (table_name, record_id)
              where o.status = 'pending' and o.available_at <= now()
              for update of o skip locked)
         update outbox o
            set claimed_at = now(), claimed_by = $2, available_at = now() + make_interval(secs => $3)
          where o.id in (select id from picked union select id from same)
         returning o.id, o.table_name, o.record_id, o.attempts",
    )
    .bind(opts.batch)
    .bind(&opts.worker)
    .bind(opts.lease.as_secs_f64())
    .fetch_all(pool)
    .await
    .map_err(PushError::store("claim outbox events"))
}

async fn mark_done(pool: &PgPool, ids: &[i64]) -> Result<(), PushError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("update outbox set status = 'done', done_at = now(), last_error = null where id = any($1) and status = 'pending'")
        .bind(ids)
        .execute(pool)
        .await
        .map_err(PushError::store("settle outbox events"))?;
    Ok(())
}

/// Counts a failure: dead after `max_attempts` when `dead_allowed`, else due again later.
async fn mark_failed(
    pool: &PgPool,
    events: &[&Event],
    reason: &str,
    dead_allowed: bool,
    opts: &OutboxOptions,
) -> Result<u64, PushError> {
    let mut dead = 0;
    for e in events {
        let attempts = e.attempts + 1;
        let is_dead = dead_allowed && attempts >= opts.max_attempts;
        let delay =
            (opts.retry_delay.as_secs_f64() * 2f64.powi((attempts - 1).clamp(0, 16))).min(600.0);
        sqlx::query(
            "update outbox set attempts = $2, last_error = $3, status = case when $4 then 'dead' else 'pending' end,
                    available_at = now() + make_interval(secs => $5) where id = $1 and status = 'pending'",
        )
        .bind(e.id)
        .bind(attempts)
        .bind(reason)
        .bind(is_dead)
        .bind(delay)
        .execute(pool)
        .await
        .map_err(PushError::store("settle outbox events"))?;
        if is_dead {
            crate::telemetry::metrics::metrics().dead_letter(&e.table_name);
            tracing::warn!(event = crate::telemetry::events::OUTBOX_DEAD_LETTER, outbox_id = e.id, table = %e.table_name, reason = %reason, "Outbox event moved to the dead letters.");
            dead += 1;
        }
    }
    Ok(dead)
}

/// Claims one batch of due events, pushes them and settles them. `Ok(None)` when nothing
/// was due.
pub async fn run_once(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    opts: &OutboxOptions,
) -> Result<Option<PushOutcome>, PushError> {
    let events = claim(pool, opts).await?;
    if events.is_empty() {
        return Ok(None);
    }
    let maps = compiled(plan, coda)?;
    let mut by_table: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for e in events {
        by_table.entry(e.table_name.clone()).or_default().push(e);
    }
    let mut outcome = PushOutcome::default();
    for (table, events) in by_table {
        if maps.for_source(&table).next().is_none() {
            mark_done(pool, &events.iter().map(|e| e.id).collect::<Vec<_>>()).await?;
            continue;
        }
        let mut ids: Vec<Uuid> = events.iter().map(|e| e.record_id).collect();
        ids.sort_unstable();
        ids.dedup();
        match push_ids(pool, plan, coda, &table, &ids).await {
            Ok(reports) => {
                let mut refused: HashMap<Uuid, Vec<String>> = HashMap::new();
                for (_, r) in &reports {
                    outcome.add(r);
                    for (id, reason) in &r.rejected {
                        refused.entry(*id).or_default().push(reason.clone());
                    }
                }
                let done: Vec<i64> = events
                    .iter()
                    .filter(|e| !refused.contains_key(&e.record_id))
                    .map(|e| e.id)
                    .collect();
                mark_done(pool, &done).await?;
                for (id, reasons) in &refused {
                    let failed: Vec<&Event> =
                        events.iter().filter(|e| e.record_id == *id).collect();
                    outcome.dead +=
                        mark_failed(pool, &failed, &reasons.join("; "), true, opts).await?;
                }
            }
            Err(e) => {
                tracing::warn!(table = %table, events = events.len(), error = %e, "Coda push failed; events postponed.");
                let all: Vec<&Event> = events.iter().collect();
                mark_failed(pool, &all, &e.to_string(), false, opts).await?;
            }
        }
    }
    Ok(Some(outcome))
}

/// Runs [`run_once`] until nothing is due (or `stop` fires); returns the summed outcome.
pub async fn drain(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    opts: &OutboxOptions,
    stop: Option<&Shutdown>,
) -> Result<PushOutcome, PushError> {
    let mut total = PushOutcome::default();
    while !stop.is_some_and(Shutdown::is_triggered) {
        match run_once(pool, plan, coda, opts).await? {
            None => break,
            Some(o) => {
                total.rows_sent += o.rows_sent;
                total.calls += o.calls;
                total.unchanged += o.unchanged;
                total.dead += o.dead;
                total.rejected += o.rejected;
                total.deleted += o.deleted;
            }
        }
    }
    Ok(total)
}

/// Starts the embedded outbox worker: drains due events, then looks again every
/// `idle_poll`; returns once `stop` fires (after its current batch).
pub fn spawn_outbox_worker(
    pool: PgPool,
    plan: Arc<Plan>,
    coda: CodaClient,
    opts: OutboxOptions,
    mut stop: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(worker = %opts.worker, "Outbox worker started.");
        let mut backoff = opts.idle_poll;
        loop {
            let wait = match drain(&pool, &plan, &coda, &opts, Some(&stop)).await {
                Ok(o) => {
                    if o.rows_sent + o.deleted + o.dead > 0 {
                        tracing::info!(
                            sent = o.rows_sent,
                            deleted = o.deleted,
                            dead = o.dead,
                            calls = o.calls,
                            "Outbox drained."
                        );
                    }
                    backoff = opts.idle_poll;
                    opts.idle_poll
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Outbox worker failed; retrying.");
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    backoff
                }
            };
            if stop.is_triggered() {
                break;
            }
            tokio::select! {
                () = stop.wait() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("Outbox worker stopped.");
    })
}

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
    /// Why (table ids and status codes only).
    pub last_error: Option<String>,
}

/// The state of the outbox.
#[derive(Debug, Clone)]
pub struct OutboxStatus {
    /// Pending events.
    pub pending: i64,
    /// Age of the oldest pending event, in seconds.
    pub oldest_pending_secs: Option<f64>,
    /// Dead letters, oldest first.
    pub dead: Vec<DeadLetter>,
}

/// Depth, oldest pending age and dead letters.
pub async fn status(pool: &PgPool) -> Result<OutboxStatus, PushError> {
    let (pending, oldest): (i64, Option<f64>) = sqlx::query_as(
        "select count(*), extract(epoch from now() - min(created_at))::float8 from outbox where status = 'pending'",
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
        oldest_pending_secs: oldest,
        dead,
    })
}

/// Brings dead letters back to pending (all, or the one with `id`), with their attempts
/// reset; returns how many.
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
