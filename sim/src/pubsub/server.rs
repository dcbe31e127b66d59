//! The publish route and running it on a socket.

use std::collections::BTreeMap;

use super::push::{DeliveryReport, PushSubscription, deliver_one};
use super::{Message, PubsubState};
use crate::handle::SimHandle;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

/// The simulator as a router (for `oneshot` tests).
pub fn router(state: PubsubState) -> Router {
    Router::new()
        .route("/v1/projects/{project}/topics/{topic}", post(publish))
        .with_state(state)
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message,
                                "status": status.canonical_reason().unwrap_or("ERROR")}});
    (status, Json(body)).into_response()
}

/// `POST /v1/projects/{project}/topics/{topic}:publish`.
async fn publish(
    State(state): State<PubsubState>,
    Path((project, topic)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(topic) = topic.strip_suffix(":publish") else {
        return error(StatusCode::NOT_FOUND, "unknown method");
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let Some(list) = v
        .get("messages")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "messages: at least one message is required",
        );
    };
    let mut messages = Vec::with_capacity(list.len());
    for m in list {
        let data = match m.get("data").and_then(Value::as_str) {
            Some(d) => match base64::engine::general_purpose::STANDARD.decode(d) {
                Ok(bytes) => bytes,
                Err(_) => return error(StatusCode::BAD_REQUEST, "data is not base64"),
            },
            None => Vec::new(),
        };
        let attributes: BTreeMap<String, String> = m
            .get("attributes")
            .and_then(Value::as_object)
            .map(|a| {
                a.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        if data.is_empty() && attributes.is_empty() {
            return error(
                StatusCode::BAD_REQUEST,
                "a message needs data or an attribute",
            );
        }
        messages.push((data, attributes));
    }
    match state.publish(&format!("projects/{project}/topics/{topic}"), messages) {
        Ok(ids) => Json(json!({"messageIds": ids})).into_response(),
        Err(status) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "injected failure",
        ),
    }
}

/// Entry point of the Pub/Sub simulator.
#[derive(Debug)]
pub struct PubsubSim;

impl PubsubSim {
    /// Binds `127.0.0.1:0` and serves an empty Pub/Sub.
    pub async fn start() -> anyhow::Result<PubsubHandle> {
        let state = PubsubState::default();
        let (listener, addr) = crate::handle::bind(([127, 0, 0, 1], 0).into(), "Pub/Sub").await?;
        let app = router(state.clone());
        Ok(SimHandle::spawn(
            listener,
            addr,
            format!("http://{addr}"),
            state,
            app,
        ))
    }
}

/// A running Pub/Sub simulator.
pub type PubsubHandle = SimHandle<PubsubState>;

impl SimHandle<PubsubState> {
    /// `host:port`, the value for `PUBSUB_EMULATOR_HOST`.
    pub fn host(&self) -> String {
        self.addr().to_string()
    }

    /// Every stored message, in publish order.
    pub fn messages(&self) -> Vec<Message> {
        self.state().messages()
    }

    /// Pushes every message not yet acknowledged by `sub`, in publish order, each retried
    /// until acknowledged or out of attempts.
    pub async fn deliver(&self, sub: &PushSubscription) -> Vec<DeliveryReport> {
        let mut reports = Vec::new();
        for m in self.messages() {
            if !self.state().is_acked(&sub.name, &m.id) {
                reports.push(self.push(sub, &m).await);
            }
        }
        reports
    }

    /// Pushes `message` to `sub` (again, whatever its state), retrying non-2xx answers.
    pub async fn push(&self, sub: &PushSubscription, message: &Message) -> DeliveryReport {
        let report = deliver_one(&self.state().http, sub, message).await;
        if report.acked {
            self.state().ack(&sub.name, &message.id);
        }
        report
    }
}
