//! OIDC caller authentication: verifies the Google-signed ID tokens (RS256) that Cloud
//! Scheduler and Pub/Sub push send as `Authorization: Bearer <JWT>`.
//!
//! [`OidcVerifier::verify`] checks, in this order: the header names RS256 and a `kid`; the key
//! is in the JWKS (fetched with a TTL, refetched once when a `kid` is unknown); the signature;
//! `exp` (with a small leeway); `iss` is one of the allowed issuers; `aud` equals the audience;
//! `email` is verified and allowed. The [`OidcCaller`] extractor runs it before a handler reads
//! anything else. A rejected token is answered 401 with a short reason and logged by reason
//! only: the token itself is never logged or echoed.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Deserializer, Serialize};

use super::AppState;

pub(crate) mod jwks;

/// Google's JWKS.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// The issuers of Google ID tokens (Google's libraries accept both).
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// What a verifier accepts. Built from the `gcp.server.oidc` config block; tests construct it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// URL of the JSON Web Key Set.
    pub jwks_url: String,
    /// Accepted `iss` values.
    pub issuers: Vec<String>,
    /// The required `aud`, compared exactly.
    pub audience: String,
    /// Allowed `email` values (case-insensitive); an entry may hold comma-separated emails.
    pub allowed_emails: Vec<String>,
    /// How long a fetched key set is used, in seconds.
    pub jwks_cache_secs: u64,
    /// Clock skew tolerated on `exp`, in seconds.
    pub leeway_secs: u64,
    /// Minimum time between two refetches caused by an unknown `kid`, in seconds, so a flood
    /// of forged tokens cannot turn into a flood of JWKS requests.
    pub min_refetch_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            jwks_url: GOOGLE_JWKS_URL.to_string(),
            issuers: GOOGLE_ISSUERS.iter().map(ToString::to_string).collect(),
            audience: String::new(),
            allowed_emails: Vec::new(),
            jwks_cache_secs: 3600,
            leeway_secs: 30,
            min_refetch_secs: 10,
        }
    }
}

/// The claims of a verified token that callers may use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject (the service account's unique id).
    #[serde(default)]
    pub sub: String,
    /// The caller's email (a service account).
    #[serde(default)]
    pub email: Option<String>,
    /// Whether Google verified the email (a boolean, or the string `"true"` in older tokens).
    #[serde(default, deserialize_with = "bool_or_string")]
    pub email_verified: bool,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: Option<u64>,
}

fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// Why a verifier could not be built: an incomplete config fails closed.
#[derive(Debug, thiserror::Error)]
pub enum OidcConfigError {
    /// No audience: every token would be rejected, or worse, any audience accepted.
    #[error("OIDC audience is empty")]
    NoAudience,
    /// Nobody may call.
    #[error("OIDC allowed_emails is empty")]
    NoAllowedEmails,
    /// No issuer is accepted.
    #[error("OIDC issuers is empty")]
    NoIssuers,
}

/// Why a request was not authenticated. `Display` is the short reason sent to the caller.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    MissingToken,
    /// Not a JWT, or claims of the wrong shape.
    #[error("malformed token")]
    Malformed,
    /// The header names an algorithm other than RS256.
    #[error("algorithm not allowed")]
    Algorithm,
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// `aud` is not the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `iss` is not an allowed issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// No key with the token's `kid` in the JWKS.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not match the key.
    #[error("bad signature")]
    BadSignature,
    /// `email` is missing or not in the allowed list.
    #[error("email not allowed")]
    EmailNotAllowed,
    /// `email_verified` is not true.
    #[error("email not verified")]
    EmailNotVerified,
    /// The server has no OIDC config: protected routes refuse everyone.
    #[error("authentication not configured")]
    NotConfigured,
    /// The JWKS could not be fetched (our side; the caller should retry). The detail is logged,
    /// never sent.
    #[error("signing keys unavailable")]
    KeysUnavailable(String),
}

impl OidcError {
    /// The HTTP status: 503 when the keys are unavailable, 401 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            OidcError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for OidcError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({
            "error": if status == StatusCode::UNAUTHORIZED { "unauthorized" } else { "unavailable" },
            "reason": self.to_string(),
        });
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        resp
    }
}

/// The bearer token of a request.
pub fn bearer(headers: &HeaderMap) -> Result<&str, OidcError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(OidcError::MissingToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(OidcError::MissingToken)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(OidcError::MissingToken);
    }
    Ok(token)
}

/// Verifies Google-signed ID tokens against a JWKS. Shared (`Arc`) by every request; the key
/// set is cached and refreshed by one request at a time.
#[derive(Debug)]
pub struct OidcVerifier {
    validation: Validation,
    emails: HashSet<String>,
    keys: jwks::KeyCache,
}

impl OidcVerifier {
    /// A verifier for `config`; refuses an incomplete config.
    pub fn new(config: OidcConfig) -> Result<Self, OidcConfigError> {
        if config.audience.trim().is_empty() {
            return Err(OidcConfigError::NoAudience);
        }
        if config.issuers.is_empty() {
            return Err(OidcConfigError::NoIssuers);
        }
        let emails: HashSet<String> = config
            .allowed_emails
            .iter()
            .flat_map(|e| e.split(','))
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        if emails.is_empty() {
            return Err(OidcConfigError::NoAllowedEmails);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = config.leeway_secs;
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_issuer(&config.issuers);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Ok(OidcVerifier {
            validation,
            emails,
            keys: jwks::KeyCache::new(
                config.jwks_url,
                Algorithm::RS256,
                Duration::from_secs(config.jwks_cache_secs),
                Duration::from_secs(config.min_refetch_secs),
            ),
        })
    }

    /// Verifies the bearer token of a request.
    pub async fn verify_headers(&self, headers: &HeaderMap) -> Result<Claims, OidcError> {
        self.verify(bearer(headers)?).await
    }

    /// Verifies a token and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, OidcError> {
        let head = jsonwebtoken::decode_header(token).map_err(|_| OidcError::Malformed)?;
        if head.alg != Algorithm::RS256 {
            return Err(OidcError::Algorithm);
        }
        let kid = head.kid.ok_or(OidcError::UnknownKey)?;
        let key = self.keys.key(&kid).await?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| jwt_error(e.kind()))?
            .claims;
        let email = claims.email.as_deref().map(str::to_ascii_lowercase);
        if !email.is_some_and(|e| self.emails.contains(&e)) {
            return Err(OidcError::EmailNotAllowed);
        }
        if !claims.email_verified {
            return Err(OidcError::EmailNotVerified);
        }
        Ok(claims)
    }
}

fn jwt_error(kind: &ErrorKind) -> OidcError {
    match kind {
        ErrorKind::ExpiredSignature => OidcError::Expired,
        ErrorKind::InvalidAudience => OidcError::WrongAudience,
        ErrorKind::InvalidIssuer => OidcError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => OidcError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => OidcError::WrongIssuer,
        ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => OidcError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => OidcError::Algorithm,
        _ => OidcError::Malformed,
    }
}

/// A request whose bearer token was verified by the server's verifier
/// ([`AppState::oidc`]). Without a verifier every request is refused (401).
#[derive(Debug, Clone)]
pub struct OidcCaller(pub Claims);

impl FromRequestParts<AppState> for OidcCaller {
    type Rejection = OidcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, OidcError> {
        let result = match &state.oidc {
            Some(v) => v.verify_headers(&parts.headers).await,
            None => Err(OidcError::NotConfigured),
        };
        result.map(OidcCaller).inspect_err(|e| {
            tracing::warn!(path = %parts.uri.path(), reason = %e, "Request refused: OIDC.");
        })
    }
}

#[cfg(test)]
mod tests;
