//! The `retention` block of `pipelines/systems.yaml`: how long the audit tables (`change_log`,
//! `sync_log`, `access_log`) stay in PostgreSQL, where their old monthly partitions are
//! archived (a Cloud Storage bucket with a 7-year retention lock), and when the daily run
//! happens inside `runner serve`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Audit retention. Every field has a default, so the block may be left out.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Months a partition stays attached (queryable through its table) after its month ends.
    /// Older partitions are archived to `archive_bucket`, verified, then detached. Default: 13.
    #[serde(default = "default_hot_months")]
    pub hot_months: u32,
    /// Years after which an archived, detached partition is dropped from the database (the
    /// archive in Cloud Storage stays under its own retention lock). HIPAA asks for 6; the
    /// clinic keeps 7. Default: 7.
    #[serde(default = "default_keep_years")]
    pub keep_years: u32,
    /// Monthly partitions created ahead of time, so audit writes never find their month
    /// missing. Default: 3.
    #[serde(default = "default_months_ahead")]
    pub months_ahead: u32,
    /// Cloud Storage bucket of the audit archive. Empty: nothing is archived, detached or
    /// dropped (a local install). In production, `${AUDIT_ARCHIVE_BUCKET}`.
    #[serde(default)]
    pub archive_bucket: String,
    /// Cron expression (5 fields, UTC) of the daily retention run inside `runner serve`.
    /// Default: `30 3 * * *`.
    #[serde(default = "default_cron")]
    pub cron: String,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            hot_months: default_hot_months(),
            keep_years: default_keep_years(),
            months_ahead: default_months_ahead(),
            archive_bucket: String::new(),
            cron: default_cron(),
        }
    }
}

fn default_hot_months() -> u32 {
    13
}
fn default_keep_years() -> u32 {
    7
}
fn default_months_ahead() -> u32 {
    3
}
fn default_cron() -> String {
    "30 3 * * *".into()
}
