//! `POST /sync/all` and `POST /sync/{pipeline}`: what Cloud Scheduler calls, with a
//! Google-signed OIDC token.
//!
//! `{pipeline}` is a pipeline with a list endpoint, with `-` for `_` (`/sync/clinical-notes`
//! runs `clinical_notes`); `/sync/all` runs every such pipeline in dependency order. The token
//! is checked before anything else ([`OidcCaller`]), so an unknown pipeline is a 404 only for
//! an authenticated caller.
//!
//! The request waits for the run, so Scheduler records a real outcome, but only up to
//! [`SYNC_WAIT`] (inside the server's request timeout): a longer run is answered 202 and goes
//! on in the background, holding its lock until it ends. The run is a spawned task either way,
//! so a caller that hangs up does not cancel it. Statuses: 200 all ran and succeeded (some may
//! have been already running); 409 every pipeline was already running (nothing was queued);
//! 500 a sync failed (its error is in the body); 503 the lock could not be taken or a sync
//! failed for a transient reason, the database or DrChrono being away (its error is in the
//! body, and Scheduler retries); 202 still running at the deadline.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::mpsc;

use super::run::{Outcome, run_locked, runnable};
use crate::app::AppState;
use crate::server::oidc::OidcCaller;
use crate::server::{ApiError, REQUEST_TIMEOUT};
use crate::store::StoreError;

/// How long a `/sync/*` request waits for its run before answering 202: five seconds inside
/// the server's request timeout.
pub const SYNC_WAIT: Duration = Duration::from_secs(REQUEST_TIMEOUT.as_secs().saturating_sub(5));

/// The `/sync/*` routes, waiting up to [`SYNC_WAIT`] for a run.
pub fn routes() -> Router<AppState> {
    routes_with_wait(SYNC_WAIT)
}

/// The `/sync/*` routes, waiting up to `wait` for a run (tests shorten it).
pub fn routes_with_wait(wait: Duration) -> Router<AppState> {
    Router::new()
        .route(
            "/sync/all",
            post(
                move |caller: OidcCaller, State(state): State<AppState>| async move {
                    let names = runnable(&state.plan)
                        .map(|p| p.mapping.name.clone())
                        .collect();
                    trigger(&caller, state, names, wait).await
                },
            ),
        )
        .route(
            "/sync/{pipeline}",
            post(
                move |caller: OidcCaller,
                      State(state): State<AppState>,
                      Path(slug): Path<String>| async move {
                    let name = slug.replace('-', "_");
                    if !runnable(&state.plan).any(|p| p.mapping.name == name) {
                        return ApiError::NotFound.into_response();
                    }
                    trigger(&caller, state, vec![name], wait).await
                },
            ),
        )
}

/// The counts of a finished run.
#[derive(Debug, Serialize)]
struct Counts {
    pages: u64,
    records: u64,
    inserted: u64,
    updated: u64,
    unchanged: u64,
    stale: u64,
    soft_deleted: u64,
    elapsed_ms: u64,
}

/// One pipeline's entry in the answer.
#[derive(Debug, Serialize)]
struct RunJson {
    pipeline: String,
    /// `succeeded`, `failed`, `already_running`, `unavailable` or `running`.
    status: &'static str,
    #[serde(flatten)]
    counts: Option<Counts>,
    /// Why the run failed (ids and statuses only, as in `sync_log`).
    error: Option<String>,
}

impl RunJson {
    fn new(pipeline: String, outcome: Result<Outcome, StoreError>) -> Self {
        let mut json = RunJson {
            pipeline,
            status: "unavailable",
            counts: None,
            error: None,
        };
        match outcome {
            Ok(Outcome::AlreadyRunning) => json.status = "already_running",
            Ok(Outcome::Ran(r)) => {
                // A run that failed because the database (or DrChrono) was away is worth
                // retrying unchanged: Cloud Scheduler retries a 503.
                json.status = match (&r.error, r.transient) {
                    (None, _) => "succeeded",
                    (Some(_), true) => "unavailable",
                    (Some(_), false) => "failed",
                };
                json.counts = Some(Counts {
                    pages: r.pages,
                    records: r.records,
                    inserted: r.counts.inserted,
                    updated: r.counts.updated,
                    unchanged: r.counts.unchanged,
                    stale: r.counts.stale,
                    soft_deleted: r.soft_deleted,
                    elapsed_ms: u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
                });
                json.error = r.error;
            }
            Err(e) => {
                tracing::warn!(pipeline = %json.pipeline, error = %e, "Could not take the sync lock.");
                json.error = Some("database unavailable".into());
            }
        }
        json
    }
}

/// Runs `names` in order in a spawned task and answers with what finished within `wait`.
async fn trigger(
    caller: &OidcCaller,
    state: AppState,
    names: Vec<String>,
    wait: Duration,
) -> Response {
    tracing::info!(
        caller = caller.0.email.as_deref().unwrap_or("-"),
        pipelines = names.len(),
        "Sync triggered over HTTP."
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task_names = names.clone();
    tokio::spawn(async move {
        for name in task_names {
            let Some(p) = state.plan.pipeline(&name) else {
                continue;
            };
            let outcome = run_locked(&state, p, "api").await;
            // The caller may be gone (deadline passed): the remaining pipelines still run.
            let _ = tx.send(RunJson::new(name, outcome));
        }
    });
    let deadline = tokio::time::Instant::now() + wait;
    let mut runs: Vec<RunJson> = Vec::with_capacity(names.len());
    let finished = loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(run)) => runs.push(run),
            Ok(None) => break true,
            Err(_) => break false,
        }
    };
    for name in names.into_iter().skip(runs.len()) {
        // Finished without an entry means the task panicked (the panic is logged by tokio).
        let (status, error) = if finished {
            ("failed", Some("internal error".to_string()))
        } else {
            ("running", None)
        };
        runs.push(RunJson {
            pipeline: name,
            status,
            counts: None,
            error,
        });
    }
    let has = |s: &str| runs.iter().any(|r| r.status == s);
    let (code, overall) = if !finished {
        (StatusCode::ACCEPTED, "running")
    } else if has("unavailable") {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if has("failed") {
        (StatusCode::INTERNAL_SERVER_ERROR, "failed")
    } else if runs.iter().all(|r| r.status == "already_running") {
        (StatusCode::CONFLICT, "already_running")
    } else {
        (StatusCode::OK, "succeeded")
    };
    let body = serde_json::json!({ "status": overall, "pipelines": runs });
    (code, Json(body)).into_response()
}
