//! The `/_sim/` control endpoints over HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sim::data::Resource;

use crate::common::{id_of, start};

#[tokio::test]
async fn patching_a_record_bumps_updated_at_past_all_generated_data() {
    let sim = start(10, |_| {}).await;
    let before = sim.handle.state().clock();
    let id = id_of(&sim.handle.state().records(Resource::Medications)[0]);
    let response = sim
        .http
        .patch(sim.url(&format!("/_sim/records/medications/{id}")))
        .json(&json!({"status": "inactive"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["status"], "inactive");
    assert!(
        body["updated_at"].as_str().unwrap_or_default()
            > before.format("%Y-%m-%dT%H:%M:%S").to_string().as_str()
    );
    let (_, served) = sim.get_json(&format!("/api/medications/{id}")).await;
    assert_eq!(served, body);
}

#[tokio::test]
async fn created_records_appear_and_deleted_ones_vanish() {
    let sim = start(10, |_| {}).await;
    let created: Value = sim
        .http
        .post(sim.url("/_sim/records/patients"))
        .json(&json!({"first_name": "Newby", "last_name": "Zzpatient9999", "doctor": 100001, "gender": "Other"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .unwrap_or_default();
    let new_id = id_of(&created);
    assert_eq!(new_id, "1000011");
    assert!(
        created.get("chart_id").is_some(),
        "template fields are filled in"
    );
    let listed = sim.walk("/api/patients").await;
    assert_eq!(listed.last().map(id_of), Some(new_id.clone()));

    let appt = sim
        .handle
        .state()
        .records_as_served(Resource::Appointments, false)[0]
        .clone();
    let appt_id = id_of(&appt);
    let deleted = sim
        .http
        .delete(sim.url(&format!("/_sim/records/appointments/{appt_id}")))
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), StatusCode::OK);
    let (status, _) = sim.get_json(&format!("/api/appointments/{appt_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let walked = sim.walk("/api/appointments?since=2000-01-01").await;
    assert!(walked.iter().all(|a| id_of(a) != appt_id));

    let missing = sim
        .http
        .delete(sim.url("/_sim/records/appointments/nope"))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad = sim
        .http
        .post(sim.url("/_sim/records/bogus"))
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_current_refresh_token_is_readable_for_manual_runs() {
    let sim = start(3, |_| {}).await;
    let body: Value = sim
        .http
        .get(sim.url("/_sim/tokens"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(body["refresh_token"], "sim-refresh-token");
    let handle = sim.handle;
    handle.stop().await.expect("stops cleanly");
}
