//! Generator tests: determinism, timestamps, references between tables, and field names
//! against the DrChrono spec (when the spec file is available).

use std::collections::{BTreeSet, HashSet};

use chrono::{Duration, NaiveDate};
use serde_json::Value;

use super::time::{midnight, parse_datetime};
use super::{Clinic, EXTRA_FIELD, Resource, record_id};

fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).unwrap_or_default()
}

fn ids(clinic: &Clinic, r: Resource) -> HashSet<String> {
    clinic.records(r).iter().filter_map(record_id).collect()
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

#[test]
fn same_seed_same_data_and_different_seed_different_data() {
    let a = Clinic::generate_at(7, 120, anchor());
    assert_eq!(a, Clinic::generate_at(7, 120, anchor()));
    assert_ne!(a, Clinic::generate_at(8, 120, anchor()));
}

#[test]
fn adding_patients_keeps_earlier_patients_unchanged() {
    let small = Clinic::generate_at(3, 10, anchor());
    let large = Clinic::generate_at(3, 20, anchor());
    assert_eq!(
        small.records(Resource::Patients),
        &large.records(Resource::Patients)[..10]
    );
}

#[test]
fn counts_and_names_are_as_documented() {
    let c = Clinic::generate_at(1, 450, anchor());
    assert_eq!(c.records(Resource::Patients).len(), 450);
    assert_eq!(c.records(Resource::Doctors).len(), 2);
    let p = &c.records(Resource::Patients)[41];
    assert_eq!(text(p, "last_name"), "Zzpatient0042");
    for r in Resource::ALL {
        assert!(!c.records(r).is_empty(), "{r} is empty");
    }
}

#[test]
fn change_timestamps_precede_the_anchor_and_follow_creation() {
    let c = Clinic::generate_at(5, 200, anchor());
    let t0 = midnight(anchor());
    for r in Resource::ALL {
        for v in c.records(r) {
            let updated = parse_datetime(text(v, "updated_at")).expect("updated_at parses");
            assert!(updated < t0, "{r} {v}");
            if let Some(created) = parse_datetime(text(v, "created_at")) {
                assert!(created <= updated, "{r} created after updated: {v}");
            }
            assert!(v.get(EXTRA_FIELD).is_some());
        }
    }
    assert!(c.latest_updated_at().is_some_and(|t| t < t0));
}

#[test]
fn appointments_span_more_than_one_190_day_window() {
    let c = Clinic::generate_at(2, 200, anchor());
    let days: BTreeSet<NaiveDate> = c
        .records(Resource::Appointments)
        .iter()
        .filter_map(|a| parse_datetime(text(a, "scheduled_time")))
        .map(|t| t.date())
        .collect();
    let (first, last) = (
        days.first().copied().unwrap_or_default(),
        days.last().copied().unwrap_or_default(),
    );
    assert!(last - first > Duration::days(600));
    assert!(last > anchor(), "some appointments lie in the future");
    assert!(first >= anchor() - Duration::days(731));
}

#[test]
fn references_point_at_existing_records() {
    let c = Clinic::generate_at(4, 200, anchor());
    let patients = ids(&c, Resource::Patients);
    let appointments = ids(&c, Resource::Appointments);
    for n in c.records(Resource::ClinicalNotes) {
        assert!(patients.contains(text(n, "patient")));
        let appt = c
            .record(Resource::Appointments, text(n, "appointment"))
            .expect("note's appointment exists");
        assert_eq!(text(appt, "status"), "Complete");
    }
    for li in c.records(Resource::LineItems) {
        let appt = li["appointment"]
            .as_u64()
            .map(|n| n.to_string())
            .unwrap_or_default();
        assert!(appointments.contains(&appt));
        assert!(patients.contains(text(li, "patient")));
    }
    for r in [
        Resource::Medications,
        Resource::Problems,
        Resource::Allergies,
    ] {
        for v in c.records(r) {
            assert!(patients.contains(&v["patient"].to_string()));
        }
    }
    let non_numeric = c
        .records(Resource::Appointments)
        .iter()
        .filter(|a| text(a, "id").parse::<u64>().is_err())
        .count();
    assert!(
        non_numeric > 0,
        "some virtual appointments have non-numeric ids"
    );
}

#[test]
fn insurance_objects_are_always_present_and_sometimes_empty() {
    let c = Clinic::generate_at(6, 200, anchor());
    let mut empty = 0;
    for p in c.records(Resource::Patients) {
        for k in [
            "primary_insurance",
            "secondary_insurance",
            "tertiary_insurance",
        ] {
            let ins = p
                .get(k)
                .and_then(Value::as_object)
                .expect("insurance object");
            if text(&Value::Object(ins.clone()), "insurance_company").is_empty() {
                empty += 1;
            }
        }
    }
    assert!(empty > 0 && empty < 600);
}

/// Field names match the spec's schema properties exactly (plus `id` and `updated_at` where
/// the simulator adds them, the note fields real responses carry, and the extra field).
/// Skipped when the spec is not on this machine.
#[test]
fn record_fields_match_the_spec_schemas() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/specs/drchrono-openapi-v4-hunt-valley.yml"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("spec not found at {path}; skipping");
        return;
    };
    let spec: Value = serde_saphyr::from_str(&text).expect("spec parses");
    let c = Clinic::generate_at(1, 30, anchor());
    for r in Resource::ALL {
        let props = spec["components"]["schemas"][r.schema()]["properties"]
            .as_object()
            .expect("schema");
        let mut expected: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        // Write-only input; never part of a response.
        expected.remove("reminder_profile");
        expected.extend(["id", "updated_at", EXTRA_FIELD]);
        if r == Resource::ClinicalNotes {
            expected.extend(["locked", "pdf"]);
        }
        let record = c
            .records(r)
            .first()
            .and_then(Value::as_object)
            .expect("a record");
        let actual: BTreeSet<&str> = record.keys().map(String::as_str).collect();
        assert_eq!(
            actual,
            expected,
            "{r} fields differ from schema {}",
            r.schema()
        );
    }
}
