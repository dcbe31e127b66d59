//! Logging set-up: structured, quiet by default (`RUST_LOG` raises it), JSON with
//! `LOG_FORMAT=json` (Cloud Run). Log lines carry ids and counts, never patient data.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls are no-ops. `default` is the filter used
/// when `RUST_LOG` is unset (for example `warn,runner=info`).
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}
