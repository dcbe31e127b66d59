//! The gatekeeping middleware of every API route (counters, body size, auth, throttles,
//! faults) and small helpers the handlers share.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::model::Table;
use super::page::Pairs;
use super::rate::Kind;
use super::state::CodaState;
use super::store::Store;

/// The query string as extracted by axum (a malformed one becomes a 400).
pub(super) type QueryPairs = Result<Query<Pairs>, QueryRejection>;

/// Middleware for every API route. Order: count the request; refuse an oversized body with
/// 413 (as a front proxy would, before auth); then authenticate (401), throttle (429) and
/// draw faults (5xx). The body is buffered here, so handlers see at most the limit.
pub(super) async fn guard(State(state): State<CodaState>, req: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or(req.uri().path(), MatchedPath::as_str)
    );
    let kind = if req.method() == Method::GET || req.method() == Method::HEAD {
        Kind::Read
    } else {
        Kind::Write
    };
    let limit = state.max_body_bytes();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let too_large = || {
        let mut world = state.world();
        world.stats.hit(&route);
        world.stats.too_large += 1;
        ApiError::PayloadTooLarge { limit }.into_response()
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return too_large();
    };
    let bearer = bearer(&parts.headers);
    let table = table_segment(parts.uri.path());
    if let Err(e) = state.admit(&route, table, kind, bearer.as_deref()) {
        return e.into_response();
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.status() == StatusCode::BAD_REQUEST {
        state.world().stats.bad_requests += 1;
    }
    response
}

/// The `{tableIdOrName}` segment of a `/docs/{docId}/tables/{tableIdOrName}...` path.
fn table_segment(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("docs"), Some(_), Some("tables")) => segments.next().filter(|t| !t.is_empty()),
        _ => None,
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// `scheme://host[:port]` for absolute links: the configured base URL, else the Host header.
pub(super) fn origin(state: &CodaState, headers: &HeaderMap) -> String {
    if let Some(base) = state.base_url() {
        return base.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The absolute URL of this request (`href` of list responses).
pub(super) fn href(origin: &str, uri: &Uri) -> String {
    match uri.query() {
        Some(q) => format!("{origin}{}?{q}", uri.path()),
        None => format!("{origin}{}", uri.path()),
    }
}

/// The query pairs, or a 400 for a malformed query string.
pub(super) fn pairs(query: QueryPairs) -> Result<Pairs, ApiError> {
    query
        .map(|Query(p)| p)
        .map_err(|_| ApiError::BadRequest("Malformed query string.".into()))
}

/// A table by id, URL or name, or 404 naming the doc or table that is missing.
pub(super) fn find_table<'a>(
    store: &'a Store,
    doc: &str,
    table: &str,
) -> Result<&'a Table, ApiError> {
    if store.doc(doc).is_none() {
        return Err(ApiError::NotFound(format!("Doc `{doc}` not found.")));
    }
    store
        .table(doc, table)
        .map_err(|_| ApiError::NotFound(format!("Table `{table}` not found.")))
}

/// A JSON request body, or 400. The message never quotes the body.
pub(super) fn json_body(bytes: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|_| ApiError::BadRequest("Request body is not valid JSON.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer abc".parse().expect("header"));
        assert_eq!(bearer(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().expect("header"));
        assert_eq!(bearer(&h), None);
    }
}
