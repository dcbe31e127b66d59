//! Operating signals: structured logs (Cloud Logging's JSON shape on Cloud Run, compact text
//! on a terminal), the stable names of the operational events that alerts and dashboards
//! filter on ([`events`]), the trace context of a request ([`trace`]) and the Prometheus
//! metrics served on `/metrics` ([`metrics`]). Log lines and metric labels carry ids, names
//! and counts, never patient data.

mod cloud;
pub mod events;
pub mod metrics;
pub mod trace;

pub use cloud::CloudLogging;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line in Cloud Logging's structured shape.
    Json,
    /// Compact human-readable lines.
    Text,
}

impl LogFormat {
    /// `LOG_FORMAT=json|text` when set; otherwise JSON on Cloud Run (where `K_SERVICE` is
    /// set) and text elsewhere.
    pub fn from_env() -> Self {
        Self::choose(
            std::env::var("LOG_FORMAT").ok().as_deref(),
            std::env::var_os("K_SERVICE").is_some(),
        )
    }

    fn choose(explicit: Option<&str>, on_cloud_run: bool) -> Self {
        match explicit.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            _ if on_cloud_run => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// The GCP project that trace ids belong to (`GOOGLE_CLOUD_PROJECT`), if known.
pub fn project_from_env() -> Option<String> {
    std::env::var("GOOGLE_CLOUD_PROJECT")
        .ok()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
}

/// Installs the global subscriber once; later calls are no-ops. `default` is the filter used
/// when `RUST_LOG` is unset (for example `warn,runner=info`). Logs go to standard error, so a
/// command's own output on standard output stays clean.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second call finds a subscriber installed and changes nothing.
    match LogFormat::from_env() {
        LogFormat::Json => {
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(CloudLogging::new(std::io::stderr, project_from_env()))
                .try_init();
        }
        LogFormat::Text => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .compact()
                .try_init();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_the_default_on_cloud_run_and_an_explicit_choice_wins() {
        assert_eq!(LogFormat::choose(None, false), LogFormat::Text);
        assert_eq!(LogFormat::choose(None, true), LogFormat::Json);
        assert_eq!(LogFormat::choose(Some("json"), false), LogFormat::Json);
        assert_eq!(LogFormat::choose(Some("text"), true), LogFormat::Text);
        assert_eq!(LogFormat::choose(Some("bogus"), true), LogFormat::Json);
    }
}
