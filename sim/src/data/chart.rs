//! The patient chart lists without a `since` filter upstream: medications, problems and
//! allergies.

use chrono::{Duration, NaiveDateTime};
use serde_json::{Value, json};

use super::SplitMix64;
use super::names::{ALLERGIES, MEDICATIONS, PROBLEMS};
use super::patients::{PatientFacts, pick_weighted};
use super::record::{Ids, between, blank, finish, put};
use super::resource::Resource;
use super::time::fmt_date;

/// Chooses 0 to 3 distinct problems (indices into [`PROBLEMS`]) for a patient.
pub(super) fn choose_problems(rng: &mut SplitMix64) -> Vec<usize> {
    let mut chosen = Vec::new();
    for _ in 0..rng.below(4) {
        let i = rng.below(PROBLEMS.len() as u64) as usize;
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen
}

/// The ICD-10 codes of chosen problems.
pub(super) fn problem_codes(chosen: &[usize]) -> Vec<&'static str> {
    chosen
        .iter()
        .filter_map(|&i| PROBLEMS.get(i))
        .map(|p| p.0)
        .collect()
}

/// Problem-list entries for the chosen problems.
pub(super) fn problems(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    p: &PatientFacts,
    chosen: &[usize],
    appointment: Option<u64>,
    anchor: NaiveDateTime,
) -> Vec<Value> {
    chosen
        .iter()
        .filter_map(|&i| PROBLEMS.get(i))
        .map(|&(code, name, snomed)| {
            let id = ids.take(Resource::Problems);
            let onset = between(rng, p.created - Duration::days(400), p.created);
            let status = pick_weighted(rng, &[("active", 75), ("inactive", 10), ("resolved", 15)]);
            let changed = between(rng, p.created, anchor - Duration::days(1));
            let mut r = blank(Resource::Problems);
            put(
                &mut r,
                [
                    ("id", json!(id)),
                    (
                        "abatement_date",
                        if status == "resolved" {
                            json!(fmt_date(changed.date()))
                        } else {
                            Value::Null
                        },
                    ),
                    ("appointment", json!(appointment)),
                    ("category", json!("problem-list-item")),
                    ("date_changed", json!(fmt_date(changed.date()))),
                    ("date_diagnosis", json!(fmt_date(p.created.date()))),
                    ("date_onset", json!(fmt_date(onset.date()))),
                    ("doctor", json!(p.doctor)),
                    ("icd_code", json!(code)),
                    ("icd_version", json!("10")),
                    ("name", json!(name)),
                    ("patient", json!(p.id)),
                    ("snomed_ct_code", json!(snomed)),
                    ("status", json!(status)),
                    ("verification_status", json!("confirmed")),
                ],
            );
            let updated = between(rng, changed, anchor - Duration::seconds(1));
            finish(Resource::Problems, r, updated)
        })
        .collect()
}

/// 0 to 3 medications.
pub(super) fn medications(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    p: &PatientFacts,
    appointment: Option<u64>,
    anchor: NaiveDateTime,
) -> Vec<Value> {
    let count = rng.below(4);
    (0..count)
        .map(|_| {
            let pick = rng
                .pick(MEDICATIONS)
                .copied()
                .unwrap_or(("", "", "", "", ""));
            let (name, rxnorm, qty, units, frequency) = pick;
            let id = ids.take(Resource::Medications);
            let prescribed = between(rng, p.created, anchor - Duration::days(2));
            let active = rng.chance(0.7);
            let stopped = (!active).then(|| between(rng, prescribed, anchor - Duration::days(1)));
            let mut r = blank(Resource::Medications);
            put(
                &mut r,
                [
                    ("id", json!(id)),
                    ("appointment", json!(appointment)),
                    ("date_prescribed", json!(fmt_date(prescribed.date()))),
                    ("date_started_taking", json!(fmt_date(prescribed.date()))),
                    (
                        "date_stopped_taking",
                        json!(stopped.map(|s| fmt_date(s.date()))),
                    ),
                    ("dispense_quantity", json!(30.0)),
                    ("doctor", json!(p.doctor)),
                    ("dosage_quantity", json!(qty)),
                    ("dosage_units", json!(units)),
                    ("frequency", json!(frequency)),
                    ("name", json!(name)),
                    ("number_refills", json!(rng.range(0, 3))),
                    ("order_status", json!("Electronic eRx Sent")),
                    ("patient", json!(p.id)),
                    ("prn", json!(frequency == "as needed")),
                    ("route", json!("oral")),
                    ("rxnorm", json!(rxnorm)),
                    ("signature_note", json!("Take as directed.")),
                    ("status", json!(if active { "active" } else { "inactive" })),
                ],
            );
            let updated = between(
                rng,
                stopped.unwrap_or(prescribed),
                anchor - Duration::seconds(1),
            );
            finish(Resource::Medications, r, updated)
        })
        .collect()
}

/// 0 to 2 allergies.
pub(super) fn allergies(
    rng: &mut SplitMix64,
    ids: &mut Ids,
    p: &PatientFacts,
    anchor: NaiveDateTime,
) -> Vec<Value> {
    let count = rng.below(3);
    (0..count)
        .map(|_| {
            let (description, reaction, snomed_reaction) =
                rng.pick(ALLERGIES).copied().unwrap_or(("", "", ""));
            let id = ids.take(Resource::Allergies);
            let mut r = blank(Resource::Allergies);
            put(
                &mut r,
                [
                    ("id", json!(id)),
                    ("description", json!(description)),
                    ("doctor", json!(p.doctor)),
                    ("patient", json!(p.id)),
                    ("reaction", json!(reaction)),
                    (
                        "rxnorm",
                        json!(if description == "Penicillin" {
                            "7980"
                        } else {
                            ""
                        }),
                    ),
                    ("snomed_reaction", json!(snomed_reaction)),
                    (
                        "status",
                        json!(if rng.chance(0.9) {
                            "active"
                        } else {
                            "inactive"
                        }),
                    ),
                    ("verification_status", json!("confirmed")),
                ],
            );
            let updated = between(rng, p.created, anchor - Duration::seconds(1));
            finish(Resource::Allergies, r, updated)
        })
        .collect()
}
