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
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::gcp::{Auth, TokenSource};
use crate::source::{AccessLog, http_client, transport_kind};

/// The production Pub/Sub endpoint.
pub const PUBSUB_URL: &str = "https://pubsub.googleapis.com";
/// Per-call timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

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

/// Publishes to one topic. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Publisher {
    http: reqwest::Client,
    url: String,
    tokens: TokenSource,
    log: AccessLog,
}

impl Publisher {
    /// A publisher to `projects/{project}/topics/{topic}` at `base` (no trailing slash).
    pub fn new(base: &str, project: &str, topic: &str, auth: Auth, pool: Option<PgPool>) -> Self {
        let http = http_client(TIMEOUT);
        Publisher {
            tokens: TokenSource::new(auth, http.clone()),
            http,
            url: format!(
                "{}/v1/projects/{project}/topics/{topic}:publish",
                base.trim_end_matches('/')
            ),
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
            None => Publisher::new(PUBSUB_URL, project, topic, Auth::metadata_from_env(), pool),
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
        if let Some(token) = self
            .tokens
            .token()
            .await
            .map_err(|e| PublishError::Token(e.0))?
        {
            req = req.bearer_auth(token);
        }
        let started = std::time::Instant::now();
        let resp = req.send().await;
        let status = resp.as_ref().ok().map(|r| r.status().as_u16());
        self.log
            .record("POST", &self.url, status, started.elapsed(), None)
            .await;
        let resp = resp.map_err(|e| PublishError::Transport(transport_kind(&e)))?;
        if !resp.status().is_success() {
            if resp.status().as_u16() == 401 {
                // A revoked or expired token: fetch a new one next time.
                self.tokens.invalidate().await;
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
}
