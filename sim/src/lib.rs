//! Faithful local doubles of the third-party APIs the sync runner talks to, and the
//! deterministic clinic data they serve.
//!
//! - [`data`]: the seeded clinic generator ([`data::Clinic`]).
//! - [`drchrono`]: the DrChrono REST API v4 simulator ([`drchrono::DrChronoSim`]).
//! - [`coda`]: the Coda API v1 simulator ([`coda::CodaSim`]).
//! - [`gcs`]: the Cloud Storage JSON API simulator ([`gcs::GcsSim`]).
//! - [`webhooks`]: DrChrono webhook and Deep Cura gridhook senders.

pub mod coda;
pub mod data;
pub mod drchrono;
pub mod gcs;
pub mod handle;
pub mod millis;
pub mod pubsub;
pub mod webhooks;
