//! The second half of every push receiver that writes in the request (Deep Cura gridhooks,
//! inbound routes): once a delivery is authenticated, parsed and known to map, store it in the
//! inbox and write its rows in one transaction, log the work in `sync_log`, and answer.
//! A redelivery of the same body is stored once and answered `duplicate`.

use axum::Json;
use axum::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::types::Json as SqlJson;

use super::inbox::{self, Entry, NewEntry, Status};
use super::process::{Outcome, settle};
use crate::app::AppState;
use crate::server::ApiError;
use crate::store::StoreError;

/// A delivery that passed every check before storage.
#[derive(Debug)]
pub(super) struct Accepted<'a> {
    /// `inbox.source`.
    pub source: &'static str,
    /// `inbox.event`: the gridhook marker or the inbound route.
    pub event: &'a str,
    /// `sync_log.pipeline` of the work (`deepcura`, `inbound:<route>`).
    pub what: &'a str,
    /// The raw body, stored as received; its SHA-256 is the delivery id.
    pub body: &'a [u8],
    /// The parsed (for Deep Cura: decrypted) JSON object.
    pub payload: Value,
}

/// Stores `a` and writes its rows in one transaction. 200 `processed` (or `ignored`,
/// `duplicate`), 202 `failed` when it was stored but could not be written (kept for `runner
/// replay`), 503 when the database is away (nothing stored: the sender retries).
pub(super) async fn store_and_settle(
    state: &AppState,
    a: Accepted<'_>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let delivery = hex::encode(Sha256::digest(a.body));
    let unavailable = |e: StoreError| ApiError::from_store("store a delivery", &e);
    let db = |e: sqlx::Error| unavailable(StoreError::from_sqlx("delivery", e));
    let mut tx = state.pool.begin().await.map_err(db)?;
    let entry = NewEntry {
        source: a.source,
        delivery_id: &delivery,
        event: Some(a.event),
        headers: json!({}),
        body: a.body,
        payload: Some(&a.payload),
        status: Status::Received,
        needs_refetch: false,
    };
    let Some(id) = inbox::insert(&mut tx, &entry).await.map_err(unavailable)? else {
        tracing::info!(source = a.source, delivery_id = %delivery, "Redelivery ignored: already stored.");
        return Ok((StatusCode::OK, Json(json!({ "status": "duplicate" }))));
    };
    let entry = Entry {
        id,
        source: a.source.into(),
        event: Some(a.event.into()),
        payload: Some(SqlJson(a.payload)),
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
            Some("the delivery was stored but not written; kept for replay"),
        ),
        Outcome::Ignored => (Default::default(), None),
    };
    crate::sync::log::record_work(
        &state.pool,
        &crate::sync::log::Work {
            what: a.what,
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
                source = a.source,
                inbox_id = id,
                inserted = c.inserted,
                updated = c.updated,
                unchanged = c.unchanged,
                stale = c.stale,
                "Delivery stored and written."
            );
            (
                StatusCode::OK,
                Json(json!({ "status": "processed", "id": id })),
            )
        }
        Outcome::Failed(reason) => {
            // Accepted and durable, but not written: `runner replay` retries it.
            tracing::warn!(event = crate::telemetry::events::INBOX_FAILED, source = a.source, inbox_id = id, reason = %reason, "Delivery stored but not written; kept for replay.");
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
