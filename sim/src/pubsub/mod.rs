//! A small double of Google Cloud Pub/Sub for tests: the emulator's REST publish path, stored
//! messages with ids, and push delivery to an endpoint.
//!
//! - `POST /v1/projects/{project}/topics/{topic}:publish` with `{"messages": [{"data":
//!   base64, "attributes": {...}}]}` answers `{"messageIds": [...]}` in request order (ids are
//!   decimal strings, unique per simulator). Any topic is accepted (no topic admin API). A
//!   message needs `data` or at least one attribute; `data` must be base64; an empty list or
//!   a bad body is a 400 with Google's error shape. `fail_publish` makes every
//!   publish answer a given status (an outage).
//! - [`PubsubHandle::deliver`] pushes every message not yet acknowledged by a
//!   [`PushSubscription`] to its endpoint as the wrapped push body (apis.md §4.1: `message`
//!   with `data`, `attributes`, `messageId`/`message_id`, `publishTime`/`publish_time`;
//!   `subscription`; `deliveryAttempt`), with `Authorization: Bearer <token>` when the
//!   subscription has a signer (the test mints the OIDC token), retrying non-2xx answers
//!   with a short backoff. [`PubsubHandle::push`] delivers one message again, whatever its
//!   state, as Pub/Sub's at-least-once delivery may.
//!
//! Point the runner at it with `PUBSUB_EMULATOR_HOST` = [`PubsubHandle::host`].

mod push;
mod server;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

pub use push::{DeliveryReport, PushSubscription, Signer};
pub use server::{PubsubHandle, PubsubSim, router};

/// A published message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The server-assigned id.
    pub id: String,
    /// `projects/{project}/topics/{topic}`.
    pub topic: String,
    /// The decoded payload.
    pub data: Vec<u8>,
    /// The attributes.
    pub attributes: BTreeMap<String, String>,
    /// When it was published.
    pub publish_time: DateTime<Utc>,
}

/// Shared state: the messages, the acknowledgements per subscription, and faults.
#[derive(Debug, Clone, Default)]
pub struct PubsubState {
    inner: Arc<Mutex<World>>,
    http: reqwest::Client,
}

#[derive(Debug, Default)]
struct World {
    messages: Vec<Message>,
    next_id: u64,
    acked: HashSet<(String, String)>,
    fail_publish: Option<u16>,
    publish_calls: u64,
}

impl PubsubState {
    fn world(&self) -> MutexGuard<'_, World> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every stored message, in publish order.
    pub fn messages(&self) -> Vec<Message> {
        self.world().messages.clone()
    }

    /// Publish requests received (failed ones included).
    pub fn publish_calls(&self) -> u64 {
        self.world().publish_calls
    }

    /// Makes every publish answer `status` (`None`: back to normal).
    pub fn fail_publish(&self, status: Option<u16>) {
        self.world().fail_publish = status;
    }

    /// Whether `subscription` acknowledged message `id`.
    pub fn is_acked(&self, subscription: &str, id: &str) -> bool {
        self.world()
            .acked
            .contains(&(subscription.to_string(), id.to_string()))
    }

    pub(super) fn ack(&self, subscription: &str, id: &str) {
        self.world()
            .acked
            .insert((subscription.to_string(), id.to_string()));
    }

    /// Stores messages for `topic`; returns their ids, or the failure status.
    fn publish(
        &self,
        topic: &str,
        messages: Vec<(Vec<u8>, BTreeMap<String, String>)>,
    ) -> Result<Vec<String>, u16> {
        let mut w = self.world();
        w.publish_calls += 1;
        if let Some(status) = w.fail_publish {
            return Err(status);
        }
        let now = Utc::now();
        let mut ids = Vec::with_capacity(messages.len());
        for (data, attributes) in messages {
            w.next_id += 1;
            let id = (4_000_000_000_000_000 + w.next_id).to_string();
            ids.push(id.clone());
            w.messages.push(Message {
                id,
                topic: topic.to_string(),
                data,
                attributes,
                publish_time: now,
            });
        }
        Ok(ids)
    }
}
