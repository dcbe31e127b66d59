//! The connection pool.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Maximum number of open connections. Default 10.
    pub max_connections: u32,
    /// How long to wait for a free connection before failing. Default 10 seconds.
    pub acquire_timeout_secs: u64,
    /// The `application_name` PostgreSQL shows in `pg_stat_activity`. Default `runner`.
    pub application_name: String,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout_secs: 10,
            application_name: "runner".to_owned(),
        }
    }
}

/// Opens a pool with [`PoolSettings::default`] and checks that the server answers.
pub async fn connect(database_url: &str) -> Result<PgPool, StoreError> {
    connect_with(database_url, &PoolSettings::default()).await
}

/// Opens a pool with the given settings and checks that the server answers.
pub async fn connect_with(
    database_url: &str,
    settings: &PoolSettings,
) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = database_url.parse().map_err(StoreError::InvalidUrl)?;
    let options = options.application_name(&settings.application_name);
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        .connect_with(options)
        .await
        .map_err(|e| StoreError::from_sqlx("connect to PostgreSQL", e))
}
