//! Counters for tests: what the simulator served, refused, failed and applied.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A snapshot of the simulator's counters (also served at `GET /_sim/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodaStats {
    /// API requests (control endpoints are not counted).
    pub requests_total: u64,
    /// Requests per route, e.g. `POST /docs/{docId}/tables/{tableIdOrName}/rows`.
    pub requests_by_route: BTreeMap<String, u64>,
    /// Requests admitted against the read budget (every `GET`).
    pub reads: u64,
    /// Requests admitted against the write budget (`POST`/`PUT`/`DELETE` on rows).
    pub writes: u64,
    /// Requests refused with 401.
    pub unauthorized: u64,
    /// Requests refused with 429.
    pub throttled: u64,
    /// Requests refused with 413.
    pub too_large: u64,
    /// Requests failed on purpose with a 5xx.
    pub injected_errors: u64,
    /// Requests answered 400.
    pub bad_requests: u64,
    /// Accepted `upsertRows` requests.
    pub upserts: u64,
    /// Rows received in accepted `upsertRows` requests.
    pub upsert_rows_received: u64,
    /// Mutations accepted (202).
    pub mutations_accepted: u64,
    /// Mutations applied.
    pub mutations_applied: u64,
    /// Rows added by applied mutations.
    pub rows_added: u64,
    /// Row writes by applied mutations (a row matched by two upsert rows counts twice).
    pub rows_updated: u64,
    /// Rows removed by applied mutations.
    pub rows_deleted: u64,
}

impl CodaStats {
    /// Counts one request to a route.
    pub fn hit(&mut self, route: &str) {
        self.requests_total += 1;
        *self.requests_by_route.entry(route.to_owned()).or_default() += 1;
    }

    /// Requests counted for one route.
    pub fn requests(&self, route: &str) -> u64 {
        self.requests_by_route
            .get(route)
            .copied()
            .unwrap_or_default()
    }
}
