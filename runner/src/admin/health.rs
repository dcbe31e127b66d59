//! `GET /admin`: sync health, the landing page. Per pipeline: status, last successful run and
//! its age, duration and records, failures in the last 24 hours with the latest one-line
//! reason, cursor position, DrChrono requests and 429s; then the DrChrono budget left, the
//! inbox, the quarantine, the outbox (depth, oldest pending, dead letters), Coda calls, and a
//! chart of the
//! runs of the last 24 hours. Ids, counts and reasons only: no patient data, so no view row.
//!
//! [`load`] is every query of the page, also run bare by the benchmark.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::chart::{self, Hour};
use super::view::{self, Chrome, HtmlError};
use super::{Page, Staff};
use crate::app::AppState;
use crate::config::Plan;
use crate::store::StoreError;

/// A pipeline's state at a glance (the row's colour and label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The last run succeeded recently.
    Ok,
    /// The last run failed.
    Failing,
    /// A run is in progress.
    Running,
    /// No success for longer than twice the schedule (at least 30 minutes), or never.
    Stale,
    /// Fed by webhooks only: no runs to judge.
    Webhook,
}

/// One pipeline's row.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineHealth {
    /// The pipeline.
    pub name: String,
    /// Its state.
    pub status: Status,
    /// Finish of the last successful run.
    pub last_success: Option<DateTime<Utc>>,
    /// Its age in seconds.
    pub age_secs: Option<i64>,
    /// Its duration in milliseconds.
    pub duration_ms: Option<i64>,
    /// Records it read.
    pub records: Option<i64>,
    /// Failed runs in the last 24 hours.
    pub failures_24h: i64,
    /// The latest failure's reason (ids and codes only, as in `sync_log`).
    pub last_failure: Option<String>,
    /// The incremental cursor.
    pub cursor: Option<String>,
    /// DrChrono calls in the last 24 hours, and how many were answered 429.
    pub requests_24h: i64,
    /// 429 answers among them.
    pub rate_limited_24h: i64,
}

/// A DrChrono rate limit and what the last window used of it.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    /// Calls allowed per window.
    pub requests: i64,
    /// Window length in seconds.
    pub per_secs: i64,
    /// Calls in the last window (every instance, from `access_log`).
    pub used: i64,
    /// What is left.
    pub left: i64,
}

/// Everything the page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Pipelines in dependency order.
    pub pipelines: Vec<PipelineHealth>,
    /// DrChrono budget per configured limit.
    pub budget: Vec<Budget>,
    /// Inbox entries waiting.
    pub inbox_pending: i64,
    /// Failed inbox entries.
    pub inbox_failed: i64,
    /// Outbox events not yet confirmed (pending, or relayed to Pub/Sub).
    pub outbox_pending: i64,
    /// Age of the oldest pending event, seconds.
    pub outbox_oldest_secs: Option<i64>,
    /// Dead letters.
    pub outbox_dead: i64,
    /// Source records waiting in the quarantine (`runner replay --quarantine`).
    pub quarantined: i64,
    /// Coda calls in the last 24 hours.
    pub coda_calls_24h: i64,
    /// Coda write calls (not GET) in the last 24 hours.
    pub coda_writes_24h: i64,
    /// Coda 429s in the last 24 hours.
    pub coda_rate_limited_24h: i64,
    /// Runs per hour over the last 24 hours.
    #[serde(skip)]
    pub chart: [Hour; 24],
}

type PipelineRow = (
    String,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// Every query of the page.
pub async fn load(pool: &PgPool, plan: &Plan) -> Result<Health, StoreError> {
    let e = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    let names: Vec<String> = plan
        .pipelines
        .iter()
        .map(|p| p.mapping.name.clone())
        .collect();
    let rows: Vec<PipelineRow> = sqlx::query_as(
        "select p.name, ok.finished_at, \
                (extract(epoch from ok.finished_at - ok.started_at) * 1000)::bigint, ok.records, \
                last.status, coalesce(f.n, 0), f.reason, c.cursor_value, \
                extract(epoch from now() - ok.finished_at)::bigint \
         from unnest($1::text[]) with ordinality as p(name, ord) \
         left join lateral (select started_at, finished_at, inserted + updated + unchanged + stale as records \
             from sync_log where pipeline = p.name and status = 'succeeded' \
             order by started_at desc limit 1) ok on true \
         left join lateral (select status from sync_log where pipeline = p.name \
             order by started_at desc limit 1) last on true \
         left join lateral (select count(*) as n, (array_agg(error order by started_at desc))[1] as reason \
             from sync_log where pipeline = p.name and status = 'failed' \
             and started_at > now() - interval '24 hours') f on true \
         left join sync_cursors c on c.pipeline = p.name \
         order by p.ord",
    )
    .bind(&names)
    .fetch_all(pool)
    .await
    .map_err(e("health: pipelines"))?;
    let calls: Vec<(String, Option<String>, i64, i64, i64)> = sqlx::query_as(
        "select system, pipeline, count(*), count(*) filter (where status_code = 429), \
                count(*) filter (where method <> 'GET') \
         from access_log where system = any(array['drchrono', 'coda']) \
         and at > now() - interval '24 hours' group by 1, 2",
    )
    .fetch_all(pool)
    .await
    .map_err(e("health: calls"))?;
    let windows: Vec<i32> = plan
        .systems
        .drchrono
        .rate
        .iter()
        .map(|r| i32::try_from(r.per_secs).unwrap_or(i32::MAX))
        .collect();
    let used: Vec<i64> = sqlx::query_scalar(
        "select (select count(*) from access_log where system = 'drchrono' \
                 and at > now() - make_interval(secs => w)) \
         from unnest($1::int[]) with ordinality as x(w, ord) order by ord",
    )
    .bind(&windows)
    .fetch_all(pool)
    .await
    .map_err(e("health: budget"))?;
    // The same counts as /health and /metrics, through the function every role may call (the
    // api role may not read the inbox's bodies).
    let backlog: (i64, i64, i64, i64, i64, Option<f64>, i64) =
        sqlx::query_as("select * from runner_backlog()")
            .fetch_one(pool)
            .await
            .map_err(e("health: backlog"))?;
    let hours: Vec<(DateTime<Utc>, i64, i64)> = sqlx::query_as(
        "select h.hour, sum(h.ok)::bigint, sum(h.failed)::bigint \
         from unnest($1::text[]) as p(name) cross join lateral ( \
             select date_trunc('hour', started_at) as hour, \
                    count(*) filter (where status = 'succeeded') as ok, \
                    count(*) filter (where status = 'failed') as failed \
             from sync_log where pipeline = p.name and started_at > now() - interval '24 hours' \
             group by 1) h group by 1",
    )
    .bind(&names)
    .fetch_all(pool)
    .await
    .map_err(e("health: chart"))?;

    let mut per_pipeline: HashMap<String, (i64, i64)> = HashMap::new();
    let (mut coda_calls, mut coda_writes, mut coda_429) = (0, 0, 0);
    for (system, pipeline, n, limited, writes) in calls {
        if system == "coda" {
            coda_calls += n;
            coda_writes += writes;
            coda_429 += limited;
        } else if let Some(p) = pipeline {
            let entry = per_pipeline.entry(p).or_default();
            entry.0 += n;
            entry.1 += limited;
        }
    }
    let now = Utc::now();
    let pipelines = rows
        .into_iter()
        .map(|r| {
            let planned = plan.pipeline(&r.0);
            let (requests, limited) = per_pipeline.get(&r.0).copied().unwrap_or_default();
            PipelineHealth {
                status: status(planned, r.4.as_deref(), r.8, now),
                name: r.0,
                last_success: r.1,
                age_secs: r.8,
                duration_ms: r.2,
                records: r.3,
                failures_24h: r.5,
                last_failure: r.6,
                cursor: r.7,
                requests_24h: requests,
                rate_limited_24h: limited,
            }
        })
        .collect();
    let budget = plan
        .systems
        .drchrono
        .rate
        .iter()
        .zip(used)
        .map(|(r, used)| Budget {
            requests: i64::from(r.requests),
            per_secs: i64::from(r.per_secs),
            used,
            left: (i64::from(r.requests) - used).max(0),
        })
        .collect();
    Ok(Health {
        pipelines,
        budget,
        inbox_pending: backlog.0,
        inbox_failed: backlog.1,
        outbox_pending: backlog.2 + backlog.3,
        outbox_oldest_secs: backlog.5.map(|s| s as i64),
        outbox_dead: backlog.4,
        quarantined: backlog.6,
        coda_calls_24h: coda_calls,
        coda_writes_24h: coda_writes,
        coda_rate_limited_24h: coda_429,
        chart: chart::buckets(now, &hours),
    })
}

/// The status of a pipeline from its last run and the age of its last success.
fn status(
    planned: Option<&crate::config::PlannedPipeline>,
    last: Option<&str>,
    age_secs: Option<i64>,
    now: DateTime<Utc>,
) -> Status {
    let Some(p) = planned.filter(|p| p.file.source.endpoint.is_some()) else {
        return Status::Webhook;
    };
    match last {
        Some("failed") => return Status::Failing,
        Some("running") => return Status::Running,
        _ => {}
    }
    let stale_after = crate::schedule::parse_schedule(&p.file.schedule)
        .ok()
        .and_then(|c| {
            let a = c.find_next_occurrence(&now, false).ok()?;
            let b = c.find_next_occurrence(&a, false).ok()?;
            Some((b - a).num_seconds() * 2)
        })
        .unwrap_or(0)
        .max(30 * 60);
    match age_secs {
        Some(a) if a <= stale_after => Status::Ok,
        _ => Status::Stale,
    }
}

/// The page.
pub(super) async fn page(
    staff: Staff,
    State(state): State<AppState>,
) -> Result<Html<String>, HtmlError> {
    staff.may_see(Page::Health)?;
    let h = load(&state.pool, &state.plan).await?;
    let count = |s: Status| h.pipelines.iter().filter(|p| p.status == s).count();
    let overall = if count(Status::Failing) > 0
        || h.outbox_dead > 0
        || h.inbox_failed > 0
        || h.quarantined > 0
    {
        "failing"
    } else if count(Status::Stale) > 0 {
        "stale"
    } else {
        "ok"
    };
    let rows: Vec<_> = h
        .pipelines
        .iter()
        .map(|p| {
            minijinja::context! {
                p => view::ser(p),
                last_success => p.last_success.map(view::time),
                age => p.age_secs.map(view::age),
                duration => p.duration_ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0)),
            }
        })
        .collect();
    view::render(
        "health.html",
        minijinja::context! {
            chrome => view::ser(&Chrome::new(&staff, "health")),
            h => view::ser(&h),
            rows,
            overall,
            failing => count(Status::Failing),
            stale => count(Status::Stale),
            outbox_oldest => h.outbox_oldest_secs.map(view::age),
            chart => minijinja::Value::from_safe_string(chart::svg(Utc::now(), &h.chart)),
            generated => view::time(Utc::now()),
        },
    )
}
