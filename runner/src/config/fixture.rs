//! `pipelines/tests/*.yaml`: fixture tests that prove a mapping. Each case gives a source
//! object (a realistic DrChrono or Deep Cura payload) and the rows it must map to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A fixture file: cases for one pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixtureFile {
    /// The pipeline under test (its file stem, for example `patients`).
    pub pipeline: String,
    /// The cases.
    pub cases: Vec<FixtureCase>,
}

/// One input and its expected outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixtureCase {
    /// What the case shows, as a sentence.
    pub name: String,
    /// The source record, exactly as the API sends it.
    pub input: serde_json::Value,
    /// The rows the record must map to, column by column (every mapped column must be
    /// listed; the raw column is checked to hold the input). Mutually exclusive with
    /// `error`.
    #[serde(default)]
    pub expect: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    /// A text the mapping error must contain, for a record that must be rejected.
    #[serde(default)]
    pub error: Option<String>,
}
