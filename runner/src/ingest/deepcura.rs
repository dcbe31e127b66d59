//! `/webhooks/deepcura`: encrypted gridhooks. The shared-secret header is checked in constant
//! time, the envelope opened, the note validated against the pipelines that take Deep Cura
//! records, and only then is anything written: the inbox entry (raw encrypted body, decrypted
//! payload), the upserted note with actor `deepcura_webhook` and the link rules, in one
//! transaction. Every refusal writes nothing and logs no content.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::types::Json as SqlJson;
use subtle::ConstantTimeEq;

use super::envelope;
use super::inbox::{self, Entry, NewEntry, SOURCE_DEEPCURA, Status};
use super::process::{Outcome, prepare, settle};
use crate::server::{ApiError, AppState};

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
    let delivery = hex::encode(Sha256::digest(&body));
    let unavailable = |e: crate::store::StoreError| ApiError::from_store("store a gridhook", &e);
    let db = |e: sqlx::Error| unavailable(crate::store::StoreError::from_sqlx("gridhook", e));
    let mut tx = state.pool.begin().await.map_err(db)?;
    let entry = NewEntry {
        source: SOURCE_DEEPCURA,
        delivery_id: &delivery,
        event: Some(GRIDHOOK_EVENT),
        headers: json!({}),
        body: &body,
        payload: Some(&payload),
        status: Status::Received,
        needs_refetch: false,
    };
    let Some(id) = inbox::insert(&mut tx, &entry).await.map_err(unavailable)? else {
        tracing::info!(delivery_id = %delivery, "Deep Cura redelivery ignored: already stored.");
        return Ok((StatusCode::OK, Json(json!({ "status": "duplicate" }))));
    };
    let entry = Entry {
        id,
        source: SOURCE_DEEPCURA.into(),
        event: Some(GRIDHOOK_EVENT.into()),
        payload: Some(SqlJson(payload)),
        refetched: None,
        refetched_at: None,
    };
    let started = chrono::Utc::now();
    let outcome = settle(&mut tx, &state.plan, &entry)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(db)?;
    let (counts, error) = match &outcome {
        Outcome::Processed(c) => (*c, None),
        Outcome::Failed(_) => (
            Default::default(),
            Some("the note was stored but not written; kept for replay"),
        ),
        Outcome::Ignored => (Default::default(), None),
    };
    crate::sync::log::record_work(
        &state.pool,
        &crate::sync::log::Work {
            what: "deepcura",
            trigger: "webhook",
            started_at: Some(started),
            counts,
            error,
            ..Default::default()
        },
    )
    .await;
    Ok(match outcome {
        Outcome::Processed(c) => {
            tracing::info!(
                inbox_id = id,
                inserted = c.inserted,
                updated = c.updated,
                unchanged = c.unchanged,
                stale = c.stale,
                "Deep Cura note stored."
            );
            (
                StatusCode::OK,
                Json(json!({ "status": "processed", "id": id })),
            )
        }
        Outcome::Failed(reason) => {
            // Accepted and durable, but not written: `runner replay` retries it.
            tracing::warn!(event = crate::telemetry::events::INBOX_FAILED, source = SOURCE_DEEPCURA, inbox_id = id, reason = %reason, "Deep Cura note stored but not written; kept for replay.");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "status": "failed", "id": id })),
            )
        }
        Outcome::Ignored => (
            StatusCode::OK,
            Json(json!({ "status": "ignored", "id": id })),
        ),
    })
}
