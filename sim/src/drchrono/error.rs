//! Error types: [`ApiError`] renders DrChrono/DRF-style bodies for the simulated API, and
//! [`SimError`] reports misuse of the control surface (Rust methods and `/_sim/`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use crate::data::Resource;

/// A failed request to the simulated DrChrono API, rendered the way DRF would.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404 `{"detail": "Not found."}`.
    #[error("not found")]
    NotFound,
    /// 404 `{"detail": "Invalid cursor"}`: DRF's cursor pagination answers 404 here.
    #[error("invalid cursor")]
    InvalidCursor,
    /// 400 `{"<param>": ["<message>"]}`: a query parameter failed validation.
    #[error("{param}: {message}")]
    BadParam {
        /// The offending query parameter.
        param: String,
        /// Why it was rejected.
        message: String,
    },
    /// 400 `{"detail": "<message>"}`: the request as a whole is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 401 with `WWW-Authenticate: Bearer realm="api"`: missing, unknown or expired token.
    #[error("authentication credentials were not provided")]
    Unauthorized,
    /// 429 `{"detail": "Request was throttled."}`, with `Retry-After` only if configured.
    #[error("request was throttled")]
    Throttled {
        /// Seconds to put in `Retry-After`, when the simulator is configured to send it.
        retry_after: Option<u64>,
    },
    /// 500 with Django's HTML error page, from fault injection.
    #[error("injected server error")]
    Injected,
}

impl ApiError {
    /// A 400 for one query parameter.
    pub fn param(param: &str, message: impl Into<String>) -> Self {
        ApiError::BadParam {
            param: param.to_owned(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = |status: StatusCode, text: &str| {
            (status, Json(json!({ "detail": text }))).into_response()
        };
        match self {
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
            ApiError::InvalidCursor => detail(StatusCode::NOT_FOUND, "Invalid cursor"),
            ApiError::BadParam { param, message } => {
                (StatusCode::BAD_REQUEST, Json(json!({ param: [message] }))).into_response()
            }
            ApiError::BadRequest(message) => detail(StatusCode::BAD_REQUEST, &message),
            ApiError::Unauthorized => {
                let mut r = detail(
                    StatusCode::UNAUTHORIZED,
                    "Authentication credentials were not provided.",
                );
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
                r
            }
            ApiError::Throttled { retry_after } => {
                let mut r = detail(StatusCode::TOO_MANY_REQUESTS, "Request was throttled.");
                if let Some(secs) = retry_after {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                r
            }
            ApiError::Injected => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Server Error (500)</h1>"),
            )
                .into_response(),
        }
    }
}

/// Misuse of the simulator's control surface.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The path segment names no simulated resource.
    #[error("unknown resource `{0}`")]
    UnknownResource(String),
    /// No record with that id.
    #[error("no {resource} record with id `{id}`")]
    NotFound {
        /// The resource searched.
        resource: Resource,
        /// The id looked for.
        id: String,
    },
    /// A record with that id already exists.
    #[error("a {resource} record with id `{id}` already exists")]
    Duplicate {
        /// The resource written to.
        resource: Resource,
        /// The clashing id.
        id: String,
    },
    /// The supplied record or patch is unusable.
    #[error("invalid record: {0}")]
    Invalid(String),
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match self {
            SimError::UnknownResource(_) | SimError::NotFound { .. } => StatusCode::NOT_FOUND,
            SimError::Duplicate { .. } => StatusCode::CONFLICT,
            SimError::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
