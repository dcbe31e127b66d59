//! Inbound routes: our own signed JSON posts (questionnaire responses from the patient app or
//! an email processor), one route per `system: inbound` pipeline.
//!
//! The wire format is ours (README, "Inbound routes"): `POST <route>` with
//! `Content-Type: application/json`, the signing time in `X-Clinic-Timestamp` (Unix seconds)
//! and `X-Clinic-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. The
//! signature is checked in constant time and the time against a tolerance, so a captured post
//! cannot be replayed later; within the tolerance a replay is the same body, stored once. A
//! post that does not map is refused (422) before anything is stored; an accepted one is
//! stored in the inbox and written in one transaction, under the audit actor `inbound_route`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::accept;
use super::inbox::SOURCE_INBOUND;
use super::process::prepare;
use crate::app::AppState;
use crate::config::Plan;
use crate::config::pipeline::System;
use crate::config::systems::Inbound;
use crate::server::ApiError;

/// The `source.system` of inbound pipelines, as written.
pub const SYSTEM: &str = System::Inbound.as_str();

/// Largest inbound body, in bytes (a long questionnaire with free-text answers).
pub const BODY_LIMIT_BYTES: usize = 256 * 1024;

/// The signature scheme's version prefix.
const SCHEME: &str = "v1=";

/// Whether the inbound routes are served: `systems.yaml` has an `inbound` block whose secret
/// is set.
pub fn enabled(plan: &Plan) -> bool {
    plan.systems
        .inbound
        .as_ref()
        .is_some_and(|i| !i.secret.is_empty())
}

/// The routes of the inbound pipelines, in pipeline order, each once.
pub fn routes_of(plan: &Plan) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in &plan.pipelines {
        if p.file.source.system == System::Inbound
            && let Some(r) = p.file.source.route.as_deref()
            && !out.contains(&r)
        {
            out.push(r);
        }
    }
    out
}

/// A `POST` route per inbound pipeline route, or none when the routes are disabled.
pub(super) fn routes(plan: &Plan) -> Router<AppState> {
    let mut router = Router::new();
    if !enabled(plan) {
        return router;
    }
    for route in routes_of(plan) {
        router = router.route(route, post(receive));
    }
    router.layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// Why a post is not authentic. Names what is wrong, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No timestamp header.
    #[error("missing timestamp")]
    MissingTimestamp,
    /// The timestamp is not Unix seconds.
    #[error("the timestamp is not Unix seconds")]
    BadTimestamp,
    /// Signed too long ago, or in the future.
    #[error("the timestamp is outside the tolerance")]
    Expired,
    /// No signature header.
    #[error("missing signature")]
    MissingSignature,
    /// Not `v1=<64 hex digits>`, or not the body's signature.
    #[error("bad signature")]
    BadSignature,
}

/// Checks the timestamp and signature headers of a post of `body` at `now` (Unix seconds).
pub fn verify(
    cfg: &Inbound,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let ts = headers
        .get(cfg.timestamp_header.as_str())
        .ok_or(SignatureError::MissingTimestamp)?;
    let ts_text = ts
        .to_str()
        .map_err(|_| SignatureError::BadTimestamp)?
        .trim();
    let ts: i64 = ts_text.parse().map_err(|_| SignatureError::BadTimestamp)?;
    if now.abs_diff(ts) > cfg.tolerance_secs {
        return Err(SignatureError::Expired);
    }
    let sig = headers
        .get(cfg.signature_header.as_str())
        .ok_or(SignatureError::MissingSignature)?
        .to_str()
        .map_err(|_| SignatureError::BadSignature)?
        .trim();
    let given = sig
        .strip_prefix(SCHEME)
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(cfg.secret.expose().as_bytes())
        .map_err(|_| SignatureError::BadSignature)?;
    mac.update(ts_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::BadSignature)
}

/// `POST <route>` of an inbound pipeline.
async fn receive(
    State(state): State<AppState>,
    route: MatchedPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let route = route.as_str();
    let Some(cfg) = state.plan.systems.inbound.as_ref() else {
        return Err(ApiError::NotFound);
    };
    if let Err(e) = verify(cfg, &headers, &body, chrono::Utc::now().timestamp()) {
        super::rejected(SOURCE_INBOUND, &e.to_string());
        return Err(ApiError::Unauthorized);
    }
    if !crate::server::is_json(&headers) {
        super::rejected(SOURCE_INBOUND, "not application/json");
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut payload = match serde_json::from_slice::<Value>(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            super::rejected(SOURCE_INBOUND, "the body is not a JSON object");
            return Err(ApiError::bad_request("the body is not a JSON object"));
        }
    };
    let stripped = crate::mapping::strip_nul(&mut payload);
    if stripped > 0 {
        tracing::warn!(
            characters = stripped,
            route,
            "NUL characters removed from an inbound post: PostgreSQL cannot store them."
        );
    }
    match prepare(&state.plan, SOURCE_INBOUND, Some(route), Some(&payload)) {
        Ok(Some(_)) => {}
        Ok(None) => return Err(ApiError::NotFound),
        Err(e) => {
            super::rejected(SOURCE_INBOUND, &e.to_string());
            return Err(ApiError::unprocessable(e.to_string()));
        }
    }
    let what = format!("{SYSTEM}:{route}");
    accept::store_and_settle(
        &state,
        accept::Accepted {
            source: SOURCE_INBOUND,
            event: route,
            what: &what,
            body: &body,
            payload,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::Secret;
    use axum::http::HeaderValue;

    fn cfg() -> Inbound {
        Inbound {
            secret: Secret::new("s3cret"),
            timestamp_header: "X-Clinic-Timestamp".into(),
            signature_header: "X-Clinic-Signature".into(),
            tolerance_secs: 300,
        }
    }

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-clinic-timestamp", HeaderValue::from_str(ts).unwrap());
        h.insert("x-clinic-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn a_known_signature_verifies_and_tampering_does_not() {
        // printf '1700000000.{"id":1}' | openssl dgst -sha256 -hmac s3cret
        let good = "v1=ee0658aa4e37018df69c24227df01e0f680eb3b87c7f1f9bd936e283cfe01d9b";
        let body = br#"{"id":1}"#;
        let c = cfg();
        assert_eq!(
            verify(&c, &headers("1700000000", good), body, 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify(
                &c,
                &headers("1700000000", &good.to_uppercase().replace("V1=", "v1=")),
                body,
                1_700_000_100
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &c,
                &headers("1700000000", good),
                br#"{"id":2}"#,
                1_700_000_100
            ),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify(&c, &headers("1700000001", good), body, 1_700_000_100),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify(&c, &headers("1700000000", &good[3..]), body, 1_700_000_100),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn the_timestamp_must_be_inside_the_tolerance() {
        let c = cfg();
        let h = headers("1700000000", "v1=00");
        assert_eq!(
            verify(&c, &h, b"{}", 1_700_000_301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(&c, &h, b"{}", 1_699_999_699),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(&c, &h, b"{}", 1_700_000_300),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify(&c, &headers("soon", "v1=00"), b"{}", 1_700_000_000),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(&c, &HeaderMap::new(), b"{}", 1_700_000_000),
            Err(SignatureError::MissingTimestamp)
        );
        let mut only_ts = HeaderMap::new();
        only_ts.insert("x-clinic-timestamp", HeaderValue::from_static("1700000000"));
        assert_eq!(
            verify(&c, &only_ts, b"{}", 1_700_000_000),
            Err(SignatureError::MissingSignature)
        );
    }
}
