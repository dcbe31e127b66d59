//! The one HTTP error type. Callers get a status and a short fixed reason; internals (SQL
//! states, driver messages) go to the log as ids and codes, and patient data goes nowhere.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A missing or wrong credential (signature, shared secret, token).
    #[error("unauthorized")]
    Unauthorized,
    /// The request is malformed; the reason names what is wrong, never a value.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The route exists but is switched off in the config.
    #[error("not found")]
    NotFound,
    /// The database cannot take the request now; the sender should retry.
    #[error("service unavailable")]
    Unavailable,
    /// A bug or an unexpected state; details are logged, not returned.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A 400 with a short reason (ids and names only).
    pub fn bad_request(reason: impl Into<String>) -> Self {
        ApiError::BadRequest(reason.into())
    }

    /// Maps a store error: transient ones (connection lost, pool closed or exhausted) are a
    /// 503 so the sender retries; anything else is logged and answered 500.
    pub fn from_store(op: &'static str, e: &StoreError) -> Self {
        if e.is_conflict() {
            tracing::warn!(op, error = %e, "Database conflict (deadlock or serialization failure); the sender retries.");
            ApiError::Unavailable
        } else if e.is_outage() || matches!(e, StoreError::Driver { .. }) {
            tracing::warn!(op, error = %e, "Database unavailable.");
            ApiError::Unavailable
        } else {
            tracing::error!(op, error = %e, "Database error.");
            ApiError::Internal
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut res = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if matches!(self, ApiError::Unavailable) {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("30"),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_carry_a_short_reason_and_the_right_status() {
        assert_eq!(ApiError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        let res = ApiError::Unavailable.into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key("retry-after"));
        assert_eq!(
            ApiError::bad_request("bad IV length").to_string(),
            "bad request: bad IV length"
        );
    }
}
