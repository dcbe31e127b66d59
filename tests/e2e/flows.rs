//! DrChrono to PostgreSQL to Coda: a webhook's change reaches Coda; a full reconciliation
//! cycle takes upstream creates, changes and deletions; Deep Cura notes link to their clinical
//! notes, including one that arrives before its clinical note.

use e2e::{DEEPCURA_SECRET, WEBHOOK_SECRET, World};
use serde_json::{Value, json};
use sim::data::Resource;
use sim::webhooks::{DeepCuraGridhooks, DrChronoWebhooks, WebhookRequest, note_for_appointment};

/// Sends `req` to the server and requires a 2xx.
pub(crate) async fn deliver(url: &str, req: WebhookRequest) {
    let resp = req
        .send(&reqwest::Client::new(), url)
        .await
        .expect("the server answers");
    assert!(resp.status().is_success(), "answered {}", resp.status());
}

/// A synced world: every pipeline backfilled and pushed to Coda, the server running.
pub(crate) async fn synced(patients: usize) -> (World, String) {
    let mut w = World::start(patients).await;
    let url = w.serve().await;
    w.ok(&["sync", "--all"]).await;
    w.ok(&["push", "--all"]).await;
    w.settle().await;
    (w, url)
}

/// The Coda row of patient `drchrono_id`.
fn coda_patient(w: &World, drchrono_id: &Value) -> serde_json::Map<String, Value> {
    let m = w.mapping("patients");
    let id_col = m.column_id("drchrono_id");
    let want = drchrono_id.to_string().trim_matches('"').to_string();
    w.coda_rows("patients")
        .into_iter()
        .find(|r| {
            r.get(id_col)
                .is_some_and(|v| v.to_string().trim_matches('"') == want)
        })
        .expect("the patient is in Coda")
}

#[tokio::test]
async fn a_webhook_change_reaches_postgresql_audited_and_coda_cell_by_cell() {
    let (w, url) = synced(6).await;
    w.assert_coda_equals_postgres().await;

    let dr = w.drchrono.state();
    let patient = dr.records(Resource::Patients)[0].clone();
    dr.update_record(
        Resource::Patients,
        &patient["id"],
        json!({"cell_phone": "(555) 010-7777"}),
    )
    .unwrap();
    let mut hooks = DrChronoWebhooks::new(WEBHOOK_SECRET, 1);
    let req = hooks
        .deliver_record(dr, Resource::Patients, &patient["id"], false)
        .unwrap();
    deliver(&url, req).await;
    w.settle().await;

    let phone: String =
        sqlx::query_scalar("select cell_phone from patients where drchrono_id = $1::text::bigint")
            .bind(patient["id"].to_string())
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(phone, "(555) 010-7777");
    let actors: Vec<String> = sqlx::query_scalar(
        "select distinct actor from change_log where table_name = 'patients' and operation = 'UPDATE'",
    )
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(actors, ["drchrono_webhook"]);
    let m = w.mapping("patients");
    assert_eq!(
        coda_patient(&w, &patient["id"])[m.column_id("cell_phone")],
        "(555) 010-7777"
    );
    w.assert_coda_equals_postgres().await;

    // A forged delivery is refused and changes nothing.
    let forged = DrChronoWebhooks::new("not-the-secret", 2)
        .deliver_record(dr, Resource::Patients, &patient["id"], false)
        .unwrap()
        .send(&reqwest::Client::new(), &url)
        .await
        .unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_full_reconciliation_cycle_takes_creates_changes_and_deletions() {
    let (w, _url) = synced(6).await;
    let dr = w.drchrono.state();
    let patients = dr.records(Resource::Patients);
    let doctor = patients[0]["doctor"].clone();
    let created = dr
        .create_record(
            Resource::Patients,
            json!({"first_name": "Testy", "last_name": "Newpatient", "doctor": doctor, "date_of_birth": "1990-02-03"}),
        )
        .unwrap();
    dr.update_record(
        Resource::Patients,
        &patients[1]["id"],
        json!({"city": "Springfield"}),
    )
    .unwrap();
    dr.delete_record(Resource::Patients, &patients[2]["id"])
        .unwrap();

    w.ok(&["sync", "--all", "--full"]).await;
    w.ok(&["verify"]).await;
    w.settle().await;

    let live =
        w.db.count("select count(*) from patients where deleted_at is null")
            .await;
    assert_eq!(live as usize, patients.len(), "one created, one deleted");
    let deleted: bool = sqlx::query_scalar(
        "select deleted_at is not null from patients where drchrono_id = $1::text::bigint",
    )
    .bind(patients[2]["id"].to_string())
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert!(deleted, "a record gone upstream is soft-deleted");
    let m = w.mapping("patients");
    assert_eq!(
        coda_patient(&w, &patients[1]["id"])[m.column_id("city")],
        "Springfield"
    );
    coda_patient(&w, &created["id"]);
    w.assert_coda_equals_postgres().await;

    // A second cycle with nothing new upstream changes nothing.
    let audit = w.db.count("select count(*) from change_log").await;
    w.ok(&["sync", "--all", "--full"]).await;
    assert_eq!(w.db.count("select count(*) from change_log").await, audit);
}

#[tokio::test]
async fn deep_cura_notes_link_including_one_that_arrives_before_its_clinical_note() {
    let (w, url) = synced(4).await;
    let dr = w.drchrono.state();
    let mut grid = DeepCuraGridhooks::new(DEEPCURA_SECRET, 5);
    // A note for an appointment whose clinical note is synced: linked at once.
    let notes = dr.records(Resource::ClinicalNotes);
    let appointments = dr.records(Resource::Appointments);
    let with_note = appointments
        .iter()
        .find(|a| notes.iter().any(|n| n["appointment"] == a["id"]))
        .unwrap_or_else(|| {
            panic!(
                "an appointment with a clinical note among {} notes: {:?}",
                notes.len(),
                notes.first()
            )
        });
    deliver(&url, grid.send(&note_for_appointment(with_note, 1))).await;

    // A new visit whose Deep Cura note comes before DrChrono's clinical note.
    let patient = &dr.records(Resource::Patients)[0];
    let appt = dr
        .create_record(
            Resource::Appointments,
            json!({"patient": patient["id"], "doctor": patient["doctor"], "scheduled_time": "2026-11-27T09:00:00", "duration": 50, "status": "Complete"}),
        )
        .unwrap();
    let mut hooks = DrChronoWebhooks::new(WEBHOOK_SECRET, 3);
    deliver(
        &url,
        hooks
            .deliver_record(
                dr,
                Resource::Appointments,
                appt["id"].as_str().unwrap(),
                true,
            )
            .unwrap(),
    )
    .await;
    deliver(&url, grid.send(&note_for_appointment(&appt, 2))).await;
    w.settle().await;
    assert_eq!(
        w.db.count("select count(*) from deepcura_notes where clinical_note_id is null")
            .await,
        1,
        "the early note waits"
    );
    let review = w.ok(&["review"]).await;
    assert!(
        review.contains("1 row(s) wait for review."),
        "runner review lists the waiting note:\n{review}"
    );

    let note = dr
        .create_record(
            Resource::ClinicalNotes,
            json!({"appointment": appt["id"], "patient": patient["id"].to_string(), "locked": true, "archived": false}),
        )
        .unwrap();
    deliver(&url, hooks.deliver("CLINICAL_NOTE_LOCK", note)).await;
    w.settle().await;
    assert_eq!(
        w.db.count("select count(*) from deepcura_notes where clinical_note_id is null")
            .await,
        0,
        "the waiting note is linked when its clinical note arrives"
    );
    assert_eq!(w.db.count("select count(*) from deepcura_notes").await, 2);
    w.assert_coda_equals_postgres().await;
}
