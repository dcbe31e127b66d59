//! Identity-Aware Proxy: verifies the `x-goog-iap-jwt-assertion` header that IAP signs and adds
//! to every request it lets through to the admin backend.
//!
//! [`IapVerifier::verify`] checks, in this order: the header names ES256 and a `kid`; the key is
//! in IAP's JWK set (cached with a TTL, refetched once when a `kid` is unknown: the same cache
//! as the OIDC verifier, keeping P-256 keys only); the signature; `exp` and `iat` with a 30 s
//! skew; `iss` is `https://cloud.google.com/iap`; `aud` is the configured audience
//! (`/projects/NUMBER/global/backendServices/ID` behind a load balancer); `email` is present.
//! The unsigned `x-goog-authenticated-user-*` headers are never read: they can be forged by
//! anyone who reaches the service around IAP.

use std::time::Duration;

use axum::http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::server::oidc::OidcError;
use crate::server::oidc::jwks::KeyCache;

/// The header IAP adds.
pub const IAP_HEADER: &str = "x-goog-iap-jwt-assertion";
/// IAP's public keys (JWK format).
pub const IAP_JWKS_URL: &str = "https://www.gstatic.com/iap/verify/public_key-jwk";
/// The `iss` of IAP's assertions.
pub const IAP_ISSUER: &str = "https://cloud.google.com/iap";

/// What the verifier accepts.
#[derive(Debug, Clone)]
pub struct IapConfig {
    /// URL of IAP's JWK set.
    pub jwks_url: String,
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud`, compared exactly.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `iat`, in seconds.
    pub leeway_secs: u64,
    /// How long a fetched key set is used, in seconds.
    pub jwks_cache_secs: u64,
    /// Minimum time between two refetches caused by an unknown `kid`, in seconds.
    pub min_refetch_secs: u64,
}

impl IapConfig {
    /// The production settings for `audience`.
    pub fn new(audience: impl Into<String>) -> Self {
        IapConfig {
            jwks_url: IAP_JWKS_URL.to_string(),
            issuer: IAP_ISSUER.to_string(),
            audience: audience.into(),
            leeway_secs: 30,
            jwks_cache_secs: 3600,
            min_refetch_secs: 10,
        }
    }
}

/// The claims of a verified assertion that the dashboard uses.
#[derive(Debug, Clone, Deserialize)]
pub struct IapClaims {
    /// The signed-in user's email.
    #[serde(default)]
    pub email: Option<String>,
    /// The user's stable id.
    #[serde(default)]
    pub sub: String,
    /// The Workspace domain, when there is one.
    #[serde(default)]
    pub hd: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// Why a request carries no valid assertion. `Display` is the short reason that is logged;
/// the assertion itself never is.
#[derive(Debug, thiserror::Error)]
pub enum IapError {
    /// No `x-goog-iap-jwt-assertion` header: the request did not come through IAP.
    #[error("missing IAP assertion")]
    Missing,
    /// Not a JWT, or claims of the wrong shape.
    #[error("malformed assertion")]
    Malformed,
    /// The header names an algorithm other than ES256.
    #[error("algorithm not allowed")]
    Algorithm,
    /// `exp` is in the past (beyond the skew).
    #[error("assertion expired")]
    Expired,
    /// `iat` is in the future (beyond the skew).
    #[error("assertion issued in the future")]
    NotYetValid,
    /// `aud` is not the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `iss` is not IAP.
    #[error("wrong issuer")]
    WrongIssuer,
    /// No key with the assertion's `kid`.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not match the key.
    #[error("bad signature")]
    BadSignature,
    /// No `email` claim.
    #[error("no email in assertion")]
    NoEmail,
    /// IAP's keys could not be fetched (our side; the detail is logged, never sent).
    #[error("IAP signing keys unavailable")]
    KeysUnavailable,
}

/// Verifies IAP assertions. Shared (`Arc`) by every request.
#[derive(Debug)]
pub struct IapVerifier {
    validation: Validation,
    leeway_secs: u64,
    keys: KeyCache,
}

impl IapVerifier {
    /// A verifier for `config`; `None` without an audience (fail closed: nobody gets in).
    pub fn new(config: IapConfig) -> Option<Self> {
        let audience = config.audience.trim();
        if audience.is_empty() || config.issuer.trim().is_empty() {
            return None;
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = config.leeway_secs;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[config.issuer.trim()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        Some(IapVerifier {
            validation,
            leeway_secs: config.leeway_secs,
            keys: KeyCache::new(
                config.jwks_url,
                Algorithm::ES256,
                Duration::from_secs(config.jwks_cache_secs),
                Duration::from_secs(config.min_refetch_secs),
            ),
        })
    }

    /// Verifies the assertion header of a request and returns the user's email, lower-cased.
    pub async fn email(&self, headers: &HeaderMap) -> Result<String, IapError> {
        let token = headers
            .get(IAP_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(IapError::Missing)?;
        let claims = self.verify(token).await?;
        claims
            .email
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .ok_or(IapError::NoEmail)
    }

    /// Verifies one assertion and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<IapClaims, IapError> {
        let head = jsonwebtoken::decode_header(token).map_err(|_| IapError::Malformed)?;
        if head.alg != Algorithm::ES256 {
            return Err(IapError::Algorithm);
        }
        let kid = head.kid.ok_or(IapError::UnknownKey)?;
        let key = self.keys.key(&kid).await.map_err(|e| match e {
            OidcError::KeysUnavailable(_) => IapError::KeysUnavailable,
            _ => IapError::UnknownKey,
        })?;
        let claims = jsonwebtoken::decode::<IapClaims>(token, &key, &self.validation)
            .map_err(|e| jwt_error(e.kind()))?
            .claims;
        let now = jsonwebtoken::get_current_timestamp();
        if claims.iat > now + self.leeway_secs {
            return Err(IapError::NotYetValid);
        }
        Ok(claims)
    }
}

fn jwt_error(kind: &ErrorKind) -> IapError {
    match kind {
        ErrorKind::ExpiredSignature => IapError::Expired,
        ErrorKind::ImmatureSignature => IapError::NotYetValid,
        ErrorKind::InvalidAudience => IapError::WrongAudience,
        ErrorKind::InvalidIssuer => IapError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => IapError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => IapError::WrongIssuer,
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey => IapError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => IapError::Algorithm,
        _ => IapError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_audience_builds_no_verifier() {
        assert!(IapVerifier::new(IapConfig::new(" ")).is_none());
        assert!(IapVerifier::new(IapConfig::new("/projects/1/global/backendServices/2")).is_some());
    }

    #[tokio::test]
    async fn an_rs256_or_hmac_assertion_is_refused_before_any_key_fetch() {
        let v = IapVerifier::new(IapConfig {
            jwks_url: "http://127.0.0.1:9/never".into(),
            ..IapConfig::new("aud")
        })
        .expect("verifier");
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"exp": 4_000_000_000u64}),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .expect("encode");
        assert!(matches!(v.verify(&hs).await, Err(IapError::Algorithm)));
        assert!(matches!(v.verify("x.y").await, Err(IapError::Malformed)));
        let mut h = HeaderMap::new();
        assert!(matches!(v.email(&h).await, Err(IapError::Missing)));
        h.insert(IAP_HEADER, "".parse().unwrap());
        assert!(matches!(v.email(&h).await, Err(IapError::Missing)));
    }
}
