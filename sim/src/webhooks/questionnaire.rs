//! The questionnaire sender: what the clinic's patient app and email processor post to the
//! runner's inbound route. The wire format is the runner's own (README, "Inbound routes"):
//! `POST /inbound/questionnaires` with a JSON response, the signing time in
//! `X-Clinic-Timestamp` (Unix seconds) and `X-Clinic-Signature: v1=<hex HMAC-SHA256(secret,
//! "<timestamp>.<body>")>`. Responses are fictional and reproducible from a seed.

use axum::http::Method;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::deepcura::uuid_v4;
use super::request::WebhookRequest;
use crate::data::SplitMix64;

/// The header with the signing time.
pub const TIMESTAMP_HEADER: &str = "X-Clinic-Timestamp";
/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "X-Clinic-Signature";

/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts signed questionnaire responses.
#[derive(Debug, Clone)]
pub struct QuestionnaireSender {
    secret: String,
    path: String,
}

impl QuestionnaireSender {
    /// A sender signing with `secret`, posting to `/inbound/questionnaires`.
    pub fn new(secret: impl Into<String>) -> Self {
        QuestionnaireSender {
            secret: secret.into(),
            path: "/inbound/questionnaires".into(),
        }
    }

    /// Posts to `path` instead.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// `response`, signed now.
    pub fn send(&self, response: &Value) -> WebhookRequest {
        self.send_at(response, chrono::Utc::now().timestamp())
    }

    /// `response`, signed as of `timestamp` (Unix seconds): an old one to test the window.
    pub fn send_at(&self, response: &Value, timestamp: i64) -> WebhookRequest {
        let body = serde_json::to_vec(response).expect("JSON serializes");
        self.send_bytes_at(&body, timestamp)
    }

    /// Any body (for example one that is not JSON), signed as of `timestamp`.
    pub fn send_bytes_at(&self, body: &[u8], timestamp: i64) -> WebhookRequest {
        WebhookRequest::new(Method::POST, self.path.clone())
            .with_header("content-type", "application/json")
            .with_header(TIMESTAMP_HEADER, timestamp.to_string())
            .with_header(SIGNATURE_HEADER, sign(&self.secret, timestamp, body))
            .with_body(body.to_vec())
    }
}

/// What the sender knows about the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The patient app, signed in: the DrChrono patient id (and email and date of birth).
    DrChronoId,
    /// The email processor: the email and date of birth only.
    EmailAndBirthDate,
}

/// A fictional PHQ-9 response of a simulated DrChrono `patient`, identified as `identity`
/// says; `seed` makes its id and answers.
pub fn phq9_for_patient(patient: &Value, identity: Identity, seed: u64) -> Value {
    let mut rng = SplitMix64::new(seed);
    let answers: Vec<u64> = (0..9).map(|_| rng.below(4)).collect();
    let score: u64 = answers.iter().sum();
    let who = match identity {
        Identity::DrChronoId => json!({
            "drchrono_id": patient["id"],
            "email": patient["email"],
            "date_of_birth": patient["date_of_birth"],
        }),
        Identity::EmailAndBirthDate => json!({
            "email": patient["email"].as_str().map(str::to_uppercase),
            "date_of_birth": patient["date_of_birth"],
        }),
    };
    let channel = match identity {
        Identity::DrChronoId => "app",
        Identity::EmailAndBirthDate => "email",
    };
    json!({
        "id": uuid_v4(&mut rng),
        "channel": channel,
        "questionnaire": "PHQ-9",
        "submitted_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "score": score,
        "answers": answers
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("q{}", i + 1), json!(a)))
            .collect::<serde_json::Map<_, _>>(),
        "patient": who,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_openssl() {
        // printf '1700000000.{"id":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            sign("s3cret", 1_700_000_000, br#"{"id":1}"#),
            "v1=ee0658aa4e37018df69c24227df01e0f680eb3b87c7f1f9bd936e283cfe01d9b"
        );
    }

    #[test]
    fn a_post_is_signed_over_its_timestamp_and_body() {
        let s = QuestionnaireSender::new("k");
        let req = s.send_at(&json!({"id": 1}), 1_700_000_000);
        assert_eq!(req.path, "/inbound/questionnaires");
        assert_eq!(req.header(TIMESTAMP_HEADER), Some("1700000000"));
        assert_eq!(
            req.header(SIGNATURE_HEADER).map(str::to_string),
            Some(sign("k", 1_700_000_000, &req.body))
        );
    }

    #[test]
    fn responses_identify_the_patient_as_the_sender_would() {
        let patient = json!({"id": 42, "email": "a.b@example.com", "date_of_birth": "1990-02-03"});
        let app = phq9_for_patient(&patient, Identity::DrChronoId, 1);
        assert_eq!(app["patient"]["drchrono_id"], 42);
        assert_eq!(app["channel"], "app");
        let mail = phq9_for_patient(&patient, Identity::EmailAndBirthDate, 1);
        assert!(mail["patient"].get("drchrono_id").is_none());
        assert_eq!(mail["patient"]["email"], "A.B@EXAMPLE.COM");
        let answers = app["answers"].as_object().unwrap();
        assert_eq!(answers.len(), 9);
        let sum: u64 = answers.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(app["score"], sum);
        assert_ne!(
            phq9_for_patient(&patient, Identity::DrChronoId, 2)["id"],
            app["id"]
        );
    }
}
