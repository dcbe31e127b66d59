//! `GET /admin/audit`: `change_log`, newest first, filtered by table, record, actor and time,
//! in keyset pages of [`PAGE`] rows (`before=<at>_<id>`: no OFFSET, so page 1000 costs what
//! page 1 does). `GET /admin/audit/{table}/{id}`: one record's full history with the old and
//! new values of every change. Each statement is built from the filters present, so each uses
//! its own index (checked with EXPLAIN by the tests); values are always bound.
//!
//! Both pages show patient data: each view writes an `access_log` row with the record ids
//! shown. Filters carry table names, record ids, actors and dates, never a name.
//!
//! [`page_data`] is every statement of the list page, also run bare by the benchmark.

use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::response::Html;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::view::{self, Chrome, HtmlError};
use super::{Page, Staff, trail};
use crate::app::AppState;
use crate::server::ApiError;
use crate::store::{Ident, StoreError};

/// Rows per page.
pub(super) const PAGE: i64 = 50;

/// Changes shown on a record's history page (newest first).
pub(super) const HISTORY: i64 = 500;

/// The filters of the list (all optional; empty strings are absent).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Filter {
    /// Table name.
    #[serde(default)]
    pub table: Option<String>,
    /// Record id.
    #[serde(default)]
    pub record: Option<String>,
    /// Actor, exactly.
    #[serde(default)]
    pub actor: Option<String>,
    /// From this day (UTC), `YYYY-MM-DD`.
    #[serde(default)]
    pub from: Option<String>,
    /// Before this day (UTC, exclusive), `YYYY-MM-DD`.
    #[serde(default)]
    pub to: Option<String>,
    /// Keyset cursor: rows older than this one.
    #[serde(default)]
    pub before: Option<String>,
}

/// One change, as the pages show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Change {
    /// `change_log.id`.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Table.
    pub table_name: String,
    /// Record.
    pub record_id: Uuid,
    /// INSERT, UPDATE or DELETE.
    pub operation: String,
    /// Columns changed.
    pub changed_fields: Vec<String>,
    /// Who.
    pub actor: String,
}

fn some(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn day(s: Option<&str>) -> Result<Option<DateTime<Utc>>, HtmlError> {
    s.map(|d| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| ApiError::unprocessable("dates are YYYY-MM-DD").into())
    })
    .transpose()
}

/// The list's statement for `f` and its page of changes, newest first, plus whether more
/// follow. A malformed filter is a 422.
pub async fn load(pool: &PgPool, f: &Filter) -> Result<(Vec<Change>, bool), HtmlError> {
    let table = some(&f.table)
        .map(|t| Ident::new(t).map_err(|_| ApiError::unprocessable("unknown table")))
        .transpose()?;
    let record = some(&f.record)
        .map(|r| Uuid::parse_str(r).map_err(|_| ApiError::unprocessable("a record is an id")))
        .transpose()?;
    let actor = some(&f.actor);
    if actor.is_some_and(|a| a.len() > 200) {
        return Err(ApiError::unprocessable("the actor is too long").into());
    }
    let (from, to) = (day(some(&f.from))?, day(some(&f.to))?);
    let before = some(&f.before).map(view::parse_cursor).transpose()?;
    let mut sql = String::from(
        "select id, at, table_name, record_id, operation, changed_fields, actor from change_log where true",
    );
    let mut n = 0;
    let mut arg = |cond: &str| {
        n += 1;
        sql.push_str(&cond.replace('?', &format!("${n}")));
    };
    if table.is_some() {
        arg(" and table_name = ?");
    }
    if record.is_some() {
        arg(" and record_id = ?");
    }
    if actor.is_some() {
        arg(" and actor = ?");
    }
    if from.is_some() {
        arg(" and at >= ?");
    }
    if to.is_some() {
        arg(" and at < ?");
    }
    if before.is_some() {
        n += 2;
        sql.push_str(&format!(" and (at, id) < (${}, ${n})", n - 1));
    }
    sql.push_str(&format!(" order by at desc, id desc limit {}", PAGE + 1));
    let mut q = sqlx::query_as::<_, Change>(sqlx::AssertSqlSafe(sql));
    if let Some(t) = &table {
        q = q.bind(t.as_str().to_string());
    }
    if let Some(r) = record {
        q = q.bind(r);
    }
    if let Some(a) = actor {
        q = q.bind(a.to_string());
    }
    if let Some(t) = from {
        q = q.bind(t);
    }
    if let Some(t) = to {
        q = q.bind(t);
    }
    if let Some((at, id)) = before {
        q = q.bind(at).bind(id);
    }
    let mut rows = q
        .fetch_all(pool)
        .await
        .map_err(|e| StoreError::from_sqlx("audit trail", e))?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    Ok((rows, more))
}

/// The audited tables (the `audited_tables` registry), for the table filter. They change only
/// with a migration, and a binary runs only on the schema it embeds: read once per process.
async fn tables(pool: &PgPool) -> Result<&'static [String], StoreError> {
    static TABLES: tokio::sync::OnceCell<Vec<String>> = tokio::sync::OnceCell::const_new();
    TABLES
        .get_or_try_init(|| async {
            sqlx::query_scalar("select table_name from audited_tables order by 1")
                .fetch_all(pool)
                .await
                .map_err(|e| StoreError::from_sqlx("audited tables", e))
        })
        .await
        .map(Vec::as_slice)
}

/// What the list page reads and writes.
#[derive(Debug)]
pub struct ListPage {
    /// The page of changes, newest first.
    pub changes: Vec<Change>,
    /// Whether older changes follow.
    pub more: bool,
    /// The audited tables, for the filter.
    pub tables: &'static [String],
}

/// Every statement of the list page, in order: its changes, the view record of the records
/// shown, the table list. The benchmark runs it bare against the rendered page.
pub async fn page_data(
    pool: &PgPool,
    staff: &Staff,
    f: &Filter,
    started: Instant,
) -> Result<ListPage, HtmlError> {
    let (changes, more) = load(pool, f).await?;
    let mut ids: Vec<Uuid> = changes.iter().map(|c| c.record_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if !ids.is_empty() {
        trail::viewed(pool, staff, Page::Audit, "/admin/audit", &ids, started).await?;
    }
    Ok(ListPage {
        changes,
        more,
        tables: tables(pool).await?,
    })
}

fn rows(changes: &[Change]) -> Vec<minijinja::Value> {
    changes
        .iter()
        .map(|c| minijinja::context! { c => view::ser(c), at => view::time(c.at), record => c.record_id.to_string() })
        .collect()
}

/// The list page.
pub(super) async fn page(
    staff: Staff,
    State(state): State<AppState>,
    Query(f): Query<Filter>,
) -> Result<Html<String>, HtmlError> {
    let started = Instant::now();
    staff.may_see(Page::Audit)?;
    let ListPage {
        changes,
        more,
        tables,
    } = page_data(&state.pool, &staff, &f, started).await?;
    let next = match (more, changes.last()) {
        (true, Some(last)) => {
            let next = Filter {
                before: Some(view::cursor(last.at, last.id)),
                ..f.clone()
            };
            Some(serde_urlencoded::to_string(&next).unwrap_or_default())
        }
        _ => None,
    };
    view::render(
        "audit.html",
        minijinja::context! {
            chrome => view::ser(&Chrome::new(&staff, "audit")),
            f => view::ser(&f), tables => view::ser(&tables),
            rows => rows(&changes), next, first_page => some(&f.before).is_none(), page => PAGE,
        },
    )
}

/// `GET /admin/audit/{table}/{id}`: one record's history; 404 for an unknown record.
pub(super) async fn record(
    staff: Staff,
    State(state): State<AppState>,
    Path((table, raw)): Path<(String, String)>,
) -> Result<Html<String>, HtmlError> {
    let started = Instant::now();
    staff.may_see(Page::Audit)?;
    let table = Ident::new(&table).map_err(|_| ApiError::NotFound)?;
    let id = Uuid::parse_str(&raw).map_err(|_| ApiError::NotFound)?;
    type Row = (
        i64,
        DateTime<Utc>,
        String,
        Vec<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let history: Vec<Row> = sqlx::query_as(
        "select id, at, operation, changed_fields, actor, old_values::text, new_values::text \
         from change_log where record_id = $1 and table_name = $2 \
         order by at desc, id desc limit $3",
    )
    .bind(id)
    .bind(table.as_str())
    .bind(HISTORY)
    .fetch_all(&state.pool)
    .await
    .map_err(|e| StoreError::from_sqlx("record history", e))?;
    if history.is_empty() {
        return Err(ApiError::NotFound.into());
    }
    trail::viewed(
        &state.pool,
        &staff,
        Page::Audit,
        "/admin/audit/{table}/{id}",
        &[id],
        started,
    )
    .await?;
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).ok()
            })
            .unwrap_or_default()
    };
    let changes: Vec<_> = history
        .iter()
        .map(|(_, at, op, fields, actor, old, new)| {
            let (old, new) = (parse(old), parse(new));
            let values: Vec<_> = fields
                .iter()
                .map(|f| {
                    let show = |m: &serde_json::Map<String, serde_json::Value>| {
                        m.get(f).map(ToString::to_string)
                    };
                    minijinja::context! { field => f, old => show(&old), new => show(&new) }
                })
                .collect();
            minijinja::context! { at => view::time(*at), op, actor, values }
        })
        .collect();
    view::render(
        "record.html",
        minijinja::context! {
            chrome => view::ser(&Chrome::new(&staff, "audit")),
            table => table.as_str(), id => id.to_string(), changes,
            truncated => history.len() as i64 == HISTORY,
            patient => table.as_str() == "patients",
        },
    )
}
