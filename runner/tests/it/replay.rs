//! `runner replay`: failed inbox entries are re-processed once their cause is fixed, and
//! replaying again changes nothing.

use axum::http::StatusCode;
use runner::config::field_type::FieldType;
use runner::ingest::{ReplayFilter, replay};
use runner::server::router;
use serde_json::json;
use sim::webhooks::DrChronoWebhooks;
use sqlx::PgPool;

use crate::common;
use crate::webhooks::support::{
    LogCapture, SECRET, call, clinic, drain, first_patient, inbox, phi_of, plan, state,
};

/// The shipped plan with a mapping bug: `date_of_birth` declared as an integer.
fn broken_plan() -> runner::config::Plan {
    let mut p = plan();
    let patients = p
        .pipelines
        .iter_mut()
        .find(|x| x.mapping.name == "patients")
        .unwrap();
    let field = patients
        .mapping
        .fields
        .iter_mut()
        .find(|f| f.name == "date_of_birth")
        .unwrap();
    field.ty = FieldType::Int;
    p
}

async fn audit_rows(pool: &PgPool) -> i64 {
    common::count(pool, "select count(*) from change_log").await
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn replay_reprocesses_a_failed_entry_once_fixed_and_a_second_replay_changes_nothing(
    pool: PgPool,
) {
    let logs = LogCapture::start();
    let broken = state(&pool, broken_plan());
    let clinic = clinic();
    let patient = first_patient(&clinic);
    let mut hooks = DrChronoWebhooks::new(SECRET, 31);
    let (status, _) = call(
        &router(broken.clone()),
        &hooks.deliver("PATIENT_MODIFY", patient.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drain(&broken).await.failed, 1);
    let rows = inbox(&pool).await;
    assert_eq!(rows[0].1, "failed");
    assert!(
        rows[0]
            .2
            .as_deref()
            .unwrap_or_default()
            .contains("field date_of_birth"),
        "{rows:?}"
    );
    // Still broken: replay fails again and the entry stays failed.
    let again = replay(&pool, &broken.plan, &ReplayFilter::default())
        .await
        .unwrap();
    assert_eq!((again.selected, again.failed.len()), (1, 1));

    // The mapping is fixed (the shipped plan): replay writes the patient.
    let fixed = plan();
    let first = replay(&pool, &fixed, &ReplayFilter::default())
        .await
        .unwrap();
    assert_eq!((first.selected, first.processed), (1, 1), "{first:?}");
    assert!(first.counts.inserted >= 1);
    assert_eq!(inbox(&pool).await[0].1, "processed");
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        1
    );
    let audited = audit_rows(&pool).await;
    assert!(audited >= 1);

    // A second replay selects nothing; naming the entry re-applies it without any change.
    let second = replay(&pool, &fixed, &ReplayFilter::default())
        .await
        .unwrap();
    assert_eq!(second.selected, 0);
    let id: i64 = sqlx::query_scalar("select id from inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    let named = ReplayFilter {
        ids: vec![id],
        ..ReplayFilter::default()
    };
    let third = replay(&pool, &fixed, &named).await.unwrap();
    assert_eq!(third.processed, 1);
    assert_eq!(third.counts.inserted + third.counts.updated, 0, "{third:?}");
    assert_eq!(audit_rows(&pool).await, audited);
    logs.assert_free_of(&phi_of(&patient));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn replay_selects_by_status_time_and_id(pool: PgPool) {
    let broken = state(&pool, broken_plan());
    let app = router(broken.clone());
    let clinic = clinic();
    let mut hooks = DrChronoWebhooks::new(SECRET, 32);
    for p in clinic.records(sim::data::Resource::Patients) {
        assert_eq!(
            call(&app, &hooks.deliver("PATIENT_MODIFY", p)).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        call(&app, &hooks.deliver("TASK_MODIFY", json!({}))).await.0,
        StatusCode::OK
    );
    // Two entries fail, one stays received.
    for _ in 0..2 {
        runner::ingest::process_next(&broken.pool, &broken.plan)
            .await
            .unwrap();
    }
    let fixed = plan();
    let only_failed = ReplayFilter {
        only_failed: true,
        ..ReplayFilter::default()
    };
    assert_eq!(
        replay(&pool, &fixed, &only_failed).await.unwrap().selected,
        2
    );
    let future = ReplayFilter {
        since: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        ..ReplayFilter::default()
    };
    assert_eq!(replay(&pool, &fixed, &future).await.unwrap().selected, 0);
    let rest = replay(&pool, &fixed, &ReplayFilter::default())
        .await
        .unwrap();
    assert_eq!((rest.selected, rest.processed), (1, 1), "{rest:?}");
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        3
    );
    assert_eq!(
        common::count(&pool, "select count(*) from inbox where status = 'ignored'").await,
        1
    );
}
