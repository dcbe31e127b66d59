//! One pipeline run.

use std::collections::HashSet;
use std::time::Instant;

use sqlx::{PgConnection, PgPool};

use super::cursor::{self, ResumeState};
use super::listing::{segments, spawn_fetch};
use super::{ACTOR, Progress, SyncOptions, SyncReport, full, log};
use crate::config::links::LinksFile;
use crate::config::{Plan, PlannedPipeline};
use crate::mapping::{CompiledPipeline, Row};
use crate::source::RestClient;
use crate::store::{Lookup, PreparedUpsert, UpsertColumn, UpsertTarget, set_actor};
use crate::telemetry::events;

/// The upsert target of a compiled pipeline.
pub fn upsert_target(m: &CompiledPipeline) -> UpsertTarget {
    let mut columns: Vec<UpsertColumn> = m
        .fields
        .iter()
        .map(|f| UpsertColumn {
            name: f.name.clone(),
            ty: f.ty,
            lookup: f.lookup.as_ref().map(|l| Lookup {
                table: l.table.clone(),
                by: l.by.clone(),
            }),
        })
        .collect();
    if let Some(raw) = &m.raw {
        columns.push(UpsertColumn {
            name: raw.clone(),
            ty: crate::config::field_type::FieldType::Jsonb,
            lookup: None,
        });
    }
    UpsertTarget {
        table: m.table.clone(),
        key: m.key.clone(),
        version: m.version.clone(),
        columns,
    }
}

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
    if let Err(e) = execute(pool, client, &plan.links, p, opts, progress, &mut report).await {
        report.error = Some(e);
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

async fn execute(
    pool: &PgPool,
    client: &RestClient,
    links: &LinksFile,
    p: &PlannedPipeline,
    opts: &SyncOptions,
    progress: &dyn Progress,
    report: &mut SyncReport,
) -> Result<(), String> {
    let m = &p.mapping;
    let src = &p.file.source;
    let Some(endpoint) = src.endpoint.clone() else {
        return Err(format!(
            "pipeline {} has no list endpoint (it is fed by webhooks only)",
            m.name
        ));
    };
    let db = |e: sqlx::Error| {
        format!(
            "database: {}",
            crate::store::StoreError::from_sqlx("sync", e)
        )
    };
    let mut conn = pool.acquire().await.map_err(db)?;
    let stored = cursor::load(&mut conn, &m.name).await.map_err(db)?;
    drop(conn);
    let incremental = src.incremental.as_ref().filter(|_| !opts.full);
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
    // A listing interrupted with the same `since` continues where it stopped.
    let resume = stored
        .resume
        .filter(|r| r.since == since && !opts.full && opts.since.is_none() && src.full.is_none());
    let today = chrono::Utc::now().date_naive();
    let segs = segments(src, client.page_size(), since.as_deref(), today);
    let total_segments = segs.len();
    let (first, resume_url, mut max_cursor) = match &resume {
        Some(r) if r.next.is_some() => (r.segment, r.next.clone(), r.max_cursor.clone()),
        Some(r) => (r.segment + 1, None, r.max_cursor.clone()),
        None => (0, None, None),
    };
    let full_mode = src.incremental.is_none() && src.full.as_ref().is_none_or(|f| f.soft_delete);
    let mut seen: HashSet<String> = HashSet::new();
    let upsert = PreparedUpsert::new(&upsert_target(m)).map_err(|e| e.to_string())?;
    let mut pages = spawn_fetch(client.clone(), endpoint, m.clone(), segs, first, resume_url);
    let mut mapping_failures = 0u64;
    let mut first_failure = None;
    while let Some(page) = pages.recv().await {
        let page = page.map_err(|e| e.to_string())?;
        report.pages += 1;
        report.records += page.records.len() as u64;
        let mut rows: Vec<Row> = Vec::with_capacity(page.records.len());
        for rec in &page.records {
            match m.map_record(rec) {
                Ok(r) => rows.extend(r),
                Err(e) => {
                    mapping_failures += 1;
                    first_failure
                        .get_or_insert_with(|| format!("{e} (record id {})", record_id(rec)));
                }
            }
            if let Some(cf) = &m.cursor_field
                && let Some(v) = cf.one(rec).as_str()
                && max_cursor.as_deref().is_none_or(|c| v > c)
            {
                max_cursor = Some(v.to_string());
            }
        }
        if full_mode {
            seen.extend(rows.iter().map(|r| full::key_text(&m.key_of(r))));
        }
        let last = page.next.is_none() && page.segment + 1 == total_segments;
        let mut tx = pool.begin().await.map_err(db)?;
        set_actor(&mut tx, ACTOR).await.map_err(|e| e.to_string())?;
        let counts = upsert
            .execute(&mut tx, &rows)
            .await
            .map_err(|e| e.to_string())?;
        report.counts += counts;
        if counts.inserted + counts.updated > 0 {
            crate::link::after_upsert(&mut tx, links, &m.table)
                .await
                .map_err(|e| e.to_string())?;
        }
        if incremental.is_some() {
            if last && mapping_failures == 0 {
                cursor::finish(&mut tx, &m.name, max_cursor.as_deref())
                    .await
                    .map_err(db)?;
            } else if !last {
                let state = ResumeState {
                    segment: page.segment,
                    next: page.next.clone(),
                    max_cursor: max_cursor.clone(),
                    since: since.clone(),
                };
                cursor::save_resume(&mut tx, &m.name, &state)
                    .await
                    .map_err(db)?;
            }
        }
        if last && full_mode && mapping_failures == 0 {
            report.soft_deleted = soft_delete(&mut tx, p, &seen, opts).await?;
        }
        commit(tx, opts.dry_run).await.map_err(db)?;
        progress.page(
            &m.name,
            page.records.len() as u64,
            page.segment,
            total_segments,
        );
    }
    if mapping_failures > 0 {
        return Err(format!(
            "{mapping_failures} record(s) failed mapping; first: {}",
            first_failure.unwrap_or_default()
        ));
    }
    Ok(())
}

async fn soft_delete(
    tx: &mut PgConnection,
    p: &PlannedPipeline,
    seen: &HashSet<String>,
    opts: &SyncOptions,
) -> Result<u64, String> {
    let plan = full::plan(tx, &p.mapping, seen)
        .await
        .map_err(|e| e.to_string())?;
    let share = p
        .file
        .source
        .full
        .as_ref()
        .map_or(0.2, |f| f.max_delete_share);
    let would = plan.ids.len() as u64;
    if plan.live > 0 && would as f64 > share * plan.live as f64 && !opts.allow_mass_delete {
        return Err(format!(
            "refusing to soft-delete {would} of {} rows of {} (more than {:.0}% in one run); check the source, or pass --allow-mass-delete",
            plan.live,
            p.mapping.table,
            share * 100.0
        ));
    }
    full::apply(tx, &p.mapping.table, &plan.ids)
        .await
        .map_err(|e| e.to_string())
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

/// The record's id for error messages (ids are not patient data).
fn record_id(rec: &serde_json::Value) -> String {
    rec.get("id")
        .or_else(|| rec.get("appointment"))
        .map_or_else(|| "?".into(), |v| v.to_string())
}
