//! The HTTP server of `runner serve`: the router (built by [`router`], so tests call it without
//! a socket), shared state, health.

use std::sync::Arc;

use axum::Router;
use sqlx::PgPool;

use crate::config::Plan;
use crate::source::RestClient;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// The validated config.
    pub plan: Arc<Plan>,
    /// The DrChrono client (shared rate budget).
    pub drchrono: RestClient,
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::schedule::routes())
        .with_state(state)
}
