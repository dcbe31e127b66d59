//! The simulated `/api/*` endpoints: the gatekeeping middleware (auth, throttles, faults,
//! counters) and the list and detail handlers.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::page::page;
use super::params::{flag, has_verbose};
use super::query::{ListQuery, served};
use super::state::DrChronoState;
use crate::data::Resource;

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Middleware for every `/api/*` route: counts the request, then authenticates, throttles
/// and draws faults, in that order (DRF authenticates before it throttles).
pub(super) async fn guard(
    State(state): State<DrChronoState>,
    req: Request,
    next: Next,
) -> Response {
    let route = route_key(req.uri().path());
    let bearer = bearer(req.headers());
    match state.admit(&route, bearer.as_deref()) {
        Err(e) => e.into_response(),
        Ok(delay) => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            next.run(req).await
        }
    }
}

/// `GET /api/{resource}`: one page of `{"previous", "next", "results"}`.
pub(super) async fn list(
    State(state): State<DrChronoState>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    query: Pairs,
) -> Result<Json<Value>, ApiError> {
    let resource = Resource::from_path(&segment).ok_or(ApiError::NotFound)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::BadRequest(format!("Malformed query string: {e}")))?;
    let q = ListQuery::parse(resource, pairs, state.default_page_size(), state.salt())?;
    let base = format!("{}{}", origin(&state, &headers), uri.path());
    let body = {
        let world = state.world();
        page(&world.store, &q, &base)?
    };
    if let Some(gate) = state.list_gate(resource) {
        gate.hold().await;
    }
    Ok(Json(body))
}

/// `GET /api/{resource}/{id}`: one record, or 404 `{"detail": "Not found."}`.
pub(super) async fn detail(
    State(state): State<DrChronoState>,
    Path((segment, id)): Path<(String, String)>,
    query: Pairs,
) -> Result<Json<Value>, ApiError> {
    let resource = Resource::from_path(&segment).ok_or(ApiError::NotFound)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::BadRequest(format!("Malformed query string: {e}")))?;
    let verbose = has_verbose(resource) && flag(&pairs, "verbose")?;
    let world = state.world();
    let record = world.store.get(resource, &id).ok_or(ApiError::NotFound)?;
    Ok(Json(served(resource, record, verbose)))
}

/// The counter key of a path: `/api/patients`, `/api/patients/{id}`, or the path itself.
pub(super) fn route_key(path: &str) -> String {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["", "api", resource] => format!("/api/{resource}"),
        ["", "api", resource, _] => format!("/api/{resource}/{{id}}"),
        _ => path.to_owned(),
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// `scheme://host[:port]` for absolute links: the configured base URL, else the Host header.
fn origin(state: &DrChronoState, headers: &HeaderMap) -> String {
    if let Some(base) = state.base_url() {
        return base.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_collapse_ids() {
        assert_eq!(route_key("/api/patients"), "/api/patients");
        assert_eq!(route_key("/api/patients/"), "/api/patients");
        assert_eq!(route_key("/api/patients/123"), "/api/patients/{id}");
        assert_eq!(route_key("/o/token/"), "/o/token/");
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer abc".parse().expect("header"));
        assert_eq!(bearer(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().expect("header"));
        assert_eq!(bearer(&h), None);
    }
}
