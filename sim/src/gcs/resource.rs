//! The wire shapes: the object resource, Google's error body, and percent-encoding.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::StoredObject;

/// A refusal in the JSON API's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
    /// `(locationType, location)` when the API names the offending part of the request.
    pub location: Option<(&'static str, &'static str)>,
}

impl ApiError {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            location: None,
        }
    }

    fn at(mut self, location_type: &'static str, location: &'static str) -> Self {
        self.location = Some((location_type, location));
        self
    }

    pub(super) fn login_required() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "required", "Login Required")
            .at("header", "Authorization")
    }

    pub(super) fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials")
            .at("header", "Authorization")
    }

    pub(super) fn required(parameter: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "required", "Required").at("parameter", parameter)
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub(super) fn no_bucket() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "notFound",
            "The specified bucket does not exist.",
        )
    }

    pub(super) fn no_object(bucket: &str, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("No such object: {bucket}/{name}"),
        )
    }

    pub(super) fn condition_not_met() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "conditionNotMet",
            "At least one of the pre-conditions you specified did not hold.",
        )
        .at("header", "If-Match")
    }

    pub(super) fn retention(bucket: &str, name: &str, until: DateTime<Utc>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "retentionPolicyNotMet",
            format!(
                "Object '{bucket}/{name}' is subject to bucket's retention policy and cannot \
                 be deleted, overwritten or archived until {}",
                timestamp(until)
            ),
        )
    }

    /// An injected failure with the reason the real service gives for that status.
    pub(super) fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                Self::new(status, "rateLimitExceeded", "The rate limit was exceeded.")
            }
            s if s.is_server_error() => Self::new(
                status,
                "backendError",
                "We encountered an internal error. Please try again.",
            ),
            s => Self::new(
                s,
                "injected",
                s.canonical_reason().unwrap_or("Injected failure"),
            ),
        }
    }

    /// The body: `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`.
    pub(super) fn body(&self) -> Value {
        let mut item = json!({"message": self.message, "domain": "global", "reason": self.reason});
        if let Some((location_type, location)) = self.location {
            item["locationType"] = json!(location_type);
            item["location"] = json!(location);
        }
        json!({"error": {"code": self.status.as_u16(), "message": self.message,
                         "errors": [item]}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// RFC 3339 UTC with milliseconds, as the API writes times.
pub(super) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `/` is `%2F`).
pub(super) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The entity tag in the shape the real service's have (clients must treat it as opaque):
/// base64 of a protobuf message with the generation (field 1) and metageneration (field 2).
fn etag(generation: i64, metageneration: i64) -> String {
    let mut bytes = Vec::with_capacity(16);
    for (tag, value) in [(0x08u8, generation), (0x10, metageneration)] {
        bytes.push(tag);
        let mut v = value as u64;
        while v >= 0x80 {
            bytes.push((v as u8 & 0x7F) | 0x80);
            v >>= 7;
        }
        bytes.push(v as u8);
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The object resource, with links under `base` (the simulator's URL).
pub(super) fn resource(o: &StoredObject, base: &str) -> Value {
    let path = format!("storage/v1/b/{}/o/{}", o.bucket, encode(&o.name));
    let created = timestamp(o.created);
    let mut v = json!({
        "kind": "storage#object",
        "id": format!("{}/{}/{}", o.bucket, o.name, o.generation),
        "selfLink": format!("{base}/{path}"),
        "mediaLink": format!("{base}/download/{path}?generation={}&alt=media", o.generation),
        "name": o.name,
        "bucket": o.bucket,
        "generation": o.generation.to_string(),
        "metageneration": o.metageneration.to_string(),
        "contentType": o.content_type,
        "storageClass": "STANDARD",
        "size": o.size().to_string(),
        "crc32c": o.crc32c_base64(),
        "etag": etag(o.generation, o.metageneration),
    });
    if let Some(until) = o.retention_expires {
        v["retentionExpirationTime"] = json!(timestamp(until));
    }
    for field in [
        "timeCreated",
        "updated",
        "timeStorageClassUpdated",
        "timeFinalized",
    ] {
        v[field] = json!(created);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_as_one_path_segment() {
        assert_eq!(
            encode("audit/2024-01-02/a b.jsonl.gz"),
            "audit%2F2024-01-02%2Fa%20b.jsonl.gz"
        );
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn etags_match_the_real_services_encoding() {
        // An etag as the service writes it, for generation 1418688703353000.
        assert_eq!(etag(1_418_688_703_353_000, 1), "CKih16GjycICEAE=");
        assert_eq!(etag(1, 1), "CAEQAQ==");
    }

    #[test]
    fn errors_have_googles_shape() {
        let body = ApiError::no_object("b", "o").body();
        assert_eq!(body["error"]["code"], 404);
        assert_eq!(body["error"]["errors"][0]["reason"], "notFound");
        assert_eq!(body["error"]["errors"][0]["domain"], "global");
        assert_eq!(body["error"]["message"], "No such object: b/o");
    }
}
