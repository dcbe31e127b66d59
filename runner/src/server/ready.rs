//! `GET /ready`: readiness. 200 when the database answers and every embedded migration is
//! applied; 503 otherwise, with the reason (so Cloud Run's startup probe holds traffic back from
//! an instance whose schema is behind). It also reports, per pipeline, the age in seconds of its
//! last successful sync, but never fails for staleness: an old sync is an alert's business
//! ("No Recent Sync"), not a reason to take the instance out of service.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use crate::store::StoreError;

/// How long the check waits for the database.
const DB_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) async fn ready(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(DB_TIMEOUT, check(&state)).await {
        Ok(Ok((true, body))) => (StatusCode::OK, Json(body)).into_response(),
        Ok(Ok((false, body))) => (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Readiness: database unreachable.");
            not_ready("database unreachable")
        }
        Err(_) => {
            tracing::warn!("Readiness: database timed out.");
            not_ready("database timed out")
        }
    }
}

fn not_ready(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "database": "down", "reason": reason})),
    )
        .into_response()
}

/// Whether the instance is ready, and the report.
async fn check(state: &AppState) -> Result<(bool, Value), StoreError> {
    let pending = crate::store::pending_migrations(&state.pool).await?;
    let pipelines = super::health::pipeline_ages(state)
        .await
        .map_err(|e| StoreError::from_sqlx("readiness", e))?;
    let ready = pending.is_empty();
    let mut body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": "up",
        "migrations": if ready { "current" } else { "pending" },
        "pipelines": pipelines,
    });
    if !ready {
        body["reason"] = json!(format!(
            "{} migration(s) not applied: run `runner migrate`",
            pending.len()
        ));
        body["pending_migrations"] = json!(pending);
    }
    Ok((ready, body))
}
