//! Counters for tests: what the simulator served, throttled, failed and refreshed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A snapshot of the simulator's counters (also served at `GET /_sim/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Requests to `/api/*` and `/o/token/` (control endpoints are not counted).
    pub requests_total: u64,
    /// Requests per route, e.g. `/api/patients`, `/api/patients/{id}`, `/o/token/`.
    pub requests_by_path: BTreeMap<String, u64>,
    /// API requests refused with 401.
    pub unauthorized: u64,
    /// API requests refused with 429.
    pub throttled: u64,
    /// API requests failed on purpose with 500.
    pub injected_errors: u64,
    /// API requests delayed on purpose.
    pub slow_responses: u64,
    /// Successful `grant_type=refresh_token` exchanges.
    pub token_refreshes: u64,
    /// Successful `grant_type=authorization_code` exchanges.
    pub code_exchanges: u64,
    /// Token requests refused (bad client, reused or unknown grant, malformed request).
    pub token_failures: u64,
}

impl SimStats {
    /// Counts one request to a route.
    pub fn hit(&mut self, route: &str) {
        self.requests_total += 1;
        *self.requests_by_path.entry(route.to_owned()).or_default() += 1;
    }

    /// Requests counted for one route.
    pub fn requests(&self, route: &str) -> u64 {
        self.requests_by_path
            .get(route)
            .copied()
            .unwrap_or_default()
    }
}
