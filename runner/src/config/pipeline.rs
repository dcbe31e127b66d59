//! `pipelines/<table>.yaml`: one synced table. Where its records come from, how each field maps
//! to a column, what identifies a row, and which webhook events feed it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::field_type::FieldType;

/// One synced table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// What this pipeline is for, in a sentence. Shown by `runner sync` and the docs.
    #[serde(default)]
    pub description: Option<String>,
    /// Where records come from.
    pub source: Source,
    /// Pipelines that must run before this one (for example `patients` before
    /// `appointments`, so that foreign-key lookups resolve). Names are file stems.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Cron expression (5 fields, UTC) for the built-in scheduler. Default: every 15 minutes.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// Webhook events that carry records of this pipeline.
    #[serde(default)]
    pub webhooks: Option<Webhooks>,
    /// The PostgreSQL table written and how rows are identified.
    pub target: Target,
    /// Turns one source record into several rows (for example a patient's primary, secondary
    /// and tertiary insurance into three `insurance_records`). Without it, one record is one row.
    #[serde(default)]
    pub expand: Option<Expand>,
    /// Column name -> how its value is computed from the source record.
    pub fields: BTreeMap<String, FieldMapping>,
}

fn default_schedule() -> String {
    "*/15 * * * *".to_string()
}

/// The system a pipeline's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// DrChrono: listed through its API (`endpoint`) and fed by its webhooks.
    Drchrono,
    /// Deep Cura: pushes its notes as gridhooks; it has no list endpoint.
    Deepcura,
    /// Our own signed route under `/inbound/` (see `route`): each post is one record.
    Inbound,
}

impl System {
    /// The name as written in the config (and as the inbox's `source`).
    pub const fn as_str(self) -> &'static str {
        match self {
            System::Drchrono => "drchrono",
            System::Deepcura => "deepcura",
            System::Inbound => "inbound",
        }
    }
}

/// Where a pipeline's records come from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The system, as named in `systems.yaml`: `drchrono` (listed and webhooks), `deepcura`
    /// (gridhooks) or `inbound` (our own signed route, see `route`).
    pub system: System,
    /// Path of the list endpoint, relative to the system's base URL (for example
    /// `/api/patients`). Absent for push-only sources such as Deep Cura.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// For `system: inbound`: the path `runner serve` takes signed posts on, under
    /// `/inbound/` (for example `/inbound/questionnaires`). Each post is one record.
    #[serde(default)]
    pub route: Option<String>,
    /// Query parameters sent on the first page of every listing (for example
    /// `verbose: "true"`). Later pages follow the `next` URL verbatim.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Value of the `page_size` query parameter. Default: the system's default.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// JSONPath of the records array in a list response. Default: `$.results[*]`.
    #[serde(default = "default_records")]
    pub records: String,
    /// JSONPath of the next page URL in a list response. Default: `$.next`.
    #[serde(default = "default_next")]
    pub next: String,
    /// Incremental mode: only records changed since the last run are listed. Without it, the
    /// pipeline runs in full mode and lists everything every run.
    #[serde(default)]
    pub incremental: Option<Incremental>,
    /// Full-mode settings: soft delete of records that disappeared upstream.
    #[serde(default)]
    pub full: Option<FullMode>,
    /// Date windows for endpoints that require a date filter (DrChrono appointments).
    #[serde(default)]
    pub windows: Option<Windows>,
}

fn default_records() -> String {
    "$.results[*]".to_string()
}

fn default_next() -> String {
    "$.next".to_string()
}

/// Incremental listing with a `since`-style cursor.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// Query parameter that carries the cursor (DrChrono: `since`).
    pub param: String,
    /// JSONPath of the record field the cursor advances on (DrChrono: `$.updated_at`).
    pub field: String,
    /// Seconds subtracted from the stored cursor on each run, so records written upstream
    /// while the last run was reading are listed again. Re-reads are harmless: unchanged rows
    /// are skipped. Default: 3600.
    #[serde(default = "default_lookback")]
    pub lookback_secs: u64,
    /// How the cursor is written in the query: `date` (`YYYY-MM-DD`) or `datetime`
    /// (`YYYY-MM-DDTHH:MM:SS`). Default: `datetime`.
    #[serde(default)]
    pub format: CursorFormat,
}

fn default_lookback() -> u64 {
    3600
}

/// How an incremental cursor is written in the query string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CursorFormat {
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM:SS`.
    #[default]
    Datetime,
}

/// Full-mode settings. A pipeline without `incremental` lists everything every run; one with
/// `incremental` lists everything when run with `--full`. Either way, a complete listing may
/// soft-delete what it no longer lists.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FullMode {
    /// Soft-delete (set `deleted_at`) rows whose record is no longer listed upstream, and the
    /// rows of other pipelines that reference them through a lookup (a deleted patient's
    /// appointments and insurance). Rows are never hard-deleted. Default: true (an
    /// `incremental` pipeline without a `full` block never soft-deletes).
    #[serde(default = "default_true")]
    pub soft_delete: bool,
    /// Largest share (0.0-1.0) of a table that one run may soft-delete. Above it the run fails
    /// and deletes nothing, unless `--allow-mass-delete` is given. Default: 0.2.
    #[serde(default = "default_max_delete_share")]
    pub max_delete_share: f64,
}

fn default_true() -> bool {
    true
}

fn default_max_delete_share() -> f64 {
    0.2
}

/// Date windows that together cover the configured history.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Windows {
    /// Query parameter that takes `YYYY-MM-DD/YYYY-MM-DD` (DrChrono: `date_range`).
    pub param: String,
    /// Longest window the API accepts, in days (DrChrono: 190).
    pub max_days: u32,
    /// How far back the first backfill reaches, in days.
    pub history_days: u32,
    /// How far ahead (future appointments), in days.
    pub future_days: u32,
}

/// Webhook events that feed the pipeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    /// Event names (DrChrono `X-drchrono-event`, for example `PATIENT_MODIFY`).
    pub events: Vec<String>,
    /// JSONPath of the record inside the webhook payload (DrChrono: `$.object`).
    #[serde(default = "default_object")]
    pub object: String,
    /// JSONPaths that must be present in the record for a delivery to be accepted: the fields
    /// that tell this resource from another (a patient has a `chart_id`, an appointment a
    /// `scheduled_time`). A delivery whose record lacks one is refused with 400 before anything
    /// is stored, so an event carrying the wrong kind of object never writes a bogus row.
    #[serde(default)]
    pub require: Vec<String>,
    /// Read the record by id from the API and write that, instead of the webhook's copy. For
    /// resources without a version field (medications, problems, allergies): two deliveries
    /// applied out of order then both write the current record, never an older one.
    #[serde(default)]
    pub refetch: Option<Refetch>,
}

fn default_object() -> String {
    "$.object".to_string()
}

/// How a webhook's record is read again from the API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Refetch {
    /// Detail endpoint with an `{id}` placeholder, relative to the system's base URL, for
    /// example `/api/medications/{id}`.
    pub endpoint: String,
    /// JSONPath of the id in the webhook's record. Default: `$.id`.
    #[serde(default = "default_id_path")]
    pub id: String,
}

fn default_id_path() -> String {
    "$.id".to_string()
}

/// The table written and how rows are identified.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// PostgreSQL table name.
    pub table: String,
    /// Natural key: the mapped column(s) that identify a row; upserts merge on them.
    pub key: Vec<String>,
    /// Mapped column holding the source's version (for example the upstream `updated_at`).
    /// A write carrying an older version than the stored row is refused as stale.
    #[serde(default)]
    pub version: Option<String>,
    /// JSONB column that keeps the full source record, unknown fields included.
    #[serde(default)]
    pub raw: Option<String>,
    /// Columns the database computes from mapped ones (`GENERATED ALWAYS AS ... STORED`, for
    /// example `email_lower`). Never written; link rules and Coda mappings may read them.
    /// `runner validate --db` checks that each is a generated column.
    #[serde(default)]
    pub generated: Vec<String>,
}

/// Expansion of one record into several rows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expand {
    /// Label -> JSONPath of one item. Each item that is present yields one row. Field paths
    /// then read a document `{record, item, label}`: `$.record.id`, `$.item.insurance_company`,
    /// `$.label`.
    pub items: BTreeMap<String, String>,
    /// Mapped column that must be non-empty for an item to yield a row (for example
    /// `insurance_company`, so an empty insurance slot yields nothing).
    #[serde(default)]
    pub require: Option<String>,
}

/// How one column is computed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// JSONPath (RFC 9535) of the value in the source record, for example `$.first_name`.
    #[serde(default)]
    pub path: Option<String>,
    /// minijinja expression template producing the value. It sees `value` (what `path`
    /// found, or null) and `record` (the whole source document), for example
    /// `"{{ value[:10] }}"`. Its output is text, then coerced to `type`.
    #[serde(default)]
    pub transform: Option<String>,
    /// Declared column type; the value is coerced to it or the record fails with a clear
    /// error. Default: `text`.
    #[serde(rename = "type", default = "default_type")]
    pub ty: FieldType,
    /// Value used when the source has none (null or absent).
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// A record without a value for this field fails mapping instead of writing null.
    #[serde(default)]
    pub required: bool,
    /// Resolve a source id to a local foreign key: the stored value is the `id` of the row of
    /// `table` whose `by` column equals the mapped value (null until that row exists).
    #[serde(default)]
    pub lookup: Option<Lookup>,
}

fn default_type() -> FieldType {
    FieldType::Text
}

/// A foreign-key lookup.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// Table to look in, for example `patients`.
    pub table: String,
    /// Column of that table that holds the source id, for example `drchrono_id`.
    pub by: String,
}
