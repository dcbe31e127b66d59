//! Configuration of the DrChrono simulator: data, OAuth credentials, paging, rate limits and
//! fault injection. Durations cross JSON as milliseconds (`*_ms` fields).

use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Everything [`super::DrChronoSim::start`] needs.
#[derive(Clone)]
pub struct DrChronoConfig {
    /// Address to bind. Default `127.0.0.1:0` (an ephemeral port).
    pub listen: SocketAddr,
    /// Seed of the generated clinic (and of token values). Default 1.
    pub seed: u64,
    /// Number of generated patients. Default 50.
    pub patients: usize,
    /// Anchor date of the generated data; default today (UTC). Fix it for byte-stable data.
    pub anchor: Option<NaiveDate>,
    /// OAuth client id accepted by `/o/token/`. Default `sim-client-id`.
    pub client_id: String,
    /// OAuth client secret accepted by `/o/token/`. Default `sim-client-secret`.
    pub client_secret: String,
    /// The initially valid refresh token. Default `sim-refresh-token`.
    pub refresh_token: String,
    /// A single-use code for `grant_type=authorization_code`. Default `sim-auth-code`.
    pub authorization_code: Option<String>,
    /// An access token valid from start-up (for tests that skip OAuth). Default none.
    pub access_token: Option<String>,
    /// Lifetime of issued access tokens (`expires_in`). Default 48 hours, as DrChrono.
    pub access_token_ttl: Duration,
    /// The `scope` string returned with tokens.
    pub scope: String,
    /// Rate limits; `None` disables throttling entirely (for benchmarks).
    pub rate_limit: Option<RateLimitConfig>,
    /// Fault injection; the default injects nothing.
    pub faults: FaultConfig,
    /// `page_size` when the client sends none. Default 100 (DrChrono's is undocumented).
    pub default_page_size: usize,
    /// Base of the absolute `next`/`previous` URLs; default `http://<bound address>`.
    pub public_url: Option<String>,
}

impl Default for DrChronoConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 1,
            patients: 50,
            anchor: None,
            client_id: "sim-client-id".into(),
            client_secret: "sim-client-secret".into(),
            refresh_token: "sim-refresh-token".into(),
            authorization_code: Some("sim-auth-code".into()),
            access_token: None,
            access_token_ttl: Duration::from_secs(48 * 3600),
            scope: "user:read patients:read calendar:read clinical:read billing:read".into(),
            rate_limit: Some(RateLimitConfig::default()),
            faults: FaultConfig::default(),
            default_page_size: 100,
            public_url: None,
        }
    }
}

impl std::fmt::Debug for DrChronoConfig {
    // Secrets are redacted so a logged config never leaks them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrChronoConfig")
            .field("listen", &self.listen)
            .field("seed", &self.seed)
            .field("patients", &self.patients)
            .field("anchor", &self.anchor)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("access_token_ttl", &self.access_token_ttl)
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("default_page_size", &self.default_page_size)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// DrChrono's two throttles: an hourly budget per application that resets at the top of the
/// hour (not rolling), and a burst limit over a short sliding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests allowed per hour window; `None` disables the hourly budget. Default 500.
    pub hourly: Option<u32>,
    /// Length of the "hour"; windows are aligned to multiples of it since the Unix epoch, so
    /// the default (3600 s) resets at the top of each wall-clock hour. Shorten it in tests.
    #[serde(rename = "hour_ms", with = "crate::millis")]
    pub hour: Duration,
    /// Requests allowed within any `burst_window`; `None` disables it. Default 10.
    pub burst: Option<u32>,
    /// The sliding window of the burst limit. Default 1 second.
    #[serde(rename = "burst_window_ms", with = "crate::millis")]
    pub burst_window: Duration,
    /// Add `Retry-After: <seconds>` to 429 responses. Default false: DrChrono sends none.
    pub retry_after: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            hourly: Some(500),
            hour: Duration::from_secs(3600),
            burst: Some(10),
            burst_window: Duration::from_secs(1),
            retry_after: false,
        }
    }
}

/// Seeded fault injection on `/api/*` requests. Each admitted request draws exactly two
/// numbers from a splitmix64 stream, so the faults are a pure function of the seed and the
/// request sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Seed of the fault stream. Setting a new config restarts the stream. Default 0.
    pub seed: u64,
    /// Probability that a request fails with HTTP 500 (an HTML body, as Django serves).
    pub error_rate: f64,
    /// Probability that a request is delayed by `slow_delay` before being served.
    pub slow_rate: f64,
    /// Delay of slow responses. Default 2 seconds.
    #[serde(rename = "slow_delay_ms", with = "crate::millis")]
    pub slow_delay: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            error_rate: 0.0,
            slow_rate: 0.0,
            slow_delay: Duration::from_secs(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_json_uses_millisecond_fields() {
        let c: RateLimitConfig =
            serde_json::from_str(r#"{"hourly": 5, "hour_ms": 2000}"#).expect("parse");
        assert_eq!(c.hour, Duration::from_secs(2));
        assert_eq!(c.burst, Some(10));
        assert!(serde_json::from_str::<RateLimitConfig>(r#"{"hourlyy": 5}"#).is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let text = format!("{:?}", DrChronoConfig::default());
        assert!(!text.contains("sim-client-secret"));
        assert!(!text.contains("sim-refresh-token"));
    }
}
