//! The HTTP server of `runner serve`: the router (built by [`router`], so tests call it without
//! a socket), health, the one HTTP error type, and [`serve`], which runs the router on a
//! listener with graceful shutdown and the background inbox worker. The state it shares with
//! the workers, and their shutdown signal, are in [`crate::app`] (re-exported here).

mod error;
mod health;
mod metrics;
pub mod oidc;
mod ready;
mod serve;
mod trace;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use crate::app::{AppState, Shutdown, ShutdownSignal, shutdown_signal};
pub use error::ApiError;
pub use serve::{serve, serve_with};

/// Largest request body accepted, in bytes (webhooks are a few kilobytes).
pub const BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// Longest a request may take before it is answered 503 (the sender retries).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the request says its body is JSON (`Content-Type: application/json`, any
/// parameters). Routes that take JSON answer 415 otherwise.
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

/// The whole application router, with body limits, timeouts, request ids, request spans and
/// one request log per request (method, path, status, latency and the trace: query strings and
/// bodies are never logged).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(crate::ingest::routes(&state.plan))
        .merge(crate::schedule::routes())
        .merge(crate::pubsub::routes())
        .merge(crate::writeback::routes(&state.plan))
        .merge(crate::admin::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(trace::webhook_latency))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(trace::request_span)
                .on_response(trace::request_log),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
