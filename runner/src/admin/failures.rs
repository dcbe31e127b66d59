//! `GET /admin/failures`: failed inbox entries, outbox dead letters and failed sync runs of the
//! last 7 days (ids, statuses and one-line reasons only), each list bounded; and the admin
//! actions on them, each a POST with a form token:
//!
//! - replay one failed inbox entry, or all: the entry goes back to `received`, and the inbox
//!   worker of the role that syncs processes it as `runner replay` would;
//! - retry one dead letter, or all: back to `pending` for the outbox worker or the relay
//!   (`runner outbox retry`);
//! - run a failed pipeline again: a request that the syncing role takes ([`super::requests`]).

use std::time::Instant;

use axum::Form;
use axum::extract::{MatchedPath, Path, Query, State};
use axum::response::{Html, Redirect};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::view::{self, Chrome, HtmlError};
use super::{Page, Staff, csrf, requests, trail};
use crate::app::AppState;
use crate::server::ApiError;
use crate::store::StoreError;

/// Rows shown per list.
pub(super) const LIMIT: i64 = 100;

/// A form that carries only its token.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenForm {
    /// The single-use form token.
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `?done=` after an action: which fixed confirmation to show.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    /// The action's code.
    #[serde(default)]
    pub done: Option<String>,
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "replayed" => "The entry is back in the inbox; the inbox worker processes it shortly.",
        "replayed_all" => "Every failed entry is back in the inbox.",
        "retried" => "The dead letter is pending again.",
        "retried_all" => "Every dead letter is pending again.",
        "requested" => "The run is requested; the sync service starts it shortly.",
        "already_requested" => "A run of that pipeline was already requested.",
        _ => return None,
    })
}

type InboxRow = (
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
    i32,
    Option<String>,
);
type DeadRow = (i64, String, Uuid, i32, Option<String>, DateTime<Utc>);
type RunRow = (String, String, DateTime<Utc>, Option<String>);

/// The page.
pub(super) async fn page(
    staff: Staff,
    State(state): State<AppState>,
    Query(done): Query<Done>,
) -> Result<Html<String>, HtmlError> {
    staff.may_see(Page::Failures)?;
    let pool = &state.pool;
    let e = |op: &'static str| move |e| StoreError::from_sqlx(op, e);
    let inbox: Vec<InboxRow> = sqlx::query_as(
        "select id, source, event, received_at, attempts, error from inbox \
         where status = 'failed' order by id desc limit $1",
    )
    .bind(LIMIT)
    .fetch_all(pool)
    .await
    .map_err(e("failures: inbox"))?;
    let dead: Vec<DeadRow> = sqlx::query_as(
        "select id, table_name, record_id, attempts, last_error, created_at from outbox \
         where status = 'dead' order by id desc limit $1",
    )
    .bind(LIMIT)
    .fetch_all(pool)
    .await
    .map_err(e("failures: dead letters"))?;
    let runs: Vec<RunRow> = sqlx::query_as(
        "select pipeline, trigger, started_at, error from sync_log \
         where status = 'failed' and started_at > now() - interval '7 days' \
         order by started_at desc limit $1",
    )
    .bind(LIMIT)
    .fetch_all(pool)
    .await
    .map_err(e("failures: runs"))?;
    let requested = requests::open(pool).await?;
    let runnable: Vec<&str> = crate::schedule::runnable(&state.plan)
        .map(|p| p.mapping.name.as_str())
        .collect();
    let mut chrome = Chrome::new(&staff, "failures");
    chrome.flash = flash(done.done.as_deref());
    if staff.role.acts() {
        chrome.csrf = Some(csrf::issue(pool, &staff.email).await?);
    }
    let inbox: Vec<_> = inbox
        .into_iter()
        .map(|r| minijinja::context! { id => r.0, source => r.1, event => r.2, received => view::time(r.3), attempts => r.4, error => r.5 })
        .collect();
    let dead: Vec<_> = dead
        .into_iter()
        .map(|r| minijinja::context! { id => r.0, table => r.1, record => r.2.to_string(), attempts => r.3, error => r.4, created => view::time(r.5) })
        .collect();
    let runs: Vec<_> = runs
        .into_iter()
        .map(|r| {
            minijinja::context! {
                runnable => runnable.contains(&r.0.as_str()),
                requested => requested.contains(&r.0),
                pipeline => r.0, trigger => r.1, started => view::time(r.2), error => r.3,
            }
        })
        .collect();
    view::render(
        "failures.html",
        minijinja::context! { chrome => view::ser(&chrome), inbox, dead, runs, limit => LIMIT },
    )
}

/// The id in a path, or 404: a made-up id is an unknown record.
fn id(raw: &str) -> Result<i64, HtmlError> {
    raw.parse().map_err(|_| ApiError::NotFound.into())
}

/// What an action may do, once its caller and token are checked.
async fn admitted(state: &AppState, staff: &Staff, form: &TokenForm) -> Result<(), HtmlError> {
    staff.may_act(Page::Failures)?;
    csrf::spend(&state.pool, &staff.email, form.csrf.as_deref()).await
}

/// The two queues whose entries admins send back.
#[derive(Debug, Clone, Copy)]
enum Queue {
    /// Failed inbox entries, replayed.
    Inbox,
    /// Outbox dead letters, retried.
    Outbox,
}

impl Queue {
    /// The route of the action on one entry, or on all.
    fn route(self, one: bool) -> &'static str {
        match (self, one) {
            (Queue::Inbox, true) => "/admin/failures/inbox/{id}/replay",
            (Queue::Inbox, false) => "/admin/failures/inbox/replay-all",
            (Queue::Outbox, true) => "/admin/failures/outbox/{id}/retry",
            (Queue::Outbox, false) => "/admin/failures/outbox/retry-all",
        }
    }

    /// The action's name and its `?done=` code.
    fn action(self, one: bool) -> (&'static str, &'static str) {
        match (self, one) {
            (Queue::Inbox, true) => ("replay", "replayed"),
            (Queue::Inbox, false) => ("replay", "replayed_all"),
            (Queue::Outbox, true) => ("retry", "retried"),
            (Queue::Outbox, false) => ("retry", "retried_all"),
        }
    }

    /// After an update of zero rows: 404 if the entry does not exist, else 422 (wrong state).
    async fn missing_or_not(self, state: &AppState, id: i64) -> HtmlError {
        let (table, sql) = match self {
            Queue::Inbox => ("inbox", "select exists (select 1 from inbox where id = $1)"),
            Queue::Outbox => (
                "outbox",
                "select exists (select 1 from outbox where id = $1)",
            ),
        };
        match sqlx::query_scalar::<_, bool>(sql)
            .bind(id)
            .fetch_one(&state.pool)
            .await
        {
            Ok(true) => ApiError::unprocessable(format!("{table} entry {id} is not failed")).into(),
            Ok(false) => ApiError::NotFound.into(),
            Err(e) => StoreError::from_sqlx("find an entry", e).into(),
        }
    }

    /// Ends an action that sent `n` entries back: 404/422 when the one named was not, else the
    /// trail row and the redirect to the page with its confirmation.
    async fn settle(
        self,
        state: &AppState,
        staff: &Staff,
        one: Option<i64>,
        n: u64,
        records: &[Uuid],
        started: Instant,
    ) -> Result<Redirect, HtmlError> {
        if let (Some(id), 0) = (one, n) {
            return Err(self.missing_or_not(state, id).await);
        }
        let (action, done) = self.action(one.is_some());
        let route = self.route(one.is_some());
        trail::acted(
            &state.pool,
            staff,
            Page::Failures,
            route,
            action,
            records,
            n,
            started,
        )
        .await?;
        Ok(Redirect::to(&format!("/admin/failures?done={done}")))
    }
}

impl Queue {
    /// The queue of a route template (`/admin/failures/inbox/...` or `.../outbox/...`).
    fn of(route: &MatchedPath) -> Queue {
        if route.as_str().starts_with("/admin/failures/inbox/") {
            Queue::Inbox
        } else {
            Queue::Outbox
        }
    }

    /// Sends the failed entry `one` (or every one) back; returns how many, and the records
    /// they concern.
    async fn send_back(
        self,
        state: &AppState,
        one: Option<i64>,
    ) -> Result<(u64, Vec<Uuid>), HtmlError> {
        match self {
            Queue::Inbox => {
                let n = sqlx::query(
                    "update inbox set status = 'received' where status = 'failed' \
                     and ($1::bigint is null or id = $1)",
                )
                .bind(one)
                .execute(&state.pool)
                .await
                .map_err(|e| StoreError::from_sqlx("requeue inbox entries", e))?
                .rows_affected();
                state.inbox_notify.notify_one();
                Ok((n, Vec::new()))
            }
            Queue::Outbox => {
                let records: Vec<Uuid> = sqlx::query_scalar(
                    "select record_id from outbox where status = 'dead' \
                     and ($1::bigint is null or id = $1)",
                )
                .bind(one)
                .fetch_all(&state.pool)
                .await
                .map_err(|e| StoreError::from_sqlx("dead letters", e))?;
                let n = crate::push::outbox::retry(&state.pool, one)
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "Could not retry dead letters.");
                        HtmlError::from(ApiError::Unavailable)
                    })?;
                Ok((n, records))
            }
        }
    }

    /// Checks the caller and token, sends `raw` (or every entry) back, settles.
    async fn act(
        self,
        staff: Staff,
        state: AppState,
        raw: Option<String>,
        form: TokenForm,
    ) -> Result<Redirect, HtmlError> {
        let started = Instant::now();
        admitted(&state, &staff, &form).await?;
        let one = raw.as_deref().map(id).transpose()?;
        let (n, records) = self.send_back(&state, one).await?;
        self.settle(&state, &staff, one, n, &records, started).await
    }
}

/// `POST /admin/failures/inbox/{id}/replay` and `POST /admin/failures/outbox/{id}/retry`.
pub(super) async fn one(
    staff: Staff,
    State(state): State<AppState>,
    route: MatchedPath,
    Path(raw): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Redirect, HtmlError> {
    Queue::of(&route).act(staff, state, Some(raw), form).await
}

/// `POST /admin/failures/inbox/replay-all` and `POST /admin/failures/outbox/retry-all`.
pub(super) async fn all(
    staff: Staff,
    State(state): State<AppState>,
    route: MatchedPath,
    Form(form): Form<TokenForm>,
) -> Result<Redirect, HtmlError> {
    Queue::of(&route).act(staff, state, None, form).await
}

/// `POST /admin/failures/sync/{pipeline}/run`.
pub(super) async fn run_again(
    staff: Staff,
    State(state): State<AppState>,
    Path(pipeline): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Redirect, HtmlError> {
    let started = Instant::now();
    admitted(&state, &staff, &form).await?;
    if !crate::schedule::runnable(&state.plan).any(|p| p.mapping.name == pipeline) {
        return Err(ApiError::NotFound.into());
    }
    let new = requests::request(&state.pool, &pipeline, &staff.email).await?;
    let route = "/admin/failures/sync/{pipeline}/run";
    trail::acted(
        &state.pool,
        &staff,
        Page::Failures,
        route,
        "run",
        &[],
        u64::from(new),
        started,
    )
    .await?;
    let done = if new {
        "requested"
    } else {
        "already_requested"
    };
    Ok(Redirect::to(&format!("/admin/failures?done={done}")))
}
