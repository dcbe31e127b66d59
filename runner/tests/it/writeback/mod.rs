//! Write-back from Coda through the real router and PostgreSQL: each endpoint creates and
//! updates its row audited as the staff member, an unchanged PATCH writes nothing, every bad
//! input gets its status and writes nothing, optimistic concurrency, concurrent PATCHes.

mod echo;
mod refusals;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use runner::server::{AppState, router};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::common;

pub(crate) const SECRET: &str = "test-writeback-secret";
pub(crate) const FRONT_DESK: &str = "front@clinic.test";

/// State with the shipped plan (its write-back secret is the tests' one) and staff rows.
pub(crate) async fn state(pool: &PgPool) -> AppState {
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, "admin:setup")
        .await
        .unwrap();
    sqlx::query(
        "insert into staff_roles (email, role, active) values \
         ('front@clinic.test', 'front_desk', true), ('bill@clinic.test', 'billing', true), \
         ('gone@clinic.test', 'admin', false), ('boss@clinic.test', 'admin', true)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    AppState::new(pool.clone(), Arc::new(common::plan("http://127.0.0.1:9")))
}

/// An appointment row to hang intakes and tasks on; returns its id.
pub(crate) async fn appointment(pool: &PgPool) -> Uuid {
    common::insert_as(
        pool,
        "drchrono_sync",
        "insert into appointments (drchrono_id, drchrono_raw) values ('A1', '{}') returning id",
    )
    .await
}

/// A PATCH as a Coda automation sends it.
pub(crate) fn patch(path: &str, email: &str, body: &Value) -> Request<Body> {
    Request::patch(path)
        .header("content-type", "application/json")
        .header("x-coda-webhook-secret", SECRET)
        .header("x-coda-user-email", email)
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub(crate) async fn send(st: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let res = router(st.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn an_intake_patch_creates_then_updates_its_row_audited_as_the_staff_member(pool: PgPool) {
    let st = state(&pool).await;
    let appt = appointment(&pool).await;
    let path = format!("/api/intake/{appt}");
    let (status, body) = send(
        &st,
        patch(
            &path,
            FRONT_DESK,
            &json!({"forms_received": true, "status": "in_progress"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["created"].as_bool(), body["changed"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(body["row"]["appointment_id"], appt.to_string());
    assert_eq!(body["row"]["forms_received"], true);
    assert_eq!(body["row"]["consent_signed"], false, "the table's default");
    assert!(body["version"].is_string());

    let (status, body) = send(
        &st,
        patch(
            &path,
            FRONT_DESK,
            &json!({"status": "complete", "notes": "All signed."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["created"].as_bool(), body["changed"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(body["row"]["status"], "complete");
    assert_eq!(body["row"]["forms_received"], true, "fields not sent stay");
    let audit: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "select actor, operation, changed_fields from change_log where table_name = 'intake_checklists' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|(a, _, _)| a == "coda:front@clinic.test"));
    assert_eq!(audit[1].2, ["notes", "status"]);
    let events = "select count(*) from outbox where table_name = 'intake_checklists'";
    assert_eq!(
        common::count(&pool, events).await,
        2,
        "each change goes back to Coda"
    );

    // The same values again: nothing is written, nothing goes to Coda.
    let (status, body) = send(
        &st,
        patch(
            &path,
            FRONT_DESK,
            &json!({"status": "complete", "notes": "All signed."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], false);
    assert_eq!(common::count(&pool, events).await, 2);
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from change_log where table_name = 'intake_checklists'"
        )
        .await,
        2
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_task_is_created_with_its_required_fields_and_a_prior_auth_by_billing(pool: PgPool) {
    let st = state(&pool).await;
    let appt = appointment(&pool).await;
    let task = Uuid::new_v4();
    let (status, body) = send(
        &st,
        patch(
            &format!("/api/tasks/{task}"),
            "bill@clinic.test",
            &json!({"appointment_id": appt, "task_type": "billing_review", "due_date": "2026-12-01"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["row"]["id"], task.to_string());
    assert_eq!(body["row"]["status"], "open");
    assert_eq!(body["row"]["due_date"], "2026-12-01");
    let patient = common::insert_as(
        &pool,
        "drchrono_sync",
        "insert into patients (drchrono_id, drchrono_raw) values (1, '{}') returning id",
    )
    .await;
    let (status, body) = send(
        &st,
        patch(
            &format!("/api/prior-auth/{}", Uuid::new_v4()),
            "bill@clinic.test",
            &json!({"patient_id": patient, "status": "submitted", "valid_from": "2026-12-01"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["row"]["status"], "submitted");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_patch_of_a_row_that_moved_on_since_it_was_read_is_a_409(pool: PgPool) {
    let st = state(&pool).await;
    let appt = appointment(&pool).await;
    let path = format!("/api/intake/{appt}");
    let (_, first) = send(&st, patch(&path, FRONT_DESK, &json!({"status": "pending"}))).await;
    let v1 = first["version"].as_str().unwrap().to_string();
    let (status, second) = send(
        &st,
        patch(
            &path,
            FRONT_DESK,
            &json!({"status": "in_progress", "version": v1}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["version"], first["version"]);
    let (status, body) = send(
        &st,
        patch(
            &path,
            FRONT_DESK,
            &json!({"status": "complete", "version": v1}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let mut req = patch(&path, FRONT_DESK, &json!({"status": "complete"}));
    req.headers_mut().insert(
        "if-unmodified-since",
        "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
    );
    assert_eq!(send(&st, req).await.0, StatusCode::CONFLICT);
    let status: String = sqlx::query_scalar("select status from intake_checklists")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "in_progress", "no refused change was written");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn two_patches_of_one_row_at_once_end_in_one_consistent_row_and_two_audit_rows(pool: PgPool) {
    let st = state(&pool).await;
    let appt = appointment(&pool).await;
    let path = format!("/api/intake/{appt}");
    send(&st, patch(&path, FRONT_DESK, &json!({"status": "pending"}))).await;
    let a = {
        let st = st.clone();
        let path = path.clone();
        tokio::spawn(async move {
            send(
                &st,
                patch(&path, FRONT_DESK, &json!({"forms_received": true})),
            )
            .await
        })
    };
    let b = {
        let st = st.clone();
        let path = path.clone();
        tokio::spawn(async move {
            send(
                &st,
                patch(&path, "boss@clinic.test", &json!({"consent_signed": true})),
            )
            .await
        })
    };
    let (ra, rb) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!((ra.0, rb.0), (StatusCode::OK, StatusCode::OK));
    let (forms, consent): (bool, bool) =
        sqlx::query_as("select forms_received, consent_signed from intake_checklists")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(forms && consent, "neither change was lost");
    assert_eq!(
        common::count(&pool, "select count(*) from change_log where table_name = 'intake_checklists' and operation = 'UPDATE'").await,
        2
    );
}
