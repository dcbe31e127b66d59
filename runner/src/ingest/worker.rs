//! The inbox worker: processes `received` entries after they were acknowledged. It wakes when
//! a webhook is stored ([`AppState::inbox_notify`]) and polls periodically, so entries left by
//! a crash or a database outage are picked up too. Each entry is claimed with
//! `FOR UPDATE SKIP LOCKED`. Entries are processed in batches of up to [`BATCH`], one
//! transaction per batch and one savepoint per entry (a failing entry is marked failed without
//! undoing its neighbours): one commit, so one WAL flush, per batch instead of per entry, which
//! is what lets the worker keep up with a burst of webhooks.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::inbox;
use super::process::{Outcome, retryable, settle};
use crate::app::{AppState, Shutdown};
use crate::config::Plan;
use crate::store::StoreError;

/// Most entries processed in one transaction.
pub(super) const BATCH: i64 = 100;

/// How often the worker looks at the inbox without being woken.
pub const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// First wait after a database failure; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a drain of the inbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Entries written.
    pub processed: u64,
    /// Entries nothing takes.
    pub ignored: u64,
    /// Entries marked failed.
    pub failed: u64,
}

/// Processes the oldest `received` entry, if any (claimed, processed and committed in one
/// transaction). `Ok(None)` when the inbox has nothing pending.
pub async fn process_next(pool: &PgPool, plan: &Plan) -> Result<Option<Outcome>, StoreError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| StoreError::from_sqlx("begin", e))?;
    let Some(entry) = inbox::claim_next(&mut tx).await? else {
        return Ok(None);
    };
    let outcome = settle(&mut tx, plan, &entry).await?;
    tx.commit()
        .await
        .map_err(|e| StoreError::from_sqlx("commit", e))?;
    log(&entry, &outcome);
    Ok(Some(outcome))
}

/// Processes up to [`BATCH`] of the oldest `received` entries in one transaction. A database
/// failure rolls the whole batch back (the entries stay `received`); an entry that cannot be
/// written is marked failed inside its own savepoint. Returns the outcomes, oldest first.
pub(super) async fn process_batch(pool: &PgPool, plan: &Plan) -> Result<Vec<Outcome>, StoreError> {
    let started = chrono::Utc::now();
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| StoreError::from_sqlx("begin", e))?;
    let entries = inbox::claim_batch(&mut tx, BATCH).await?;
    let mut done = Vec::with_capacity(entries.len());
    for entry in &entries {
        let outcome = settle(&mut tx, plan, entry).await?;
        done.push(outcome);
    }
    tx.commit()
        .await
        .map_err(|e| StoreError::from_sqlx("commit", e))?;
    for (entry, outcome) in entries.iter().zip(&done) {
        log(entry, outcome);
    }
    if !done.is_empty() {
        let mut counts = crate::store::UpsertCounts::default();
        let mut failed = 0;
        for o in &done {
            match o {
                Outcome::Processed(c) => counts += *c,
                Outcome::Failed(_) => failed += 1,
                Outcome::Ignored => {}
            }
        }
        let error = (failed > 0).then(|| {
            format!(
                "{failed} of {} webhook(s) failed; kept for replay",
                done.len()
            )
        });
        crate::sync::log::record_work(
            pool,
            &crate::sync::log::Work {
                what: "webhooks",
                trigger: "webhook",
                started_at: Some(started),
                counts,
                error: error.as_deref(),
                ..Default::default()
            },
        )
        .await;
    }
    Ok(done)
}

/// Processes every pending entry, oldest first, until none is left (or `stop` fires).
pub async fn process_pending(
    pool: &PgPool,
    plan: &Plan,
    stop: Option<&Shutdown>,
) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    while !stop.is_some_and(Shutdown::is_triggered) {
        let outcomes = process_batch(pool, plan).await?;
        if outcomes.is_empty() {
            break;
        }
        for o in outcomes {
            match o {
                Outcome::Processed(_) => report.processed += 1,
                Outcome::Ignored => report.ignored += 1,
                Outcome::Failed(_) => report.failed += 1,
            }
        }
    }
    Ok(report)
}

/// Starts the worker; it finishes its current entry and returns once `stop` fires.
pub fn spawn_worker(state: AppState, mut stop: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            // Records of version-less resources are re-read from the API first; a failure
            // leaves their entries waiting, and the rest is processed anyway.
            if let Err(e) = super::refetch_pending(&state.pool, &state.plan, &state.drchrono).await
            {
                tracing::warn!(error = %e, "Inbox worker: re-reading records failed.");
            }
            let wait = match process_pending(&state.pool, &state.plan, Some(&stop)).await {
                Ok(_) => {
                    backoff = MIN_BACKOFF;
                    POLL_INTERVAL
                }
                Err(e) => {
                    let level_wait = backoff;
                    if retryable(&e) {
                        tracing::warn!(error = %e, retry_in_ms = level_wait.as_millis() as u64, "Inbox worker: database unavailable.");
                    } else {
                        tracing::error!(error = %e, retry_in_ms = level_wait.as_millis() as u64, "Inbox worker failed.");
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    level_wait
                }
            };
            if stop.is_triggered() {
                break;
            }
            tokio::select! {
                () = state.inbox_notify.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = stop.wait() => break,
            }
        }
        tracing::debug!("Inbox worker stopped.");
    })
}

fn log(entry: &inbox::Entry, outcome: &Outcome) {
    let (id, event) = (entry.id, entry.event.as_deref().unwrap_or("-"));
    match outcome {
        Outcome::Processed(c) => tracing::info!(
            inbox_id = id,
            webhook_event = event,
            inserted = c.inserted,
            updated = c.updated,
            unchanged = c.unchanged,
            stale = c.stale,
            "Webhook processed."
        ),
        Outcome::Ignored => {
            tracing::info!(inbox_id = id, webhook_event = event, "Webhook ignored.");
        }
        Outcome::Failed(reason) => {
            tracing::warn!(event = crate::telemetry::events::INBOX_FAILED, source = %entry.source, inbox_id = id, webhook_event = event, reason = %reason, "Webhook failed; kept for replay.");
        }
    }
}
