//! Cursor pagination: complete walks, links, opacity and page-size caps.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;
use sim::data::Resource;

use crate::common::{id_of, start};

#[tokio::test]
async fn walking_next_links_returns_every_record_exactly_once() {
    let sim = start(60, |_| {}).await;
    let state = sim.handle.state();
    let cases = [
        (Resource::Patients, "/api/patients?page_size=7"),
        (
            Resource::Appointments,
            "/api/appointments?since=2000-01-01&page_size=13",
        ),
        (Resource::ClinicalNotes, "/api/clinical_notes?page_size=11"),
        (Resource::Medications, "/api/medications?page_size=5"),
        (Resource::Problems, "/api/problems?page_size=9"),
        (Resource::Allergies, "/api/allergies"),
        (Resource::LineItems, "/api/line_items/?page_size=17"),
        (Resource::Doctors, "/api/doctors?page_size=1"),
    ];
    for (resource, path) in cases {
        let walked = sim.walk(path).await;
        assert_eq!(walked, state.records_as_served(resource, false), "{path}");
        let unique: HashSet<String> = walked.iter().map(id_of).collect();
        assert_eq!(unique.len(), walked.len(), "{path} repeats records");
    }
}

#[tokio::test]
async fn next_links_are_absolute_and_keep_the_filters() {
    let sim = start(40, |_| {}).await;
    let (_, body) = sim
        .get_json("/api/appointments?date_range=2025-01-01/2025-07-01&page_size=2")
        .await;
    let next = body["next"].as_str().expect("a next link");
    assert!(next.starts_with(sim.handle.url()), "{next}");
    assert!(
        next.contains("date_range=2025-01-01%2F2025-07-01"),
        "{next}"
    );
    assert!(
        next.contains("page_size=2") && next.contains("cursor="),
        "{next}"
    );
}

#[tokio::test]
async fn previous_links_lead_back_to_the_page_before() {
    let sim = start(40, |_| {}).await;
    let (_, first) = sim.get_json("/api/patients?page_size=5").await;
    assert!(first["previous"].is_null());
    let (_, second) = sim
        .get_json(first["next"].as_str().unwrap_or_default())
        .await;
    let (_, third) = sim
        .get_json(second["next"].as_str().unwrap_or_default())
        .await;
    let (_, back) = sim
        .get_json(third["previous"].as_str().expect("previous link"))
        .await;
    assert_eq!(back["results"], second["results"]);
    let (_, front) = sim
        .get_json(back["previous"].as_str().expect("previous link"))
        .await;
    assert_eq!(front["results"], first["results"]);
    assert!(front["previous"].is_null());
}

#[tokio::test]
async fn cursors_are_opaque_and_bound_to_their_filters() {
    let sim = start(30, |_| {}).await;
    let (_, body) = sim.get_json("/api/patients?page_size=3").await;
    let next = body["next"].as_str().expect("next link").to_owned();
    let cursor = next.split("cursor=").nth(1).unwrap_or_default().to_owned();
    assert!(
        cursor.parse::<u64>().is_err() && cursor.len() > 16,
        "cursor looks like an offset: {cursor}"
    );
    let (status, body) = sim
        .get_json(&format!(
            "/api/patients?page_size=3&doctor=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["detail"], "Invalid cursor");
    let (status, _) = sim.get_json("/api/patients?cursor=garbage").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn page_sizes_are_capped_per_endpoint() {
    let sim = start(120, |_| {}).await;
    let served = sim
        .handle
        .state()
        .records_as_served(Resource::Appointments, false)
        .len();
    assert!(
        served > 250,
        "need more than 250 appointments, have {served}"
    );
    let (_, body) = sim
        .get_json("/api/appointments?since=2000-01-01&page_size=1000")
        .await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(250));
    let (_, body) = sim
        .get_json("/api/appointments?since=2000-01-01&page_size=100&verbose=true")
        .await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(25));
    let (_, body) = sim
        .get_json("/api/patients?page_size=100&verbose=true")
        .await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(25));
    let (_, body) = sim.get_json("/api/patients").await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(100));
    let (_, body) = sim.get_json("/api/patients?page_size=0").await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(100));
}

#[tokio::test]
async fn detail_endpoints_return_the_record_or_a_drf_404() {
    let sim = start(20, |_| {}).await;
    let state = sim.handle.state();
    let appt = state
        .records_as_served(Resource::Appointments, false)
        .into_iter()
        .next()
        .expect("an appointment");
    let id = appt["id"]
        .as_str()
        .expect("appointment ids are strings")
        .to_owned();
    let (status, body) = sim.get_json(&format!("/api/appointments/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, appt);
    let (status, body) = sim.get_json("/api/patients/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, serde_json::json!({"detail": "Not found."}));
    let (status, _) = sim.get_json("/api/nonsense").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let p = &state.records(Resource::Patients)[0];
    let (_, body) = sim.get_json(&format!("/api/patients/{}", id_of(p))).await;
    assert!(body.get("primary_insurance").is_none());
    assert_eq!(body["last_name"], p["last_name"]);
    assert!(matches!(body["id"], Value::Number(_)));
}
