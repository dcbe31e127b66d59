//! Shared helpers of the integration tests: the shipped config pointed at simulators, and
//! simulator start-up. Quiet unless `TEST_LOG=1`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use runner::config::{Env, EnvMode, Plan};
use serde_json::Value;
use sim::drchrono::{DrChronoConfig, DrChronoHandle, DrChronoSim};

/// The repository root (holds `pipelines/` and `mappings/`).
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Installs a log subscriber when `TEST_LOG` is set.
pub(crate) fn logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("runner=debug")
            .with_test_writer()
            .try_init();
    }
}

/// Environment variables for the shipped `systems.yaml`, pointing at local simulators.
pub(crate) fn env(drchrono_url: &str, coda_url: &str) -> Env {
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
        ("DRCHRONO_WEBHOOK_SECRET", "test-webhook-secret"),
        ("DEEPCURA_SHARED_SECRET", "test-deepcura-secret"),
        ("CODA_BASE_URL", coda_url),
        ("CODA_API_TOKEN", "test-coda-token"),
        ("CODA_DOC_ID", "doc-test"),
        ("CODA_WRITEBACK_SECRET", "test-writeback-secret"),
        ("INBOUND_SECRET", "test-inbound-secret"),
    ];
    Env::Map(
        vars.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// The shipped config with every secret set and DrChrono at `drchrono_url`. Retries are made
/// fast so fault-injection tests finish quickly; everything else is as shipped.
pub(crate) fn plan(drchrono_url: &str) -> Plan {
    let (mut plan, _) = match Plan::load(
        &repo(),
        &env(drchrono_url, "http://127.0.0.1:9"),
        EnvMode::Strict,
    ) {
        Ok(p) => p,
        Err(d) => panic!("shipped config invalid:\n{d}"),
    };
    let retry = &mut plan.systems.drchrono.retry;
    retry.base_delay_ms = 5;
    retry.max_delay_ms = 50;
    retry.floor_ms = 20;
    retry.max_attempts = 12;
    plan
}

/// A DrChrono simulator with `patients` generated patients and no rate limit.
pub(crate) async fn drchrono(patients: usize) -> DrChronoHandle {
    DrChronoSim::start(DrChronoConfig {
        patients,
        rate_limit: None,
        ..DrChronoConfig::default()
    })
    .await
    .expect("sim starts")
}

/// The name of the database a pool is connected to.
pub(crate) async fn database_name(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .expect("current_database")
}

/// A login role name for the test's database: `{db}_{suffix}`, lower-cased and cut to 63
/// bytes as PostgreSQL would cut it (role names are cluster-wide; the database's name keeps
/// them apart).
pub(crate) fn login_name(db: &str, suffix: &str) -> runner::store::Ident {
    let mut name = format!("{db}_{suffix}").to_lowercase();
    name.truncate(63);
    runner::store::Ident::new(&name).expect("a plain lower-case name")
}

/// A `DATABASE_URL` for the database of `pool` (same server as `.env`).
pub(crate) async fn database_url(pool: &sqlx::PgPool) -> String {
    format!(
        "postgres://postgres@127.0.0.1:5432/{}",
        database_name(pool).await
    )
}

/// Counts rows of a table.
pub(crate) async fn count(pool: &sqlx::PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// [`plan`] with Coda at `coda_url` too, and fast Coda retries.
pub(crate) fn plan_with(drchrono_url: &str, coda_url: &str) -> Plan {
    let mut plan = plan(drchrono_url);
    plan.systems.coda.base_url = coda_url.to_string();
    let retry = &mut plan.systems.coda.retry;
    retry.base_delay_ms = 5;
    retry.max_delay_ms = 50;
    retry.floor_ms = 20;
    retry.max_attempts = 12;
    plan
}

/// The token the test config sends to Coda (`CODA_API_TOKEN`).
pub(crate) const CODA_TOKEN: &str = "test-coda-token";

/// A Coda simulator accepting the test token, with Coda's real limits (10 writes and 100
/// reads per 6 s), holding one table per mapping of `plan` (mapped columns, none calculated)
/// in the plan's doc.
pub(crate) async fn coda_for(plan: &Plan) -> sim::coda::CodaHandle {
    let coda = sim::coda::CodaSim::start(sim::coda::CodaConfig {
        tokens: vec![CODA_TOKEN.to_string()],
        ..sim::coda::CodaConfig::default()
    })
    .await
    .expect("coda sim starts");
    runner::demo::create_tables(coda.state(), plan);
    coda
}

/// Everything logged on this thread while it lives (a test runtime is single-threaded, so that
/// covers the server's tasks too): as text with [`LogCapture::start`], or as the Cloud Logging
/// JSON lines of production with [`LogCapture::json`].
pub(crate) struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Sink {
    type Writer = Sink;
    fn make_writer(&'a self) -> Sink {
        self.clone()
    }
}

impl LogCapture {
    /// Human-readable lines, every level.
    pub(crate) fn start() -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(Sink(buf.clone()))
            .finish();
        LogCapture {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Cloud Logging JSON lines (as with `LOG_FORMAT=json`), every level, for project `test`.
    pub(crate) fn json() -> Self {
        Self::json_filtered("trace")
    }

    /// [`LogCapture::json`] with an `EnvFilter` directive (e.g. `runner=trace,warn`).
    pub(crate) fn json_filtered(filter: &str) -> Self {
        use tracing_subscriber::layer::SubscriberExt as _;
        let buf = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(filter))
            .with(runner::telemetry::CloudLogging::new(
                Sink(buf.clone()),
                Some("test".into()),
            ));
        LogCapture {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().expect("log buffer")).into_owned()
    }

    /// The JSON lines (of a [`LogCapture::json`] capture); panics on a line that is not one
    /// JSON object.
    pub(crate) fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| match serde_json::from_str::<Value>(l) {
                Ok(v @ Value::Object(_)) => v,
                _ => panic!("not a JSON object log line: {l}"),
            })
            .collect()
    }

    /// The JSON lines whose `event` is `name`.
    pub(crate) fn events(&self, name: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["event"] == name)
            .collect()
    }

    /// Fails when any line contains one of `secrets` (values that are patient data).
    pub(crate) fn assert_free_of(&self, secrets: &[String]) {
        let text = self.text();
        for line in text.lines() {
            for s in secrets.iter().filter(|s| s.len() >= 4) {
                assert!(!line.contains(s.as_str()), "log line leaks {s:?}: {line}");
            }
        }
    }
}

/// GETs `path` from `app` in-process: status, content type and body text.
pub(crate) async fn get(app: axum::Router, path: &str) -> (axum::http::StatusCode, String, String) {
    use tower::ServiceExt as _;
    let res = app
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ctype, String::from_utf8_lossy(&bytes).into_owned())
}

/// The refresh token stored for `system`, opened with the tests' `TOKEN_ENCRYPTION_KEY` (the
/// column holds it sealed).
pub(crate) async fn stored_refresh_token(pool: &sqlx::PgPool, system: &str) -> String {
    let sealed: String =
        sqlx::query_scalar("select refresh_token from oauth_credentials where system = $1")
            .bind(system)
            .fetch_one(pool)
            .await
            .expect("stored credentials");
    let Env::Map(vars) = env("http://127.0.0.1:9", "http://127.0.0.1:9") else {
        unreachable!("the test env is a map")
    };
    let key = runner::config::secret::Secret::new(vars["TOKEN_ENCRYPTION_KEY"].clone());
    let cipher = runner::source::sealed::TokenCipher::new(&key, &Default::default()).unwrap();
    assert!(sealed.starts_with("v1:"), "the stored token is sealed");
    cipher
        .open(system, &sealed)
        .expect("opens with the test key")
        .0
}

/// A pool on the test's database that has been closed: every query fails as with a database
/// that is down.
pub(crate) async fn closed_pool(pool: &sqlx::PgPool) -> sqlx::PgPool {
    let down = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&database_url(pool).await)
        .await
        .expect("connect");
    down.close().await;
    down
}

/// Runs `sql` (a statement returning one uuid) in a transaction as `actor`, as the audit
/// trigger requires; returns the uuid.
pub(crate) async fn insert_as(pool: &sqlx::PgPool, actor: &str, sql: &'static str) -> uuid::Uuid {
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, actor).await.unwrap();
    let id = sqlx::query_scalar(sql)
        .fetch_one(&mut *tx)
        .await
        .expect(sql);
    tx.commit().await.unwrap();
    id
}
