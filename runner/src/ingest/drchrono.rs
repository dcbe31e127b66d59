//! `/webhooks/drchrono`: the `GET ?msg=` verification handshake, and deliveries. A delivery
//! is authenticated before anything is stored, written to the inbox (idempotent on
//! `X-drchrono-delivery`), and only then acknowledged; the worker processes it afterwards.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::inbox::{self, NewEntry, SOURCE_DRCHRONO, Status};
use super::process::{check_shape, needs_refetch, targets};
use super::signature::{handshake_token, verify_signature};
use crate::app::AppState;
use crate::mapping::strip_nul;
use crate::server::ApiError;

/// Longest accepted event name or delivery id.
const MAX_HEADER_LEN: usize = 200;

/// The handshake's query string.
#[derive(Debug, Deserialize)]
pub(super) struct HandshakeQuery {
    msg: Option<String>,
}

/// `GET /webhooks/drchrono?msg=...` -> `{"secret_token": hex(HMAC-SHA256(secret, msg))}`.
pub(super) async fn handshake(
    State(state): State<AppState>,
    Query(q): Query<HandshakeQuery>,
) -> Result<Json<Value>, ApiError> {
    let cfg = &state.plan.systems.drchrono.webhooks;
    if !cfg.handshake {
        return Err(ApiError::NotFound);
    }
    let msg = q
        .msg
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::bad_request("the msg parameter is missing"))?;
    tracing::info!("DrChrono webhook verification answered.");
    Ok(Json(
        json!({ "secret_token": handshake_token(cfg.secret.expose(), &msg) }),
    ))
}

/// `POST /webhooks/drchrono`: authenticate, store, acknowledge.
pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let cfg = &state.plan.systems.drchrono.webhooks;
    let signature = headers.get("x-drchrono-signature").map(|v| v.as_bytes());
    if !verify_signature(cfg, signature, &body) {
        let reason = if signature.is_some() {
            "bad signature"
        } else {
            "missing signature"
        };
        super::rejected(SOURCE_DRCHRONO, reason);
        return Err(ApiError::Unauthorized);
    }
    let event = header(&headers, "x-drchrono-event")?.ok_or_else(|| {
        super::rejected(SOURCE_DRCHRONO, "the X-drchrono-event header is missing");
        ApiError::bad_request("the X-drchrono-event header is missing")
    })?;
    let delivery = match header(&headers, "x-drchrono-delivery")? {
        Some(d) => d.to_string(),
        None => hex::encode(Sha256::digest(&body)),
    };
    let mut payload: Option<Value> = if body.trim_ascii().is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|_| {
            super::rejected(SOURCE_DRCHRONO, "the body is not JSON");
            ApiError::bad_request("the body is not JSON")
        })?)
    };
    // The body is stored as received (bytes); its parsed copy loses what PostgreSQL's jsonb
    // cannot hold.
    let stripped = payload.as_mut().map_or(0, strip_nul);
    if stripped > 0 {
        tracing::warn!(
            characters = stripped,
            "NUL characters removed from a DrChrono webhook's parsed copy: PostgreSQL cannot store them."
        );
    }
    check_shape(&state.plan, SOURCE_DRCHRONO, Some(event), payload.as_ref()).map_err(|reason| {
        super::rejected(SOURCE_DRCHRONO, &reason);
        ApiError::bad_request(reason)
    })?;
    let routed = !targets(&state.plan, SOURCE_DRCHRONO, Some(event)).is_empty();
    let status = if routed {
        Status::Received
    } else {
        Status::Ignored
    };
    let entry = NewEntry {
        source: SOURCE_DRCHRONO,
        delivery_id: &delivery,
        event: Some(event),
        headers: json!({ "x-drchrono-event": event, "x-drchrono-delivery": delivery }),
        body: &body,
        payload: payload.as_ref(),
        status,
        needs_refetch: needs_refetch(&state.plan, SOURCE_DRCHRONO, Some(event)),
    };
    let mut conn = state
        .pool
        .acquire()
        .await
        .map_err(|e| ApiError::from_store("store a webhook", &store_err(e)))?;
    let id = inbox::insert(&mut conn, &entry)
        .await
        .map_err(|e| ApiError::from_store("store a webhook", &e))?;
    drop(conn);
    let Some(id) = id else {
        tracing::info!(webhook_event = event, delivery_id = %delivery, "DrChrono redelivery ignored: already stored.");
        return Ok(Json(json!({ "status": "duplicate" })));
    };
    tracing::info!(inbox_id = id, webhook_event = event, delivery_id = %delivery, status = status.as_str(), "DrChrono webhook stored.");
    if routed {
        state.inbox_notify.notify_one();
    }
    Ok(Json(json!({ "status": status.as_str(), "id": id })))
}

fn store_err(e: sqlx::Error) -> crate::store::StoreError {
    crate::store::StoreError::from_sqlx("acquire a connection", e)
}

/// A short, printable header value, or `None` when absent.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(s) if !s.trim().is_empty() && s.len() <= MAX_HEADER_LEN => Ok(Some(s.trim())),
        _ => {
            let reason = format!("the {name} header is empty, too long or not text");
            super::rejected(SOURCE_DRCHRONO, &reason);
            Err(ApiError::bad_request(reason))
        }
    }
}
