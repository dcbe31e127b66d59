//! Shared pieces of the benchmark: a throwaway database, the shipped plan pointed at a
//! simulator, timing helpers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use runner::config::{Env, EnvMode, Plan};
use sqlx::PgPool;

/// A database created for this run and dropped at the end.
pub(crate) struct BenchDb {
    pub name: String,
    pub url: String,
    server: String,
    pub pool: PgPool,
}

impl BenchDb {
    pub(crate) async fn create() -> anyhow::Result<Self> {
        let server = std::env::var("BENCH_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let name = format!("bench_sync_{}", std::process::id());
        let url = format!("{server}/{name}");
        runner::store::create_database_if_missing(&url).await?;
        let pool = runner::store::connect(&url).await?;
        runner::store::run_migrations(&pool).await?;
        Ok(BenchDb {
            name,
            url,
            server,
            pool,
        })
    }

    /// Empties the synced tables (and their audit and outbox rows) between measurements.
    pub(crate) async fn reset(&self) -> anyhow::Result<()> {
        sqlx::query("truncate patients, providers, insurance_records, appointments, clinical_notes, line_items, medications, problems, allergies, change_log, outbox, sync_cursors, sync_log, access_log, oauth_credentials cascade")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn drop(self) -> anyhow::Result<()> {
        self.pool.close().await;
        let admin = runner::store::connect(&format!("{}/postgres", self.server)).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists \"{}\" with (force)",
            self.name
        )))
        .execute(&admin)
        .await?;
        Ok(())
    }
}

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn env_vars(drchrono_url: &str) -> BTreeMap<String, String> {
    [
        ("DRCHRONO_BASE_URL", drchrono_url),
        ("DRCHRONO_CLIENT_ID", "sim-client-id"),
        ("DRCHRONO_CLIENT_SECRET", "sim-client-secret"),
        ("DRCHRONO_REFRESH_TOKEN", "sim-refresh-token"),
        // A fixed, obviously fake key that seals the stored tokens.
        (
            "TOKEN_ENCRYPTION_KEY",
            "ZmFrZS10ZXN0LWtleS1mb3ItdG9rZW5zLTMyLWJ5dGU=",
        ),
        ("DRCHRONO_WEBHOOK_SECRET", "bench"),
        ("DEEPCURA_SHARED_SECRET", "bench"),
        ("CODA_BASE_URL", "http://127.0.0.1:9"),
        ("CODA_API_TOKEN", "bench"),
        ("CODA_DOC_ID", "doc-bench"),
        ("CODA_WRITEBACK_SECRET", "bench"),
        ("INBOUND_SECRET", "bench"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
    .collect()
}

/// The shipped plan pointed at a simulator, with the rate budget as shipped.
pub(crate) fn plan(drchrono_url: &str) -> anyhow::Result<Plan> {
    Plan::load(&repo(), &Env::Map(env_vars(drchrono_url)), EnvMode::Strict)
        .map(|(p, _)| p)
        .map_err(|d| anyhow::anyhow!("config invalid:\n{d}"))
}

/// Times `f`, returning its result and the elapsed time.
pub(crate) async fn timed<T, F: std::future::Future<Output = anyhow::Result<T>>>(
    f: F,
) -> anyhow::Result<(T, Duration)> {
    let start = Instant::now();
    let out = f.await?;
    Ok((out, start.elapsed()))
}

pub(crate) fn rate(rows: usize, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64().max(1e-9)
}
