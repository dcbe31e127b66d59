//! `POST /pubsub/push`: the push role's receiver of Pub/Sub push deliveries (wrapped format,
//! apis.md §4.1) carrying the relay's change events.
//!
//! The OIDC token is verified before the body is read ([`OidcCaller`]; no verifier: 401).
//! Then, in one transaction: the message id is inserted into `processed_messages` (an id
//! already there is a duplicate: acknowledged 200 without a second write; a concurrent
//! delivery of the same id waits on the uncommitted row), the event's record is pushed to
//! Coda with [`push_records`], and only when Coda confirmed the write is the transaction
//! committed and 200 answered. A failed push rolls the row back and answers 503 (rows Coda
//! refused: 500), so Pub/Sub redelivers, and its dead-letter policy ends a hopeless message.
//! A malformed body is a 400 (also redelivered, then dead-lettered). Logs carry the message
//! id, table and counts only.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

use super::ChangeEvent;
use crate::push::{CodaClient, push_records};
use crate::server::oidc::OidcCaller;
use crate::server::{ApiError, AppState};

/// The route path.
pub const PUSH_PATH: &str = "/pubsub/push";

/// The `/pubsub/push` route, pushing with `coda` (its budgets are shared by every delivery).
pub fn routes(coda: CodaClient) -> Router<AppState> {
    Router::new().route(
        PUSH_PATH,
        post(
            move |caller: OidcCaller, State(state): State<AppState>, body: Bytes| {
                let coda = coda.clone();
                async move { receive(&caller, &state, &coda, &body).await }
            },
        ),
    )
}

/// A delivery's message id and decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `message.messageId` (or `message.message_id`).
    pub message_id: String,
    /// The change event in `message.data`.
    pub event: ChangeEvent,
}

/// Parses a wrapped push body. The reason names what is missing, never a value.
pub fn parse(body: &[u8]) -> Result<Delivery, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "body is not JSON")?;
    let message = v.get("message").ok_or("no message")?;
    let message_id = message
        .get("messageId")
        .or_else(|| message.get("message_id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("no message id")?
        .to_string();
    let data = message
        .get("data")
        .and_then(Value::as_str)
        .ok_or("no data")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| "data is not base64")?;
    let event: ChangeEvent =
        serde_json::from_slice(&bytes).map_err(|_| "data is not a change event")?;
    Ok(Delivery { message_id, event })
}

async fn receive(
    caller: &OidcCaller,
    state: &AppState,
    coda: &CodaClient,
    body: &[u8],
) -> Response {
    let d = match parse(body) {
        Ok(d) => d,
        Err(reason) => {
            crate::ingest::rejected("pubsub", reason);
            return ApiError::bad_request(reason).into_response();
        }
    };
    let ev = &d.event;
    let mut tx = match state.pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return unavailable(&d, "begin", &e.to_string()),
    };
    let fresh = sqlx::query(
        "insert into processed_messages (message_id) values ($1) on conflict do nothing",
    )
    .bind(&d.message_id)
    .execute(&mut *tx)
    .await;
    match fresh {
        Ok(r) if r.rows_affected() == 0 => {
            tracing::info!(message_id = %d.message_id, "Duplicate Pub/Sub delivery acknowledged.");
            return (StatusCode::OK, Json(json!({"status": "duplicate"}))).into_response();
        }
        Ok(_) => {}
        Err(e) => return unavailable(&d, "dedupe", &e.to_string()),
    }
    let outcome =
        match push_records(&state.pool, &state.plan, coda, &ev.table, &[ev.record_id]).await {
            Ok(o) => o,
            Err(e) => return unavailable(&d, "push", &e.to_string()),
        };
    if outcome.rejected > 0 {
        // Coda refused the row itself: not confirmed, so not acknowledged.
        tracing::warn!(message_id = %d.message_id, table = %ev.table, rejected = outcome.rejected, "Coda refused the pushed row.");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": "rejected"})),
        )
            .into_response();
    }
    if let Err(e) = tx.commit().await {
        return unavailable(&d, "commit", &e.to_string());
    }
    tracing::info!(
        caller = caller.0.email.as_deref().unwrap_or("-"),
        message_id = %d.message_id,
        table = %ev.table,
        outbox_id = ev.outbox_id,
        rows_sent = outcome.rows_sent,
        unchanged = outcome.unchanged,
        "Pub/Sub delivery pushed to Coda."
    );
    let body = json!({
        "status": "pushed",
        "rows_sent": outcome.rows_sent,
        "unchanged": outcome.unchanged,
        "deleted": outcome.deleted,
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// A 503 (Pub/Sub redelivers); the processed row is rolled back with the transaction.
fn unavailable(d: &Delivery, stage: &'static str, error: &str) -> Response {
    tracing::warn!(message_id = %d.message_id, table = %d.event.table, stage, error, "Pub/Sub delivery not processed; it will be redelivered.");
    ApiError::Unavailable.into_response()
}
