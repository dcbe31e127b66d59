//! What people send back, through `runner serve`: a Coda automation's write-back (audited as
//! the staff member, sent back to Coda, no echo) and a patient's questionnaire response (signed,
//! stored, linked to the patient, shown in Coda).

use e2e::{INBOUND_SECRET, WRITEBACK_SECRET, World};
use serde_json::{Value, json};
use sim::data::Resource;
use sim::webhooks::{Identity, QuestionnaireSender, phq9_for_patient};

use crate::flows::deliver;

const STAFF: &str = "front.desk@clinic.example";

/// A synced world with one active front-desk staff member.
async fn synced(patients: usize) -> (World, String) {
    let (w, url) = crate::flows::synced(patients).await;
    let mut tx = w.db.pool.begin().await.unwrap();
    sqlx::query("select set_config('app.actor', 'admin:e2e', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("insert into staff_roles (email, role, active) values ($1, 'front_desk', true)")
        .bind(STAFF)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (w, url)
}

async fn patch(url: &str, path: &str, secret: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .patch(format!("{url}{path}"))
        .header("x-coda-webhook-secret", secret)
        .header("x-coda-user-email", STAFF)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_write_back_from_coda_is_audited_as_the_staff_member_and_reaches_coda_once() {
    let (w, url) = synced(3).await;
    let appointment: uuid::Uuid =
        sqlx::query_scalar("select id from appointments order by id limit 1")
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    let path = format!("/api/intake/{appointment}");
    let body = json!({"forms_received": true, "consent_signed": true, "status": "complete"});

    let (status, _) = patch(&url, &path, "wrong-secret", &body).await;
    assert_eq!(status, 401);
    assert_eq!(
        w.db.count("select count(*) from intake_checklists").await,
        0
    );

    let (status, answer) = patch(&url, &path, WRITEBACK_SECRET, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["created"], true);
    assert_eq!(answer["row"]["status"], "complete");
    w.settle().await;
    let actors: Vec<String> =
        sqlx::query_scalar("select actor from change_log where table_name = 'intake_checklists'")
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(actors, [format!("coda:{STAFF}")]);
    let m = w.mapping("intake_checklists");
    let rows = w.coda_rows("intake_checklists");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][m.column_id("status")], "complete");
    assert_eq!(rows[0][m.column_id("consent_signed")], true);
    w.assert_coda_equals_postgres().await;

    // The automation fires again on that push and sends the same values: nothing is written
    // and nothing goes to Coda.
    let writes = w.coda.state().stats().writes;
    let (status, again) = patch(&url, &path, WRITEBACK_SECRET, &body).await;
    assert_eq!(status, 200);
    assert_eq!(again["changed"], false);
    w.settle().await;
    assert_eq!(w.coda.state().stats().writes, writes);
}

#[tokio::test]
async fn a_questionnaire_response_is_stored_linked_to_its_patient_and_shown_in_coda() {
    let (w, url) = synced(3).await;
    let patients = w.drchrono.state().records(Resource::Patients);
    let sender = QuestionnaireSender::new(INBOUND_SECRET);
    deliver(
        &url,
        sender.send(&phq9_for_patient(&patients[0], Identity::DrChronoId, 1)),
    )
    .await;
    deliver(
        &url,
        sender.send(&phq9_for_patient(
            &patients[1],
            Identity::EmailAndBirthDate,
            2,
        )),
    )
    .await;
    let forged = QuestionnaireSender::new("not-the-secret")
        .send(&phq9_for_patient(&patients[2], Identity::DrChronoId, 3))
        .send(&reqwest::Client::new(), &url)
        .await
        .unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::UNAUTHORIZED);
    w.settle().await;

    let linked: Vec<(String, Option<String>)> = sqlx::query_as(
        "select q.source, p.drchrono_id::text from questionnaire_responses q \
         left join patients p on p.id = q.patient_id order by q.source",
    )
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(
        linked,
        [
            ("app".to_string(), Some(patients[0]["id"].to_string())),
            ("email".to_string(), Some(patients[1]["id"].to_string())),
        ]
    );
    assert_eq!(w.coda_rows("questionnaire_responses").len(), 2);
    w.assert_coda_equals_postgres().await;
}
