//! Why a write-back request was refused, and its answer. Reasons name fields and rules, never
//! a value of the body (which is patient data).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::store::StoreError;

/// One field the body got wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field (or `key` for the path parameter, `body` for the body as a whole).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// A refused write-back.
#[derive(Debug, thiserror::Error)]
pub enum WritebackError {
    /// The shared secret is missing or wrong.
    #[error("unauthorized")]
    Unauthorized,
    /// The staff member is unknown, inactive, or their role may not use the endpoint.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No row has the key and the endpoint does not create.
    #[error("not found")]
    NotFound,
    /// The row changed since the version the caller read.
    #[error("conflict: the row changed since it was read")]
    Conflict,
    /// The body is not JSON.
    #[error("unsupported media type: send application/json")]
    UnsupportedMediaType,
    /// The body fails validation; every reason is listed.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// The database is unavailable; retry.
    #[error("service unavailable")]
    Unavailable,
    /// Anything else (logged, not returned).
    #[error("internal error")]
    Internal,
}

impl WritebackError {
    /// Maps a store error: data refusals are the caller's (422, naming the column when the
    /// server names it), outages and conflicts a 503, anything else a 500.
    pub fn from_store(e: &StoreError) -> Self {
        if e.is_transient() || matches!(e, StoreError::Driver { .. }) {
            tracing::warn!(error = %e, "Write-back: database unavailable.");
            return WritebackError::Unavailable;
        }
        if let StoreError::Database { details, .. } = e
            && (details.code.starts_with("22") || details.code.starts_with("23"))
        {
            let field = details
                .column
                .clone()
                .or_else(|| details.constraint.clone())
                .unwrap_or_else(|| "body".into());
            let reason = match details.code.as_str() {
                "23503" => "refers to a row that does not exist",
                "23502" => "may not be null",
                "23514" => "breaks a rule of the table",
                "23505" => "is already used by another row",
                _ => "is not a value the table accepts",
            };
            return WritebackError::Invalid(vec![FieldError::new(field, reason)]);
        }
        tracing::error!(error = %e, "Write-back: database error.");
        WritebackError::Internal
    }

    fn status(&self) -> StatusCode {
        match self {
            WritebackError::Unauthorized => StatusCode::UNAUTHORIZED,
            WritebackError::Forbidden(_) => StatusCode::FORBIDDEN,
            WritebackError::NotFound => StatusCode::NOT_FOUND,
            WritebackError::Conflict => StatusCode::CONFLICT,
            WritebackError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WritebackError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WritebackError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            WritebackError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WritebackError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            WritebackError::Invalid(fields) => json!({"error": self.to_string(), "fields": fields}),
            _ => json!({"error": self.to_string()}),
        };
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        res
    }
}
