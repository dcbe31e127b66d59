//! The generic REST source: OAuth2 with rotating refresh tokens, one shared rate budget per
//! system, retries with backoff, cursor pagination and the access log. It is configured only
//! from `systems.yaml` and the pipeline files.

mod access_log;
mod budget;
mod client;
mod error;
mod oauth;
mod retry;
pub mod sealed;

pub use access_log::{AccessLog, path_template};
pub use budget::RateBudget;
pub use client::{RestClient, http_client};
pub use error::SourceError;
pub use oauth::{TokenManager, transport_kind};
pub use retry::{Backoff, parse_retry_after};
pub(crate) use retry::{RetryingCall, call_with_retry};
