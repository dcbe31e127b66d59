//! Questionnaire intake through the real router and PostgreSQL: signed posts to
//! `/inbound/questionnaires` stored in the inbox and written in one transaction, linked to
//! their patient (DrChrono id, else email and date of birth, else review), audited and sent on
//! to Coda through the outbox; every refusal writes nothing and logs no value of the body.

use axum::http::StatusCode;
use runner::server::router;
use serde_json::{Value, json};
use sim::drchrono::DrChronoState;
use sim::webhooks::{
    DrChronoWebhooks, Identity, QuestionnaireSender, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    phq9_for_patient,
};
use sqlx::PgPool;

use crate::common;
use crate::webhooks::support::{LogCapture, SECRET, call, clinic, drain, plan, state};

const INBOUND_SECRET: &str = "test-inbound-secret";

fn sender() -> QuestionnaireSender {
    QuestionnaireSender::new(INBOUND_SECRET)
}

fn patients(clinic: &DrChronoState) -> Vec<Value> {
    clinic.records(sim::data::Resource::Patients)
}

/// Stores `patients` through signed DrChrono webhooks, as a sync would.
async fn store_patients(pool: &PgPool, patients: &[Value]) {
    let st = state(pool, plan());
    let app = router(st.clone());
    let mut hooks = DrChronoWebhooks::new(SECRET, 3);
    for p in patients {
        let (status, body) = call(&app, &hooks.deliver("PATIENT_MODIFY", p.clone())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(drain(&st).await.processed, patients.len() as u64);
}

/// `(patient's drchrono_id, link_method, needs_review, review_reason)` of response `id`.
async fn link_of(pool: &PgPool, id: &Value) -> (Option<i64>, Option<String>, bool, Option<String>) {
    sqlx::query_as(
        "select p.drchrono_id, q.link_method, q.needs_review, q.review_reason \
         from questionnaire_responses q left join patients p on p.id = q.patient_id \
         where q.id = $1::uuid",
    )
    .bind(id.as_str().unwrap())
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Every value of a response that is patient data.
fn phi_of(response: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["email", "date_of_birth"]
        .iter()
        .filter_map(|k| response["patient"][*k].as_str().map(str::to_owned))
        .collect();
    out.push(response["answers"].to_string());
    out
}

async fn nothing_written(pool: &PgPool) {
    assert_eq!(common::count(pool, "select count(*) from inbox").await, 0);
    assert_eq!(
        common::count(pool, "select count(*) from questionnaire_responses").await,
        0
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_signed_response_is_stored_linked_by_drchrono_id_audited_and_queued_for_coda(
    pool: PgPool,
) {
    let clinic = clinic();
    let people = patients(&clinic);
    store_patients(&pool, &people).await;
    let logs = LogCapture::start();
    let app = router(state(&pool, plan()));
    let response = phq9_for_patient(&people[1], Identity::DrChronoId, 5);
    let req = sender().send(&response);
    let (status, body) = call(&app, &req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "processed");
    assert_eq!(
        link_of(&pool, &response["id"]).await,
        (
            people[1]["id"].as_i64(),
            Some("drchrono_id".into()),
            false,
            None
        )
    );
    let (questionnaire, score, answers): (String, f64, Value) =
        sqlx::query_as("select questionnaire, score::float8, answers from questionnaire_responses")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(questionnaire, "PHQ-9");
    assert_eq!(score, response["score"].as_f64().unwrap());
    assert_eq!(answers, response["answers"]);
    // Audited with the route's actor, and change events for Coda (the insert, then the link
    // of the same transaction), all of this one response.
    let actors: Vec<String> = sqlx::query_scalar(
        "select distinct actor from change_log where table_name = 'questionnaire_responses'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(actors, vec!["inbound_route".to_string()]);
    assert_eq!(
        common::count(
            &pool,
            "select count(distinct record_id) from outbox where table_name = 'questionnaire_responses'"
        )
        .await,
        1
    );
    let (source, event, raw): (String, String, Vec<u8>) =
        sqlx::query_as("select source, event, body from inbox where source <> 'drchrono'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (source.as_str(), event.as_str()),
        ("inbound", "/inbound/questionnaires")
    );
    assert_eq!(raw, req.body, "the inbox keeps the body as received");
    // The same post again (a retry inside the window) is stored once.
    assert_eq!(call(&app, &req).await.1["status"], "duplicate");
    assert_eq!(
        common::count(&pool, "select count(*) from inbox where source = 'inbound'").await,
        1
    );
    logs.assert_free_of(&phi_of(&response));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn email_and_birth_date_link_regardless_of_case_and_never_against_a_named_id(pool: PgPool) {
    let clinic = clinic();
    let people = patients(&clinic);
    store_patients(&pool, &people).await;
    let app = router(state(&pool, plan()));
    // The email processor knows the email (in upper case) and the date of birth.
    let by_email = phq9_for_patient(&people[2], Identity::EmailAndBirthDate, 6);
    assert_eq!(
        call(&app, &sender().send(&by_email)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        link_of(&pool, &by_email["id"]).await,
        (
            people[2]["id"].as_i64(),
            Some("email_dob".into()),
            false,
            None
        )
    );
    // A response that names a DrChrono id nobody has is not linked to the patient its email
    // and date of birth match: it waits for review.
    let mut named = phq9_for_patient(&people[0], Identity::DrChronoId, 7);
    named["patient"]["drchrono_id"] = json!(999_999_999);
    assert_eq!(call(&app, &sender().send(&named)).await.0, StatusCode::OK);
    assert_eq!(
        link_of(&pool, &named["id"]).await,
        (None, None, true, Some("no match".into()))
    );
    // The wrong date of birth: no match either.
    let mut wrong_dob = phq9_for_patient(&people[0], Identity::EmailAndBirthDate, 8);
    wrong_dob["patient"]["date_of_birth"] = json!("1900-01-01");
    assert_eq!(
        call(&app, &sender().send(&wrong_dob)).await.0,
        StatusCode::OK
    );
    assert!(link_of(&pool, &wrong_dob["id"]).await.2);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn two_patients_sharing_email_and_birth_date_send_the_response_to_review(pool: PgPool) {
    let clinic = clinic();
    let mut people = patients(&clinic);
    // Two family members share an email address and, as twins, a date of birth.
    people[1]["email"] = people[0]["email"].clone();
    people[1]["date_of_birth"] = people[0]["date_of_birth"].clone();
    store_patients(&pool, &people[..2]).await;
    let app = router(state(&pool, plan()));
    let response = phq9_for_patient(&people[0], Identity::EmailAndBirthDate, 9);
    assert_eq!(
        call(&app, &sender().send(&response)).await.0,
        StatusCode::OK
    );
    let (patient, method, review, reason) = link_of(&pool, &response["id"]).await;
    assert_eq!((patient, method, review), (None, None, true));
    assert!(
        reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("ambiguous"),
        "{reason:?}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_response_before_its_patient_waits_in_review_and_links_when_the_patient_arrives(
    pool: PgPool,
) {
    let clinic = clinic();
    let people = patients(&clinic);
    let app = router(state(&pool, plan()));
    let response = phq9_for_patient(&people[0], Identity::DrChronoId, 10);
    assert_eq!(
        call(&app, &sender().send(&response)).await.0,
        StatusCode::OK
    );
    assert!(link_of(&pool, &response["id"]).await.2);
    store_patients(&pool, &people[..1]).await;
    assert_eq!(
        link_of(&pool, &response["id"]).await,
        (
            people[0]["id"].as_i64(),
            Some("drchrono_id".into()),
            false,
            None
        )
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_corrected_resubmission_replaces_the_response_and_an_older_one_does_not(pool: PgPool) {
    let clinic = clinic();
    let people = patients(&clinic);
    let app = router(state(&pool, plan()));
    let mut first = phq9_for_patient(&people[0], Identity::DrChronoId, 11);
    first["submitted_at"] = json!("2026-11-20T10:00:00Z");
    first["score"] = json!(4);
    let mut corrected = first.clone();
    corrected["submitted_at"] = json!("2026-11-20T10:05:00Z");
    corrected["score"] = json!(7);
    for r in [&first, &corrected, &first] {
        // The third post is the first one again, signed anew: a different body from the
        // router's point of view only by its timestamp header, so it is stored once more and
        // then refused as stale by the version guard.
        let (status, body) = call(&app, &sender().send(r)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let score: f64 = sqlx::query_scalar("select score::float8 from questionnaire_responses")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(score, 7.0);
    assert_eq!(
        common::count(&pool, "select count(*) from questionnaire_responses").await,
        1
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn bad_signatures_stale_timestamps_and_bad_bodies_are_refused_and_write_nothing(
    pool: PgPool,
) {
    let logs = LogCapture::start();
    let app = router(state(&pool, plan()));
    let clinic = clinic();
    let people = patients(&clinic);
    let response = phq9_for_patient(&people[0], Identity::DrChronoId, 12);
    let now = chrono::Utc::now().timestamp();
    let good = sender().send(&response);
    let cases = [
        (
            "wrong secret",
            QuestionnaireSender::new("not-the-secret").send(&response),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no signature",
            good.clone().without_header(SIGNATURE_HEADER),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no timestamp",
            good.clone().without_header(TIMESTAMP_HEADER),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "signed six minutes ago",
            sender().send_at(&response, now - 360),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "signed six minutes ahead",
            sender().send_at(&response, now + 360),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "timestamp changed after signing",
            good.clone()
                .with_header(TIMESTAMP_HEADER, (now - 1).to_string()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "body changed after signing",
            good.clone()
                .with_body(serde_json::to_vec(&json!({"id": response["id"]})).unwrap()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not JSON by content type",
            good.clone().with_header("content-type", "text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "not a JSON object",
            sender().send_bytes_at(b"[1, 2, 3]", now),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no answers",
            sender().send(&{
                let mut r = response.clone();
                r.as_object_mut().unwrap().remove("answers");
                r
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "an id that is not a uuid",
            sender().send(&{
                let mut r = response.clone();
                r["id"] = json!("response-17");
                r
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "over the body limit",
            sender().send(&{
                let mut r = response.clone();
                r["answers"]["free_text"] = json!("x".repeat(300 * 1024));
                r
            }),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (what, req, want) in cases {
        let (status, body) = call(&app, &req).await;
        assert_eq!(status, want, "{what}: {body}");
        nothing_written(&pool).await;
    }
    let (status, body) = call(
        &app,
        &sender().send(&{
            let mut r = response.clone();
            r.as_object_mut().unwrap().remove("answers");
            r
        }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().contains("answers"),
        "the reason names the field: {body}"
    );
    logs.assert_free_of(&phi_of(&response));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn without_a_secret_the_route_is_not_served(pool: PgPool) {
    let mut plan = plan();
    plan.systems.inbound.as_mut().unwrap().secret = Default::default();
    let app = router(state(&pool, plan));
    let clinic = clinic();
    let response = phq9_for_patient(&patients(&clinic)[0], Identity::DrChronoId, 13);
    assert_eq!(
        call(&app, &sender().send(&response)).await.0,
        StatusCode::NOT_FOUND
    );
    nothing_written(&pool).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_database_outage_answers_503_and_the_retry_is_stored(pool: PgPool) {
    let down = common::closed_pool(&pool).await;
    let clinic = clinic();
    let response = phq9_for_patient(&patients(&clinic)[0], Identity::DrChronoId, 14);
    let req = sender().send(&response);
    let (status, body) = call(&router(state(&down, plan())), &req).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    nothing_written(&pool).await;
    let (status, _) = call(&router(state(&pool, plan())), &req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        common::count(&pool, "select count(*) from questionnaire_responses").await,
        1
    );
}
