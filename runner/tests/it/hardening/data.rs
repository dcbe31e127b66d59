//! Data PostgreSQL cannot hold: a NUL character in a listed record, a webhook and a Deep Cura
//! note; a record PostgreSQL refuses, isolated in the quarantine while the rest is written.

use axum::http::StatusCode;
use runner::server::router;
use serde_json::{Value, json};
use sim::data::Resource;
use sim::webhooks::{DeepCuraGridhooks, DrChronoWebhooks, note_for_appointment};
use sqlx::PgPool;

use super::{opts, state, sync};
use crate::common;
use crate::webhooks::support::{SECRET, call, drain};

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_nul_in_a_listed_record_is_removed_and_stops_nothing(pool: PgPool) {
    let sim = common::drchrono(5).await;
    let plan = common::plan(sim.url());
    let id = sim.state().records(Resource::Patients)[2]["id"].clone();
    sim.state()
        .update_record(Resource::Patients, &id, json!({"first_name": "An\u{0}na"}))
        .unwrap();
    let r = sync(&pool, &plan, "patients", &opts()).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.counts.inserted, 5, "every patient of the page is written");
    let name: String = sqlx::query_scalar("select first_name from patients where drchrono_id = $1")
        .bind(id.as_i64().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(name, "Anna");
    let cursor: Option<String> =
        sqlx::query_scalar("select cursor_value from sync_cursors where pipeline = 'patients'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(cursor.is_some(), "the cursor moved on");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_nul_in_a_webhook_or_a_gridhook_is_stored_as_received_and_written(pool: PgPool) {
    let clinic = crate::webhooks::support::clinic();
    let plan = crate::webhooks::support::plan();
    let st = state(&pool, plan);
    let app = router(st.clone());
    let mut patient = clinic.records(Resource::Patients)[0].clone();
    patient["last_name"] = json!("O\u{0}Brien");
    let mut hooks = DrChronoWebhooks::new(SECRET, 3);
    let (status, body) = call(&app, &hooks.deliver("PATIENT_MODIFY", patient.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    drain(&st).await;
    let (raw, name): (Vec<u8>, String) = sqlx::query_as(
        "select i.body, p.last_name from inbox i, patients p where i.source = 'drchrono'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&raw).contains("\\u0000"),
        "the body is kept as received"
    );
    assert_eq!(name, "OBrien");

    let appt = clinic.records(Resource::Appointments)[0].clone();
    let mut note = note_for_appointment(&appt, 5);
    note["soap"]["subjective"] = json!("Slept\u{0} well.");
    let mut gridhooks = DeepCuraGridhooks::new("test-deepcura-secret", 9);
    let (status, body) = call(&app, &gridhooks.send(&note)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let subjective: String = sqlx::query_scalar("select subjective from deepcura_notes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(subjective, "Slept well.");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_record_postgresql_refuses_is_quarantined_while_its_page_is_written(pool: PgPool) {
    let sim = common::drchrono(6).await;
    let plan = common::plan(sim.url());
    sync(&pool, &plan, "providers", &opts()).await;
    sync(&pool, &plan, "patients", &opts()).await;
    // A value PostgreSQL refuses (here a constraint stands in for any refusal of the data).
    sqlx::query("alter table medications add constraint test_refuses check (name <> 'POISON')")
        .execute(&pool)
        .await
        .unwrap();
    let meds = sim.state().records(Resource::Medications);
    let bad_id = meds[1]["id"].clone();
    sim.state()
        .update_record(Resource::Medications, &bad_id, json!({"name": "POISON"}))
        .unwrap();
    let logs = crate::common::LogCapture::json();
    let r = sync(&pool, &plan, "medications", &opts()).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.quarantined, 1);
    assert_eq!(
        r.counts.inserted as usize,
        meds.len() - 1,
        "the rest is written"
    );
    let q: Vec<(String, String, Value)> = sqlx::query_as(
        "select record_key, reason, record from quarantine where resolved_at is null",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0, bad_id.to_string());
    assert!(q[0].1.contains("23514"), "{}", q[0].1);
    assert!(!q[0].1.contains("POISON"), "no value in the reason");
    let ev = logs.events(runner::telemetry::events::RECORD_QUARANTINED);
    assert_eq!(ev.len(), 1);
    assert!(!logs.text().contains("POISON"));
    // Health and verify show what waits.
    let (_, _, health) = common::get(router(state(&pool, plan.clone())), "/health").await;
    assert!(health.contains("\"open\":1"), "{health}");
    let client = runner::source::RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let v =
        runner::sync::verify::verify(&pool, &client, &plan, plan.pipeline("medications").unwrap())
            .await;
    assert_eq!(v.quarantined, 1);

    // Fixed (the refusal lifted): the replay writes it and resolves the entry.
    sqlx::query("alter table medications drop constraint test_refuses")
        .execute(&pool)
        .await
        .unwrap();
    let replay = runner::sync::quarantine::replay(&pool, &plan, &[])
        .await
        .unwrap();
    assert_eq!((replay.resolved, replay.failed.len()), (1, 0));
    assert_eq!(
        common::count(&pool, "select count(*) from medications").await as usize,
        meds.len()
    );
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from quarantine where resolved_at is null"
        )
        .await,
        0
    );
}
