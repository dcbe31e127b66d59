//! `mappings/<coda-table>.yaml`: which PostgreSQL table feeds a Coda table, and which column
//! (or template) goes to which Coda column ID. IDs are stable; display names are only labels.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One Coda table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodaMappingFile {
    /// Coda doc id. Default: the `doc_id` of `systems.yaml`.
    #[serde(default)]
    pub doc: Option<String>,
    /// Coda table id (`grid-...`); never the display name.
    pub table: String,
    /// The table's display name in Coda, for people; `runner coda check` notes a difference.
    #[serde(default)]
    pub label: Option<String>,
    /// PostgreSQL table (or view) whose rows fill the Coda table.
    pub source: String,
    /// PostgreSQL column(s) whose Coda columns are the upsert merge key.
    pub key: Vec<String>,
    /// Skip soft-deleted rows (`deleted_at` set) and remove them from Coda. Default: true.
    #[serde(default = "default_true")]
    pub skip_deleted: bool,
    /// What `runner coda reconcile --repair` does with a Coda row whose merge key matches no
    /// PostgreSQL row: `report` it (the table may hold rows of Coda's own) or `delete` it (Coda
    /// holds nothing of its own here). Write-back tables may only report. Default: `report`.
    #[serde(default)]
    pub extra_rows: super::reconcile::ExtraRows,
    /// Column mappings.
    pub columns: Vec<CodaColumn>,
}

fn default_true() -> bool {
    true
}

/// One Coda column.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodaColumn {
    /// Coda column id, `c-` followed by letters, digits, `_` or `-`.
    pub id: String,
    /// The column's display name in Coda; `runner coda check` notes a difference.
    #[serde(default)]
    pub label: Option<String>,
    /// PostgreSQL column whose value is written.
    #[serde(default)]
    pub from: Option<String>,
    /// minijinja template over the row's columns, instead of `from`, for example
    /// `"{{ first_name }} {{ last_name }}"`.
    #[serde(default)]
    pub template: Option<String>,
}
