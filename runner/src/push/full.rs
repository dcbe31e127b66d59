//! `runner push`: every row of the chosen mappings, diff-only. Rows are read in pages, sorted
//! against the confirmed hashes, and only then batched, so N changed rows cost
//! `ceil(N / max_rows_per_call)` write calls (under the byte limit) and an unchanged table
//! costs none. It does not touch the outbox: pending events of rows it pushed find their
//! hashes equal and are settled by the worker without a call to Coda.

use sqlx::PgPool;

use super::client::CodaClient;
use super::error::PushError;
use super::send::{Classified, Mode, TableReport, classify, execute};
use super::{compiled, rows};
use crate::config::Plan;

/// Rows read per page.
const PAGE: i64 = 2000;

/// Progress of a full push.
pub trait PushProgress: Sync {
    /// `mapping` has `to_send` rows to send (after the diff).
    fn start(&self, mapping: &str, to_send: u64);
    /// `sent` rows of `mapping` are confirmed so far.
    fn sent(&self, mapping: &str, sent: u64);
}

/// No progress output.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPushProgress;

impl PushProgress for NoPushProgress {
    fn start(&self, _: &str, _: u64) {}
    fn sent(&self, _: &str, _: u64) {}
}

/// What a full push did to one Coda table.
#[derive(Debug, Clone)]
pub struct MappingReport {
    /// The mapping name.
    pub mapping: String,
    /// The Coda table id.
    pub table: String,
    /// Rows read from PostgreSQL.
    pub rows: u64,
    /// What was sent (or would be, in a dry run).
    pub report: TableReport,
}

/// The mapping names chosen by `names` (a mapping name, or a PostgreSQL table that feeds
/// one or more mappings), or every mapping with `all`.
pub fn select_mappings(plan: &Plan, names: &[String], all: bool) -> Result<Vec<String>, PushError> {
    if all {
        return Ok(plan.mappings.keys().cloned().collect());
    }
    let mut out = Vec::new();
    for n in names {
        let hits: Vec<String> = plan
            .mappings
            .iter()
            .filter(|(name, m)| *name == n || &m.source == n)
            .map(|(name, _)| name.clone())
            .collect();
        if hits.is_empty() {
            return Err(PushError::UnknownTable(n.clone()));
        }
        for h in hits {
            if !out.contains(&h) {
                out.push(h);
            }
        }
    }
    Ok(out)
}

/// Pushes every row of the mappings named in `selected` (see [`select_mappings`]).
pub async fn push_full(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    selected: &[String],
    dry_run: bool,
    progress: &dyn PushProgress,
) -> Result<Vec<MappingReport>, PushError> {
    let maps = compiled(plan, coda)?;
    let mode = if dry_run { Mode::DryRun } else { Mode::Full };
    let mut out = Vec::new();
    for m in maps.list.iter().filter(|m| selected.contains(&m.name)) {
        let pushed = rows::hashes(pool, &m.table, None).await?;
        let mut classified = Classified::default();
        let mut after = None;
        let mut read = 0u64;
        loop {
            let page = rows::read_page(pool, &m.source, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            read += page.len() as u64;
            classify(&maps, m, page, &pushed, mode, &mut classified);
        }
        progress.start(&m.name, classified.to_send() as u64);
        let name = m.name.clone();
        let report = execute(pool, coda, m, classified, mode, &|n| {
            progress.sent(&name, n);
        })
        .await?;
        tracing::info!(mapping = %m.name, rows = read, sent = report.sent, unchanged = report.unchanged, deleted = report.deleted, calls = report.write_calls, dry_run, "Coda push finished.");
        out.push(MappingReport {
            mapping: m.name.clone(),
            table: m.table.clone(),
            rows: read,
            report,
        });
    }
    Ok(out)
}
