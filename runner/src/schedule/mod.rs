//! Scheduling: `/sync/*` routes for Cloud Scheduler (OIDC), the embedded cron scheduler and
//! per-pipeline advisory locks.

use axum::Router;

use crate::server::AppState;

/// The `/sync/*` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
