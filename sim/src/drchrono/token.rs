//! `POST /o/token/`: the OAuth2 token endpoint (refresh and authorization-code grants),
//! answering in django-oauth-toolkit's shapes.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::auth::GrantError;
use super::state::DrChronoState;

/// Handles a token request. Client credentials come from the form (`client_id`,
/// `client_secret`) or from HTTP Basic auth.
pub(super) async fn token(
    State(state): State<DrChronoState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let world = &mut *state.world();
    world.stats.hit("/o/token/");
    let outcome = (|| {
        let Form(pairs) = form.map_err(|_| GrantError::InvalidRequest)?;
        let field = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let (id, secret) = match (field("client_id"), field("client_secret")) {
            (Some(id), Some(secret)) => (id, secret),
            _ => basic_auth(&headers).ok_or(GrantError::InvalidClient)?,
        };
        if !world.tokens.client_ok(&id, &secret) {
            return Err(GrantError::InvalidClient);
        }
        match field("grant_type").as_deref() {
            Some("refresh_token") => {
                let rt = field("refresh_token").ok_or(GrantError::InvalidRequest)?;
                let issued = world.tokens.refresh(&rt)?;
                world.stats.token_refreshes += 1;
                Ok(issued)
            }
            Some("authorization_code") => {
                let code = field("code").ok_or(GrantError::InvalidRequest)?;
                let issued = world.tokens.exchange_code(&code)?;
                world.stats.code_exchanges += 1;
                Ok(issued)
            }
            None => Err(GrantError::InvalidRequest),
            Some(_) => Err(GrantError::UnsupportedGrantType),
        }
    })();
    let mut response = match outcome {
        Ok(issued) => Json(issued).into_response(),
        Err(e) => {
            world.stats.token_failures += 1;
            let status = if e == GrantError::InvalidClient {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, Json(json!({ "error": e.to_string() }))).into_response()
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `(client_id, client_secret)` from an `Authorization: Basic` header.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}
