//! Configuration of the Coda simulator: API tokens, the asynchronous apply delay, body size,
//! paging, rate limits and fault injection. Durations cross JSON as milliseconds (`*_ms`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Everything [`super::CodaSim::start`] needs.
#[derive(Clone)]
pub struct CodaConfig {
    /// Address to bind. Default `127.0.0.1:0` (an ephemeral port).
    pub listen: SocketAddr,
    /// API tokens accepted as `Authorization: Bearer <token>`. Default `["sim-coda-token"]`.
    pub tokens: Vec<String>,
    /// Seed of generated row ids, request ids and page tokens. Default 1.
    pub seed: u64,
    /// How long an accepted mutation waits before it is applied. Default 50 ms; zero applies
    /// it before the 202 is sent, so `mutationStatus` is `completed: true` at once.
    pub apply_delay: Duration,
    /// Largest accepted request body; larger ones get 413. Default 2 MiB (community lore; the
    /// spec declares no limit).
    pub max_body_bytes: usize,
    /// Rate limits; `None` disables throttling entirely.
    pub rate_limit: Option<RateLimitConfig>,
    /// Fault injection; the default injects nothing.
    pub faults: FaultConfig,
    /// Base of absolute `href`/`nextPageLink` URLs; default `http://<bound address>`.
    pub public_url: Option<String>,
}

impl Default for CodaConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: vec![DEFAULT_TOKEN.to_owned()],
            seed: 1,
            apply_delay: Duration::from_millis(50),
            max_body_bytes: 2 * 1024 * 1024,
            rate_limit: Some(RateLimitConfig::default()),
            faults: FaultConfig::default(),
            public_url: None,
        }
    }
}

/// The token accepted by a default configuration.
pub const DEFAULT_TOKEN: &str = "sim-coda-token";

impl std::fmt::Debug for CodaConfig {
    // Tokens are redacted so a logged config never leaks them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodaConfig")
            .field("listen", &self.listen)
            .field("tokens", &format!("<{} redacted>", self.tokens.len()))
            .field("seed", &self.seed)
            .field("apply_delay", &self.apply_delay)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// How a rate-limit window is counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// A sliding log: at most `limit` requests within any `window`. The stricter reading of
    /// "10 requests per 6 seconds", so a client that passes it passes a fixed window too.
    #[default]
    Rolling,
    /// Budgets reset at multiples of `window` since the limiter was (re)configured.
    Fixed,
}

/// Coda's per-token limits: one budget for reads (every `GET`) and one for writes (`POST`,
/// `PUT` and `DELETE` on rows). Throttled requests do not use up budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Reads allowed per window and token; `None` leaves reads unlimited. Default 100.
    pub reads: Option<u32>,
    /// Writes allowed per window and token; `None` leaves writes unlimited. Default 10.
    pub writes: Option<u32>,
    /// The window of both budgets. Default 6 seconds.
    #[serde(rename = "window_ms", with = "crate::millis")]
    pub window: Duration,
    /// Rolling (default) or fixed windows.
    pub mode: WindowMode,
    /// Add `Retry-After: <seconds>` to 429 responses. Default false: the spec names none.
    pub retry_after: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            reads: Some(100),
            writes: Some(10),
            window: Duration::from_secs(6),
            mode: WindowMode::Rolling,
            retry_after: false,
        }
    }
}

/// Seeded 5xx injection on API requests (not `/_sim/`). Each request that passes auth and the
/// rate limits draws one number from a splitmix64 stream, so the failures are a pure function
/// of the seed and the request sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Seed of the fault stream. Setting a new config restarts the stream. Default 0.
    pub seed: u64,
    /// Probability in `[0, 1]` that a request fails before it is processed. Default 0.
    pub error_rate: f64,
    /// The status of injected failures (500–599). Default 500.
    pub error_status: u16,
    /// Only requests under these tables (`/docs/{docId}/tables/{tableIdOrName}...`, as written
    /// in the path) draw faults: a one-table outage. Empty (the default): every request.
    pub tables: Vec<String>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            error_rate: 0.0,
            error_status: 500,
            tables: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_json_uses_millisecond_fields_and_rejects_typos() {
        let c: RateLimitConfig =
            serde_json::from_str(r#"{"writes": 2, "window_ms": 500, "mode": "fixed"}"#)
                .expect("parse");
        assert_eq!(c.window, Duration::from_millis(500));
        assert_eq!(c.reads, Some(100));
        assert_eq!(c.mode, WindowMode::Fixed);
        assert!(serde_json::from_str::<RateLimitConfig>(r#"{"write": 2}"#).is_err());
    }

    #[test]
    fn debug_redacts_tokens() {
        let text = format!("{:?}", CodaConfig::default());
        assert!(!text.contains(DEFAULT_TOKEN));
    }
}
