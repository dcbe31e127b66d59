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

/// Reads the inbox and outbox backlogs into the gauges. Each is read on its own: a role may
/// see only one of them (the push role may not read the inbox).
async fn backlog(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let m = metrics();
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
    let outbox: Result<(i64, i64, i64, Option<f64>), _> = sqlx::query_as(
        "select count(*) filter (where status = 'pending'), \
                count(*) filter (where status = 'relayed'), \
                count(*) filter (where status = 'dead'), \
                extract(epoch from now() - min(created_at) filter (where status <> 'dead'))::float8 \
         from outbox where status in ('pending', 'relayed', 'dead')",
    )
    .fetch_one(pool)
    .await;
    if let Ok(outbox) = &outbox {
        set(&m.outbox, "pending", outbox.0);
        set(&m.outbox, "relayed", outbox.1);
        set(&m.outbox, "dead", outbox.2);
        m.outbox_oldest_pending.set(outbox.3.unwrap_or(0.0));
    }
    let inbox: (i64, i64) = sqlx::query_as(
        "select count(*) filter (where status = 'received'), \
                count(*) filter (where status = 'failed') from inbox \
         where status in ('received', 'failed')",
    )
    .fetch_one(pool)
    .await?;
    set(&m.inbox, "received", inbox.0);
    set(&m.inbox, "failed", inbox.1);
    outbox.map(|_| ())
}
