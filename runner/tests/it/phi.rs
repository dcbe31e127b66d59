//! No patient data in any log line, on any path, and every operation in `sync_log`: a sync with a token refresh and a quarantined
//! record, webhooks (one failing mapping) and their replay, a Deep Cura note, a full push and
//! the outbox, the relay to Pub/Sub and the push role's drain of relayed events. Every line is
//! captured as production writes it (Cloud Logging JSON, every level of the runner's own
//! targets) and searched for every name, birth date, email, address, phone number, medication
//! and note text of the simulated clinic.

use std::sync::Arc;

use axum::http::StatusCode;
use runner::pubsub::{Auth, Publisher, relay_once};
use runner::push::{CodaClient, NoPushProgress, OutboxOptions, outbox, push_full, select_mappings};
use runner::server::{AppState, router};
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use serde_json::{Value, json};
use sim::data::Resource;
use sim::pubsub::PubsubSim;
use sim::webhooks::{DeepCuraGridhooks, DrChronoWebhooks, note_for_appointment};
use sqlx::PgPool;

use crate::common::LogCapture;
use crate::webhooks::support::{SECRET, call};

/// Every value of the clinic a log line must never hold.
fn patient_data(sim: &sim::drchrono::DrChronoState, note: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let text = |v: &Value, k: &str| v[k].as_str().map(str::to_owned);
    for p in sim.records(Resource::Patients) {
        for k in [
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "address",
            "cell_phone",
            "home_phone",
        ] {
            out.extend(text(&p, k));
        }
    }
    for m in sim.records(Resource::Medications) {
        out.extend(text(&m, "name"));
    }
    for p in sim.records(Resource::Problems) {
        out.extend(text(&p, "name"));
    }
    out.extend(
        note["soap"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
            .filter_map(|v| v.as_str().map(str::to_owned)),
    );
    // Short values (a state, "Male") say nothing about a patient and appear in ordinary words.
    out.retain(|s| s.len() >= 6);
    out.sort();
    out.dedup();
    out
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn no_patient_data_reaches_any_log_line_on_any_path(pool: PgPool) {
    let w = crate::push::world(6, false).await;
    let logs = LogCapture::json_filtered("runner=trace,warn");
    let opts = SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    // Sync, with an access token that expires on the way (OAuth refresh) and a record that
    // PostgreSQL refuses (quarantine).
    sqlx::query("alter table problems add constraint test_refuses check (icd_code <> 'F99')")
        .execute(&pool)
        .await
        .unwrap();
    let problem = w.drchrono.state().records(Resource::Problems)[0]["id"].clone();
    w.drchrono
        .state()
        .update_record(Resource::Problems, &problem, json!({"icd_code": "F99"}))
        .unwrap();
    let st = AppState::new(pool.clone(), Arc::new(w.plan.clone()));
    for (i, p) in runner::schedule::runnable(&w.plan).enumerate() {
        if i == 2 {
            w.drchrono.state().expire_access_tokens();
        }
        run_pipeline(&pool, &st.drchrono, &w.plan, p, &opts, &NoProgress).await;
    }
    // Webhooks: one that maps, one that does not (failed, then replayed), and a gridhook.
    let app = router(st.clone());
    let mut hooks = DrChronoWebhooks::new(SECRET, 3);
    let mut patient = w.drchrono.state().records(Resource::Patients)[1].clone();
    let (status, _) = call(&app, &hooks.deliver("PATIENT_MODIFY", patient.clone())).await;
    assert_eq!(status, StatusCode::OK);
    patient["date_of_birth"] = json!("31/02/1980");
    let (status, _) = call(&app, &hooks.deliver("PATIENT_MODIFY", patient)).await;
    assert_eq!(status, StatusCode::OK);
    runner::ingest::process_pending(&pool, &w.plan, None)
        .await
        .unwrap();
    runner::ingest::replay(&pool, &w.plan, &runner::ingest::ReplayFilter::default())
        .await
        .unwrap();
    let appt = w.drchrono.state().records(Resource::Appointments)[0].clone();
    let note = note_for_appointment(&appt, 4);
    let mut gridhooks = DeepCuraGridhooks::new("test-deepcura-secret", 5);
    let (status, _) = call(&app, &gridhooks.send(&note)).await;
    assert_eq!(status, StatusCode::OK);
    // A full push and the outbox worker.
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let all = select_mappings(&w.plan, &[], true).unwrap();
    push_full(&pool, &w.plan, &coda, &all, false, &NoPushProgress)
        .await
        .unwrap();
    outbox::drain(&pool, &w.plan, &coda, &OutboxOptions::default(), None)
        .await
        .unwrap();
    // The GCP topology: a change relayed to Pub/Sub, then drained by the push role's worker.
    let changed = w.drchrono.state().records(Resource::Patients)[2].clone();
    let (status, _) = call(&app, &hooks.deliver("PATIENT_MODIFY", changed)).await;
    assert_eq!(status, StatusCode::OK);
    runner::ingest::process_pending(&pool, &w.plan, None)
        .await
        .unwrap();
    let pubsub = PubsubSim::start().await.unwrap();
    let publisher = Publisher::new(
        pubsub.url(),
        "clinic",
        "changes",
        Auth::None,
        Some(pool.clone()),
    );
    let pass = relay_once(&pool, &publisher, 100, "test").await.unwrap();
    assert!(pass.published > 0);
    let relayed = OutboxOptions {
        claim: runner::push::outbox::Claim::Relayed,
        ..OutboxOptions::default()
    };
    outbox::drain(&pool, &w.plan, &coda, &relayed, None)
        .await
        .unwrap();

    let phi = patient_data(w.drchrono.state(), &note);
    assert!(phi.len() > 30, "the search has something to find");
    let text = logs.text();
    assert!(
        text.lines().count() > 20,
        "the paths logged: {}",
        text.lines().count()
    );
    for event in ["sync_finished", "record_quarantined", "inbox_failed"] {
        assert!(text.contains(event), "{event} was logged");
    }
    logs.assert_free_of(&phi);

    // Every operation has its sync_log row, not only pipeline runs.
    let logged: Vec<(String, String)> =
        sqlx::query_as("select distinct pipeline, trigger from sync_log order by 1, 2")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (what, trigger) in [
        ("webhooks", "webhook"),
        ("deepcura", "webhook"),
        ("coda:outbox", "outbox"),
        ("coda:outbox", "pubsub"),
        ("coda:patients", "push"),
    ] {
        assert!(
            logged.iter().any(|(w, t)| w == what && t == trigger),
            "{what}/{trigger} not in sync_log: {logged:?}"
        );
    }
}
