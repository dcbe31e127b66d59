//! `/_sim/*`: unauthenticated control endpoints for tests and manual runs. Each one calls the
//! [`CodaState`] method of the same purpose.
//!
//! | Method and path | Effect |
//! |---|---|
//! | `GET /_sim/stats`, `POST /_sim/stats/reset` | read or zero the counters |
//! | `GET`, `POST /_sim/docs/{doc}/tables` | table ids; create (`{id, name, columns}`) → 201 |
//! | `GET`, `DELETE /_sim/docs/{doc}/tables/{table}` | full state (columns + rows); delete |
//! | `POST /_sim/docs/{doc}/tables/{table}/columns` | add a column (`ColumnSpec`) → 201 |
//! | `PATCH`, `DELETE /_sim/docs/{doc}/tables/{table}/columns/{column}` | rename (`{name}`); delete |
//! | `POST /_sim/docs/{doc}/tables/{table}/rows` | insert now (`{values: {col: value}}`) → 201 |
//! | `PATCH`, `DELETE /_sim/docs/{doc}/tables/{table}/rows/{row}` | edit cells now (`{values}`); delete now |
//! | `GET /_sim/mutations`, `POST /_sim/mutations/flush` | `{pending}`; apply all now |
//! | `POST /_sim/tokens` (`{token}`), `DELETE /_sim/tokens/{token}` | accept or revoke a token |
//! | `GET`, `PUT /_sim/config/rate_limit` | rate limits (`null` = off) |
//! | `GET`, `PUT /_sim/config/faults` | 5xx injection |
//! | `GET`, `PUT /_sim/config/apply_delay` | `{apply_delay_ms}` |
//! | `GET`, `PUT /_sim/config/max_body_bytes` | `{max_body_bytes}` |

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::{FaultConfig, RateLimitConfig};
use super::error::SimError;
use super::model::ColumnSpec;
use super::state::CodaState;

/// The control routes, to be nested under `/_sim`.
pub(super) fn routes() -> Router<CodaState> {
    Router::new()
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/docs/{doc}/tables", get(tables).post(create_table))
        .route(
            "/docs/{doc}/tables/{table}",
            get(table).delete(delete_table),
        )
        .route("/docs/{doc}/tables/{table}/columns", post(add_column))
        .route(
            "/docs/{doc}/tables/{table}/columns/{column}",
            patch(rename_column).delete(delete_column),
        )
        .route("/docs/{doc}/tables/{table}/rows", post(insert_row))
        .route(
            "/docs/{doc}/tables/{table}/rows/{row}",
            patch(edit_row).delete(delete_row),
        )
        .route("/mutations", get(mutations))
        .route("/mutations/flush", post(flush))
        .route("/tokens", post(add_token))
        .route("/tokens/{token}", axum::routing::delete(revoke_token))
        .route("/config/rate_limit", get(rate_limit).put(set_rate_limit))
        .route("/config/faults", get(faults).put(set_faults))
        .route("/config/apply_delay", get(apply_delay).put(set_apply_delay))
        .route("/config/max_body_bytes", get(max_body).put(set_max_body))
}

fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, SimError> {
    json.map(|Json(v)| v)
        .map_err(|e| SimError::Invalid(e.body_text()))
}

async fn stats(State(s): State<CodaState>) -> Json<Value> {
    Json(json!(s.stats()))
}

async fn reset_stats(State(s): State<CodaState>) -> StatusCode {
    s.reset_stats();
    StatusCode::NO_CONTENT
}

async fn tables(State(s): State<CodaState>, Path(doc): Path<String>) -> Json<Vec<String>> {
    Json(s.table_ids(&doc))
}

/// Body of `POST /_sim/docs/{doc}/tables`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTable {
    id: String,
    name: String,
    #[serde(default)]
    columns: Vec<ColumnSpec>,
}

async fn create_table(
    State(s): State<CodaState>,
    Path(doc): Path<String>,
    json: Result<Json<NewTable>, JsonRejection>,
) -> Result<Response, SimError> {
    let t = body(json)?;
    s.create_table(&doc, &t.id, &t.name, t.columns)?;
    Ok((StatusCode::CREATED, Json(json!(s.table(&doc, &t.id)?))).into_response())
}

async fn table(
    State(s): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
) -> Result<Json<Value>, SimError> {
    Ok(Json(json!(s.table(&doc, &table)?)))
}

async fn delete_table(
    State(s): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
) -> Result<Json<Value>, SimError> {
    Ok(Json(json!(s.delete_table(&doc, &table)?)))
}

async fn add_column(
    State(s): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
    json: Result<Json<ColumnSpec>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.add_column(&doc, &table, body(json)?)?;
    Ok(StatusCode::CREATED)
}

/// Body of `PATCH /_sim/.../columns/{column}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rename {
    name: String,
}

async fn rename_column(
    State(s): State<CodaState>,
    Path((doc, table, column)): Path<(String, String, String)>,
    json: Result<Json<Rename>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.rename_column(&doc, &table, &column, &body(json)?.name)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_column(
    State(s): State<CodaState>,
    Path((doc, table, column)): Path<(String, String, String)>,
) -> Result<StatusCode, SimError> {
    s.delete_column(&doc, &table, &column)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /_sim/.../rows`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRow {
    values: BTreeMap<String, Value>,
}

async fn insert_row(
    State(s): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
    json: Result<Json<NewRow>, JsonRejection>,
) -> Result<Response, SimError> {
    let row = s.insert_row(&doc, &table, body(json)?.values)?;
    Ok((StatusCode::CREATED, Json(json!(row))).into_response())
}

async fn edit_row(
    State(s): State<CodaState>,
    Path((doc, table, row)): Path<(String, String, String)>,
    json: Result<Json<NewRow>, JsonRejection>,
) -> Result<Json<Value>, SimError> {
    Ok(Json(json!(s.edit_row(
        &doc,
        &table,
        &row,
        body(json)?.values
    )?)))
}

async fn delete_row(
    State(s): State<CodaState>,
    Path((doc, table, row)): Path<(String, String, String)>,
) -> Result<StatusCode, SimError> {
    if s.delete_row(&doc, &table, &row)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Ok(StatusCode::NOT_FOUND)
    }
}

async fn mutations(State(s): State<CodaState>) -> Json<Value> {
    Json(json!({"pending": s.pending_mutations()}))
}

async fn flush(State(s): State<CodaState>) -> StatusCode {
    s.flush_mutations();
    StatusCode::NO_CONTENT
}

/// Body of `POST /_sim/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    token: String,
}

async fn add_token(
    State(s): State<CodaState>,
    json: Result<Json<NewToken>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.add_token(body(json)?.token);
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_token(State(s): State<CodaState>, Path(token): Path<String>) -> StatusCode {
    if s.revoke_token(&token) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn rate_limit(State(s): State<CodaState>) -> Json<Option<RateLimitConfig>> {
    Json(s.rate_limit())
}

async fn set_rate_limit(
    State(s): State<CodaState>,
    json: Result<Json<Option<RateLimitConfig>>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.set_rate_limit(body(json)?);
    Ok(StatusCode::NO_CONTENT)
}

async fn faults(State(s): State<CodaState>) -> Json<FaultConfig> {
    Json(s.faults())
}

async fn set_faults(
    State(s): State<CodaState>,
    json: Result<Json<FaultConfig>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.set_faults(body(json)?);
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `/_sim/config/apply_delay`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyDelay {
    apply_delay_ms: u64,
}

async fn apply_delay(State(s): State<CodaState>) -> Json<Value> {
    Json(json!({"apply_delay_ms": s.apply_delay().as_millis()}))
}

async fn set_apply_delay(
    State(s): State<CodaState>,
    json: Result<Json<ApplyDelay>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.set_apply_delay(Duration::from_millis(body(json)?.apply_delay_ms));
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `/_sim/config/max_body_bytes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxBody {
    max_body_bytes: usize,
}

async fn max_body(State(s): State<CodaState>) -> Json<Value> {
    Json(json!({"max_body_bytes": s.max_body_bytes()}))
}

async fn set_max_body(
    State(s): State<CodaState>,
    json: Result<Json<MaxBody>, JsonRejection>,
) -> Result<StatusCode, SimError> {
    s.set_max_body_bytes(body(json)?.max_body_bytes);
    Ok(StatusCode::NO_CONTENT)
}
