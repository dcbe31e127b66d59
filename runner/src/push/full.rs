//! `runner push`: every row of the chosen mappings, diff-only. Rows are read in pages, sorted
//! against the confirmed hashes, and only then batched, so N changed rows cost
//! `ceil(N / max_rows_per_call)` write calls (under the byte limit) and an unchanged table
//! costs none. It does not touch the outbox: pending events of rows it pushed find their
//! hashes equal and are settled by the worker without a call to Coda.
//!
//! Each Coda table is pushed under its own advisory lock ([`TableLock`]), taken before the
//! confirmed hashes are read: a second push of the same table waits (and then finds the rows
//! sent) or, with [`IfLocked::Skip`], skips the table. A table whose push fails (a call that
//! kept failing, a table Coda refuses) is reported and the other tables go on.

pub use crate::schedule::IfLocked;
use sqlx::PgPool;

use super::cells::{CompiledMapping, Mappings};
use super::client::CodaClient;
use super::error::PushError;
use super::locks::TableLock;
use super::rows;
use super::send::{Classified, Mode, TableReport, classify, execute};
use crate::config::Plan;

/// Rows read per page.
const PAGE: i64 = 2000;

/// Progress of a full push.
pub trait PushProgress: Sync {
    /// `mapping` has `to_send` rows to send (after the diff).
    fn start(&self, mapping: &str, to_send: u64);
    /// `sent` rows of `mapping` are confirmed so far.
    fn sent(&self, mapping: &str, sent: u64);
    /// Another push holds Coda table `table`; this one waits for it.
    fn waiting(&self, _mapping: &str, _table: &str) {}
}

/// How a full push runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct FullOptions {
    /// Count what would be sent; send nothing (no lock is taken).
    pub dry_run: bool,
    /// When another push holds a table.
    pub if_locked: IfLocked,
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
    /// Why the table's push failed (a call that kept failing, or the table refused); the
    /// other tables were pushed all the same.
    pub failed: Option<String>,
    /// True when the table was skipped because another push held it (`--if-locked skip`).
    pub skipped: bool,
}

impl MappingReport {
    fn new(m: &CompiledMapping) -> Self {
        MappingReport {
            mapping: m.name.clone(),
            table: m.table.clone(),
            rows: 0,
            report: TableReport::default(),
            failed: None,
            skipped: false,
        }
    }
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

/// Pushes every row of the mappings named in `selected` (see [`select_mappings`]), waiting
/// for tables another push holds.
pub async fn push_full(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    selected: &[String],
    dry_run: bool,
    progress: &dyn PushProgress,
) -> Result<Vec<MappingReport>, PushError> {
    let opts = FullOptions {
        dry_run,
        ..FullOptions::default()
    };
    push_full_with(pool, plan, coda, selected, opts, progress).await
}

/// [`push_full`] with every option. Only an unusable mapping set is an error; each table's
/// failure is in its report.
pub async fn push_full_with(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    selected: &[String],
    opts: FullOptions,
    progress: &dyn PushProgress,
) -> Result<Vec<MappingReport>, PushError> {
    let maps = &plan.coda_mappings;
    let mut out = Vec::new();
    for m in maps.list.iter().filter(|m| selected.contains(&m.name)) {
        let mut r = MappingReport::new(m);
        let lock = if opts.dry_run {
            None
        } else {
            match lock_table(pool, m, opts.if_locked, progress).await {
                Ok(Some(lock)) => Some(lock),
                Ok(None) => {
                    tracing::info!(mapping = %m.name, table = %m.table, "Another push holds the Coda table; skipped.");
                    r.skipped = true;
                    out.push(r);
                    continue;
                }
                Err(e) => {
                    r.failed = Some(e.to_string());
                    out.push(r);
                    continue;
                }
            }
        };
        let started = chrono::Utc::now();
        let pushed = push_one(pool, coda, maps, m, opts.dry_run, progress, &mut r).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        if let Err(e) = pushed {
            tracing::warn!(mapping = %m.name, table = %m.table, error = %e, "Coda push of a table failed; the other tables go on.");
            r.failed = Some(e.to_string());
        } else if let Some(reason) = &r.report.table_refused {
            r.failed = Some(reason.clone());
        }
        if !opts.dry_run {
            crate::sync::log::record_work(
                pool,
                &crate::sync::log::Work {
                    what: &format!("coda:{}", m.name),
                    trigger: "push",
                    started_at: Some(started),
                    counts: crate::store::UpsertCounts {
                        updated: r.report.sent,
                        unchanged: r.report.unchanged,
                        ..Default::default()
                    },
                    removed: r.report.deleted,
                    error: r.failed.as_deref(),
                },
            )
            .await;
        }
        out.push(r);
    }
    Ok(out)
}

/// The table's lock: at once, after waiting (`Wait`), or `None` (`Skip`, held elsewhere).
pub(crate) async fn lock_table(
    pool: &PgPool,
    m: &CompiledMapping,
    if_locked: IfLocked,
    progress: &dyn PushProgress,
) -> Result<Option<TableLock>, PushError> {
    match TableLock::try_acquire(pool, &m.doc, &m.table).await? {
        Ok(lock) => Ok(Some(lock)),
        Err(held) if if_locked == IfLocked::Skip => {
            held.abandon().await;
            Ok(None)
        }
        Err(held) => {
            tracing::info!(mapping = %m.name, table = %m.table, "Another push holds the Coda table; waiting.");
            progress.waiting(&m.name, &m.table);
            held.wait().await.map(Some)
        }
    }
}

/// Reads, diffs and sends one mapping into `r`.
async fn push_one(
    pool: &PgPool,
    coda: &CodaClient,
    maps: &Mappings,
    m: &CompiledMapping,
    dry_run: bool,
    progress: &dyn PushProgress,
    r: &mut MappingReport,
) -> Result<(), PushError> {
    let mode = if dry_run { Mode::DryRun } else { Mode::Full };
    let pushed = rows::hashes(pool, &m.table, None).await?;
    let mut classified = Classified::default();
    let mut after = None;
    loop {
        let page = rows::read_page(pool, &m.source, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        r.rows += page.len() as u64;
        classify(maps, m, page, &pushed, mode, &mut classified);
    }
    progress.start(&m.name, classified.to_send() as u64);
    let name = m.name.clone();
    r.report = execute(pool, coda, m, classified, mode, &|n| {
        progress.sent(&name, n);
    })
    .await?;
    let t = &r.report;
    tracing::info!(mapping = %m.name, rows = r.rows, sent = t.sent, unchanged = t.unchanged, deleted = t.deleted, calls = t.write_calls, dry_run, "Coda push finished.");
    Ok(())
}
