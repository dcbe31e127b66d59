//! The GCP topology of `runner serve` (DESIGN.md §6): the sync role relays outbox events to a
//! Pub/Sub topic ([`relay`], over REST with [`publish`]); Pub/Sub pushes them to the push
//! role's `POST /pubsub/push` ([`receive`]), which writes Coda (its dedupe ids are purged
//! after 7 days by [`crate::retention`]).
//!
//! A change event carries ids only (the outbox id, table, record id and operation): the push
//! reads the row's current content from PostgreSQL, so no patient data crosses Pub/Sub.

pub mod publish;
pub mod receive;
pub mod relay;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::gcp::Auth;
pub use publish::{OutMessage, PublishError, Publisher};
pub use receive::{PUSH_PATH, routes};
pub use relay::{RelayPass, relay_once, spawn_relay};

/// One outbox event as published (the message `data`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// `outbox.id`.
    pub outbox_id: i64,
    /// The PostgreSQL table that changed.
    pub table: String,
    /// The changed row's `id`.
    pub record_id: Uuid,
    /// `INSERT`, `UPDATE`, `SOFT_DELETE` or `DELETE`.
    pub operation: String,
}

impl ChangeEvent {
    /// The Pub/Sub message: the event as JSON, with `table`, `operation` and `outbox_id` also
    /// as attributes (for subscription filters).
    pub fn message(&self) -> OutMessage {
        let attributes = BTreeMap::from([
            ("table".to_string(), self.table.clone()),
            ("operation".to_string(), self.operation.clone()),
            ("outbox_id".to_string(), self.outbox_id.to_string()),
        ]);
        OutMessage {
            data: serde_json::to_vec(self).unwrap_or_default(),
            attributes,
        }
    }
}

/// Where the sync role publishes (`runner serve --role sync`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PubsubArgs {
    /// Pub/Sub topic id for change events (required with `--role sync`).
    #[arg(long = "pubsub-topic", env = "PUBSUB_TOPIC", default_value = "")]
    pub topic: String,
    /// GCP project of the topic (required with `--role sync`).
    #[arg(long = "pubsub-project", env = "PUBSUB_PROJECT_ID", default_value = "")]
    pub project: String,
}

impl PubsubArgs {
    /// The publisher for these settings (emulator when `PUBSUB_EMULATOR_HOST` is set), or an
    /// error naming what is missing.
    pub fn publisher(&self, pool: sqlx::PgPool) -> Result<Publisher, String> {
        let (project, topic) = (self.project.trim(), self.topic.trim());
        if project.is_empty() || topic.is_empty() {
            return Err("--role sync needs PUBSUB_PROJECT_ID and PUBSUB_TOPIC (or --pubsub-project and --pubsub-topic)".into());
        }
        Ok(Publisher::from_env(project, topic, Some(pool)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_through_a_push_body() {
        use base64::Engine as _;
        let ev = ChangeEvent {
            outbox_id: 7,
            table: "patients".into(),
            record_id: Uuid::nil(),
            operation: "UPDATE".into(),
        };
        let m = ev.message();
        assert_eq!(m.attributes["table"], "patients");
        let data = base64::engine::general_purpose::STANDARD.encode(&m.data);
        let body = serde_json::json!({
            "message": {"data": data, "messageId": "42", "message_id": "42",
                        "publishTime": "2021-02-26T19:13:55.749Z", "attributes": m.attributes},
            "subscription": "projects/p/subscriptions/s",
        });
        let d = receive::parse(body.to_string().as_bytes()).expect("parses");
        assert_eq!((d.message_id.as_str(), d.event), ("42", ev));
        assert_eq!(receive::parse(b"{\"message\": {}}"), Err("no message id"));
    }
}
