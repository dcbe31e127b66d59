//! `mappings/tests/*.yaml`: fixture tests that prove a Coda mapping. Each case gives a
//! PostgreSQL row (as `to_jsonb` shows it) and the Coda cells it must become.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Coda mapping fixture file: cases for one mapping.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodaFixtureFile {
    /// The mapping under test (its file stem, for example `patients` for
    /// `mappings/patients.yaml`).
    pub mapping: String,
    /// The cases.
    pub cases: Vec<CodaFixtureCase>,
}

/// One row and the cells it must become.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodaFixtureCase {
    /// What the case shows, as a sentence.
    pub name: String,
    /// The PostgreSQL row as JSON, as `to_jsonb(row)` gives it: dates `2024-05-01`, timestamps
    /// `2024-05-01T14:00:00+00:00`, numbers, booleans, arrays; a missing column is null.
    pub row: serde_json::Map<String, serde_json::Value>,
    /// The Coda cells the row must become: column id -> value as sent to Coda (null becomes
    /// `""`, jsonb its JSON text). Every column of the mapping must be listed.
    pub cells: BTreeMap<String, serde_json::Value>,
}
