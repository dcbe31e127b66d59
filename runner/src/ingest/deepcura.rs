//! `/webhooks/deepcura`: encrypted gridhooks. The shared-secret header is checked in constant
//! time, the envelope opened, the note validated against the pipelines that take Deep Cura
//! records, and only then is anything written: the inbox entry (raw encrypted body, decrypted
//! payload), the upserted note with actor `deepcura_webhook` and the link rules, in one
//! transaction ([`accept`]). Every refusal writes nothing and logs no content.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::inbox::SOURCE_DEEPCURA;
use super::process::prepare;
use super::{accept, envelope};
use crate::app::AppState;
use crate::server::ApiError;

/// The `event` recorded for gridhooks (Deep Cura sends no event name).
pub const GRIDHOOK_EVENT: &str = "gridhook";

/// `POST /webhooks/deepcura`.
pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let cfg = &state.plan.systems.deepcura;
    let secret = cfg.shared_secret.expose().as_bytes();
    let given = headers
        .get(cfg.secret_header.as_str())
        .map(|v| v.as_bytes());
    let authentic = given.is_some_and(|g| !secret.is_empty() && bool::from(g.ct_eq(secret)));
    if !authentic {
        let reason = if given.is_some() {
            "bad shared secret"
        } else {
            "missing shared secret"
        };
        super::rejected(SOURCE_DEEPCURA, reason);
        return Err(ApiError::Unauthorized);
    }
    let plain = envelope::open(cfg, &headers, &body).map_err(|e| {
        super::rejected(SOURCE_DEEPCURA, &e.to_string());
        ApiError::bad_request(e.to_string())
    })?;
    let mut payload = match serde_json::from_slice::<Value>(&plain) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            super::rejected(SOURCE_DEEPCURA, "the decrypted note is not a JSON object");
            return Err(ApiError::bad_request(
                "the decrypted note is not a JSON object",
            ));
        }
    };
    drop(plain);
    let stripped = crate::mapping::strip_nul(&mut payload);
    if stripped > 0 {
        tracing::warn!(
            characters = stripped,
            "NUL characters removed from a Deep Cura note: PostgreSQL cannot store them."
        );
    }
    match prepare(&state.plan, SOURCE_DEEPCURA, None, Some(&payload)) {
        Ok(Some(_)) => {}
        Ok(None) => {
            super::rejected(SOURCE_DEEPCURA, "no pipeline takes Deep Cura records");
            return Err(ApiError::NotFound);
        }
        Err(e) => {
            super::rejected(SOURCE_DEEPCURA, &e.to_string());
            return Err(ApiError::bad_request(e.to_string()));
        }
    }
    accept::store_and_settle(
        &state,
        accept::Accepted {
            source: SOURCE_DEEPCURA,
            event: GRIDHOOK_EVENT,
            what: "deepcura",
            body: &body,
            payload,
        },
    )
    .await
}
