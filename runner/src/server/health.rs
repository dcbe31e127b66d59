//! `GET /health`: database reachability, the last successful sync of every pipeline (from
//! `sync_log`) and the inbox backlog. 200 when the database answers, 503 when it does not, so
//! a load balancer or uptime check can act on the status alone.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::AppState;

/// How long the health check waits for the database.
const DB_TIMEOUT: Duration = Duration::from_secs(3);

/// The `/health`, `/ready` and `/metrics` routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(super::ready::ready))
        .route("/metrics", get(super::metrics::scrape))
}

async fn health(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(DB_TIMEOUT, report(&state)).await {
        Ok(Ok(body)) => (StatusCode::OK, Json(body)).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::store::StoreError::from_sqlx("health check", e), "Health check: database unreachable.");
            down()
        }
        Err(_) => {
            tracing::warn!("Health check: database timed out.");
            down()
        }
    }
}

fn down() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "database": "down"})),
    )
        .into_response()
}

async fn report(state: &AppState) -> Result<Value, sqlx::Error> {
    let pipelines = pipeline_ages(state).await?;
    let backlog = crate::store::backlog(&state.pool).await?;
    Ok(json!({
        "status": "ok",
        "database": "up",
        "pipelines": pipelines,
        "inbox": {"pending": backlog.inbox_received, "failed": backlog.inbox_failed},
        "quarantine": {"open": backlog.quarantined},
    }))
}

/// Per pipeline of the plan: the finish time of its last successful run and its age in
/// seconds (null when it never succeeded).
pub(super) async fn pipeline_ages(state: &AppState) -> Result<BTreeMap<&str, Value>, sqlx::Error> {
    let last = last_success(&state.pool).await?;
    let now = Utc::now();
    Ok(state
        .plan
        .pipelines
        .iter()
        .map(|p| {
            let name = p.mapping.name.as_str();
            let last = last.get(name);
            let age = last.map(|t| (now - *t).num_seconds().max(0));
            (name, json!({"last_success": last, "age_secs": age}))
        })
        .collect())
}

/// The finish time of the last successful run of each pipeline.
async fn last_success(pool: &PgPool) -> Result<BTreeMap<String, DateTime<Utc>>, sqlx::Error> {
    let rows: Vec<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "select pipeline, max(finished_at) from sync_log \
         where status = 'succeeded' group by pipeline",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(p, t)| t.map(|t| (p, t)))
        .collect())
}
