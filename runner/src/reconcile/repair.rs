//! The writes of `--repair`, the fewest that make Coda equal PostgreSQL for the synced
//! columns: missing and changed rows go back through the push's batched, keyed `upsertRows`
//! (only the mapped cells are sent, so columns Coda owns keep their values), the extra rows of
//! a duplicated key and, where the mapping says `extra_rows: delete`, rows PostgreSQL does not
//! have go in `deleteRows` calls, and the confirmed state is recorded in `coda_pushed_rows`.
//!
//! A write-back (Coda-owned) table is never overwritten: its changed cells may be staff edits
//! on their way to PostgreSQL. Only its missing rows are restored.
//!
//! Every write is keyed or by row id, and confirmed before its hash is recorded, so a repair
//! killed anywhere leaves Coda with part of the repair applied (never worse) and the next run
//! finds and finishes the rest.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::diff::{Drift, Expected};
use crate::config::reconcile::ExtraRows;
use crate::push::rows::{self, Pushed};
use crate::push::send::{self, Classified, MAX_DELETE_IDS, Mode, TableReport};
use crate::push::{CodaClient, CompiledMapping, PushError, content_hash, row_json};

/// What a repair wrote (in a dry run: would write).
#[derive(Debug, Clone, Default)]
pub struct Repaired {
    /// Rows upserted (missing or changed).
    pub upserted: u64,
    /// Coda rows deleted (extra rows, other rows of a duplicated key).
    pub deleted: u64,
    /// Write calls made (upserts and deletes).
    pub write_calls: u64,
    /// Rows Coda refused, with a reason made of ids and status codes.
    pub rejected: Vec<(Uuid, String)>,
    /// Set when Coda refused the table itself.
    pub table_refused: Option<String>,
}

/// The rows a repair writes.
#[derive(Debug, Default)]
pub(super) struct Writes {
    /// PostgreSQL rows to upsert.
    pub upsert: Vec<Uuid>,
    /// Coda rows to delete.
    pub delete: Vec<String>,
}

/// Chooses the writes for `drift` of a mapping; `coda_owned` for a write-back table,
/// `extra_rows` the mapping's policy for Coda rows without a PostgreSQL row.
pub(super) fn plan(drift: &Drift, coda_owned: bool, extra_rows: ExtraRows) -> Writes {
    let mut w = Writes {
        upsert: drift.missing.clone(),
        delete: Vec::new(),
    };
    if coda_owned {
        return w;
    }
    w.upsert.extend(drift.changed.iter().map(|c| c.record));
    w.delete.extend(
        drift
            .duplicates
            .iter()
            .flat_map(|d| d.others.iter().cloned()),
    );
    if extra_rows == ExtraRows::Delete {
        w.delete.extend(drift.extra.iter().cloned());
    }
    w
}

/// Makes the writes (or, with `dry_run`, counts their calls); `progress` gets the rows
/// confirmed after each upsert call.
pub(super) async fn apply(
    pool: &sqlx::PgPool,
    coda: &CodaClient,
    m: &CompiledMapping,
    expected: &[Expected],
    writes: Writes,
    dry_run: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Repaired, PushError> {
    let wanted: HashSet<Uuid> = writes.upsert.iter().copied().collect();
    let mut classified = Classified::default();
    for e in expected.iter().filter(|e| wanted.contains(&e.id)) {
        classified.send_cells(e.id, &e.cells);
    }
    let mode = if dry_run { Mode::DryRun } else { Mode::Full };
    let mut report: TableReport = send::execute(pool, coda, m, classified, mode, progress).await?;
    let mut out = Repaired {
        upserted: report.sent,
        rejected: std::mem::take(&mut report.rejected),
        ..Repaired::default()
    };
    if dry_run {
        out.deleted = writes.delete.len() as u64;
        out.write_calls = report.write_calls + writes.delete.len().div_ceil(MAX_DELETE_IDS) as u64;
        return Ok(out);
    }
    if report.table_refused.is_none() {
        let mut checked = false;
        if send::delete_row_ids(coda, m, &writes.delete, &mut report, &mut checked).await? {
            out.deleted = writes.delete.len() as u64;
        }
    }
    out.write_calls = report.write_calls;
    out.table_refused = report.table_refused;
    Ok(out)
}

/// Records the rows Coda holds exactly (hash and Coda row id) where `coda_pushed_rows` says
/// something else, so the next push neither resends them nor looks their row ids up.
pub(super) async fn record_equal(
    pool: &sqlx::PgPool,
    m: &CompiledMapping,
    expected: &[Expected],
    drift: &Drift,
) -> Result<u64, PushError> {
    let pushed: HashMap<Uuid, Pushed> = rows::hashes(pool, &m.table, None).await?;
    let cells: HashMap<Uuid, &Expected> = expected.iter().map(|e| (e.id, e)).collect();
    let mut stale = Vec::new();
    for (id, row) in &drift.equal {
        let Some(e) = cells.get(id) else { continue };
        let hash = content_hash(&row_json(&e.cells));
        let known = pushed
            .get(id)
            .is_some_and(|p| p.hash == hash && p.coda_row_id.as_deref() == Some(row.as_str()));
        if !known {
            stale.push((*id, hash, row.clone()));
        }
    }
    if !stale.is_empty() {
        rows::record_rows(pool, &m.table, &stale).await?;
    }
    Ok(stale.len() as u64)
}
