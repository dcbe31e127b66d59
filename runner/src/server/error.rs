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
    /// Authenticated, but not allowed; the reason says which rule refused, never a value.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The route exists but is switched off in the config, or the record does not exist.
    #[error("not found")]
    NotFound,
    /// The body is not of the media type the route takes (JSON).
    #[error("unsupported media type: send application/json")]
    UnsupportedMediaType,
    /// Well-formed, but it cannot be done (a record that does not map, a link to a row that
    /// does not exist); the reason names what is wrong, never a value.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
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

    /// A 403 with a short reason.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        ApiError::Forbidden(reason.into())
    }

    /// A 422 with a short reason (ids and names only).
    pub fn unprocessable(reason: impl Into<String>) -> Self {
        ApiError::Unprocessable(reason.into())
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
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
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
    use crate::store::DbErrorDetails;

    fn db(code: &str) -> StoreError {
        StoreError::Database {
            op: "upsert into patients".into(),
            details: DbErrorDetails {
                code: code.into(),
                table: None,
                column: None,
                constraint: None,
            },
        }
    }

    /// What `from_store` logs for `e`, and its answer.
    fn logged(e: &StoreError) -> (String, StatusCode) {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sink = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let status =
            tracing::subscriber::with_default(sub, || ApiError::from_store("op", e).status());
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        (text, status)
    }

    #[test]
    fn a_deadlock_is_a_conflict_to_retry_not_the_database_being_down() {
        let (text, status) = logged(&db("40P01"));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            text.contains("Database conflict") && !text.contains("unavailable"),
            "{text}"
        );
        let (text, status) = logged(&db("08006"));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("Database unavailable"), "{text}");
        let (_, status) = logged(&db("23505"));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }

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
