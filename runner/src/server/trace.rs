//! Request tracing: the span of each request (request id, trace id, method and path) and its
//! one request log (status and latency), which the Cloud Logging layer turns into
//! `httpRequest`; and the webhook latency metric.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response};
use axum::middleware::Next;
use tracing::Span;

use crate::telemetry::metrics::metrics;

/// The span of one request. Only the path is recorded: query strings may carry tokens.
pub(super) fn request_span(req: &Request<Body>) -> Span {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let trace_id = crate::telemetry::trace::trace_id(req.headers());
    tracing::info_span!(
        "http",
        request_id = %header("x-request-id").unwrap_or("-"),
        trace_id = trace_id.as_deref(),
        http.method = %req.method(),
        http.url = %req.uri().path(),
        http.user_agent = header("user-agent"),
    )
}

/// The request log, inside the request's span.
pub(super) fn request_log(res: &Response<Body>, latency: Duration, _span: &Span) {
    let status = res.status().as_u16();
    let ms = latency.as_secs_f64() * 1000.0;
    if res.status().is_server_error() {
        tracing::warn!(
            http.status = status,
            http.latency_ms = ms,
            "Request answered."
        );
    } else {
        tracing::info!(
            http.status = status,
            http.latency_ms = ms,
            "Request answered."
        );
    }
}

/// Observes the time to answer of `POST /webhooks/{source}`.
pub(super) async fn webhook_latency(req: Request<Body>, next: Next) -> Response<Body> {
    let source = req
        .uri()
        .path()
        .strip_prefix("/webhooks/")
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .map(str::to_owned);
    let started = Instant::now();
    let res = next.run(req).await;
    // Unknown paths (404) are not recorded: a label per made-up path would grow without bound.
    if let Some(source) = source
        && res.status() != axum::http::StatusCode::NOT_FOUND
    {
        metrics().webhook(&source, started.elapsed());
    }
    res
}
