//! One push of rows to one Coda table: diff against the confirmed hashes, batches of at most
//! `max_rows_per_call` rows under `max_body_bytes`, `upsertRows` keyed by the mapping's key
//! columns, a 400/413 answered by splitting the batch in two until the bad row stands alone,
//! confirmation through `mutationStatus` BEFORE a hash is recorded, and removal of rows that
//! were deleted (soft-deleted with `skip_deleted`, or hard-deleted). A refusal that concerns
//! the whole table (see [`super::refusal`]) stops the table instead of splitting batches.
//!
//! Removal: upserts with `keyColumns` return no row ids, so a row to remove is found by its
//! key with one `listRows?query=` read (the stored `coda_row_id` is used instead when known),
//! then every found row goes in one `deleteRows` call per 500 ids, confirmed like an upsert,
//! and only then is the hash dropped.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;
use uuid::Uuid;

use super::cells::{CompiledMapping, Mappings, content_hash, row_json, same_cell};
use super::client::CodaClient;
use super::error::{CodaError, PushError};
use super::refusal;
use super::rows::{self, Pushed, SourceRow};
use sqlx::PgPool;

/// Most failing calls spent isolating bad rows in one push; past it the rest of a refused
/// batch is reported refused as a whole (a mapping error refuses every row, and isolating
/// each one would cost two calls per row).
const MAX_REFUSED_CALLS: u32 = 32;

/// Most row ids in one `deleteRows` call.
pub(crate) const MAX_DELETE_IDS: usize = 500;

/// How a push treats rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Change events: a deleted row without a confirmed hash is still looked up in Coda (an
    /// unconfirmed earlier write may have landed).
    Events,
    /// A full push: only rows with a confirmed hash are removed.
    Full,
    /// Count what a full push would do; no call is made, nothing is recorded.
    DryRun,
}

/// What one push to one Coda table did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct TableReport {
    /// Rows sent and confirmed (dry run: rows that would be sent).
    pub sent: u64,
    /// Of `sent`, rows Coda had no hash for (new to Coda, as far as we know).
    pub created: u64,
    /// Rows whose content Coda already holds.
    pub unchanged: u64,
    /// Rows removed from Coda (dry run: rows that would be removed).
    pub deleted: u64,
    /// Write calls made (dry run: planned).
    pub write_calls: u64,
    /// Read calls made (dry run: planned).
    pub read_calls: u64,
    /// Rows Coda refused, with a reason made of ids and status codes only.
    pub rejected: Vec<(Uuid, String)>,
    /// Set when Coda refused the table itself (a mapped column deleted or calculated, the
    /// table gone): why, with the column ids; nothing more was sent to this table.
    pub table_refused: Option<String>,
}

#[derive(Debug, Clone)]
struct Prepared {
    id: Uuid,
    hash: String,
    json: String,
}

struct Removal {
    id: Uuid,
    coda_row_id: Option<String>,
    key: Vec<(String, Value)>,
}

/// Rows of one Coda table sorted into what must be sent and removed.
#[derive(Default)]
pub(crate) struct Classified {
    send: Vec<Prepared>,
    remove: Vec<Removal>,
    report: TableReport,
}

impl Classified {
    /// Rows to send so far.
    pub(crate) fn to_send(&self) -> usize {
        self.send.len()
    }

    /// Adds row `id` to send with these cells (reconcile decides what to send by itself).
    pub(crate) fn send_cells(&mut self, id: Uuid, cells: &[(String, Value)]) {
        let json = row_json(cells);
        self.send.push(Prepared {
            id,
            hash: content_hash(&json),
            json,
        });
    }
}

/// Sorts `rows` of mapping `m` into `out`; `pushed` holds their confirmed hashes.
pub(crate) fn classify(
    maps: &Mappings,
    m: &CompiledMapping,
    rows: Vec<SourceRow>,
    pushed: &HashMap<Uuid, Pushed>,
    mode: Mode,
    out: &mut Classified,
) {
    for row in rows {
        let old = pushed.get(&row.id);
        if row.is_deleted() && m.skip_deleted {
            if old.is_some() || mode == Mode::Events {
                out.remove.push(Removal {
                    id: row.id,
                    coda_row_id: old.and_then(|p| p.coda_row_id.clone()),
                    key: maps.key_cells(m, &row.values),
                });
            }
            continue;
        }
        match maps.cells(m, &row.values) {
            Err(column) => out
                .report
                .rejected
                .push((row.id, format!("{}: template of {column} failed", m.table))),
            Ok(cells) => {
                let json = row_json(&cells);
                let hash = content_hash(&json);
                if old.is_some_and(|p| p.hash == hash) {
                    out.report.unchanged += 1;
                } else {
                    out.report.created += u64::from(old.is_none());
                    out.send.push(Prepared {
                        id: row.id,
                        hash,
                        json,
                    });
                }
            }
        }
    }
}

/// Sends what `classified` holds (or, with [`Mode::DryRun`], only counts the calls);
/// `progress` gets the number of rows confirmed after each call.
pub(crate) async fn execute(
    pool: &PgPool,
    coda: &CodaClient,
    m: &CompiledMapping,
    classified: Classified,
    mode: Mode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TableReport, PushError> {
    let Classified {
        send,
        remove,
        mut report,
    } = classified;
    let batches = batches(send, coda.max_rows(), coda.max_bytes(), &m.key_ids);
    if mode == Mode::DryRun {
        report.sent = batches.iter().map(|b| b.len() as u64).sum();
        report.write_calls = batches.len() as u64 + remove.len().div_ceil(MAX_DELETE_IDS) as u64;
        report.read_calls = remove.iter().filter(|r| r.coda_row_id.is_none()).count() as u64;
        report.deleted = remove.len() as u64;
        return Ok(report);
    }
    let mut checked = false;
    upsert_all(pool, coda, m, batches, &mut report, &mut checked, progress).await?;
    if report.table_refused.is_none() {
        remove_all(pool, coda, m, remove, &mut report, &mut checked).await?;
    }
    Ok(report)
}

/// Pushes `rows` of mapping `m` ([`classify`] then [`execute`]).
pub(crate) async fn push_mapping(
    pool: &PgPool,
    coda: &CodaClient,
    maps: &Mappings,
    m: &CompiledMapping,
    rows: Vec<SourceRow>,
    pushed: &HashMap<Uuid, Pushed>,
    mode: Mode,
) -> Result<TableReport, PushError> {
    let mut c = Classified::default();
    classify(maps, m, rows, pushed, mode, &mut c);
    execute(pool, coda, m, c, mode, &|_| {}).await
}

/// Splits rows into calls: at most `max_rows` rows, and a body of at most `max_bytes` (a
/// single larger row goes alone: Coda's real limit may be higher than the configured one).
fn batches(
    rows: Vec<Prepared>,
    max_rows: usize,
    max_bytes: usize,
    key_ids: &[String],
) -> Vec<Vec<Prepared>> {
    let overhead = body(&[], key_ids).len();
    let mut out: Vec<Vec<Prepared>> = Vec::new();
    let mut current: Vec<Prepared> = Vec::new();
    let mut size = overhead;
    for row in rows {
        let extra = row.json.len() + usize::from(!current.is_empty());
        if !current.is_empty() && (current.len() >= max_rows || size + extra > max_bytes) {
            out.push(std::mem::take(&mut current));
            size = overhead;
        }
        size += row.json.len() + usize::from(!current.is_empty());
        current.push(row);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn body(rows: &[Prepared], key_ids: &[String]) -> String {
    let joined: Vec<&str> = rows.iter().map(|r| r.json.as_str()).collect();
    format!(
        "{{\"rows\":[{}],\"keyColumns\":{}}}",
        joined.join(","),
        serde_json::to_string(key_ids).unwrap_or_else(|_| "[]".into())
    )
}

async fn upsert_all(
    pool: &PgPool,
    coda: &CodaClient,
    m: &CompiledMapping,
    batches: Vec<Vec<Prepared>>,
    report: &mut TableReport,
    checked: &mut bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), PushError> {
    let mut queue: VecDeque<Vec<Prepared>> = batches.into();
    let mut refused_calls = 0u32;
    while let Some(batch) = queue.pop_front() {
        report.write_calls += 1;
        let sent = coda
            .upsert(&m.doc, &m.table, body(&batch, &m.key_ids))
            .await;
        if let Err(e) = &sent
            && refused_table(coda, m, e, report, checked).await?
        {
            return Ok(());
        }
        match sent {
            Ok(request) => {
                coda.confirm(&m.table, &request).await?;
                let done: Vec<(Uuid, String)> =
                    batch.iter().map(|r| (r.id, r.hash.clone())).collect();
                rows::record_hashes(pool, &m.table, &done).await?;
                report.sent += batch.len() as u64;
                progress(report.sent);
            }
            Err(e) if e.is_rejection() => {
                refused_calls += 1;
                let status = e.status().unwrap_or_default();
                if batch.len() == 1 {
                    tracing::warn!(table = %m.table, record = %batch[0].id, status, "Coda refused a row.");
                    report.rejected.push((
                        batch[0].id,
                        format!("{}: upsertRows answered {status}", m.table),
                    ));
                } else if refused_calls > MAX_REFUSED_CALLS {
                    for r in &batch {
                        report.rejected.push((
                            r.id,
                            format!(
                                "{}: upsertRows answered {status} (batch not split further)",
                                m.table
                            ),
                        ));
                    }
                } else {
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    queue.push_front(second);
                    queue.push_front(first);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// On the first answer of a push to `m` that may concern the table, checks the table once;
/// true (with `report.table_refused` set) when Coda refuses the table itself.
async fn refused_table(
    coda: &CodaClient,
    m: &CompiledMapping,
    e: &CodaError,
    report: &mut TableReport,
    checked: &mut bool,
) -> Result<bool, PushError> {
    if *checked || !refusal::may_concern_table(e) {
        return Ok(false);
    }
    *checked = true;
    report.read_calls += 1;
    let Some(reason) = refusal::table_fault(coda, m).await? else {
        return Ok(false);
    };
    tracing::error!(event = crate::telemetry::events::CODA_TABLE_REFUSED, table = %m.table, mapping = %m.name, status = e.status().unwrap_or_default(), reason = %reason, "Coda refused the table; its rows are not pushed until the mapping or the doc is fixed.");
    report.table_refused = Some(reason);
    Ok(true)
}

async fn remove_all(
    pool: &PgPool,
    coda: &CodaClient,
    m: &CompiledMapping,
    remove: Vec<Removal>,
    report: &mut TableReport,
    checked: &mut bool,
) -> Result<(), PushError> {
    if remove.is_empty() {
        return Ok(());
    }
    let mut coda_ids = Vec::new();
    for r in &remove {
        if let Some(id) = &r.coda_row_id {
            coda_ids.push(id.clone());
            continue;
        }
        // A null key matches nothing reliably; such a row was never pushed with its key.
        let Some((first_col, first_val)) = r
            .key
            .first()
            .filter(|(_, v)| v != &Value::String(String::new()))
        else {
            continue;
        };
        report.read_calls += 1;
        let found = coda.find_rows(&m.doc, &m.table, first_col, first_val).await;
        if let Err(e) = &found
            && refused_table(coda, m, e, report, checked).await?
        {
            return Ok(());
        }
        let found = found?;
        for (row_id, values) in found {
            if r.key.iter().all(|(c, v)| same_cell(values.get(c), v)) {
                coda_ids.push(row_id);
            }
        }
    }
    if !delete_row_ids(coda, m, &coda_ids, report, checked).await? {
        return Ok(());
    }
    let ids: Vec<Uuid> = remove.iter().map(|r| r.id).collect();
    rows::drop_hashes(pool, &m.table, &ids).await?;
    report.deleted += coda_ids.len() as u64;
    Ok(())
}

/// Deletes Coda rows `coda_ids` of `m`'s table, `MAX_DELETE_IDS` per `deleteRows` call, each
/// confirmed before the next. False (with `report.table_refused` set) when Coda refused the
/// table itself.
pub(crate) async fn delete_row_ids(
    coda: &CodaClient,
    m: &CompiledMapping,
    coda_ids: &[String],
    report: &mut TableReport,
    checked: &mut bool,
) -> Result<bool, PushError> {
    for chunk in coda_ids.chunks(MAX_DELETE_IDS) {
        report.write_calls += 1;
        let request = coda.delete_rows(&m.doc, &m.table, chunk).await;
        if let Err(e) = &request
            && refused_table(coda, m, e, report, checked).await?
        {
            return Ok(false);
        }
        let request = request?;
        coda.confirm(&m.table, &request).await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize) -> Prepared {
        Prepared {
            id: Uuid::nil(),
            hash: String::new(),
            json: "x".repeat(n),
        }
    }

    #[test]
    fn batches_hold_at_most_max_rows_and_stay_under_the_byte_limit() {
        let keys = vec!["c-k".to_string()];
        let b = batches((0..1001).map(|_| row(10)).collect(), 500, 1_000_000, &keys);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![500, 500, 1]
        );
        let b = batches((0..10).map(|_| row(100)).collect(), 500, 350, &keys);
        for batch in &b {
            assert!(
                body(batch, &keys).len() <= 350,
                "{}",
                body(batch, &keys).len()
            );
        }
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 10);
        // A row larger than the limit goes alone.
        let b = batches(vec![row(10), row(1000), row(10)], 500, 350, &keys);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 1]);
    }
}
