//! A list request, parsed: filters, switches, page size, cursor, and the parameters that
//! `next`/`previous` links must carry. Also decides whether a record matches.

use serde_json::Value;

use super::error::ApiError;
use super::params::{
    Field, Filter, Test, flag, has_verbose, last_value, parse_filters, require_appointment_window,
};
use super::store::Store;
use crate::data::Resource;
use crate::data::time::{parse_bound, parse_date};

/// Largest `page_size` on appointments (spec: maximum 250).
pub const APPOINTMENTS_MAX_PAGE: usize = 250;
/// Largest `page_size` with `verbose=true` (spec: "page_size is limited to 25").
pub const VERBOSE_MAX_PAGE: usize = 25;
/// Largest `page_size` elsewhere. The OpenAPI file declares no maximum for the other list
/// endpoints, but DrChrono's support article on bulk endpoints says "normally our API response
/// has a page size limit of 250, but our bulk APIs can obtain up to 1000 results": the 1,000 of
/// `/api/patients_list` belongs to the asynchronous bulk endpoints, not to the plain listings.
pub const DEFAULT_MAX_PAGE: usize = 250;

/// One parsed list request.
#[derive(Debug, Clone)]
pub(super) struct ListQuery {
    /// The endpoint.
    pub resource: Resource,
    /// Declared filters found in the query.
    pub filters: Vec<Filter>,
    /// `verbose=true` (patients and appointments only).
    pub verbose: bool,
    /// `show_archived=true`: include soft-deleted appointments.
    pub show_archived: bool,
    /// `ignore_virtual=true`: drop virtual recurring appointments (non-numeric ids).
    pub ignore_virtual: bool,
    /// Effective page size after defaults and caps.
    pub page_size: usize,
    /// The raw `cursor` parameter, if any.
    pub cursor: Option<String>,
    /// Every parameter except `cursor`, in request order, for building links.
    pub carry: Vec<(String, String)>,
    /// Fingerprint of the filters, bound into cursors.
    pub fingerprint: u64,
}

impl ListQuery {
    /// Parses and validates a list request's query pairs.
    pub(super) fn parse(
        resource: Resource,
        pairs: Vec<(String, String)>,
        default_page: usize,
        salt: u64,
    ) -> Result<Self, ApiError> {
        if resource == Resource::Appointments {
            require_appointment_window(&pairs)?;
        }
        let filters = parse_filters(resource, &pairs)?;
        let verbose = has_verbose(resource) && flag(&pairs, "verbose")?;
        let appointments = resource == Resource::Appointments;
        let show_archived = appointments && flag(&pairs, "show_archived")?;
        let ignore_virtual = appointments && flag(&pairs, "ignore_virtual")?;
        let cap = if verbose {
            VERBOSE_MAX_PAGE
        } else if appointments {
            APPOINTMENTS_MAX_PAGE
        } else {
            DEFAULT_MAX_PAGE
        };
        // Like DRF, an unusable page_size falls back to the default instead of failing.
        let page_size = last_value(&pairs, "page_size")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default_page)
            .clamp(1, cap);
        let cursor = last_value(&pairs, "cursor").map(str::to_owned);
        let carry: Vec<(String, String)> =
            pairs.into_iter().filter(|(k, _)| k != "cursor").collect();
        let fingerprint = fingerprint(resource, &carry, salt);
        Ok(Self {
            resource,
            filters,
            verbose,
            show_archived,
            ignore_virtual,
            page_size,
            cursor,
            carry,
            fingerprint,
        })
    }

    /// Whether a record belongs in the result.
    pub(super) fn matches(&self, record: &Value, store: &Store) -> bool {
        if self.resource == Resource::Appointments {
            if !self.show_archived
                && record.get("deleted_flag").and_then(Value::as_bool) == Some(true)
            {
                return false;
            }
            let numeric = record
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.parse::<u64>().is_ok());
            if self.ignore_virtual && !numeric {
                return false;
            }
        }
        self.filters
            .iter()
            .all(|f| filter_matches(f, record, store))
    }
}

/// The record as served: verbose-only fields removed unless `verbose` was asked for.
pub(super) fn served(resource: Resource, record: &Value, verbose: bool) -> Value {
    let mut out = record.clone();
    if !verbose && let Value::Object(m) = &mut out {
        for f in resource.verbose_only_fields() {
            m.shift_remove(*f);
        }
    }
    out
}

fn filter_matches(filter: &Filter, record: &Value, store: &Store) -> bool {
    let Some(value) = field_text(filter.field, record, store) else {
        return false;
    };
    match &filter.test {
        Test::Eq(want) => value == *want,
        Test::OnDate(d) => date_part(&value) == Some(*d),
        Test::DateBetween(a, b) => date_part(&value).is_some_and(|d| *a <= d && d <= *b),
        Test::AtLeast(t) => parse_bound(&value).is_some_and(|v| v >= *t),
    }
}

fn date_part(value: &str) -> Option<chrono::NaiveDate> {
    value.get(..10).and_then(parse_date)
}

/// A field's value as text: strings as-is, numbers and booleans rendered, null as absent.
fn field_text(field: Field, record: &Value, store: &Store) -> Option<String> {
    let (source, name) = match field {
        Field::Own(name) => (Some(record), name),
        Field::ViaAppointment(name) => {
            let id = text(record.get("appointment")?)?;
            (store.get(Resource::Appointments, &id), name)
        }
    };
    text(source?.get(name)?)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// FNV-1a over the endpoint and its sorted parameters (minus `page_size`), salted.
fn fingerprint(resource: Resource, carry: &[(String, String)], salt: u64) -> u64 {
    let mut pairs: Vec<&(String, String)> =
        carry.iter().filter(|(k, _)| k != "page_size").collect();
    pairs.sort();
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ salt;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    };
    feed(resource.path().as_bytes());
    for (k, v) in pairs {
        feed(&[0]);
        feed(k.as_bytes());
        feed(&[1]);
        feed(v.as_bytes());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(resource: Resource, pairs: &[(&str, &str)]) -> ListQuery {
        let pairs = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListQuery::parse(resource, pairs, 100, 0).expect("valid query")
    }

    #[test]
    fn page_sizes_default_and_clamp() {
        assert_eq!(parse(Resource::Patients, &[]).page_size, 100);
        assert_eq!(
            parse(Resource::Patients, &[("page_size", "5000")]).page_size,
            250
        );
        assert_eq!(
            parse(Resource::Patients, &[("page_size", "x")]).page_size,
            100
        );
        assert_eq!(
            parse(
                Resource::Patients,
                &[("page_size", "100"), ("verbose", "true")]
            )
            .page_size,
            25
        );
        let a = parse(
            Resource::Appointments,
            &[("since", "2020-01-01"), ("page_size", "900")],
        );
        assert_eq!(a.page_size, 250);
        // verbose does not exist on medications: no cap change.
        assert_eq!(
            parse(
                Resource::Medications,
                &[("page_size", "200"), ("verbose", "true")]
            )
            .page_size,
            200
        );
    }

    #[test]
    fn fingerprint_ignores_page_size_and_order_but_not_filters() {
        let a = parse(
            Resource::Patients,
            &[("doctor", "1"), ("since", "2024-01-01")],
        );
        let b = parse(
            Resource::Patients,
            &[("since", "2024-01-01"), ("page_size", "7"), ("doctor", "1")],
        );
        let c = parse(
            Resource::Patients,
            &[("since", "2024-01-02"), ("doctor", "1")],
        );
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, c.fingerprint);
    }
}
