//! Doctors and offices: the few practice-level records every patient points at.

use chrono::{Duration, NaiveDateTime};
use serde_json::{Value, json};

use super::SplitMix64;
use super::names::{CITIES, DOCTOR_FIRST_NAMES, SPECIALTIES, STREETS};
use super::record::{Ids, between, blank, finish, phone, put};
use super::resource::Resource;

/// Generates `count` doctors, all last updated before `anchor`.
pub(super) fn doctors(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    count: usize,
    anchor: NaiveDateTime,
) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let id = ids.take(Resource::Doctors);
            let last = format!("Zzdoctor{:02}", i + 1);
            let mut r = blank(Resource::Doctors);
            put(
                &mut r,
                [
                    ("id", json!(id)),
                    ("cell_phone", json!(phone(rng))),
                    ("country", json!("US")),
                    (
                        "email",
                        json!(format!("{}@example.invalid", last.to_lowercase())),
                    ),
                    (
                        "first_name",
                        json!(rng.pick(DOCTOR_FIRST_NAMES).copied().unwrap_or("Docta")),
                    ),
                    ("job_title", json!("Provider/Staff (Private Practice)")),
                    ("last_name", json!(last)),
                    (
                        "npi_number",
                        json!(format!("99{:08}", rng.below(100_000_000))),
                    ),
                    ("office_phone", json!(phone(rng))),
                    ("practice_group", json!("9001")),
                    ("practice_group_name", json!("Sim Practice Group")),
                    (
                        "specialty",
                        json!(rng.pick(SPECIALTIES).copied().unwrap_or_default()),
                    ),
                    ("suffix", json!("MD")),
                    ("timezone", json!("America/New_York")),
                ],
            );
            let updated = between(
                rng,
                anchor - Duration::days(900),
                anchor - Duration::days(1),
            );
            finish(Resource::Doctors, r, updated)
        })
        .collect()
}

/// Generates `count` offices, owned round-robin by the given doctor ids. Each office has
/// three exam rooms, served as `{index, name, online_scheduling}` objects like the real API
/// (the spec types `exam_rooms` as a string, which is an artefact of its generator).
pub(super) fn offices(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    count: usize,
    doctor_ids: &[u64],
    anchor: NaiveDateTime,
) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let id = ids.take(Resource::Offices);
            let owner = doctor_ids.get(i % doctor_ids.len().max(1)).copied().unwrap_or_default();
            let (city, state) = rng.pick(CITIES).copied().unwrap_or(("Testville", "CA"));
            let rooms: Vec<Value> = (1..=3)
                .map(|n| json!({"index": n, "name": format!("Sim Room {n}"), "online_scheduling": false}))
                .collect();
            let mut r = blank(Resource::Offices);
            put(
                &mut r,
                [
                    ("id", json!(id)),
                    ("address", json!(format!("{} {}", 100 + i, rng.pick(STREETS).copied().unwrap_or_default()))),
                    ("city", json!(city)),
                    ("country", json!("US")),
                    // The spec declares this read-only field as a string.
                    ("doctor", json!(owner.to_string())),
                    ("end_time", json!("18:00:00")),
                    ("exam_rooms", Value::Array(rooms)),
                    ("fax_number", json!(phone(rng))),
                    ("name", json!(format!("Sim Office {}", i + 1))),
                    ("phone_number", json!(phone(rng))),
                    ("start_time", json!("08:00:00")),
                    ("state", json!(state)),
                    ("zip_code", json!(format!("99{:03}", rng.below(1000)))),
                ],
            );
            let updated = between(rng, anchor - Duration::days(900), anchor - Duration::days(1));
            finish(Resource::Offices, r, updated)
        })
        .collect()
}
