//! `pipelines/links.yaml`: rules that link rows of one table to rows of another (Deep Cura
//! notes to DrChrono clinical notes), tried strategy by strategy, with a review queue for what
//! matches nothing or more than one row.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// All linking rules.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinksFile {
    /// The rules, run in order.
    pub links: Vec<LinkRule>,
}

/// Links rows of `from` to a row of `to`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRule {
    /// Name of the rule, shown in `runner review` and the audit log.
    pub name: String,
    /// Table whose rows get linked (a pipeline's target table).
    pub from: String,
    /// Table linked to (a pipeline's target table).
    pub to: String,
    /// A table joined to `to` so that strategies can match on its columns, written
    /// `<table>.<column>` (for example the appointment's date of a clinical note).
    #[serde(default)]
    pub join: Option<LinkJoin>,
    /// Strategies tried in order; the first that finds exactly one row wins.
    pub strategies: Vec<Strategy>,
    /// Columns of `from` set on a match -> column of `to` whose value they take.
    pub set: BTreeMap<String, String>,
    /// Column of `from` that records which strategy linked the row.
    #[serde(default)]
    pub method_column: Option<String>,
    /// Column of `from` that records when the row was linked.
    #[serde(default)]
    pub linked_at_column: Option<String>,
    /// What happens to a row that no strategy links.
    pub unmatched: Unmatched,
}

/// A table joined to the link target.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkJoin {
    /// The joined table.
    pub table: String,
    /// Column of `to` -> column of the joined table; all must be equal.
    pub on: BTreeMap<String, String>,
}

/// One way to find the target row.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Name recorded in `method_column` (for example `appointment_id`).
    pub name: String,
    /// Column of `from` -> column of `to` (or `<join table>.<column>`); all must be equal and
    /// non-null. When more than one target row matches, the row goes to review: a link is
    /// never guessed.
    #[serde(rename = "match")]
    pub matches: BTreeMap<String, String>,
}

/// Handling of rows no strategy links.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unmatched {
    /// Boolean column of `from` set to true while the row waits for manual review.
    pub review_flag_column: String,
    /// Text column of `from` that says why (no match, or several matches).
    pub review_reason_column: String,
    /// Timestamp column of `from` that staff set when they dismiss a row from the review queue
    /// (the admin dashboard). A dismissed row is left alone by the rule: never linked again,
    /// never flagged again. Without it, rows cannot be dismissed.
    #[serde(default)]
    pub dismissed_at_column: Option<String>,
}
