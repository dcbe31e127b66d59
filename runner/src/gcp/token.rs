//! Access tokens for Google APIs. On Cloud Run (and GCE) the instance service account's token
//! comes from the metadata server at `http://metadata.google.internal` (`GCE_METADATA_HOST`
//! overrides the host, as Google's client libraries allow); it is cached until a minute before
//! it expires. Emulators take no token; tests may give a fixed one.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::secret::Secret;

/// The metadata server's host when `GCE_METADATA_HOST` is not set.
pub const METADATA_HOST: &str = "metadata.google.internal";
/// A cached token is refreshed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// How a client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No token (an emulator).
    None,
    /// The instance service account's token from the metadata server at this host.
    Metadata(String),
    /// A fixed bearer token (tests against a simulator that checks one).
    Static(Secret),
}

impl Auth {
    /// The metadata server, at `GCE_METADATA_HOST` or [`METADATA_HOST`].
    pub fn metadata_from_env() -> Self {
        let host = std::env::var("GCE_METADATA_HOST")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| METADATA_HOST.to_string());
        Auth::Metadata(host)
    }
}

/// Why no token could be had. Ids and statuses only.
#[derive(Debug, thiserror::Error)]
#[error("metadata server token: {0}")]
pub struct TokenError(pub String);

/// A token source with its cache. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct TokenSource {
    auth: Auth,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

impl TokenSource {
    /// A source for `auth`, fetching over `http`.
    pub fn new(auth: Auth, http: reqwest::Client) -> Self {
        TokenSource {
            auth,
            http,
            cached: Mutex::new(None),
        }
    }

    /// The bearer token to send, if any.
    pub async fn token(&self) -> Result<Option<String>, TokenError> {
        let host = match &self.auth {
            Auth::None => return Ok(None),
            Auth::Static(t) => return Ok(Some(t.expose().to_string())),
            Auth::Metadata(host) => host,
        };
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(Some(token.clone()));
        }
        let (token, ttl) = metadata_token(&self.http, host).await?;
        *cached = Some((
            token.clone(),
            Instant::now() + ttl.saturating_sub(TOKEN_MARGIN),
        ));
        Ok(Some(token))
    }

    /// Forgets the cached token (after a 401: revoked or expired).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}

/// Fetches the default service account's access token from the metadata server at `host`:
/// `GET /computeMetadata/v1/instance/service-accounts/default/token` with
/// `Metadata-Flavor: Google`, answering `{"access_token", "expires_in", "token_type"}`.
pub async fn metadata_token(
    http: &reqwest::Client,
    host: &str,
) -> Result<(String, Duration), TokenError> {
    let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
    let resp = http
        .get(&url)
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .map_err(|e| TokenError(crate::source::transport_kind(&e).to_string()))?;
    if !resp.status().is_success() {
        return Err(TokenError(format!("status {}", resp.status().as_u16())));
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|_| TokenError("not JSON".into()))?;
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError("no access_token".into()))?;
    let ttl = body
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(300);
    Ok((token.to_string(), Duration::from_secs(ttl)))
}
