//! Which query parameters each list endpoint understands, and their validation.
//!
//! The tables follow the spec's declared parameters. As in DRF with django-filter, a parameter
//! an endpoint does not declare is silently ignored: `since` on `/api/medications` returns
//! everything, which is exactly the trap a client must not fall into.

use chrono::{NaiveDate, NaiveDateTime};

use super::error::ApiError;
use crate::data::Resource;
use crate::data::time::{parse_bound, parse_date};

/// Longest `date_range` accepted, in days between its two ends.
pub const MAX_DATE_RANGE_DAYS: i64 = 190;

/// Where a filter reads its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// A field of the record itself.
    Own(&'static str),
    /// A field of the appointment the record points at (via its `appointment` field).
    ViaAppointment(&'static str),
}

/// The comparison a filter makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Test {
    /// The value, rendered as text, equals this.
    Eq(String),
    /// The value's date part is this date.
    OnDate(NaiveDate),
    /// The value's date part lies in this inclusive range.
    DateBetween(NaiveDate, NaiveDate),
    /// The value, as a datetime, is at or after this instant.
    AtLeast(NaiveDateTime),
}

/// One parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Filter {
    /// What the filter looks at.
    pub field: Field,
    /// How it compares.
    pub test: Test,
}

/// How a parameter's value is parsed.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Text,
    Date,
    DateRange,
    Bound,
}

use Field::{Own, ViaAppointment as Via};
use Kind::{Bound, Date, DateRange, Int, Text};

type Spec = (&'static str, Kind, Field);

const PATIENTS: &[Spec] = &[
    ("since", Bound, Own("updated_at")),
    ("doctor", Int, Own("doctor")),
    ("first_name", Text, Own("first_name")),
    ("last_name", Text, Own("last_name")),
    ("date_of_birth", Text, Own("date_of_birth")),
    ("gender", Text, Own("gender")),
    ("chart_id", Text, Own("chart_id")),
    ("email", Text, Own("email")),
    ("race", Text, Own("race")),
    ("ethnicity", Text, Own("ethnicity")),
    ("preferred_language", Text, Own("preferred_language")),
    ("created_at", Date, Own("created_at")),
];

const APPOINTMENTS: &[Spec] = &[
    ("since", Bound, Own("updated_at")),
    ("occurred_since", Bound, Own("scheduled_time")),
    ("date", Date, Own("scheduled_time")),
    ("date_range", DateRange, Own("scheduled_time")),
    ("doctor", Int, Own("doctor")),
    ("office", Int, Own("office")),
    ("patient", Int, Own("patient")),
    ("status", Text, Own("status")),
];

// `created_at` is declared too, but notes carry no `created_at`, so it is ignored.
const CLINICAL_NOTES: &[Spec] = &[
    ("since", Bound, Own("updated_at")),
    ("date", Date, Via("scheduled_time")),
    ("date_range", DateRange, Via("scheduled_time")),
    ("patient", Int, Own("patient")),
    ("doctor", Int, Via("doctor")),
    ("office", Int, Via("office")),
];

const CHART: &[Spec] = &[
    ("patient", Int, Own("patient")),
    ("doctor", Int, Own("doctor")),
];

const LINE_ITEMS: &[Spec] = &[
    ("since", Bound, Own("updated_at")),
    ("posted_date", Date, Own("posted_date")),
    ("service_date", Date, Own("service_date")),
    ("appointment", Int, Own("appointment")),
    ("patient", Int, Own("patient")),
    ("doctor", Int, Own("doctor")),
    ("office", Int, Via("office")),
];

const DOCTORS: &[Spec] = &[("doctor", Int, Own("id"))];
const OFFICES: &[Spec] = &[("doctor", Int, Own("doctor"))];

fn specs(resource: Resource) -> &'static [Spec] {
    match resource {
        Resource::Doctors => DOCTORS,
        Resource::Offices => OFFICES,
        Resource::Patients => PATIENTS,
        Resource::Appointments => APPOINTMENTS,
        Resource::ClinicalNotes => CLINICAL_NOTES,
        Resource::Medications | Resource::Problems | Resource::Allergies => CHART,
        Resource::LineItems => LINE_ITEMS,
    }
}

/// Whether the endpoint takes `verbose` (patients and appointments).
pub(super) fn has_verbose(resource: Resource) -> bool {
    matches!(resource, Resource::Patients | Resource::Appointments)
}

/// Parses the filters an endpoint declares from the query pairs (the last value of a
/// repeated parameter wins and empty values are ignored, as in Django).
pub(super) fn parse_filters(
    resource: Resource,
    pairs: &[(String, String)],
) -> Result<Vec<Filter>, ApiError> {
    let mut filters = Vec::new();
    for &(name, kind, field) in specs(resource) {
        let Some(value) = last_value(pairs, name) else {
            continue;
        };
        let test = match kind {
            Int => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| ApiError::param(name, "Enter a whole number."))?;
                Test::Eq(n.to_string())
            }
            Text => Test::Eq(value.to_owned()),
            Date => Test::OnDate(
                parse_date(value).ok_or_else(|| ApiError::param(name, "Enter a valid date."))?,
            ),
            DateRange => {
                let (from, to) = parse_range(name, value)?;
                Test::DateBetween(from, to)
            }
            Bound => Test::AtLeast(
                parse_bound(value)
                    .ok_or_else(|| ApiError::param(name, "Enter a valid date/time."))?,
            ),
        };
        filters.push(Filter { field, test });
    }
    Ok(filters)
}

/// The last non-empty value of a parameter.
pub(super) fn last_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Parses a boolean switch (`true`/`false`, `True`/`False`, `1`/`0`); absent means false.
pub(super) fn flag(pairs: &[(String, String)], name: &str) -> Result<bool, ApiError> {
    match last_value(pairs, name) {
        None => Ok(false),
        Some("true" | "True" | "1") => Ok(true),
        Some("false" | "False" | "0") => Ok(false),
        Some(_) => Err(ApiError::param(name, "Must be a valid boolean.")),
    }
}

/// Appointments must be narrowed by one of these (spec: "Either `since`, `occurred_since`,
/// `date` or `date_range` parameter must be specified").
pub(super) fn require_appointment_window(pairs: &[(String, String)]) -> Result<(), ApiError> {
    let names = ["since", "occurred_since", "date", "date_range"];
    if names.iter().any(|n| last_value(pairs, n).is_some()) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "Either `since`, `occurred_since`, `date` or `date_range` parameter must be specified."
                .into(),
        ))
    }
}

/// Parses `YYYY-MM-DD/YYYY-MM-DD`: inclusive, in order, at most 190 days apart.
fn parse_range(name: &str, value: &str) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let bad = || ApiError::param(name, "Enter a date range as YYYY-MM-DD/YYYY-MM-DD.");
    let (a, b) = value.split_once('/').ok_or_else(bad)?;
    let (from, to) = (
        parse_date(a).ok_or_else(bad)?,
        parse_date(b).ok_or_else(bad)?,
    );
    if to < from {
        return Err(ApiError::param(
            name,
            "The end of the date range is before its start.",
        ));
    }
    if (to - from).num_days() > MAX_DATE_RANGE_DAYS {
        return Err(ApiError::param(
            name,
            format!("Date range cannot exceed {MAX_DATE_RANGE_DAYS} days."),
        ));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn since_is_ignored_where_the_spec_has_no_since() {
        let pairs = q(&[("since", "2024-01-01")]);
        assert!(
            parse_filters(Resource::Medications, &pairs)
                .expect("ok")
                .is_empty()
        );
        assert_eq!(
            parse_filters(Resource::Patients, &pairs).expect("ok").len(),
            1
        );
    }

    #[test]
    fn bad_values_are_400s_naming_the_parameter() {
        let err = parse_filters(Resource::Appointments, &q(&[("patient", "abc")])).unwrap_err();
        assert!(matches!(err, ApiError::BadParam { ref param, .. } if param == "patient"));
        assert!(parse_filters(Resource::Patients, &q(&[("since", "soon")])).is_err());
        assert!(flag(&q(&[("verbose", "maybe")]), "verbose").is_err());
    }

    #[test]
    fn date_range_is_inclusive_and_capped_at_190_days() {
        assert!(parse_range("date_range", "2024-01-01/2024-07-09").is_ok()); // 190 days
        assert!(parse_range("date_range", "2024-01-01/2024-07-10").is_err()); // 191 days
        assert!(parse_range("date_range", "2024-02-01/2024-01-01").is_err());
        assert!(parse_range("date_range", "2024-02-01").is_err());
    }

    #[test]
    fn appointments_need_a_window() {
        assert!(require_appointment_window(&q(&[("patient", "1")])).is_err());
        assert!(require_appointment_window(&q(&[("since", "")])).is_err());
        assert!(require_appointment_window(&q(&[("date", "2024-01-01")])).is_ok());
    }
}
