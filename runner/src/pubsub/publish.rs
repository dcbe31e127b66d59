//! Publishing to a Pub/Sub topic over REST (`POST {base}/v1/projects/{p}/topics/{t}:publish`).
//!
//! With `PUBSUB_EMULATOR_HOST` set the base is `http://$PUBSUB_EMULATOR_HOST` and no token is
//! sent (the emulator, and our simulator, take none). Otherwise the base is
//! `https://pubsub.googleapis.com` and the bearer token is the instance service account's
//! access token from the GCE metadata server (Cloud Run and GCE serve it at
//! `http://metadata.google.internal`; `GCE_METADATA_HOST` overrides the host, as Google's
//! client libraries allow). The token is cached until a minute before it expires. The service
//! account needs `roles/pubsub.publisher` on the topic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Mutex;

use crate::source::{AccessLog, http_client};

/// The production Pub/Sub endpoint.
pub const PUBSUB_URL: &str = "https://pubsub.googleapis.com";
/// The metadata server's host when `GCE_METADATA_HOST` is not set.
pub const METADATA_HOST: &str = "metadata.google.internal";
/// Per-call timeout.
const TIMEOUT: Duration = Duration::from_secs(30);
/// A cached token is refreshed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// One message to publish: the payload (sent base64-encoded) and string attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    /// The payload bytes.
    pub data: Vec<u8>,
    /// Attributes (ids and names only, never patient data).
    pub attributes: BTreeMap<String, String>,
}

/// Why a publish failed. Every variant is worth retrying later: nothing was published
/// (Pub/Sub publishes a request's messages all or none).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Pub/Sub answered a non-success status.
    #[error("Pub/Sub publish answered {0}")]
    Status(u16),
    /// No response (connection refused, timeout, TLS).
    #[error("Pub/Sub publish failed: {0}")]
    Transport(&'static str),
    /// The answer was not `{"messageIds": [...]}` with one id per message.
    #[error("Pub/Sub publish answered an unexpected body")]
    Decode,
    /// No access token from the metadata server.
    #[error("metadata server token: {0}")]
    Token(String),
}

/// How the publisher authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No token (the emulator).
    None,
    /// The instance service account's token from the metadata server at this host.
    Metadata(String),
}

/// Publishes to one topic. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Publisher {
    http: reqwest::Client,
    url: String,
    auth: Auth,
    token: Mutex<Option<(String, Instant)>>,
    log: AccessLog,
}

impl Publisher {
    /// A publisher to `projects/{project}/topics/{topic}` at `base` (no trailing slash).
    pub fn new(base: &str, project: &str, topic: &str, auth: Auth, pool: Option<PgPool>) -> Self {
        Publisher {
            http: http_client(TIMEOUT),
            url: format!(
                "{}/v1/projects/{project}/topics/{topic}:publish",
                base.trim_end_matches('/')
            ),
            auth,
            token: Mutex::new(None),
            log: AccessLog::new(pool, "pubsub"),
        }
    }

    /// The publisher the environment asks for: the emulator when `PUBSUB_EMULATOR_HOST` is
    /// set, else Pub/Sub with the metadata server's token.
    pub fn from_env(project: &str, topic: &str, pool: Option<PgPool>) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        match var("PUBSUB_EMULATOR_HOST") {
            Some(host) => Publisher::new(
                &format!("http://{}", host.trim()),
                project,
                topic,
                Auth::None,
                pool,
            ),
            None => {
                let host = var("GCE_METADATA_HOST").unwrap_or_else(|| METADATA_HOST.to_string());
                Publisher::new(PUBSUB_URL, project, topic, Auth::Metadata(host), pool)
            }
        }
    }

    /// The publish URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Publishes `messages` in one request; returns their message ids, in order.
    pub async fn publish(&self, messages: &[OutMessage]) -> Result<Vec<String>, PublishError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = json!({
            "messages": messages.iter().map(|m| json!({
                "data": b64.encode(&m.data),
                "attributes": m.attributes,
            })).collect::<Vec<_>>()
        });
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(token) = self.token().await? {
            req = req.bearer_auth(token);
        }
        let started = std::time::Instant::now();
        let resp = req.send().await;
        let status = resp.as_ref().ok().map(|r| r.status().as_u16());
        self.log
            .record("POST", &self.url, status, started.elapsed(), None)
            .await;
        let resp = resp.map_err(|e| PublishError::Transport(kind(&e)))?;
        if !resp.status().is_success() {
            if resp.status().as_u16() == 401 {
                // A revoked or expired token: fetch a new one next time.
                *self.token.lock().await = None;
            }
            return Err(PublishError::Status(resp.status().as_u16()));
        }
        let body: Value = resp.json().await.map_err(|_| PublishError::Decode)?;
        let ids: Vec<String> = body
            .get("messageIds")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if ids.len() != messages.len() {
            return Err(PublishError::Decode);
        }
        Ok(ids)
    }

    /// The bearer token to send, if any (cached).
    async fn token(&self) -> Result<Option<String>, PublishError> {
        let Auth::Metadata(host) = &self.auth else {
            return Ok(None);
        };
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(Some(token.clone()));
        }
        let (token, ttl) = metadata_token(&self.http, host).await?;
        let until = Instant::now() + ttl.saturating_sub(TOKEN_MARGIN);
        *cached = Some((token.clone(), until));
        Ok(Some(token))
    }
}

/// Fetches the default service account's access token from the metadata server at `host`:
/// `GET /computeMetadata/v1/instance/service-accounts/default/token` with
/// `Metadata-Flavor: Google`, answering `{"access_token", "expires_in", "token_type"}`.
pub async fn metadata_token(
    http: &reqwest::Client,
    host: &str,
) -> Result<(String, Duration), PublishError> {
    let url = format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
    let resp = http
        .get(&url)
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .map_err(|e| PublishError::Token(kind(&e).to_string()))?;
    if !resp.status().is_success() {
        return Err(PublishError::Token(format!(
            "status {}",
            resp.status().as_u16()
        )));
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|_| PublishError::Token("not JSON".into()))?;
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PublishError::Token("no access_token".into()))?;
    let ttl = body
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(300);
    Ok((token.to_string(), Duration::from_secs(ttl)))
}

fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    }
}
