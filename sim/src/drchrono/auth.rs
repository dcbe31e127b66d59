//! OAuth2 token bookkeeping in the style of django-oauth-toolkit, which DrChrono runs on:
//! refresh tokens rotate (each use issues a new one and revokes the old one, together with
//! the access token issued alongside it), and access tokens expire after a fixed lifetime.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::data::SplitMix64;

/// A successful token response body.
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    /// The new bearer token.
    pub access_token: String,
    /// The new refresh token; the one presented is no longer valid.
    pub refresh_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// Why a token request was refused; rendered as `{"error": "<code>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GrantError {
    /// 401: unknown client id or wrong secret.
    #[error("invalid_client")]
    InvalidClient,
    /// 400: unknown, reused or revoked refresh token or authorization code.
    #[error("invalid_grant")]
    InvalidGrant,
    /// 400: a required form field is missing.
    #[error("invalid_request")]
    InvalidRequest,
    /// 400: `grant_type` is neither `refresh_token` nor `authorization_code`.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
}

/// Issued tokens and the credentials that may obtain new ones.
#[derive(Debug)]
pub(crate) struct TokenStore {
    client_id: String,
    client_secret: String,
    scope: String,
    ttl: Duration,
    /// Valid refresh tokens, each with the access token issued alongside it.
    refresh: HashMap<String, Option<String>>,
    /// The most recently issued (or configured) refresh token.
    latest: String,
    auth_code: Option<String>,
    access: HashMap<String, Instant>,
    rng: SplitMix64,
}

impl TokenStore {
    /// A store that accepts `refresh_token` (and `auth_code`, once) from the given client.
    pub(crate) fn new(
        client_id: String,
        client_secret: String,
        refresh_token: String,
        auth_code: Option<String>,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            scope: String::new(),
            ttl: Duration::from_secs(48 * 3600),
            refresh: HashMap::from([(refresh_token.clone(), None)]),
            latest: refresh_token,
            auth_code,
            access: HashMap::new(),
            rng: SplitMix64::new(0),
        }
    }

    /// Sets the access token lifetime, granted scope and token randomness seed.
    pub(crate) fn with(mut self, ttl: Duration, scope: String, seed: u64) -> Self {
        self.ttl = ttl;
        self.scope = scope;
        self.rng = SplitMix64::derive(seed, 0x70c3);
        self
    }

    /// Checks client credentials in constant-ish time (lengths leak, contents do not).
    pub(crate) fn client_ok(&self, id: &str, secret: &str) -> bool {
        eq(id, &self.client_id) & eq(secret, &self.client_secret)
    }

    /// Exchanges (and revokes) a refresh token.
    pub(crate) fn refresh(&mut self, token: &str) -> Result<TokenResponse, GrantError> {
        let old_access = self.refresh.remove(token).ok_or(GrantError::InvalidGrant)?;
        if let Some(a) = old_access {
            self.access.remove(&a);
        }
        Ok(self.issue())
    }

    /// Exchanges the single-use authorization code.
    pub(crate) fn exchange_code(&mut self, code: &str) -> Result<TokenResponse, GrantError> {
        match &self.auth_code {
            Some(c) if eq(c, code) => {
                self.auth_code = None;
                Ok(self.issue())
            }
            _ => Err(GrantError::InvalidGrant),
        }
    }

    /// Issues a fresh access/refresh pair.
    pub(crate) fn issue(&mut self) -> TokenResponse {
        let access_token = format!("sim_at_{:016x}", self.rng.next_u64());
        let refresh_token = format!("sim_rt_{:016x}", self.rng.next_u64());
        self.access
            .insert(access_token.clone(), Instant::now() + self.ttl);
        self.refresh
            .insert(refresh_token.clone(), Some(access_token.clone()));
        self.latest = refresh_token.clone();
        TokenResponse {
            access_token,
            refresh_token,
            expires_in: self.ttl.as_secs(),
            token_type: "Bearer",
            scope: self.scope.clone(),
        }
    }

    /// Issues an access token with no refresh token attached (a test shortcut).
    pub(crate) fn mint_access_token(&mut self) -> String {
        let token = format!("sim_at_{:016x}", self.rng.next_u64());
        self.add_access_token(token.clone());
        token
    }

    /// Registers an access token valid for the configured lifetime.
    pub(crate) fn add_access_token(&mut self, token: String) {
        self.access.insert(token, Instant::now() + self.ttl);
    }

    /// Whether a bearer token is known and unexpired.
    pub(crate) fn access_ok(&self, token: &str) -> bool {
        self.access
            .get(token)
            .is_some_and(|exp| Instant::now() < *exp)
    }

    /// Expires every access token now; refresh tokens stay valid.
    pub(crate) fn expire_access_tokens(&mut self) {
        self.access.clear();
    }

    /// The most recently issued refresh token, if it is still valid.
    pub(crate) fn current_refresh_token(&self) -> Option<String> {
        self.refresh
            .contains_key(&self.latest)
            .then(|| self.latest.clone())
    }
}

/// Byte equality without early exit on the first difference.
fn eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> TokenStore {
        TokenStore::new(
            "id".into(),
            "secret".into(),
            "rt0".into(),
            Some("code".into()),
        )
        .with(Duration::from_secs(60), "s".into(), 1)
    }

    #[test]
    fn refresh_tokens_rotate_and_revoke_old_access_tokens() {
        let mut s = store();
        let first = s.refresh("rt0").expect("first refresh");
        assert!(s.access_ok(&first.access_token));
        assert_eq!(s.refresh("rt0").unwrap_err(), GrantError::InvalidGrant);
        let second = s.refresh(&first.refresh_token).expect("second refresh");
        assert!(!s.access_ok(&first.access_token));
        assert!(s.access_ok(&second.access_token));
        assert_eq!(s.current_refresh_token(), Some(second.refresh_token));
    }

    #[test]
    fn authorization_code_is_single_use() {
        let mut s = store();
        assert!(s.exchange_code("code").is_ok());
        assert_eq!(
            s.exchange_code("code").unwrap_err(),
            GrantError::InvalidGrant
        );
    }

    #[test]
    fn expiring_access_tokens_keeps_refresh_tokens() {
        let mut s = store();
        let t = s.refresh("rt0").expect("refresh");
        s.expire_access_tokens();
        assert!(!s.access_ok(&t.access_token));
        assert!(s.refresh(&t.refresh_token).is_ok());
        assert!(s.client_ok("id", "secret"));
        assert!(!s.client_ok("id", "secreT"));
    }
}
