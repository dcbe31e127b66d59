//! Filters: the appointment window rules, `since`, `verbose`, archived appointments and
//! parameter validation.

use std::collections::BTreeSet;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;
use sim::data::Resource;

use crate::common::{anchor, id_of, start};

#[tokio::test]
async fn appointments_need_a_date_filter_and_at_most_190_days() {
    let sim = start(10, |_| {}).await;
    let (status, body) = sim.get_json("/api/appointments?patient=1000001").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("date_range"),
        "{body}"
    );
    let (status, body) = sim
        .get_json("/api/appointments?date_range=2025-01-01/2025-07-11")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["date_range"].is_array(), "{body}");
    let (status, _) = sim
        .get_json("/api/appointments?date_range=2025-01-01/2025-07-10")
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = sim.get_json("/api/appointments?date=2025-13-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn consecutive_190_day_windows_cover_every_appointment() {
    let sim = start(80, |_| {}).await;
    let expected: BTreeSet<String> = sim
        .handle
        .state()
        .records_as_served(Resource::Appointments, false)
        .iter()
        .map(id_of)
        .collect();
    let mut seen = BTreeSet::new();
    let mut windows = 0;
    let mut from = anchor() - Duration::days(800);
    while from < anchor() + Duration::days(60) {
        let to = from + Duration::days(190);
        for a in sim
            .walk(&format!(
                "/api/appointments?date_range={from}/{to}&page_size=50"
            ))
            .await
        {
            assert!(seen.insert(id_of(&a)), "appointment in two windows");
        }
        from = to + Duration::days(1);
        windows += 1;
    }
    assert!(windows >= 4);
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn since_returns_only_records_changed_at_or_after_it() {
    let sim = start(30, |_| {}).await;
    let state = sim.handle.state();
    let target = id_of(&state.records(Resource::Patients)[4]);
    let updated = state
        .update_record(
            Resource::Patients,
            &target,
            json!({"first_name": "Changedy"}),
        )
        .expect("update");
    let stamp = updated["updated_at"]
        .as_str()
        .expect("updated_at")
        .to_owned();
    let newest_generated = state
        .records(Resource::Appointments)
        .iter()
        .filter_map(|a| a["updated_at"].as_str().map(str::to_owned))
        .max()
        .unwrap_or_default();
    assert!(stamp > newest_generated);
    let changed = sim.walk(&format!("/api/patients?since={stamp}")).await;
    assert_eq!(changed.iter().map(id_of).collect::<Vec<_>>(), vec![target]);
    assert_eq!(changed[0]["first_name"], "Changedy");
    for path in [
        "/api/clinical_notes",
        "/api/line_items",
        "/api/appointments",
    ] {
        let (status, body) = sim.get_json(&format!("{path}?since=2999-01-01")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body["results"], json!([]), "{path}");
    }
}

#[tokio::test]
async fn since_is_ignored_on_medications_problems_and_allergies() {
    let sim = start(30, |_| {}).await;
    let state = sim.handle.state();
    for r in [
        Resource::Medications,
        Resource::Problems,
        Resource::Allergies,
    ] {
        let walked = sim
            .walk(&format!(
                "/api/{}?since=2999-01-01T00:00:00&page_size=1000",
                r.path()
            ))
            .await;
        assert_eq!(walked.len(), state.records(r).len(), "{r}");
    }
}

#[tokio::test]
async fn verbose_adds_insurance_to_patients_and_extras_to_appointments() {
    let sim = start(20, |_| {}).await;
    let (_, plain) = sim.get_json("/api/patients").await;
    let (_, verbose) = sim.get_json("/api/patients?verbose=true").await;
    for p in plain["results"].as_array().into_iter().flatten() {
        assert!(p.get("primary_insurance").is_none() && p.get("tertiary_insurance").is_none());
    }
    let verbose = verbose["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(verbose.len(), 20);
    for p in &verbose {
        for k in [
            "primary_insurance",
            "secondary_insurance",
            "tertiary_insurance",
        ] {
            assert!(p[k].is_object(), "{k} missing");
        }
    }
    assert!(
        verbose
            .iter()
            .any(|p| p["primary_insurance"]["insurance_company"] != "")
    );
    let (_, appts) = sim
        .get_json("/api/appointments?since=2000-01-01&verbose=true")
        .await;
    assert!(appts["results"][0].get("extended_updated_at").is_some());
    let (_, appts) = sim.get_json("/api/appointments?since=2000-01-01").await;
    assert!(appts["results"][0].get("extended_updated_at").is_none());
}

#[tokio::test]
async fn archived_appointments_appear_only_with_show_archived() {
    let sim = start(120, |_| {}).await;
    let all = sim.handle.state().records(Resource::Appointments);
    let deleted = all.iter().filter(|a| a["deleted_flag"] == true).count();
    assert!(deleted > 0);
    let listed = sim
        .walk("/api/appointments?since=2000-01-01&page_size=250")
        .await;
    assert_eq!(listed.len(), all.len() - deleted);
    let archived = sim
        .walk("/api/appointments?since=2000-01-01&page_size=250&show_archived=true")
        .await;
    assert_eq!(archived.len(), all.len());
}

#[tokio::test]
async fn patient_filters_narrow_results_and_bad_values_are_400s() {
    let sim = start(30, |_| {}).await;
    let meds = sim.handle.state().records(Resource::Medications);
    let patient = meds[0]["patient"].clone();
    let walked = sim
        .walk(&format!("/api/medications?patient={patient}"))
        .await;
    assert!(!walked.is_empty());
    assert!(walked.iter().all(|m| m["patient"] == patient));
    let (status, body) = sim.get_json("/api/medications?patient=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["patient"], json!(["Enter a whole number."]));
    let (status, body) = sim.get_json("/api/patients?since=last-tuesday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["since"].is_array());
    // Line items store `patient` as a string, but the filter takes the integer.
    let li = &sim.handle.state().records(Resource::LineItems)[0];
    let walked = sim
        .walk(&format!(
            "/api/line_items?patient={}",
            li["patient"].as_str().unwrap_or_default()
        ))
        .await;
    assert!(walked.iter().all(|x| x["patient"] == li["patient"]));
    assert!(walked.iter().any(|x| x["id"] == li["id"]));
}
