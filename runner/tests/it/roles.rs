//! Each role of the GCP topology under its least-privilege database role, as Cloud Run runs
//! it (a login user that is a member of `clinical_sync` or `clinical_writeback`): everything
//! the role does works, and no statement is refused for lack of a privilege. (The push role's
//! test sits with the Pub/Sub receiver's.)

use std::sync::Arc;

use axum::http::StatusCode;
use runner::pubsub::{Auth, Publisher, relay_once};
use runner::server::{AppState, router};
use runner::store::Ident;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use sim::data::Resource;
use sim::pubsub::PubsubSim;
use sim::webhooks::DrChronoWebhooks;
use sqlx::PgPool;

use crate::common::{self, LogCapture, get};
use crate::webhooks::support::{SECRET, call};

/// A login user of the test's database that is a member of `role`; the returned pool
/// connects as it. The user is dropped when the test ends (roles are cluster-wide).
async fn login(pool: &PgPool, role: &str) -> (PgPool, Ident) {
    let db = common::database_name(pool).await;
    let name = common::login_name(&db, role);
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("drop role if exists {name}")))
        .execute(pool)
        .await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create role {name} login in role {role}"
    )))
    .execute(pool)
    .await
    .unwrap();
    let as_role = PgPool::connect(&format!("postgres://{}@127.0.0.1:5432/{db}", name.as_str()))
        .await
        .unwrap();
    (as_role, name)
}

async fn drop_login(pool: &PgPool, as_role: PgPool, name: &Ident) {
    as_role.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop role {name}")))
        .execute(pool)
        .await
        .unwrap();
}

fn assert_no_privilege_error(logs: &LogCapture) {
    for line in logs.text().lines() {
        assert!(
            !line.contains("42501") && !line.contains("permission denied"),
            "a statement lacked a privilege: {line}"
        );
    }
}

async fn reports_are_served(app: axum::Router) {
    for path in ["/ready", "/health", "/metrics"] {
        let (status, _, body) = get(app.clone(), path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_sync_role_receives_syncs_relays_and_reports_under_clinical_sync(pool: PgPool) {
    let sim = common::drchrono(4).await;
    let plan = common::plan(sim.url());
    let (as_sync, name) = login(&pool, "clinical_sync").await;
    let logs = LogCapture::json();
    let opts = SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    let st = AppState::new(as_sync.clone(), Arc::new(plan.clone()));
    for p in ["providers", "patients", "medications"] {
        let r = run_pipeline(
            &as_sync,
            &st.drchrono,
            &plan,
            plan.pipeline(p).unwrap(),
            &opts,
            &NoProgress,
        )
        .await;
        assert!(r.error.is_none(), "{p}: {:?}", r.error);
    }
    // A webhook, stored and processed; a medication one re-reads its record first.
    let mut hooks = DrChronoWebhooks::new(SECRET, 8);
    let patient = sim.state().records(Resource::Patients)[0].clone();
    let med = sim.state().records(Resource::Medications)[0].clone();
    let app = router(st.clone());
    for (event, object) in [
        ("PATIENT_MODIFY", patient),
        ("PATIENT_MEDICATION_MODIFY", med),
    ] {
        let (status, body) = call(&app, &hooks.deliver(event, object)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    runner::ingest::refetch_pending(&as_sync, &plan, &st.drchrono)
        .await
        .unwrap();
    let drained = runner::ingest::process_pending(&as_sync, &plan, None)
        .await
        .unwrap();
    assert_eq!((drained.processed, drained.failed), (2, 0));
    // The outbox relay to Pub/Sub.
    let pubsub = PubsubSim::start().await.unwrap();
    let publisher = Publisher::new(
        pubsub.url(),
        "clinic",
        "changes",
        Auth::None,
        Some(as_sync.clone()),
    );
    let pass = relay_once(&as_sync, &publisher, 100, "test").await.unwrap();
    assert!(pass.published > 0 && pass.failed == 0, "{pass:?}");
    // Its daily retention.
    let r =
        runner::retention::run_once(&as_sync, &plan.systems.retention, None, chrono::Utc::now())
            .await
            .unwrap();
    assert!(r.archive_skipped.is_some());
    reports_are_served(app).await;
    assert_no_privilege_error(&logs);
    drop_login(&pool, as_sync, &name).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_api_role_reports_and_runs_retention_under_clinical_writeback(pool: PgPool) {
    let plan = common::plan("http://127.0.0.1:9");
    let (as_api, name) = login(&pool, "clinical_writeback").await;
    let logs = LogCapture::json();
    let st = AppState::new(as_api.clone(), Arc::new(plan.clone()));
    reports_are_served(router(st)).await;
    runner::retention::run_once(&as_api, &plan.systems.retention, None, chrono::Utc::now())
        .await
        .unwrap();
    assert_no_privilege_error(&logs);
    drop_login(&pool, as_api, &name).await;
}
