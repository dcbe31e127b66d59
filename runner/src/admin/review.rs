//! `GET /admin/review`: the rows every linking rule of `links.yaml` sent to review (Deep Cura
//! notes as shipped; any rule added later, such as questionnaire responses, appears by itself),
//! each with the candidate rows that share a key with it. Admins link one by hand or dismiss it
//! with a reason; the write runs in one transaction under the audit actor `admin:<email>`, with
//! `link_method = manual`, and goes to `change_log` and the outbox like any other change.
//!
//! The page shows patient data (ids and dates of notes), so every view writes an `access_log`
//! row with the ids of every item and candidate shown.

use std::time::Instant;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, Redirect};
use serde::Deserialize;
use sqlx::Row as _;
use uuid::Uuid;

use super::failures::Done;
use super::review_sql::{ReviewSql, compile};
use super::view::{self, Chrome, HtmlError};
use super::{Page, Staff, csrf, trail};
use crate::app::AppState;
use crate::server::ApiError;
use crate::store::{StoreError, set_actor};

/// Items shown per rule.
pub(super) const LIMIT: i64 = 50;

fn flash(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "linked" => Some("Linked by hand. The change is in the audit trail."),
        "dismissed" => Some("Dismissed. The change is in the audit trail."),
        _ => None,
    }
}

fn rules(state: &AppState) -> Result<Vec<ReviewSql>, HtmlError> {
    state
        .plan
        .links
        .links
        .iter()
        .map(compile)
        .collect::<Result<_, _>>()
        .map_err(HtmlError::from)
}

fn texts(row: &sqlx::postgres::PgRow, from: usize) -> Vec<Option<String>> {
    (from..row.len())
        .map(|i| row.try_get::<Option<String>, _>(i).ok().flatten())
        .collect()
}

/// The page.
pub(super) async fn page(
    staff: Staff,
    State(state): State<AppState>,
    Query(done): Query<Done>,
) -> Result<Html<String>, HtmlError> {
    let started = Instant::now();
    staff.may_see(Page::Review)?;
    let pool = &state.pool;
    let e = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    let mut shown: Vec<Uuid> = Vec::new();
    let mut sections = Vec::new();
    for r in rules(&state)? {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(r.count.clone()))
            .fetch_one(pool)
            .await
            .map_err(e("review: count"))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(r.items.clone()))
            .bind(LIMIT)
            .fetch_all(pool)
            .await
            .map_err(e("review: items"))?;
        let ids: Vec<Uuid> = rows.iter().filter_map(|row| row.try_get(0).ok()).collect();
        let cands = match &r.candidates {
            Some(sql) if !ids.is_empty() => sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&ids)
                .fetch_all(pool)
                .await
                .map_err(e("review: candidates"))?,
            _ => Vec::new(),
        };
        shown.extend(&ids);
        let mut items = Vec::new();
        for row in &rows {
            let id: Uuid = row.try_get(0).map_err(e("review: item"))?;
            let reason: Option<String> = row.try_get(1).map_err(e("review: item"))?;
            let created: chrono::DateTime<chrono::Utc> =
                row.try_get(2).map_err(e("review: item"))?;
            let mut candidates = Vec::new();
            for c in cands
                .iter()
                .filter(|c| c.try_get::<Uuid, _>(0).ok() == Some(id))
            {
                let cid: Uuid = c.try_get(1).map_err(e("review: candidate"))?;
                shown.push(cid);
                candidates.push(minijinja::context! {
                    id => cid.to_string(),
                    score => c.try_get::<i32, _>(2).unwrap_or(0),
                    strategies => c.try_get::<Vec<String>, _>(3).unwrap_or_default(),
                    values => texts(c, 4),
                });
            }
            items.push(minijinja::context! {
                id => id.to_string(), reason, created => view::time(created),
                values => texts(row, 3), candidates,
            });
        }
        sections.push(minijinja::context! {
            rule => r.rule, from => r.from, to => r.to, total,
            item_columns => r.item_columns, candidate_columns => r.candidate_columns,
            dismissable => r.dismiss.is_some(), items,
        });
    }
    shown.sort_unstable();
    shown.dedup();
    if !shown.is_empty() {
        trail::viewed(pool, &staff, Page::Review, "/admin/review", &shown, started).await?;
    }
    let mut chrome = Chrome::new(&staff, "review");
    chrome.flash = flash(done.done.as_deref());
    if staff.role.acts() {
        chrome.csrf = Some(csrf::issue(pool, &staff.email).await?);
    }
    view::render(
        "review.html",
        minijinja::context! { chrome => view::ser(&chrome), sections, limit => LIMIT },
    )
}

/// The manual link form: a candidate (`target`) or an id typed in (`target_id`, which wins).
#[derive(Debug, Default, Deserialize)]
pub(super) struct LinkForm {
    /// The single-use form token.
    #[serde(default)]
    pub csrf: Option<String>,
    /// The chosen candidate.
    #[serde(default)]
    pub target: Option<String>,
    /// A target id typed in.
    #[serde(default)]
    pub target_id: Option<String>,
}

/// The dismissal form.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DismissForm {
    /// The single-use form token.
    #[serde(default)]
    pub csrf: Option<String>,
    /// Why (kept in the review reason column, shown to staff, never logged).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Finds the rule and the item of a path: 404 for an unknown rule or a malformed id.
async fn admitted(
    state: &AppState,
    staff: &Staff,
    rule: &str,
    item: &str,
    token: Option<&str>,
) -> Result<(ReviewSql, Uuid), HtmlError> {
    staff.may_act(Page::Review)?;
    csrf::spend(&state.pool, &staff.email, token).await?;
    let r = rules(state)?
        .into_iter()
        .find(|r| r.rule == rule)
        .ok_or(ApiError::NotFound)?;
    let id = Uuid::parse_str(item).map_err(|_| ApiError::NotFound)?;
    Ok((r, id))
}

/// Begins the write: the actor set, the item locked; 404 unknown, 422 no longer open.
async fn begin(
    state: &AppState,
    staff: &Staff,
    r: &ReviewSql,
    id: Uuid,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, HtmlError> {
    let e = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    let mut tx = state.pool.begin().await.map_err(e("begin"))?;
    set_actor(&mut tx, &staff.actor()).await?;
    let open: Option<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(r.open.clone()))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(e("review: lock item"))?;
    match open {
        None => Err(ApiError::NotFound.into()),
        Some(false) => {
            Err(ApiError::unprocessable("this row is already linked or dismissed").into())
        }
        Some(true) => Ok(tx),
    }
}

/// `POST /admin/review/{rule}/{id}/link`.
pub(super) async fn link(
    staff: Staff,
    State(state): State<AppState>,
    Path((rule, item)): Path<(String, String)>,
    Form(form): Form<LinkForm>,
) -> Result<Redirect, HtmlError> {
    let started = Instant::now();
    let (r, id) = admitted(&state, &staff, &rule, &item, form.csrf.as_deref()).await?;
    let raw = [form.target_id.as_deref(), form.target.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unprocessable("choose a row to link to"))?;
    let target = Uuid::parse_str(raw)
        .map_err(|_| ApiError::unprocessable("the row to link to is not an id"))?;
    let e = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    let mut tx = begin(&state, &staff, &r, id).await?;
    let exists: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(r.target_exists.clone()))
        .bind(target)
        .fetch_one(&mut *tx)
        .await
        .map_err(e("review: target"))?;
    if !exists {
        return Err(ApiError::unprocessable(format!("no live {} row has that id", r.to)).into());
    }
    let n = sqlx::query(sqlx::AssertSqlSafe(r.link.clone()))
        .bind(id)
        .bind(target)
        .execute(&mut *tx)
        .await
        .map_err(e("review: link"))?
        .rows_affected();
    tx.commit().await.map_err(e("review: commit"))?;
    let route = "/admin/review/{rule}/{id}/link";
    trail::acted(
        &state.pool,
        &staff,
        Page::Review,
        route,
        "link",
        &[id, target],
        n,
        started,
    )
    .await?;
    Ok(Redirect::to("/admin/review?done=linked"))
}

/// `POST /admin/review/{rule}/{id}/dismiss`.
pub(super) async fn dismiss(
    staff: Staff,
    State(state): State<AppState>,
    Path((rule, item)): Path<(String, String)>,
    Form(form): Form<DismissForm>,
) -> Result<Redirect, HtmlError> {
    let started = Instant::now();
    let (r, id) = admitted(&state, &staff, &rule, &item, form.csrf.as_deref()).await?;
    let Some(sql) = r.dismiss.clone() else {
        return Err(ApiError::unprocessable("this rule's rows cannot be dismissed").into());
    };
    let reason = form.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::unprocessable("give a reason of at most 200 characters").into());
    }
    let mut tx = begin(&state, &staff, &r, id).await?;
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(format!("dismissed: {reason}"))
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_sqlx("review: dismiss", e))?
        .rows_affected();
    tx.commit()
        .await
        .map_err(|e| StoreError::from_sqlx("review: commit", e))?;
    let route = "/admin/review/{rule}/{id}/dismiss";
    trail::acted(
        &state.pool,
        &staff,
        Page::Review,
        route,
        "dismiss",
        &[id],
        n,
        started,
    )
    .await?;
    Ok(Redirect::to("/admin/review?done=dismissed"))
}
