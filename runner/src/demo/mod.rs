//! `runner demo`: the whole flow on one machine, for a newcomer. The DrChrono, Deep Cura and
//! Coda simulators run in-process with generated (obviously fake) data; a fresh demo database
//! is migrated; the server starts; every pipeline backfills; a burst of DrChrono webhooks and
//! Deep Cura gridhooks arrives (one note before its clinical note); everything is pushed to
//! Coda; a summary is printed. The same code paths as production run against the simulators.

mod coda;
mod summary;
mod throwaway;
mod traffic;

pub use coda::create_tables;
pub use summary::Summary;
pub use throwaway::Throwaway;
pub use traffic::FromPeople;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sim::coda::{CodaConfig, CodaHandle, CodaSim};
use sim::drchrono::{DrChronoConfig, DrChronoHandle, DrChronoSim};
use sqlx::PgPool;

use crate::app::AppState;
use crate::config::{Env, EnvMode, Plan};
use crate::sync::{Progress, SyncOptions, run_pipeline};

/// Secrets the demo's simulators and server share (demo values, not real ones).
const WEBHOOK_SECRET: &str = "demo-webhook-secret";
const DEEPCURA_SECRET: &str = "demo-deepcura-secret";
const INBOUND_SECRET: &str = "demo-inbound-secret";
const WRITEBACK_SECRET: &str = "demo-writeback-secret";
const CODA_TOKEN: &str = "demo-coda-token";
const DOC_ID: &str = "doc-demo";

/// The running demo: simulators, database and server state.
#[derive(Debug)]
pub struct Demo {
    /// The DrChrono simulator.
    pub drchrono: DrChronoHandle,
    /// The Coda simulator.
    pub coda: CodaHandle,
    /// Server state (plan, pool, clients).
    pub state: AppState,
    /// When the demo started.
    pub started: Instant,
}

/// The environment the shipped `systems.yaml` reads, pointed at the simulators.
pub fn env(drchrono_url: &str, coda_url: &str) -> Env {
    let vars = [
        ("DRCHRONO_BASE_URL", drchrono_url),
        ("DRCHRONO_CLIENT_ID", "sim-client-id"),
        ("DRCHRONO_CLIENT_SECRET", "sim-client-secret"),
        ("DRCHRONO_REFRESH_TOKEN", "sim-refresh-token"),
        // A fixed, obviously fake key that seals the stored tokens.
        (
            "TOKEN_ENCRYPTION_KEY",
            "ZmFrZS10ZXN0LWtleS1mb3ItdG9rZW5zLTMyLWJ5dGU=",
        ),
        ("DRCHRONO_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("DEEPCURA_SHARED_SECRET", DEEPCURA_SECRET),
        ("CODA_BASE_URL", coda_url),
        ("CODA_API_TOKEN", CODA_TOKEN),
        ("CODA_DOC_ID", DOC_ID),
        ("CODA_WRITEBACK_SECRET", WRITEBACK_SECRET),
        ("INBOUND_SECRET", INBOUND_SECRET),
    ];
    Env::Map(
        vars.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
}

impl Demo {
    /// Starts the simulators (with DrChrono's and Coda's real rate limits), creates a fresh
    /// database at `database_url` and loads the config under `dir`.
    pub async fn start(dir: &Path, database_url: &str, patients: usize) -> anyhow::Result<Demo> {
        let started = Instant::now();
        let drchrono = DrChronoSim::start(DrChronoConfig {
            patients,
            seed: 2026,
            ..DrChronoConfig::default()
        })
        .await?;
        let coda = CodaSim::start(CodaConfig {
            tokens: vec![CODA_TOKEN.into()],
            ..CodaConfig::default()
        })
        .await?;
        let (plan, _) = Plan::load(dir, &env(drchrono.url(), coda.url()), EnvMode::Strict)
            .map_err(|d| anyhow::anyhow!("config invalid:\n{d}"))?;
        create_tables(coda.state(), &plan);
        let pool = fresh_database(database_url).await?;
        let state = AppState::new(pool, Arc::new(plan));
        Ok(Demo {
            drchrono,
            coda,
            state,
            started,
        })
    }

    /// Runs every pipeline with a list endpoint, in dependency order.
    pub async fn backfill(&self, progress: &dyn Progress) -> anyhow::Result<()> {
        let plan = &self.state.plan;
        let opts = SyncOptions {
            trigger: "demo".into(),
            ..SyncOptions::default()
        };
        for p in plan
            .pipelines
            .iter()
            .filter(|p| p.file.source.endpoint.is_some())
        {
            let r = run_pipeline(
                &self.state.pool,
                &self.state.drchrono,
                plan,
                p,
                &opts,
                progress,
            )
            .await;
            if let Some(e) = r.error {
                anyhow::bail!("backfill of {} failed: {e}", r.pipeline);
            }
            println!(
                "   {:<20} {:>6} records in {:>3} pages -> {} rows inserted",
                r.pipeline, r.records, r.pages, r.counts.inserted
            );
        }
        Ok(())
    }

    /// Sends the webhook and gridhook burst to the server at `server_url` and waits until the
    /// inbox has processed it.
    pub async fn traffic(&self, server_url: &str) -> anyhow::Result<traffic::Sent> {
        let sent = traffic::send(self, server_url).await?;
        wait_until(Duration::from_secs(60), || async {
            let pending: i64 =
                sqlx::query_scalar("select count(*) from inbox where status = 'received'")
                    .fetch_one(&self.state.pool)
                    .await
                    .unwrap_or(1);
            pending == 0
        })
        .await
        .context("the inbox did not drain")?;
        Ok(sent)
    }
}

/// Sends what people send back (questionnaires, a write-back from Coda) to the server at
/// `server_url`, as staff member `staff`.
pub async fn traffic_from_people(
    demo: &Demo,
    server_url: &str,
    staff: &str,
) -> anyhow::Result<FromPeople> {
    traffic::from_people(demo, server_url, staff).await
}

/// Whether a PostgreSQL server answers for `url` within a few seconds.
pub async fn reachable(url: &str) -> bool {
    use sqlx::Connection as _;
    let Some((server, _)) = url.rsplit_once('/') else {
        return false;
    };
    let connect = sqlx::PgConnection::connect(&format!("{server}/postgres"));
    matches!(
        tokio::time::timeout(Duration::from_secs(3), connect).await,
        Ok(Ok(_))
    )
}

/// Drops and recreates the database, then migrates it.
async fn fresh_database(url: &str) -> anyhow::Result<PgPool> {
    let (server, name) = url
        .rsplit_once('/')
        .context("DATABASE_URL has no database name")?;
    let name = name.split('?').next().unwrap_or(name);
    let name = crate::store::Ident::new(name)
        .context("the demo database name must be lower-case letters, digits and underscores")?;
    let admin = crate::store::connect(&format!("{server}/postgres"))
        .await
        .context("cannot connect to PostgreSQL")?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&admin)
        .await?;
    admin.close().await;
    let pool = crate::store::connect(url).await?;
    crate::store::run_migrations(&pool).await?;
    Ok(pool)
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("timed out after {}s", limit.as_secs())
}
