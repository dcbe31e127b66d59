//! The end-to-end harness: what a test of the whole system needs, black box. The real `runner`
//! binary (built by `cargo test --workspace` beside this crate's tests) runs as a process
//! against the DrChrono and Coda simulators as HTTP servers and a fresh PostgreSQL database of
//! its own; the tests look only at what a user can see: HTTP answers, exit codes, the
//! database and the simulated Coda doc.
//!
//! The database server is `E2E_DATABASE_SERVER`, which `tests/with-postgres` (cargo's test
//! runner here) sets to the server of the tests' `DATABASE_URL` when unset (else
//! `postgres://postgres@127.0.0.1:5432`, trust auth); each [`World`] creates a database there
//! and drops it when it goes.

mod coda;
mod db;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sim::coda::{CodaConfig, CodaHandle, CodaSim};
use sim::drchrono::{DrChronoConfig, DrChronoHandle, DrChronoSim};
use tokio::process::{Child, Command};

pub use coda::Mapping;
pub use db::Db;

/// The secrets the runner and the simulators share in these tests (test values only).
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret";
/// The Deep Cura shared secret.
pub const DEEPCURA_SECRET: &str = "e2e-deepcura-secret";
/// The write-back secret (`X-Coda-Webhook-Secret`).
pub const WRITEBACK_SECRET: &str = "e2e-writeback-secret";
/// The inbound routes' secret.
pub const INBOUND_SECRET: &str = "e2e-inbound-secret";
const CODA_TOKEN: &str = "e2e-coda-token";
const DOC_ID: &str = "doc-e2e";

/// The repository root: `pipelines/`, `mappings/` and `schema/`.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `runner` binary of this build (`target/<profile>/runner`, beside the test's own
/// `deps/` folder).
pub fn runner_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("runner"))
        .expect("the test runs from target/<profile>/deps");
    assert!(
        bin.exists(),
        "{} is missing: run the suite with `cargo test --workspace` (or `cargo build -p runner` first)",
        bin.display()
    );
    bin
}

/// One system under test: simulators, a database, and the runner processes a test starts.
#[derive(Debug)]
pub struct World {
    /// The DrChrono simulator.
    pub drchrono: DrChronoHandle,
    /// The Coda simulator, holding one table per mapping.
    pub coda: CodaHandle,
    /// The test's own database.
    pub db: Db,
    server: Option<(Child, String)>,
}

impl World {
    /// Simulators with `patients` generated patients and the mapped Coda tables, and a fresh
    /// database.
    pub async fn start(patients: usize) -> World {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let drchrono = DrChronoSim::start(DrChronoConfig {
            patients,
            seed: 77,
            ..DrChronoConfig::default()
        })
        .await
        .expect("the DrChrono simulator starts");
        let coda = CodaSim::start(CodaConfig {
            tokens: vec![CODA_TOKEN.into()],
            ..CodaConfig::default()
        })
        .await
        .expect("the Coda simulator starts");
        for m in Mapping::all() {
            m.create_in(coda.state(), DOC_ID);
        }
        let db = Db::create().await;
        World {
            drchrono,
            coda,
            db,
            server: None,
        }
    }

    /// The environment of every runner process: the database and the simulators.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.db.url.clone()),
            ("DRCHRONO_BASE_URL", self.drchrono.url().to_string()),
            ("DRCHRONO_CLIENT_ID", "sim-client-id".into()),
            ("DRCHRONO_CLIENT_SECRET", "sim-client-secret".into()),
            ("DRCHRONO_REFRESH_TOKEN", "sim-refresh-token".into()),
            (
                "TOKEN_ENCRYPTION_KEY",
                "ZmFrZS10ZXN0LWtleS1mb3ItdG9rZW5zLTMyLWJ5dGU=".into(),
            ),
            ("DRCHRONO_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            ("DEEPCURA_SHARED_SECRET", DEEPCURA_SECRET.into()),
            ("CODA_BASE_URL", self.coda.url().to_string()),
            ("CODA_API_TOKEN", CODA_TOKEN.into()),
            ("CODA_DOC_ID", DOC_ID.into()),
            ("CODA_WRITEBACK_SECRET", WRITEBACK_SECRET.into()),
            ("INBOUND_SECRET", INBOUND_SECRET.into()),
            ("RUST_LOG", "runner=info".into()),
        ]
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(runner_bin());
        cmd.arg("--config-dir").arg(repo()).args(args);
        cmd.envs(self.env());
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs `runner <args>` to the end.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .await
            .expect("the runner binary runs")
    }

    /// Runs `runner <args>` and requires exit code 0; returns its standard output.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "runner {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `runner serve` (every role in one process, no scheduler) and waits until it is
    /// ready; returns its base URL.
    pub async fn serve(&mut self) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let listen = format!("127.0.0.1:{port}");
        let child = self
            .command(&["serve", "--listen", &listen, "--no-scheduler"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("runner serve starts");
        let url = format!("http://{listen}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{url}/ready")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "runner serve never got ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.server = Some((child, url.clone()));
        url
    }

    /// Waits until the server has processed every stored delivery and sent every change
    /// event to Coda (and Coda applied it).
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let busy = self
                .db
                .count(
                    "select (select count(*) from inbox where status = 'received') \
                     + (select count(*) from outbox where status in ('pending', 'relayed'))",
                )
                .await;
            let dead = self
                .db
                .count("select count(*) from outbox where status = 'dead'")
                .await;
            assert_eq!(dead, 0, "change events were dead-lettered");
            if busy == 0 {
                self.coda.state().flush_mutations();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{busy} deliveries or events still waiting"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every mapped Coda table equals what its mapping makes of PostgreSQL, cell by cell.
    pub async fn assert_coda_equals_postgres(&self) {
        for m in Mapping::all() {
            m.assert_equal(&self.db, self.coda.state(), DOC_ID).await;
        }
    }

    /// The mapped Coda table `name` (a file stem of `mappings/`).
    pub fn mapping(&self, name: &str) -> Mapping {
        Mapping::all()
            .into_iter()
            .find(|m| m.name == name)
            .with_context(|| format!("no mapping {name}"))
            .unwrap()
    }

    /// The Coda rows of mapping `name`, by column id.
    pub fn coda_rows(&self, name: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.mapping(name).rows(self.coda.state(), DOC_ID)
    }
}
