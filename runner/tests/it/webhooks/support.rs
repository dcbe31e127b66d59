//! Helpers shared by the webhook, Deep Cura and replay tests: the shipped plan and state, a
//! generated clinic whose records are webhook objects, in-process calls, and a log capture
//! that proves no patient data is logged.

use std::sync::Arc;

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
pub(crate) use crate::common::LogCapture;

pub(crate) const SECRET: &str = "test-webhook-secret";

/// The shipped plan (DrChrono is never called by these tests).
pub(crate) fn plan() -> Plan {
    common::plan("http://127.0.0.1:9")
}

pub(crate) fn state(pool: &PgPool, plan: Plan) -> AppState {
    AppState::new(pool.clone(), Arc::new(plan))
}

/// A generated clinic, not served: its records are the webhook objects.
pub(crate) fn clinic() -> DrChronoState {
    DrChronoState::new(&DrChronoConfig {
        patients: 3,
        seed: 11,
        ..DrChronoConfig::default()
    })
}

pub(crate) fn first_patient(clinic: &DrChronoState) -> Value {
    clinic
        .records(Resource::Patients)
        .into_iter()
        .next()
        .expect("a patient")
}

/// Sends `req` through the router in-process; returns the status and the JSON body.
pub(crate) async fn call(app: &Router, req: &WebhookRequest) -> (StatusCode, Value) {
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

pub(crate) async fn inbox(pool: &PgPool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as("select source, status, error from inbox order by id")
        .fetch_all(pool)
        .await
        .expect("inbox")
}

pub(crate) async fn drain(state: &AppState) -> runner::ingest::DrainReport {
    runner::ingest::process_pending(&state.pool, &state.plan, None)
        .await
        .expect("drain")
}

/// Name and birth date of a generated patient: what must never be logged.
pub(crate) fn phi_of(patient: &Value) -> Vec<String> {
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
