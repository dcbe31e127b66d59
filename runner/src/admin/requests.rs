//! "Run again" from the dashboard. The `api` role has no DrChrono credentials and may not write
//! clinical tables, so it only asks: a row in `sync_requests` (one open request per pipeline).
//! The roles that sync (`all`, `sync`) run [`spawn_request_worker`], which takes each request
//! (`FOR UPDATE SKIP LOCKED`, so one instance takes it) and runs the pipeline under its advisory
//! lock with trigger `admin`, exactly as `/sync/*` would.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::app::{AppState, Shutdown};
use crate::schedule::{Outcome, run_locked};
use crate::store::StoreError;

/// How often the worker looks for requests.
pub const REQUEST_POLL: Duration = Duration::from_secs(2);

/// Asks for a run of `pipeline` on behalf of `email`. Returns false when one is already open.
pub(super) async fn request(
    pool: &PgPool,
    pipeline: &str,
    email: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "insert into sync_requests (pipeline, requested_by) values ($1, $2) \
         on conflict (pipeline) where taken_at is null do nothing",
    )
    .bind(pipeline)
    .bind(email)
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_sqlx("request a sync run", e))?;
    Ok(r.rows_affected() == 1)
}

/// The pipelines with an open request.
pub(super) async fn open(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar("select pipeline from sync_requests where taken_at is null order by id")
        .fetch_all(pool)
        .await
        .map_err(|e| StoreError::from_sqlx("open sync requests", e))
}

/// Takes the oldest open request, if any.
async fn take(pool: &PgPool, worker: &str) -> Result<Option<(i64, String)>, StoreError> {
    sqlx::query_as(
        "update sync_requests set taken_at = now(), taken_by = $1 where id = \
         (select id from sync_requests where taken_at is null order by id limit 1 for update skip locked) \
         returning id, pipeline",
    )
    .bind(worker)
    .fetch_optional(pool)
    .await
    .map_err(|e| StoreError::from_sqlx("take a sync request", e))
}

/// Runs every open request now; returns how many were taken.
pub async fn run_requests(state: &AppState, worker: &str) -> Result<u64, StoreError> {
    let mut taken = 0;
    while let Some((id, name)) = take(&state.pool, worker).await? {
        taken += 1;
        let Some(p) = crate::schedule::runnable(&state.plan).find(|p| p.mapping.name == name)
        else {
            tracing::warn!(request = id, pipeline = %name, "Sync request for an unknown pipeline; dropped.");
            continue;
        };
        match run_locked(state, p, "admin").await? {
            Outcome::Ran(r) => {
                tracing::info!(request = id, pipeline = %name, ok = r.error.is_none(), "Requested sync ran.");
            }
            Outcome::AlreadyRunning => {
                tracing::info!(request = id, pipeline = %name, "Requested sync already running.");
            }
        }
    }
    Ok(taken)
}

/// Takes and runs requests until `stop`.
pub fn spawn_request_worker(state: AppState, mut stop: Shutdown) -> JoinHandle<()> {
    let worker = format!("admin-{}", std::process::id());
    tokio::spawn(async move {
        while !stop.is_triggered() {
            if let Err(e) = run_requests(&state, &worker).await {
                tracing::warn!(error = %e, "Could not take sync requests.");
            }
            tokio::select! {
                () = stop.wait() => break,
                () = tokio::time::sleep(REQUEST_POLL) => {}
            }
        }
    })
}
