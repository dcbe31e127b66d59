//! `GET /metrics`: the process's Prometheus metrics ([`crate::telemetry::metrics`]) in the
//! Prometheus text format, with the backlog gauges (inbox and outbox entries by status, the
//! oldest pending outbox event) read from the database at scrape time. When the database does
//! not answer within a second, the process metrics are still served and the gauges keep their
//! last values.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::telemetry::metrics::{StatusLabel, metrics};

/// How long a scrape waits for the backlog figures.
const DB_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) async fn scrape(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(DB_TIMEOUT, backlog(&state.pool)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %crate::store::StoreError::from_sqlx("metrics", e), "Metrics: backlog not read.");
        }
        Err(_) => tracing::debug!("Metrics: backlog read timed out."),
    }
    (
        [(
            header::CONTENT_TYPE,
            crate::telemetry::metrics::CONTENT_TYPE,
        )],
        metrics().encode(),
    )
        .into_response()
}

/// Reads the inbox and outbox backlogs into the gauges (through `runner_backlog()`, which
/// every role may call).
async fn backlog(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let m = metrics();
    let b = crate::store::backlog(pool).await?;
    let set = |family: &prometheus_client::metrics::family::Family<
        StatusLabel,
        prometheus_client::metrics::gauge::Gauge,
    >,
               status: &str,
               v: i64| {
        family
            .get_or_create(&StatusLabel {
                status: status.into(),
            })
            .set(v);
    };
    set(&m.inbox, "received", b.inbox_received);
    set(&m.inbox, "failed", b.inbox_failed);
    set(&m.outbox, "pending", b.outbox_pending);
    set(&m.outbox, "relayed", b.outbox_relayed);
    set(&m.outbox, "dead", b.outbox_dead);
    m.outbox_oldest_pending
        .set(b.oldest_pending_secs.unwrap_or(0.0));
    Ok(())
}
