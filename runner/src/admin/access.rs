//! `GET /admin/access`: the access log, newest first, in keyset pages: dashboard views and
//! actions (who, which page, how many records), or the outbound calls of one system (DrChrono,
//! Coda, Pub/Sub, Cloud Storage: method, path template, status, latency). One system per page,
//! so each page is one index range (`access_log (system, at, id)`), or `(actor, at, id)` for
//! one staff member's views.

use axum::extract::{Query, State};
use axum::response::Html;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::view::{self, Chrome, HtmlError};
use super::{Page, Staff, trail};
use crate::app::AppState;
use crate::server::ApiError;
use crate::store::StoreError;

/// Rows per page.
pub(super) const PAGE: i64 = 50;

/// The systems the page offers (`access_log.system`).
pub(super) const SYSTEMS: [&str; 5] = [trail::SYSTEM, "drchrono", "coda", "pubsub", "gcs"];

/// The filters.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(super) struct Filter {
    /// The system (default: dashboard views).
    #[serde(default)]
    pub system: Option<String>,
    /// Only this staff member's views and actions.
    #[serde(default)]
    pub actor: Option<String>,
    /// Keyset cursor.
    #[serde(default)]
    pub before: Option<String>,
}

type Row = (
    i64,
    DateTime<Utc>,
    String,
    String,
    Option<i32>,
    i64,
    Option<String>,
    Option<String>,
    Option<Vec<Uuid>>,
);

/// The page.
pub(super) async fn page(
    staff: Staff,
    State(state): State<AppState>,
    Query(f): Query<Filter>,
) -> Result<Html<String>, HtmlError> {
    staff.may_see(Page::Access)?;
    let system = f
        .system
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or(trail::SYSTEM);
    if !SYSTEMS.contains(&system) {
        return Err(ApiError::unprocessable("unknown system").into());
    }
    let actor = f.actor.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let before = f
        .before
        .as_deref()
        .filter(|b| !b.is_empty())
        .map(view::parse_cursor)
        .transpose()?;
    // Only the conditions present, numbered in order: each shape is one index range.
    let mut sql = String::from(
        "select id, at, method, path_template, status_code, latency_ms, pipeline, actor, record_ids \
         from access_log where system = $1",
    );
    if actor.is_some() {
        sql.push_str(" and actor = $2");
    }
    if before.is_some() {
        let n = if actor.is_some() { 3 } else { 2 };
        sql.push_str(&format!(" and (at, id) < (${n}, ${})", n + 1));
    }
    sql.push_str(&format!(" order by at desc, id desc limit {}", PAGE + 1));
    let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql)).bind(system);
    if let Some(a) = actor {
        q = q.bind(a);
    }
    if let Some((at, id)) = before {
        q = q.bind(at).bind(id);
    }
    let mut rows: Vec<Row> = q
        .fetch_all(&state.pool)
        .await
        .map_err(|e| StoreError::from_sqlx("access log", e))?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = match (more, rows.last()) {
        (true, Some(last)) => {
            let next = Filter {
                system: Some(system.to_string()),
                actor: actor.map(String::from),
                before: Some(view::cursor(last.1, last.0)),
            };
            Some(serde_urlencoded::to_string(&next).unwrap_or_default())
        }
        _ => None,
    };
    let rows: Vec<_> = rows
        .into_iter()
        .map(|r| {
            let records = r.8.unwrap_or_default();
            minijinja::context! {
                at => view::time(r.1), method => r.2, path => r.3, status => r.4,
                latency_ms => r.5, pipeline => r.6, actor => r.7,
                records => records.len(),
                first_records => records.iter().take(3).map(ToString::to_string).collect::<Vec<_>>(),
            }
        })
        .collect();
    view::render(
        "access.html",
        minijinja::context! {
            chrome => view::ser(&Chrome::new(&staff, "access")),
            system, actor, systems => SYSTEMS, rows, next,
            views => system == trail::SYSTEM, first_page => before.is_none(),
        },
    )
}
