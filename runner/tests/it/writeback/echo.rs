//! No echo loop, counted on the Coda simulator: a write-back whose values Coda already shows
//! makes no Coda write call; one that PostgreSQL normalised (or whose server-set columns the
//! mapping shows) goes back once; and the automation firing again on that push sends the same
//! values, which write nothing and push nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use runner::config::Plan;
use runner::push::CodaClient;
use runner::push::outbox::{self, OutboxOptions};
use runner::server::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{FRONT_DESK, appointment, patch, send};
use crate::common;
use crate::push::{World, assert_equal_only, world};

const INTAKE: &str = "intake_checklists";

async fn staff(pool: &PgPool) {
    common::insert_as(
        pool,
        "admin:setup",
        "insert into staff_roles (email, role, active) \
         values ('front@clinic.test', 'front_desk', true) returning id",
    )
    .await;
}

/// Sends every due change event to Coda; returns the Coda write calls it made.
async fn drain(pool: &PgPool, w: &World) -> u64 {
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let before = w.coda.state().stats().writes;
    let opts = OutboxOptions {
        worker: "echo-test".into(),
        retry_delay: Duration::ZERO,
        idle_poll: Duration::from_millis(20),
        ..OutboxOptions::default()
    };
    outbox::drain(pool, &w.plan, &coda, &opts, None)
        .await
        .unwrap();
    w.coda.state().flush_mutations();
    w.coda.state().stats().writes - before
}

/// A staff member edits the intake row in Coda (what the Coda UI does to the row), keyed on
/// the appointment column like the push.
async fn edit_in_coda(plan: &Plan, cells: &[(&str, Value)]) {
    let m = &plan.mappings[INTAKE];
    let url = format!(
        "{}/docs/{}/tables/{}/rows",
        plan.systems.coda.base_url, plan.systems.coda.doc_id, m.table
    );
    let cells: Vec<Value> = cells
        .iter()
        .map(|(c, v)| json!({"column": c, "value": v}))
        .collect();
    let res = reqwest::Client::new()
        .post(url)
        .bearer_auth(common::CODA_TOKEN)
        .json(&json!({"rows": [{"cells": cells}], "keyColumns": ["c-itkApptRec"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
}

/// A world whose intake mapping leaves out `updated_at`, so what Coda shows is exactly what
/// staff can write.
async fn world_without_server_columns(pool: &PgPool) -> (World, AppState) {
    let mut w = world(2, false).await;
    let m = w.plan.mappings.get_mut(INTAKE).unwrap();
    m.columns
        .retain(|c| c.from.as_deref() != Some("updated_at"));
    w.plan.recompile_mappings().unwrap();
    staff(pool).await;
    let st = AppState::new(pool.clone(), Arc::new(w.plan.clone()));
    (w, st)
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_write_back_that_coda_already_shows_makes_no_coda_write(pool: PgPool) {
    let (w, st) = world_without_server_columns(&pool).await;
    let appt = appointment(&pool).await;
    drain(&pool, &w).await; // the appointment's own event
    let path = format!("/api/intake/{appt}");
    let (status, body) = send(
        &st,
        patch(&path, FRONT_DESK, &json!({"status": "in_progress"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(drain(&pool, &w).await, 1, "a new row goes to Coda once");
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&[INTAKE])).await;

    // Staff tick two boxes in Coda; its automation sends them back.
    edit_in_coda(
        &w.plan,
        &[
            ("c-itkApptRec", json!(appt.to_string())),
            ("c-itkConsent", json!(true)),
            ("c-itkNotes00", json!("Called the patient back.")),
        ],
    )
    .await;
    w.coda.state().flush_mutations();
    let (status, body) = send(
        &st,
        patch(
            &path,
            FRONT_DESK,
            &json!({"consent_signed": true, "notes": "Called the patient back."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(
        drain(&pool, &w).await,
        0,
        "Coda already shows the row as stored"
    );
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&[INTAKE])).await;
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from outbox where status = 'pending'"
        )
        .await,
        0,
        "the event is settled, not left pending"
    );

    // A time with an offset is stored in UTC: the normalised value goes back, once.
    edit_in_coda(
        &w.plan,
        &[
            ("c-itkApptRec", json!(appt.to_string())),
            ("c-itkComplet", json!("2026-11-27T10:00:00+02:00")),
        ],
    )
    .await;
    w.coda.state().flush_mutations();
    let (status, _) = send(
        &st,
        patch(
            &path,
            FRONT_DESK,
            &json!({"completed_at": "2026-11-27T10:00:00+02:00"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drain(&pool, &w).await, 1, "the normalised time goes back");
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&[INTAKE])).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_automation_firing_again_on_the_push_writes_nothing_and_pushes_nothing(pool: PgPool) {
    // The shipped mapping shows `updated_at`: a change goes back once with its new time, and
    // the automation that this push fires sends the same values again.
    let w = world(2, false).await;
    staff(&pool).await;
    let st = AppState::new(pool.clone(), Arc::new(w.plan.clone()));
    let appt = appointment(&pool).await;
    drain(&pool, &w).await; // the appointment's own event
    let path = format!("/api/intake/{appt}");
    let body = json!({"status": "complete", "forms_received": true});
    let (status, _) = send(&st, patch(&path, FRONT_DESK, &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drain(&pool, &w).await, 1);
    let (status, again) = send(&st, patch(&path, FRONT_DESK, &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["changed"], false);
    assert_eq!(drain(&pool, &w).await, 0, "the loop stops after one round");
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&[INTAKE])).await;
}
