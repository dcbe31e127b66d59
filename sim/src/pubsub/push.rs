//! Push delivery: the wrapped push body (apis.md §4.1), an optional OIDC bearer token from a
//! signer the test provides, and retries on non-2xx answers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use super::Message;

/// Mints the OIDC token of one push request (Pub/Sub signs as the subscription's service
/// account; tests sign with their own key).
pub type Signer = Arc<dyn Fn() -> String + Send + Sync>;

/// A push subscription.
#[derive(Clone)]
pub struct PushSubscription {
    /// `projects/{project}/subscriptions/{name}`, sent as `subscription`.
    pub name: String,
    /// The push endpoint, e.g. `http://127.0.0.1:8080/pubsub/push`.
    pub endpoint: String,
    /// Signs each request's bearer token; `None` sends no `Authorization`.
    pub signer: Option<Signer>,
    /// Attempts per delivery, the first included. Default 5.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles after each. Default 20 ms.
    pub backoff: Duration,
}

impl PushSubscription {
    /// A subscription `projects/sim/subscriptions/push` to `endpoint`, without auth.
    pub fn new(endpoint: impl Into<String>) -> Self {
        PushSubscription {
            name: "projects/sim/subscriptions/push".into(),
            endpoint: endpoint.into(),
            signer: None,
            max_attempts: 5,
            backoff: Duration::from_millis(20),
        }
    }

    /// The same subscription, signing every request with `signer`.
    pub fn with_signer(mut self, signer: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.signer = Some(Arc::new(signer));
        self
    }
}

impl fmt::Debug for PushSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushSubscription")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("signed", &self.signer.is_some())
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The message id.
    pub message_id: String,
    /// The status of each attempt (0: no response).
    pub statuses: Vec<u16>,
    /// True when an attempt got a 2xx.
    pub acked: bool,
}

/// The wrapped push body of `m` for `subscription`, as delivery attempt `attempt`.
pub(super) fn body(m: &Message, subscription: &str, attempt: u32) -> serde_json::Value {
    let time = m
        .publish_time
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "message": {
            "attributes": m.attributes,
            "data": base64::engine::general_purpose::STANDARD.encode(&m.data),
            "messageId": m.id, "message_id": m.id,
            "publishTime": time, "publish_time": time,
        },
        "subscription": subscription,
        "deliveryAttempt": attempt,
    })
}

/// Pushes `m` until a 2xx or `max_attempts` attempts.
pub(super) async fn deliver_one(
    http: &reqwest::Client,
    sub: &PushSubscription,
    m: &Message,
) -> DeliveryReport {
    let mut report = DeliveryReport {
        message_id: m.id.clone(),
        statuses: Vec::new(),
        acked: false,
    };
    let mut wait = sub.backoff;
    for attempt in 1..=sub.max_attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        let mut req = http
            .post(&sub.endpoint)
            .json(&body(m, &sub.name, attempt))
            .timeout(Duration::from_secs(60));
        if let Some(sign) = &sub.signer {
            req = req.bearer_auth(sign());
        }
        let status = req.send().await.map_or(0, |r| r.status().as_u16());
        report.statuses.push(status);
        if (200..300).contains(&status) {
            report.acked = true;
            break;
        }
    }
    report
}
