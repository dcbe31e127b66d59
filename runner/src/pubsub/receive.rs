//! `POST /pubsub/push`: the push role's receiver of Pub/Sub push deliveries (wrapped format,
//! apis.md §4.1) carrying the relay's change events.
//!
//! The OIDC token is verified before the body is read ([`OidcCaller`]; no verifier: 401). The
//! event a delivery announces is already durable: it is an outbox row of this database, which
//! the relay marked `relayed` when it published it. So the receiver only records the message id
//! in `processed_messages` (one short statement, no transaction held, no call to Coda), wakes
//! the push role's outbox worker and answers 200. The worker claims relayed events, pushes them
//! in batches grouped by table and settles them, as the embedded worker does with pending ones
//! (a delivery whose event is already done is acknowledged all the same). A delivery answers
//! 503 only when the database is unavailable (Pub/Sub redelivers), and 400 for a malformed body
//! (redelivered, then dead-lettered by Pub/Sub). Logs carry the message id, table and outbox id
//! only.

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
use crate::app::AppState;
use crate::server::ApiError;
use crate::server::oidc::OidcCaller;

/// The route path.
pub const PUSH_PATH: &str = "/pubsub/push";

/// The `/pubsub/push` route.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        PUSH_PATH,
        post(
            |caller: OidcCaller, State(state): State<AppState>, body: Bytes| async move {
                receive(&caller, &state, &body).await
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

async fn receive(caller: &OidcCaller, state: &AppState, body: &[u8]) -> Response {
    let d = match parse(body) {
        Ok(d) => d,
        Err(reason) => {
            crate::ingest::rejected("pubsub", reason);
            return ApiError::bad_request(reason).into_response();
        }
    };
    let ev = &d.event;
    // One statement: the dedupe row and the event's status.
    let seen: Result<(bool, Option<String>), _> = sqlx::query_as(
        "with fresh as (insert into processed_messages (message_id) values ($1)
                         on conflict do nothing returning 1)
         select exists (select 1 from fresh), (select status from outbox where id = $2)",
    )
    .bind(&d.message_id)
    .bind(ev.outbox_id)
    .fetch_one(&state.pool)
    .await;
    let (fresh, status) = match seen {
        Ok(s) => s,
        Err(e) => {
            let error = crate::store::StoreError::from_sqlx("pubsub delivery", e);
            tracing::warn!(message_id = %d.message_id, table = %ev.table, error = %error, "Pub/Sub delivery not recorded; it will be redelivered.");
            return ApiError::Unavailable.into_response();
        }
    };
    let answer = match (fresh, status.as_deref()) {
        (false, _) => "duplicate",
        (true, Some("pending" | "relayed")) => {
            state.outbox_notify.notify_one();
            "queued"
        }
        (true, Some(done_or_dead)) => done_or_dead,
        // Not in this database (a message of another environment's topic): nothing to push.
        (true, None) => "unknown",
    };
    tracing::info!(
        caller = caller.0.email.as_deref().unwrap_or("-"),
        message_id = %d.message_id,
        table = %ev.table,
        outbox_id = ev.outbox_id,
        status = answer,
        "Pub/Sub delivery acknowledged."
    );
    (StatusCode::OK, Json(json!({"status": answer}))).into_response()
}
