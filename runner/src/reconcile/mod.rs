//! Live reconciliation of Coda with PostgreSQL (`runner coda reconcile`, and daily inside
//! `runner serve`): the push decides what to send from its own record of what Coda confirmed,
//! so a row a person deleted in Coda, or a synced cell a person overwrote there, stays wrong
//! until something reads Coda. This does.
//!
//! Per mapped table: read every row of the Coda table (`read`), what the mapping makes of
//! PostgreSQL, and compare them by merge key, cell by cell, in the push's canonical cell form
//! (`diff`): rows missing in Coda, rows in Coda with no PostgreSQL row, cells that differ
//! (column label and record id, never a value) and keys held twice. With `repair`, write the
//! fewest calls that make Coda equal PostgreSQL for the synced columns (`repair`), under the
//! same per-table lock as `runner push`, and record the confirmed state in `coda_pushed_rows`.
//! Write-back (Coda-owned) tables are compared the other way: a Coda value PostgreSQL does not
//! have is reported, never overwritten. `schedule` runs it daily.

mod diff;
mod read;
mod repair;
mod schedule;

use std::collections::BTreeMap;

use sqlx::PgPool;

pub use diff::{Changed, Drift, Duplicate, Expected};
pub use repair::Repaired;
pub use schedule::spawn_daily;

use crate::config::Plan;
use crate::config::reconcile::ExtraRows;
use crate::push::{
    CodaClient, CodaError, CompiledMapping, IfLocked, Mappings, PushError, PushProgress,
};
use crate::telemetry::events;
use crate::telemetry::metrics::metrics;

/// How a reconcile runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Write the repairs (else report only).
    pub repair: bool,
    /// Count what a repair would write; write nothing, take no lock.
    pub dry_run: bool,
    /// What started it (`cli`, `schedule`), for `sync_log` and the events.
    pub trigger: String,
}

/// Why a reconcile stopped before the end. Nothing was written to the table being read.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Coda could not be read (unreachable, 401, throttled past the retries).
    #[error("cannot read Coda table {table} of mappings/{mapping}.yaml: {source}")]
    Read {
        /// The mapping.
        mapping: String,
        /// The Coda table id.
        table: String,
        /// The failed call.
        #[source]
        source: CodaError,
    },
    /// The mappings or the database failed.
    #[error(transparent)]
    Push(#[from] PushError),
}

/// What reconcile found (and did) in one Coda table.
#[derive(Debug, Clone, Default)]
pub struct TableOutcome {
    /// The mapping name.
    pub mapping: String,
    /// The Coda table id.
    pub table: String,
    /// A write-back (Coda-owned) table: compared the other way, never overwritten.
    pub coda_owned: bool,
    /// The mapping's policy for extra rows.
    pub extra_rows: ExtraRows,
    /// Rows the mapping makes of PostgreSQL.
    pub expected: u64,
    /// Rows Coda holds.
    pub coda_rows: u64,
    /// `listRows` calls made.
    pub read_calls: u64,
    /// What differs.
    pub drift: Drift,
    /// The labels of the columns that differ, each with the record ids whose cell differs.
    pub changed_labels: BTreeMap<String, Vec<uuid::Uuid>>,
    /// Rows whose template failed (id and reason): they cannot be compared.
    pub unmapped: Vec<(uuid::Uuid, String)>,
    /// What the repair wrote (or would write).
    pub repaired: Repaired,
    /// Why this table was not reconciled, or its repair stopped (ids and statuses only).
    pub failed: Option<String>,
}

impl TableOutcome {
    fn new(m: &CompiledMapping, coda_owned: bool, extra_rows: ExtraRows) -> Self {
        TableOutcome {
            mapping: m.name.clone(),
            table: m.table.clone(),
            coda_owned,
            extra_rows,
            ..TableOutcome::default()
        }
    }

    /// Rows of drift this run left for a person: all of it without `repair` (or in a dry
    /// run, or when the table failed); with it, the rows Coda refused, the extra rows of an
    /// `extra_rows: report` table, and the changed, extra and duplicate rows of a write-back
    /// table.
    pub fn unrepaired(&self, opts: &Options) -> u64 {
        let d = &self.drift;
        let duplicates: usize = d.duplicates.iter().map(|x| x.others.len()).sum();
        let all = d.missing.len() + d.changed.len() + d.extra.len() + duplicates;
        if !opts.repair || opts.dry_run || self.failed.is_some() {
            return all as u64;
        }
        let kept = if self.coda_owned {
            d.changed.len() + d.extra.len() + duplicates
        } else if self.extra_rows == ExtraRows::Report {
            d.extra.len()
        } else {
            0
        };
        (kept + self.repaired.rejected.len()) as u64
    }
}

/// Whether PostgreSQL table `source` is filled by write-back from Coda.
pub fn is_coda_owned(plan: &Plan, source: &str) -> bool {
    plan.writeback.endpoints.iter().any(|e| e.table == source)
}

/// Reconciles the mappings named in `selected` (see [`crate::push::select_mappings`]), one
/// table after another; `done` gets each table's outcome as it ends. A table Coda does not
/// have, or whose repair fails, is reported in its outcome and the others go on; a Coda that
/// cannot be read at all (unreachable, 401) stops the run with nothing written to the table
/// being read.
pub async fn reconcile(
    pool: &PgPool,
    plan: &Plan,
    coda: &CodaClient,
    selected: &[String],
    opts: &Options,
    progress: &dyn PushProgress,
    done: &mut (dyn FnMut(&TableOutcome) + Send),
) -> Result<Vec<TableOutcome>, ReconcileError> {
    let maps = &plan.coda_mappings;
    let page_size = plan.systems.coda.reconcile.page_size;
    let mut out = Vec::new();
    for m in maps.list.iter().filter(|m| selected.contains(&m.name)) {
        // A policy of the mapping as written, not part of its compiled cells.
        let extra_rows = plan.mappings.get(&m.name).map(|f| f.extra_rows);
        let mut t = TableOutcome::new(
            m,
            is_coda_owned(plan, m.source.as_str()),
            extra_rows.unwrap_or_default(),
        );
        let lock = if opts.repair && !opts.dry_run {
            match crate::push::lock_table(pool, m, IfLocked::Wait, progress).await {
                Ok(lock) => lock,
                Err(e) => {
                    failed(&mut t, opts, e.to_string());
                    done(&t);
                    out.push(t);
                    continue;
                }
            }
        } else {
            None
        };
        let started = chrono::Utc::now();
        let result = one_table(pool, coda, maps, m, page_size, opts, progress, &mut t).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        match result {
            Ok(()) => {}
            Err(ReconcileError::Read {
                mapping,
                table,
                source,
            }) => {
                let reason = format!("cannot read Coda: {source}");
                failed(&mut t, opts, reason);
                return Err(ReconcileError::Read {
                    mapping,
                    table,
                    source,
                });
            }
            Err(ReconcileError::Push(e)) => failed(&mut t, opts, e.to_string()),
        }
        if t.failed.is_none() {
            reconciled(&t, opts);
        }
        if opts.repair && !opts.dry_run {
            log_work(pool, &t, opts, started).await;
        }
        done(&t);
        out.push(t);
    }
    Ok(out)
}

/// Reads, compares and (with `repair`) repairs one table into `t`.
#[allow(clippy::too_many_arguments)]
async fn one_table(
    pool: &PgPool,
    coda: &CodaClient,
    maps: &Mappings,
    m: &CompiledMapping,
    page_size: u32,
    opts: &Options,
    progress: &dyn PushProgress,
    t: &mut TableOutcome,
) -> Result<(), ReconcileError> {
    // Both sides at once: the Coda pages wait on the network and the read budget, the
    // PostgreSQL pages on the database.
    let (read, mine) = tokio::join!(
        read::coda_table(coda, m, page_size),
        read::expected(pool, maps, m)
    );
    let read = read.map_err(|source| ReconcileError::Read {
        mapping: m.name.clone(),
        table: m.table.clone(),
        source,
    })?;
    let Some(table) = read else {
        t.failed = Some(format!(
            "mappings/{}.yaml: {}; run `runner coda check`",
            m.name,
            crate::coda_check::missing_table(&m.table, &m.doc)
        ));
        return Ok(());
    };
    t.read_calls = table.calls;
    t.coda_rows = table.rows.len() as u64;
    let (expected, unmapped) = mine?;
    t.expected = expected.len() as u64;
    t.unmapped = unmapped;
    t.drift = diff::diff(m, &expected, &table.rows);
    for c in &t.drift.changed {
        for col in &c.columns {
            let label = m.label(col).to_string();
            t.changed_labels.entry(label).or_default().push(c.record);
        }
    }
    if !opts.repair {
        return Ok(());
    }
    let writes = repair::plan(&t.drift, t.coda_owned, t.extra_rows);
    progress.start(&m.name, writes.upsert.len() as u64);
    let name = m.name.clone();
    t.repaired = repair::apply(pool, coda, m, &expected, writes, opts.dry_run, &|n| {
        progress.sent(&name, n);
    })
    .await?;
    if let Some(reason) = &t.repaired.table_refused {
        t.failed = Some(reason.clone());
    } else if !opts.dry_run {
        repair::record_equal(pool, m, &expected, &t.drift).await?;
    }
    Ok(())
}

/// Marks `t` failed and says so (event `coda_reconcile_failed`).
fn failed(t: &mut TableOutcome, opts: &Options, reason: String) {
    tracing::error!(event = events::CODA_RECONCILE_FAILED, mapping = %t.mapping, table = %t.table, trigger = %opts.trigger, reason = %reason, "Coda reconcile of a table failed.");
    metrics().coda_reconcile(&t.mapping, "failed", 1);
    t.failed = Some(reason);
}

/// Logs a finished table (event `coda_reconciled`) and counts its drift and repairs.
fn reconciled(t: &TableOutcome, opts: &Options) {
    let d = &t.drift;
    let duplicates: usize = d.duplicates.iter().map(|x| x.others.len()).sum();
    let m = metrics();
    for (kind, n) in [
        ("missing", d.missing.len()),
        ("changed", d.changed.len()),
        ("extra", d.extra.len()),
        ("duplicate", duplicates),
    ] {
        m.coda_drift(&t.mapping, kind, n as u64);
    }
    if opts.repair && !opts.dry_run {
        m.coda_reconcile(&t.mapping, "upserted", t.repaired.upserted);
        m.coda_reconcile(&t.mapping, "deleted", t.repaired.deleted);
    }
    tracing::info!(
        event = events::CODA_RECONCILED,
        mapping = %t.mapping,
        table = %t.table,
        trigger = %opts.trigger,
        coda_owned = t.coda_owned,
        rows = t.expected,
        missing = d.missing.len(),
        changed = d.changed.len(),
        extra = d.extra.len(),
        duplicates,
        upserted = t.repaired.upserted,
        deleted = t.repaired.deleted,
        write_calls = t.repaired.write_calls,
        read_calls = t.read_calls,
        dry_run = opts.dry_run,
        "Coda table reconciled."
    );
}

/// The `sync_log` row of a repair (`coda:<mapping>`, trigger `reconcile` or `schedule`).
async fn log_work(
    pool: &PgPool,
    t: &TableOutcome,
    opts: &Options,
    started: chrono::DateTime<chrono::Utc>,
) {
    let trigger = if opts.trigger == "schedule" {
        "schedule"
    } else {
        "reconcile"
    };
    crate::sync::log::record_work(
        pool,
        &crate::sync::log::Work {
            what: &format!("coda:{}", t.mapping),
            trigger,
            started_at: Some(started),
            counts: crate::store::UpsertCounts {
                updated: t.repaired.upserted,
                unchanged: t.drift.equal.len() as u64,
                ..Default::default()
            },
            removed: t.repaired.deleted,
            error: t.failed.as_deref(),
        },
    )
    .await;
}
