//! Helpers shared by the webhook, Deep Cura and replay tests: the shipped plan and state, a
//! generated clinic whose records are webhook objects, in-process calls, and a log capture
//! that proves no patient data is logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use runner::config::Plan;
use runner::server::AppState;
use serde_json::Value;
use sim::data::Resource;
use sim::drchrono::{DrChronoConfig, DrChronoState};
use sim::webhooks::WebhookRequest;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::common;

pub const SECRET: &str = "test-webhook-secret";

/// The shipped plan (DrChrono is never called by these tests).
pub fn plan() -> Plan {
    common::plan("http://127.0.0.1:9")
}

pub fn state(pool: &PgPool, plan: Plan) -> AppState {
    AppState::new(pool.clone(), Arc::new(plan))
}

/// A generated clinic, not served: its records are the webhook objects.
pub fn clinic() -> DrChronoState {
    DrChronoState::new(&DrChronoConfig {
        patients: 3,
        seed: 11,
        ..DrChronoConfig::default()
    })
}

pub fn first_patient(clinic: &DrChronoState) -> Value {
    clinic
        .records(Resource::Patients)
        .into_iter()
        .next()
        .expect("a patient")
}

/// Sends `req` through the router in-process; returns the status and the JSON body.
pub async fn call(app: &Router, req: &WebhookRequest) -> (StatusCode, Value) {
    let res = app
        .clone()
        .oneshot(req.to_http())
        .await
        .expect("infallible");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub async fn inbox(pool: &PgPool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as("select source, status, error from inbox order by id")
        .fetch_all(pool)
        .await
        .expect("inbox")
}

pub async fn drain(state: &AppState) -> runner::ingest::DrainReport {
    runner::ingest::process_pending(&state.pool, &state.plan, None)
        .await
        .expect("drain")
}

/// Everything logged on this thread while it lives (the test runtime is single-threaded, so
/// that covers the server's tasks too).
pub struct LogCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

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

impl LogCapture {
    pub fn start() -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        LogCapture {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().expect("log buffer")).into_owned()
    }

    /// Fails when any line contains one of `secrets` (values that are patient data).
    pub fn assert_free_of(&self, secrets: &[String]) {
        let text = self.text();
        for line in text.lines() {
            for s in secrets.iter().filter(|s| s.len() >= 4) {
                assert!(!line.contains(s.as_str()), "log line leaks {s:?}: {line}");
            }
        }
    }
}

/// Name and birth date of a generated patient: what must never be logged.
pub fn phi_of(patient: &Value) -> Vec<String> {
    [
        "first_name",
        "last_name",
        "date_of_birth",
        "email",
        "address",
    ]
    .iter()
    .filter_map(|k| patient[*k].as_str().map(str::to_owned))
    .collect()
}
