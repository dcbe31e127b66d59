//! Re-processing inbox entries (`runner replay`): after a mapping fix, a config change or an
//! outage. Each entry is claimed (skipping any a worker holds) and processed in its own
//! transaction, exactly as the worker does, so replaying is idempotent: unchanged rows are
//! not written again and stale versions are refused.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::inbox::{self, Status};
use super::process::{Outcome, settle};
use crate::config::Plan;
use crate::store::{StoreError, UpsertCounts};

/// Which entries to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayFilter {
    /// Only `failed` entries (default: `received` and `failed`).
    pub only_failed: bool,
    /// Only entries received at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only these entries. Named entries are replayed whatever their status (unless
    /// `only_failed`), so a processed entry can be re-applied after a mapping fix.
    pub ids: Vec<i64>,
}

impl ReplayFilter {
    /// The statuses this filter selects.
    pub fn statuses(&self) -> &'static [Status] {
        if self.only_failed {
            &[Status::Failed]
        } else if self.ids.is_empty() {
            &[Status::Received, Status::Failed]
        } else {
            &[
                Status::Received,
                Status::Failed,
                Status::Processed,
                Status::Ignored,
            ]
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Entries selected.
    pub selected: u64,
    /// Entries written (their rows may all have been unchanged).
    pub processed: u64,
    /// Entries nothing takes.
    pub ignored: u64,
    /// Entries that failed again, with their reasons (ids and names only).
    pub failed: Vec<(i64, String)>,
    /// Entries skipped: held by a worker, or their status changed meanwhile.
    pub skipped: u64,
    /// Upsert outcome over every processed entry.
    pub counts: UpsertCounts,
}

/// Replays the entries `filter` selects, oldest first.
pub async fn replay(
    pool: &PgPool,
    plan: &Plan,
    filter: &ReplayFilter,
) -> Result<ReplayReport, StoreError> {
    let statuses = filter.statuses();
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| StoreError::from_sqlx("acquire", e))?;
    let ids = inbox::select(&mut conn, statuses, filter.since, &filter.ids).await?;
    drop(conn);
    let mut report = ReplayReport {
        selected: ids.len() as u64,
        ..ReplayReport::default()
    };
    for id in ids {
        let mut tx = pool
            .begin()
            .await
            .map_err(|e| StoreError::from_sqlx("begin", e))?;
        let Some(entry) = inbox::claim(&mut tx, id, statuses).await? else {
            report.skipped += 1;
            continue;
        };
        let outcome = settle(&mut tx, plan, &entry).await?;
        let source = entry.source.clone();
        tx.commit()
            .await
            .map_err(|e| StoreError::from_sqlx("commit", e))?;
        match outcome {
            Outcome::Processed(c) => {
                report.processed += 1;
                report.counts += c;
            }
            Outcome::Ignored => report.ignored += 1,
            Outcome::Failed(reason) => {
                tracing::warn!(event = crate::telemetry::events::INBOX_FAILED, source = %source, inbox_id = id, reason = %reason, "Replay failed; kept for replay.");
                report.failed.push((id, reason));
            }
        }
    }
    tracing::info!(
        selected = report.selected,
        processed = report.processed,
        failed = report.failed.len(),
        skipped = report.skipped,
        "Replay finished."
    );
    Ok(report)
}
