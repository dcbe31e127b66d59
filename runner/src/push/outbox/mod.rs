//! The outbox worker: claims change events, pushes their rows to Coda in batches grouped by
//! table, and settles them. Several workers may run on one database, in one process or many:
//!
//! - Each worker holds a session-level advisory lock for its whole life ([`WorkerLock`]) and
//!   claims under that lock's key (`claim`): the claims of a worker that died (kill -9, a
//!   lost instance) are taken over by the next claim at once, and the lease is only the
//!   fallback.
//! - Events of tables no mapping reads are done at once.
//! - An event is done only after the push of its row was confirmed (or found unchanged).
//! - A row Coda refuses (400/413 for the row alone) costs its events one attempt; after
//!   `max_attempts` they are dead letters (`status = 'dead'`, reason: table id and status
//!   codes). A refusal of the whole table (a mapped column deleted in Coda) dead-letters the
//!   table's events at once, with the reason. Failures of the whole push (Coda unreachable,
//!   429/5xx after the retries) only postpone the events with a growing delay: Coda being down
//!   is not the row's fault.
//! - The embedded worker claims `pending` events; the push role's worker claims `relayed` ones
//!   (published by the sync role's relay), woken by each Pub/Sub delivery.

mod claim;
mod status;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::client::CodaClient;
use super::error::PushError;
use super::locks::WorkerLock;
use super::{PushOutcome, push_ids};
use crate::app::Shutdown;
use crate::config::Plan;
use claim::{Event, Failure, mark_done, mark_failed};

pub use claim::Claim;
pub use status::{DeadLetter, OutboxStatus, retry, status};

/// Tuning of the outbox worker.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Events claimed at once (each claimed record holds an advisory lock for the claim's
    /// short transaction, so this stays well under the server's lock table). Default 500.
    pub batch: i64,
    /// How long claimed events are hidden from other workers while their worker lives (a dead
    /// worker's claims are taken over at once). Default 10 minutes.
    pub lease: Duration,
    /// Refusals of a row before its events become dead letters. Default 5.
    pub max_attempts: i32,
    /// Delay before a failed event is tried again; doubles per attempt, at most 10 minutes.
    /// Default 5 s.
    pub retry_delay: Duration,
    /// Wait between looks at an empty outbox. Default 1 s.
    pub idle_poll: Duration,
    /// Which events to claim. Default `pending`.
    pub claim: Claim,
    /// Rung to look at the outbox before `idle_poll` is over (the Pub/Sub receiver rings it).
    pub wake: Option<Arc<Notify>>,
    /// The worker's name in log lines (claims carry its lock's key).
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
            claim: Claim::Pending,
            wake: None,
            worker: format!("push-{}", std::process::id()),
        }
    }
}

/// Claims one batch of claimable events as `lock`'s holder, pushes them and settles them.
/// `Ok(None)` when nothing was claimable.
pub async fn run_once(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    opts: &OutboxOptions,
    lock: &WorkerLock,
) -> Result<Option<PushOutcome>, PushError> {
    let started = chrono::Utc::now();
    let events = claim::claim(pool, opts, lock).await?;
    if events.is_empty() {
        return Ok(None);
    }
    let outcome = push_claimed(pool, plan, coda, opts, events).await?;
    let error = (outcome.dead > 0).then(|| format!("{} event(s) dead-lettered", outcome.dead));
    crate::sync::log::record_work(
        pool,
        &crate::sync::log::Work {
            what: "coda:outbox",
            trigger: if opts.claim == Claim::Relayed {
                "pubsub"
            } else {
                "outbox"
            },
            started_at: Some(started),
            counts: crate::store::UpsertCounts {
                updated: outcome.rows_sent,
                unchanged: outcome.unchanged,
                ..Default::default()
            },
            removed: outcome.deleted,
            error: error.as_deref(),
        },
    )
    .await;
    Ok(Some(outcome))
}

/// Pushes claimed events grouped by table and settles them.
async fn push_claimed(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    opts: &OutboxOptions,
    events: Vec<Event>,
) -> Result<PushOutcome, PushError> {
    let maps = &plan.coda_mappings;
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
        let all: Vec<&Event> = events.iter().collect();
        let reports = match push_ids(pool, plan, coda, &table, &ids).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(table = %table, events = events.len(), error = %e, "Coda push failed; events postponed.");
                mark_failed(pool, &all, &e.to_string(), Failure::Postpone, opts).await?;
                continue;
            }
        };
        for (_, r) in &reports {
            outcome.add(r);
        }
        if let Some(reason) = reports.iter().find_map(|(_, r)| r.table_refused.clone()) {
            // Every event of the table, once: no retry helps before the mapping or the doc is
            // fixed (then `runner outbox retry`).
            outcome.dead += mark_failed(pool, &all, &reason, Failure::TableRefused, opts).await?;
            continue;
        }
        let mut refused: HashMap<Uuid, Vec<String>> = HashMap::new();
        for (_, r) in &reports {
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
            let failed: Vec<&Event> = events.iter().filter(|e| e.record_id == *id).collect();
            outcome.dead +=
                mark_failed(pool, &failed, &reasons.join("; "), Failure::Refused, opts).await?;
        }
    }
    Ok(outcome)
}

/// Runs [`run_once`] as `lock`'s holder until nothing is claimable (or `stop` fires);
/// returns the summed outcome.
pub async fn drain_as(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    opts: &OutboxOptions,
    lock: &WorkerLock,
    stop: Option<&Shutdown>,
) -> Result<PushOutcome, PushError> {
    let mut total = PushOutcome::default();
    while !stop.is_some_and(Shutdown::is_triggered) {
        match run_once(pool, plan, coda, opts, lock).await? {
            None => break,
            Some(o) => total.merge(&o),
        }
    }
    Ok(total)
}

/// [`drain_as`] with a worker lock of its own, released at the end (`runner outbox drain`).
pub async fn drain(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    opts: &OutboxOptions,
    stop: Option<&Shutdown>,
) -> Result<PushOutcome, PushError> {
    let lock = WorkerLock::acquire(pool).await?;
    let result = drain_as(pool, plan, coda, opts, &lock, stop).await;
    lock.release().await;
    result
}

/// Starts an outbox worker: takes its lock, drains what it may claim, then looks again after
/// `idle_poll` or when `opts.wake` rings; returns once `stop` fires (after its current batch).
pub fn spawn_outbox_worker(
    pool: PgPool,
    plan: Arc<Plan>,
    coda: CodaClient,
    opts: OutboxOptions,
    mut stop: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lock: Option<WorkerLock> = None;
        let mut backoff = opts.idle_poll;
        loop {
            let wait = match pass(&pool, &plan, &coda, &opts, &mut lock, &stop).await {
                Ok(o) => {
                    if o.rows_sent + o.deleted + o.dead > 0 {
                        tracing::info!(
                            worker = %opts.worker,
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
                    tracing::warn!(worker = %opts.worker, error = %e, "Outbox worker failed; retrying.");
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    backoff
                }
            };
            if stop.is_triggered() {
                break;
            }
            let rung = async {
                match &opts.wake {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.wait() => break,
                () = tokio::time::sleep(wait) => {}
                () = rung => {}
            }
        }
        if let Some(l) = lock {
            l.release().await;
        }
        tracing::info!(worker = %opts.worker, "Outbox worker stopped.");
    })
}

/// One pass of the worker: (re)takes its lock when needed, then drains.
async fn pass(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    opts: &OutboxOptions,
    lock: &mut Option<WorkerLock>,
    stop: &Shutdown,
) -> Result<PushOutcome, PushError> {
    let held = match lock.take() {
        Some(mut l) => {
            l.ensure(pool).await?;
            l
        }
        None => {
            let l = WorkerLock::acquire(pool).await?;
            tracing::info!(worker = %opts.worker, holder = %l.holder(), claim = ?opts.claim, "Outbox worker started.");
            l
        }
    };
    let l = lock.insert(held);
    drain_as(pool, plan, coda, opts, l, Some(stop)).await
}
