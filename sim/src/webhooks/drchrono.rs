//! The DrChrono webhook sender (apis.md §1.7): deliveries, the verification handshake, and
//! redelivery. DrChrono retries a failed delivery about 1, 3 and 7 hours later with the same
//! delivery id and body, so a redelivered old payload can arrive after a newer one.

use axum::http::Method;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::request::WebhookRequest;
use crate::data::{Resource, SplitMix64};
use crate::drchrono::DrChronoState;

/// What `X-drchrono-signature` carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SignatureMode {
    /// The webhook's secret token itself (DrChrono's documented behaviour).
    #[default]
    SharedSecret,
    /// Hex HMAC-SHA256 of the raw body, keyed with the secret (seen in some integrations).
    HmacSha256,
}

/// One delivery the sender made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `X-drchrono-delivery`.
    pub id: String,
    /// `X-drchrono-event`.
    pub event: String,
    /// The request as first sent.
    pub request: WebhookRequest,
}

/// A DrChrono API application's webhook: secret, callback path, subscribed events, and the
/// deliveries made so far.
#[derive(Debug, Clone)]
pub struct DrChronoWebhooks {
    secret: String,
    mode: SignatureMode,
    path: String,
    receiver: Value,
    ids: SplitMix64,
    sent: Vec<Delivery>,
}

/// Every event of DrChrono's official table, plus `PING`.
pub(super) const EVENTS: &[&str] = &[
    "APPOINTMENT_CREATE",
    "APPOINTMENT_MODIFY",
    "PATIENT_CREATE",
    "PATIENT_MODIFY",
    "PATIENT_PROBLEM_CREATE",
    "PATIENT_PROBLEM_MODIFY",
    "PATIENT_ALLERGY_CREATE",
    "PATIENT_ALLERGY_MODIFY",
    "PATIENT_MEDICATION_CREATE",
    "PATIENT_MEDICATION_MODIFY",
    "CLINICAL_NOTE_LOCK",
    "CLINICAL_NOTE_UNLOCK",
    "TASK_CREATE",
    "TASK_MODIFY",
    "TASK_DELETE",
];

/// The event DrChrono sends when a record of `resource` is created (`created`) or changed.
/// Clinical notes: `CLINICAL_NOTE_LOCK` / `CLINICAL_NOTE_UNLOCK`. `None` for resources without
/// webhooks (doctors, offices, line items).
pub fn event_for(resource: Resource, created: bool) -> Option<&'static str> {
    Some(match (resource, created) {
        (Resource::Appointments, true) => "APPOINTMENT_CREATE",
        (Resource::Appointments, false) => "APPOINTMENT_MODIFY",
        (Resource::Patients, true) => "PATIENT_CREATE",
        (Resource::Patients, false) => "PATIENT_MODIFY",
        (Resource::Problems, true) => "PATIENT_PROBLEM_CREATE",
        (Resource::Problems, false) => "PATIENT_PROBLEM_MODIFY",
        (Resource::Allergies, true) => "PATIENT_ALLERGY_CREATE",
        (Resource::Allergies, false) => "PATIENT_ALLERGY_MODIFY",
        (Resource::Medications, true) => "PATIENT_MEDICATION_CREATE",
        (Resource::Medications, false) => "PATIENT_MEDICATION_MODIFY",
        (Resource::ClinicalNotes, true) => "CLINICAL_NOTE_LOCK",
        (Resource::ClinicalNotes, false) => "CLINICAL_NOTE_UNLOCK",
        _ => return None,
    })
}

impl DrChronoWebhooks {
    /// A webhook with `secret`, posting to `/webhooks/drchrono`, signing with the secret
    /// itself; `seed` makes delivery ids deterministic.
    pub fn new(secret: impl Into<String>, seed: u64) -> Self {
        DrChronoWebhooks {
            secret: secret.into(),
            mode: SignatureMode::default(),
            path: "/webhooks/drchrono".into(),
            receiver: json!({
                "id": 4_242,
                "url": "https://runner.example/webhooks/drchrono",
                "events": EVENTS,
                "active": true,
            }),
            ids: SplitMix64::new(seed),
            sent: Vec::new(),
        }
    }

    /// Signs later deliveries in `mode`.
    pub fn with_mode(mut self, mode: SignatureMode) -> Self {
        self.mode = mode;
        self
    }

    /// Posts to `path` instead of `/webhooks/drchrono`.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The `X-drchrono-signature` value for `body` in the current mode.
    pub fn sign(&self, body: &[u8]) -> String {
        match self.mode {
            SignatureMode::SharedSecret => self.secret.clone(),
            SignatureMode::HmacSha256 => hex::encode(hmac(&self.secret, body)),
        }
    }

    /// A new delivery of `event` carrying `object`, recorded for [`redeliver`](Self::redeliver).
    pub fn deliver(&mut self, event: &str, object: Value) -> WebhookRequest {
        let body = json!({ "receiver": self.receiver, "object": object });
        let body = serde_json::to_vec(&body).expect("JSON serializes");
        let id = format!("{:016x}", self.ids.next_u64());
        let request = WebhookRequest::new(Method::POST, self.path.clone())
            .with_header("content-type", "application/json")
            .with_header("x-drchrono-event", event)
            .with_header("x-drchrono-signature", self.sign(&body))
            .with_header("x-drchrono-delivery", id.clone())
            .with_body(body);
        self.sent.push(Delivery {
            id,
            event: event.to_string(),
            request: request.clone(),
        });
        request
    }

    /// A delivery of the simulator's current record `id` of `resource`, as DrChrono sends it
    /// on create (`created`) or change. `None` when the record does not exist or the resource
    /// has no webhook events.
    pub fn deliver_record(
        &mut self,
        state: &DrChronoState,
        resource: Resource,
        id: impl std::fmt::Display,
        created: bool,
    ) -> Option<WebhookRequest> {
        let event = event_for(resource, created)?;
        let object = state.record(resource, id)?;
        Some(self.deliver(event, object))
    }

    /// The manual "Ping webhook" delivery.
    pub fn ping(&mut self) -> WebhookRequest {
        self.deliver("PING", json!({}))
    }

    /// The deliveries made so far, oldest first.
    pub fn deliveries(&self) -> &[Delivery] {
        &self.sent
    }

    /// An earlier delivery sent again, byte for byte (same delivery id, same signature).
    pub fn redeliver(&self, delivery_id: &str) -> Option<WebhookRequest> {
        self.sent
            .iter()
            .find(|d| d.id == delivery_id)
            .map(|d| d.request.clone())
    }

    /// The verification request DrChrono sends: `GET <callback>?msg=<msg>`.
    pub fn handshake(&self, msg: &str) -> WebhookRequest {
        WebhookRequest::new(
            Method::GET,
            format!("{}?msg={}", self.path, percent_encode(msg)),
        )
    }

    /// The `secret_token` DrChrono expects in answer to `msg`.
    pub fn expected_token(&self, msg: &str) -> String {
        hex::encode(hmac(&self.secret, msg.as_bytes()))
    }

    /// Whether a handshake answer (the response body) verifies, as DrChrono checks it: JSON
    /// `{"secret_token": <hex HMAC-SHA256(secret, msg)>}`.
    pub fn check_handshake(&self, msg: &str, response_body: &[u8]) -> bool {
        serde_json::from_slice::<Value>(response_body)
            .ok()
            .and_then(|v| v.get("secret_token")?.as_str().map(str::to_owned))
            .is_some_and(|t| t == self.expected_token(msg))
    }
}

fn hmac(secret: &str, msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_carry_the_documented_headers_and_body() {
        let mut w = DrChronoWebhooks::new("s3cret", 1);
        let r = w.deliver("PATIENT_MODIFY", json!({"id": 7}));
        assert_eq!(r.header("x-drchrono-event"), Some("PATIENT_MODIFY"));
        assert_eq!(r.header("x-drchrono-signature"), Some("s3cret"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["object"], json!({"id": 7}));
        assert!(body["receiver"]["events"].is_array());
        let id = r.header("x-drchrono-delivery").unwrap().to_string();
        assert_eq!(w.redeliver(&id), Some(r));
        let mut h = DrChronoWebhooks::new("s3cret", 1).with_mode(SignatureMode::HmacSha256);
        let r = h.deliver("PATIENT_MODIFY", json!({"id": 7}));
        assert_eq!(
            r.header("x-drchrono-signature").unwrap(),
            hex::encode(hmac("s3cret", &r.body))
        );
    }

    #[test]
    fn the_handshake_expects_the_hmac_of_msg() {
        let w = DrChronoWebhooks::new("s3cret", 1);
        assert_eq!(w.handshake("a b").path, "/webhooks/drchrono?msg=a%20b");
        // hmac.new(b"s3cret", b"hello", hashlib.sha256).hexdigest()
        let token = "e5a01537481fa0b2c697f787c7aff885412cf0760d08e08502259b39d2d6ae68";
        assert_eq!(w.expected_token("hello"), token);
        let answer = json!({ "secret_token": token }).to_string();
        assert!(w.check_handshake("hello", answer.as_bytes()));
        assert!(!w.check_handshake("other", answer.as_bytes()));
    }
}
