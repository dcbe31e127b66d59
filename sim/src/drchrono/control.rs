//! `/_sim/*`: unauthenticated control endpoints for tests and manual runs. Each one calls the
//! [`DrChronoState`] method of the same purpose.
//!
//! | Method and path | Effect |
//! |---|---|
//! | `GET /_sim/stats`, `POST /_sim/stats/reset` | read or zero the counters |
//! | `GET /_sim/records/{resource}` | every record, full form |
//! | `POST /_sim/records/{resource}` | create (body: object) → 201 + record |
//! | `GET`, `PATCH`, `DELETE /_sim/records/{resource}/{id}` | read, merge-update, delete |
//! | `POST /_sim/tokens/expire` | expire all access tokens → 204 |
//! | `GET /_sim/tokens` | `{"refresh_token": <currently valid>}` |
//! | `GET`, `PUT /_sim/config/rate_limit` | rate limits (`null` = off) |
//! | `GET`, `PUT /_sim/config/faults` | fault injection |

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::config::{FaultConfig, RateLimitConfig};
use super::error::SimError;
use super::state::DrChronoState;
use crate::data::Resource;

/// The control routes, to be nested under `/_sim`.
pub(super) fn routes() -> Router<DrChronoState> {
    Router::new()
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/records/{resource}", get(all).post(create))
        .route(
            "/records/{resource}/{id}",
            get(one).patch(update).delete(remove),
        )
        .route("/tokens", get(tokens))
        .route("/tokens/expire", post(expire))
        .route("/config/rate_limit", get(rate_limit).put(set_rate_limit))
        .route("/config/faults", get(faults).put(set_faults))
}

fn resource(segment: &str) -> Result<Resource, SimError> {
    Resource::from_path(segment).ok_or_else(|| SimError::UnknownResource(segment.to_owned()))
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, SimError> {
    json.map(|Json(v)| v)
        .map_err(|e| SimError::Invalid(e.body_text()))
}

async fn stats(State(s): State<DrChronoState>) -> Json<Value> {
    Json(json!(s.stats()))
}

async fn reset_stats(State(s): State<DrChronoState>) -> StatusCode {
    s.reset_stats();
    StatusCode::NO_CONTENT
}

async fn all(
    State(s): State<DrChronoState>,
    Path(seg): Path<String>,
) -> Result<Json<Vec<Value>>, SimError> {
    Ok(Json(s.records(resource(&seg)?)))
}

async fn create(
    State(s): State<DrChronoState>,
    Path(seg): Path<String>,
    json: Result<Json<Value>, JsonRejection>,
) -> Result<Response, SimError> {
    let record = s.create_record(resource(&seg)?, body(json)?)?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

async fn one(
    State(s): State<DrChronoState>,
    Path((seg, id)): Path<(String, String)>,
) -> Result<Json<Value>, SimError> {
    let r = resource(&seg)?;
    s.record(r, &id)
        .map(Json)
        .ok_or(SimError::NotFound { resource: r, id })
}

async fn update(
    State(s): State<DrChronoState>,
    Path((seg, id)): Path<(String, String)>,
    json: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, SimError> {
    s.update_record(resource(&seg)?, id, body(json)?).map(Json)
}

async fn remove(
    State(s): State<DrChronoState>,
    Path((seg, id)): Path<(String, String)>,
) -> Result<Json<Value>, SimError> {
    s.delete_record(resource(&seg)?, id).map(Json)
}

async fn tokens(State(s): State<DrChronoState>) -> Json<Value> {
    Json(json!({ "refresh_token": s.current_refresh_token() }))
}

async fn expire(State(s): State<DrChronoState>) -> StatusCode {
    s.expire_access_tokens();
    StatusCode::NO_CONTENT
}

async fn rate_limit(State(s): State<DrChronoState>) -> Json<Option<RateLimitConfig>> {
    Json(s.rate_limit())
}

async fn set_rate_limit(
    State(s): State<DrChronoState>,
    json: Result<Json<Option<RateLimitConfig>>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.set_rate_limit(body(json)?);
    Ok(StatusCode::NO_CONTENT)
}

async fn faults(State(s): State<DrChronoState>) -> Json<FaultConfig> {
    Json(s.faults())
}

async fn set_faults(
    State(s): State<DrChronoState>,
    json: Result<Json<FaultConfig>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.set_faults(body(json)?);
    Ok(StatusCode::NO_CONTENT)
}
