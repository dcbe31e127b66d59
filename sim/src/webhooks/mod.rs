//! Webhook senders: the requests DrChrono and Deep Cura send to the runner, built as data
//! ([`WebhookRequest`]) so tests can hand them to a router in-process (`oneshot`) or send them
//! over HTTP, tamper with them, and redeliver them later.
//!
//! - [`DrChronoWebhooks`]: deliveries with `X-drchrono-event`, `X-drchrono-signature` (the
//!   secret itself, as DrChrono documents, or a hex HMAC-SHA256 of the body) and
//!   `X-drchrono-delivery`, body `{"receiver": {...}, "object": {...}}`; the `GET ?msg=`
//!   verification handshake and its check; redelivery of an earlier delivery, unchanged.
//! - [`DeepCuraGridhooks`]: encrypted gridhooks in the runner's documented default envelope
//!   (JSON `{"iv": base64, "data": base64}`, AES-256-CBC, PKCS#7, key = SHA-256(secret)) or
//!   any of its configurable variants, and fictional notes for simulated appointments.
//! - [`QuestionnaireSender`]: questionnaire responses signed as the runner's inbound routes
//!   take them (`X-Clinic-Timestamp`, `X-Clinic-Signature: v1=...`), and fictional PHQ-9
//!   responses of simulated patients.

mod deepcura;
mod drchrono;
mod questionnaire;
mod request;

pub use deepcura::{
    DeepCuraGridhooks, Envelope, IvPlacement, TextEncoding, derive_key, note_for_appointment,
};
pub use drchrono::{Delivery, DrChronoWebhooks, SignatureMode, event_for};
pub use questionnaire::{
    Identity, QuestionnaireSender, SIGNATURE_HEADER, TIMESTAMP_HEADER, phq9_for_patient, sign,
};
pub use request::WebhookRequest;
