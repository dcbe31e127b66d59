//! The routes and running them on a socket.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::resource::{ApiError, resource};
use super::world::{Fault, Write};
use super::{Corruption, GcsConfig, GcsState, StoredObject, crc32c};
use crate::handle::SimHandle;

/// The largest accepted upload body (the real service takes up to 5 TiB; this one holds
/// objects in memory).
const MAX_UPLOAD_BYTES: usize = 1 << 30;

/// The stored type of a body sent without `Content-Type`.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

type Params = Query<HashMap<String, String>>;

/// The simulator as a router (for `oneshot` tests; links then have no base URL).
pub fn router(state: GcsState) -> Router {
    Router::new()
        .route("/upload/storage/v1/b/{bucket}/o", post(upload))
        .route(
            "/storage/v1/b/{bucket}/o/{object}",
            get(read).delete(remove),
        )
        .route("/download/storage/v1/b/{bucket}/o/{object}", get(download))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(state)
}

fn authorize(state: &GcsState, headers: &HeaderMap) -> Result<(), ApiError> {
    state.authorize(headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()))
}

/// An int64 query parameter, if present.
fn int_param(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("Invalid value for {key}: {v}")))
        })
        .transpose()
}

/// Whether the service would refuse `name` (empty, too long, a line break, `.` or `..`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 1024
        && !name.contains(['\r', '\n'])
        && name != "."
        && name != ".."
}

/// `POST /upload/storage/v1/b/{bucket}/o?uploadType=media&name=...`.
async fn upload(
    State(state): State<GcsState>,
    Path(bucket): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let fault = state.begin_upload();
    if let Some(Fault::Fail(status)) = fault {
        return Err(ApiError::injected(status));
    }
    authorize(&state, &headers)?;
    match params.get("uploadType").map(String::as_str) {
        Some("media") => {}
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Unsupported uploadType: {other} (this simulator serves media uploads only)"
            )));
        }
        None => return Err(ApiError::required("uploadType")),
    }
    let name = params
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::required("name"))?;
    if !valid_name(name) {
        return Err(ApiError::invalid("The specified object name is not valid."));
    }
    let if_generation_match = int_param(&params, "ifGenerationMatch")?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_CONTENT_TYPE);
    let mut bytes = body.to_vec();
    if fault == Some(Fault::Corrupt(Corruption::Bytes)) {
        match bytes.last_mut() {
            Some(last) => *last ^= 0x01,
            None => bytes.push(0),
        }
    }
    let stored = state.upload(Write {
        bucket,
        name: name.clone(),
        bytes,
        content_type: content_type.to_owned(),
        if_generation_match,
    })?;
    let mut answer = resource(&stored, &state.base_url());
    match fault {
        Some(Fault::StoreThenFail(status)) => return Err(ApiError::injected(status)),
        Some(Fault::Corrupt(Corruption::Crc32c)) => {
            answer["crc32c"] = json!(crc32c::to_base64(!stored.crc32c));
        }
        Some(Fault::Corrupt(Corruption::Size)) => {
            answer["size"] = json!((stored.size() + 1).to_string());
        }
        _ => {}
    }
    Ok(Json(answer).into_response())
}

/// The object, checked against a `generation` parameter.
fn lookup(
    state: &GcsState,
    bucket: &str,
    object: &str,
    params: &HashMap<String, String>,
) -> Result<StoredObject, ApiError> {
    let stored = state.get(bucket, object)?;
    match int_param(params, "generation")? {
        Some(g) if g != stored.generation => Err(ApiError::no_object(bucket, object)),
        _ => Ok(stored),
    }
}

/// `GET /storage/v1/b/{bucket}/o/{object}`: the resource, or the bytes with `alt=media`.
async fn read(
    State(state): State<GcsState>,
    Path((bucket, object)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let stored = lookup(&state, &bucket, &object, &params)?;
    match params.get("alt").map(String::as_str) {
        None | Some("json") => Ok(Json(resource(&stored, &state.base_url())).into_response()),
        Some("media") => Ok(media(stored)),
        Some(other) => Err(ApiError::invalid(format!("Invalid alt value: {other}"))),
    }
}

/// `GET /download/storage/v1/b/{bucket}/o/{object}` (a `mediaLink`): the bytes.
async fn download(
    State(state): State<GcsState>,
    Path((bucket, object)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    Ok(media(lookup(&state, &bucket, &object, &params)?))
}

/// The bytes, with the `x-goog-*` headers the service sends along.
fn media(o: StoredObject) -> Response {
    let headers = [
        ("content-type", o.content_type.clone()),
        ("x-goog-generation", o.generation.to_string()),
        ("x-goog-metageneration", o.metageneration.to_string()),
        ("x-goog-hash", format!("crc32c={}", o.crc32c_base64())),
        ("x-goog-stored-content-length", o.size().to_string()),
        ("x-goog-stored-content-encoding", "identity".to_owned()),
    ];
    (headers, o.bytes).into_response()
}

/// `DELETE /storage/v1/b/{bucket}/o/{object}`: 204.
async fn remove(
    State(state): State<GcsState>,
    Path((bucket, object)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorize(&state, &headers)?;
    let if_generation_match = int_param(&params, "ifGenerationMatch")?;
    state.delete(&bucket, &object, if_generation_match)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Entry point of the Cloud Storage simulator.
#[derive(Debug, Clone, Default)]
pub struct GcsSim {
    config: GcsConfig,
}

impl GcsSim {
    /// A simulator that will serve `config`'s buckets.
    pub fn new(config: GcsConfig) -> Self {
        GcsSim { config }
    }

    /// Binds `listen` (e.g. `127.0.0.1:0`) and serves in the background.
    pub async fn spawn(self, listen: SocketAddr) -> anyhow::Result<GcsHandle> {
        let state = GcsState::new(&self.config);
        let (listener, addr) = crate::handle::bind(listen, "Cloud Storage").await?;
        let url = format!("http://{addr}");
        state.set_base_url(url.clone());
        let app = router(state.clone());
        Ok(SimHandle::spawn(listener, addr, url, state, app))
    }
}

/// A running Cloud Storage simulator.
pub type GcsHandle = SimHandle<GcsState>;

impl SimHandle<GcsState> {
    /// `host:port`, a value for `STORAGE_EMULATOR_HOST`.
    pub fn host(&self) -> String {
        self.addr().to_string()
    }
}
