//! One pipeline run: list, map, write page by page (each page in one transaction with its
//! audit rows, change events, quarantined records and listing progress), then soft-delete what
//! a complete listing no longer holds.

use std::time::Instant;

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use super::cursor::{self, ResumeState};
use super::error::SyncError;
use super::listing::{WRITE_BATCH_RECORDS, segments, spawn_fetch};
use super::page::{self, record_key};
use super::{ACTOR, Progress, SyncOptions, SyncReport, digest, full, log, quarantine};
use crate::config::{Plan, PlannedPipeline};
use crate::mapping::{CompiledPipeline, Row, strip_nul};
use crate::source::RestClient;
use crate::store::{SOURCE_DIGEST, set_actor};
use crate::telemetry::events;

pub use crate::config::plan::upsert_target;

/// Runs one pipeline against its source. Never panics; failures end up in the report (and in
/// `sync_log` unless it is a dry run).
pub async fn run_pipeline(
    pool: &PgPool,
    client: &RestClient,
    plan: &Plan,
    p: &PlannedPipeline,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> SyncReport {
    let started = Instant::now();
    let mut report = SyncReport {
        pipeline: p.mapping.name.clone(),
        ..SyncReport::default()
    };
    let log_id = if opts.dry_run {
        None
    } else {
        log::open(pool, &p.mapping.name, &opts.trigger).await.ok()
    };
    if let Err(e) = execute(pool, client, plan, p, opts, progress, &mut report).await {
        report.transient = e.is_transient();
        report.error = Some(e.to_string());
    }
    report.elapsed = started.elapsed();
    if let Some(id) = log_id
        && let Err(e) = log::close(pool, id, &report).await
    {
        tracing::warn!(pipeline = %report.pipeline, error = %e, "Could not close sync_log row.");
    }
    if !opts.dry_run {
        record(&report, &opts.trigger);
    }
    report
}

/// The run's operational event ([`events::SYNC_FINISHED`] or [`events::SYNC_FAILED`]) and
/// metrics.
fn record(report: &SyncReport, trigger: &str) {
    let ms = u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX);
    crate::telemetry::metrics::metrics().sync_run(
        &report.pipeline,
        report.error.is_none(),
        report.records,
        report.elapsed,
    );
    match &report.error {
        None => tracing::info!(
            event = events::SYNC_FINISHED,
            pipeline = %report.pipeline,
            trigger,
            records = report.records,
            pages = report.pages,
            inserted = report.counts.inserted,
            updated = report.counts.updated,
            unchanged = report.counts.unchanged,
            stale = report.counts.stale,
            soft_deleted = report.soft_deleted,
            quarantined = report.quarantined,
            duration_ms = ms,
            "Sync finished."
        ),
        Some(e) => tracing::error!(
            event = events::SYNC_FAILED,
            pipeline = %report.pipeline,
            trigger,
            reason = %e,
            duration_ms = ms,
            "Sync failed."
        ),
    }
}

/// Whether this run's listing is complete and the pipeline lets it soft-delete what is missing:
/// a full listing (no incremental cursor, or `--full`), no date windows, and `full.soft_delete`
/// (default on for pipelines without a cursor, off for incremental ones without a `full` block).
fn soft_deletes(p: &PlannedPipeline, opts: &SyncOptions) -> bool {
    let src = &p.file.source;
    let complete = (src.incremental.is_none() || opts.full) && src.windows.is_none();
    complete
        && src
            .full
            .as_ref()
            .map_or(src.incremental.is_none(), |f| f.soft_delete)
}

async fn execute(
    pool: &PgPool,
    client: &RestClient,
    plan: &Plan,
    p: &PlannedPipeline,
    opts: &SyncOptions,
    progress: &dyn Progress,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let m = &p.mapping;
    let src = &p.file.source;
    let endpoint = src
        .endpoint
        .clone()
        .ok_or_else(|| SyncError::NoEndpoint(m.name.clone()))?;
    let mut conn = pool.acquire().await?;
    let stored = cursor::load(&mut conn, &m.name).await?;
    let incremental = src.incremental.as_ref().filter(|_| !opts.full);
    let soft_delete = soft_deletes(p, opts);
    // A listing that follows a cursor lists changed records: it stores digests for the next
    // complete listing, but recognizes none.
    let digests = digest::prepare(&mut conn, p, incremental.is_none()).await?;
    drop(conn);
    let since = match (incremental, opts.since) {
        (Some(inc), Some(d)) => Some(cursor::format(
            inc.format,
            d.and_hms_opt(0, 0, 0).unwrap_or_default(),
        )),
        (Some(inc), None) => stored
            .cursor
            .as_deref()
            .and_then(|c| cursor::since_value(inc, c)),
        (None, _) => None,
    };
    // A listing interrupted with the same `since` continues where it stopped (a listing that
    // soft-deletes needs every page in one run, so it starts over).
    let resume = stored
        .resume
        .filter(|r| r.since == since && !opts.full && opts.since.is_none() && !soft_delete);
    let today = chrono::Utc::now().date_naive();
    let segs = segments(src, client.page_size(), since.as_deref(), today);
    let total_segments = segs.len();
    let (first, resume_url, mut max_cursor) = match &resume {
        Some(r) if r.next.is_some() => (
            r.segment,
            r.next.as_deref().map(|n| client.absolute(n)).transpose()?,
            r.max_cursor.clone(),
        ),
        Some(r) => (r.segment + 1, None, r.max_cursor.clone()),
        None => (0, None, None),
    };
    let mut seen = full::Seen::default();
    let mut pages = spawn_fetch(
        client.clone(),
        endpoint,
        m.clone(),
        segs,
        first,
        resume_url,
        Some(pool.clone()),
        digests.as_ref().map(|d| d.digester.clone()),
    );
    let upsert = digests.as_ref().map_or(&p.upsert, |d| &d.upsert);
    let mut failed = None;
    while let Some(page) = pages.recv().await {
        let mut page = page?;
        // Pages already fetched go into the same transaction; a fetch error after them is
        // reported once they are written, as it would have been page by page.
        while page.records.len() < WRITE_BATCH_RECORDS && failed.is_none() {
            match pages.try_recv() {
                Ok(Ok(more)) => page.append(more),
                Ok(Err(e)) => failed = Some(e),
                Err(_) => break,
            }
        }
        let count = (page.records.len() + page.known.len()) as u64;
        report.pages += page.pages;
        report.records += count;
        report.recognized += page.known.len() as u64;
        report.counts.unchanged += page.known.len() as u64;
        if soft_delete && let Some(d) = &digests {
            for key in page.known.iter().filter_map(|k| d.digester.known(k)) {
                seen.insert(key);
            }
        }
        let stripped: usize = page.records.iter_mut().map(strip_nul).sum();
        if stripped > 0 {
            tracing::warn!(pipeline = %m.name, characters = stripped, "NUL characters removed from source records: PostgreSQL cannot store them.");
        }
        let mut mapped: Vec<(usize, Vec<Row>)> = Vec::with_capacity(page.records.len());
        let mut refused: Vec<(usize, String)> = Vec::new();
        // A record that mapped lives on in its row's raw column (see `source_record`).
        let mut kept: Vec<Option<Value>> = Vec::with_capacity(page.records.len());
        for (i, rec) in std::mem::take(&mut page.records).into_iter().enumerate() {
            if let Some(cf) = &m.cursor_field
                && let Some(v) = cf.one(&rec).as_str()
                && max_cursor.as_deref().is_none_or(|c| v > c)
            {
                max_cursor = Some(v.to_string());
            }
            let (rows, rest) = m.map_record_owned(rec);
            match rows {
                Ok(mut rows) => {
                    if let (Some(d), [row]) = (page.digests.get(i), rows.as_mut_slice()) {
                        row.insert(SOURCE_DIGEST.to_string(), digest::hex(d));
                    }
                    mapped.push((i, rows));
                }
                Err(e) => refused.push((i, e.to_string())),
            }
            kept.push(rest);
        }
        if soft_delete {
            for row in mapped.iter().flat_map(|(_, rows)| rows) {
                seen.insert(&full::key_text(&m.key_of(row)));
            }
        }
        let last = page.next.is_none() && page.segment + 1 == total_segments;
        let mut tx = pool.begin().await?;
        set_actor(&mut tx, ACTOR).await?;
        // The page, its audit rows, events and listing progress commit together or not at all
        // whatever the setting; without waiting for the WAL flush, a crash of the database
        // server (never of this process) can lose the last moments of commits, all of a page
        // at once, and the listing then fetches them again from where it stands.
        sqlx::query("set local synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        crate::link::lock_for(&mut tx, plan, &[m.table.as_str()]).await?;
        let written = page::write(&mut tx, upsert, &mapped, Some(page.read_at)).await?;
        report.counts += written.counts;
        refused.extend(written.refused);
        for (i, reason) in &refused {
            let rec = source_record(m, &kept, &mapped, *i);
            quarantine::put(&mut tx, &m.name, &record_key(rec), reason, rec).await?;
        }
        report.quarantined += refused.len() as u64;
        if written.counts.inserted > 0 {
            crate::link::relink::resolve_children(&mut tx, &plan.relations, &m.table).await?;
        }
        if written.counts.inserted + written.counts.updated > 0 {
            crate::link::after_upsert(&mut tx, &plan.link_rules, &m.table).await?;
        }
        if incremental.is_some() {
            if last {
                cursor::finish(&mut tx, &m.name, max_cursor.as_deref()).await?;
            } else {
                let state = ResumeState {
                    segment: page.segment,
                    next: page
                        .next
                        .as_deref()
                        .map(|n| client.relative(n))
                        .transpose()?,
                    max_cursor: max_cursor.clone(),
                    since: since.clone(),
                };
                cursor::save_resume(&mut tx, &m.name, &state).await?;
            }
        }
        if last && soft_delete && report.quarantined == 0 {
            report.soft_deleted = soft_delete_missing(&mut tx, plan, p, &seen, opts).await?;
        }
        commit(tx, opts.dry_run).await?;
        progress.page(&m.name, count, page.segment, total_segments);
        if let Some(e) = failed.take() {
            return Err(e.into());
        }
    }
    Ok(())
}

/// The source record at index `i` of a page: kept aside, or in the raw column of its row.
fn source_record<'a>(
    m: &CompiledPipeline,
    kept: &'a [Option<Value>],
    mapped: &'a [(usize, Vec<Row>)],
    i: usize,
) -> &'a Value {
    static NULL: Value = Value::Null;
    kept[i]
        .as_ref()
        .or_else(|| {
            let raw = m.raw.as_deref()?;
            let at = mapped.binary_search_by_key(&i, |(j, _)| *j).ok()?;
            mapped[at].1.first()?.get(raw)
        })
        .unwrap_or(&NULL)
}

/// Soft-deletes the rows a complete listing did not hold, behind the mass-delete breaker, and
/// the rows that reference them. Skipped (by the caller) when any record of the run was
/// quarantined: a record that failed must never look deleted.
async fn soft_delete_missing(
    tx: &mut PgConnection,
    plan: &Plan,
    p: &PlannedPipeline,
    seen: &full::Seen,
    opts: &SyncOptions,
) -> Result<u64, SyncError> {
    let table = &p.mapping.table;
    let dp = full::plan(tx, &p.mapping, seen).await?;
    let share = p
        .file
        .source
        .full
        .as_ref()
        .map_or(0.2, |f| f.max_delete_share);
    let would = dp.ids.len() as u64;
    if dp.live > 0 && would as f64 > share * dp.live as f64 && !opts.allow_mass_delete {
        return Err(SyncError::MassDelete {
            would,
            live: dp.live,
            table: table.clone(),
            pct: share * 100.0,
        });
    }
    let n = full::apply(tx, table, &dp.ids).await?;
    let children =
        crate::link::relink::soft_delete_children(tx, &plan.relations, table, &dp.ids).await?;
    if n + children > 0 {
        tracing::info!(pipeline = %p.mapping.name, soft_deleted = n, children, "Rows no longer listed upstream soft-deleted, with the rows that reference them.");
    }
    Ok(n)
}

async fn commit(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    dry_run: bool,
) -> Result<(), sqlx::Error> {
    if dry_run {
        tx.rollback().await
    } else {
        tx.commit().await
    }
}
