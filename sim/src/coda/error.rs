//! Error types: [`ApiError`] renders the spec's error body for the simulated API, and
//! [`SimError`] reports misuse of the control surface (Rust methods and `/_sim/`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A failed request to the simulated Coda API. Every variant renders the spec's error body
/// `{"statusCode": <n>, "statusMessage": "<reason>", "message": "<context>"}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request does not conform (body schema, unknown column, bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, unknown or revoked API token.
    #[error("The API token is invalid or has expired.")]
    Unauthorized,
    /// 404: no such doc, table, row, mutation or route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists but not with this method.
    #[error("Method not allowed.")]
    MethodNotAllowed,
    /// 413: the body is larger than the configured maximum.
    #[error("Request body exceeds the maximum of {limit} bytes.")]
    PayloadTooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
    /// 429: a per-token read or write budget is used up.
    #[error("Rate limit exceeded; back off and retry.")]
    TooManyRequests {
        /// Seconds to put in `Retry-After`, when the simulator is configured to send it.
        retry_after: Option<u64>,
    },
    /// A 5xx from fault injection.
    #[error("Injected failure.")]
    Injected {
        /// The configured status (500–599).
        status: u16,
    },
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Injected { status } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = json!({
            "statusCode": status.as_u16(),
            "statusMessage": status.canonical_reason().unwrap_or("Error"),
            "message": self.to_string(),
        });
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests {
            retry_after: Some(secs),
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Misuse of the simulator's control surface.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// No doc with that id.
    #[error("no doc `{0}`")]
    NoDoc(String),
    /// No table with that id or name in the doc.
    #[error("no table `{table}` in doc `{doc}`")]
    NoTable {
        /// The doc searched.
        doc: String,
        /// The table id or name looked for.
        table: String,
    },
    /// No column with that id or name in the table.
    #[error("no column `{column}` in table `{table}`")]
    NoColumn {
        /// The table searched.
        table: String,
        /// The column id or name looked for.
        column: String,
    },
    /// An id that must be unique is taken.
    #[error("`{0}` already exists")]
    Duplicate(String),
    /// The supplied definition is unusable.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match self {
            SimError::NoDoc(_) | SimError::NoTable { .. } | SimError::NoColumn { .. } => {
                StatusCode::NOT_FOUND
            }
            SimError::Duplicate(_) => StatusCode::CONFLICT,
            SimError::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_render_the_spec_shape() {
        let response = ApiError::TooManyRequests {
            retry_after: Some(3),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(3))
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(body["statusCode"], 429);
        assert_eq!(body["statusMessage"], "Too Many Requests");
        assert!(body["message"].is_string());
        assert_eq!(body.as_object().map(|o| o.len()), Some(3));
    }
}
