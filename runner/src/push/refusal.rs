//! Refusals that concern a Coda table, not a row.
//!
//! Coda answers 400 both for a bad row and for a request no row can pass (a mapped column was
//! deleted or turned into a formula: every row writes it), and 404 when the table is gone. Its
//! error body is `{statusCode, statusMessage, message}` with free text that may echo cell
//! values, so the push never reads it. Instead, the first 400 or 404 of a push to a table costs
//! one `listColumns` read that compares the table with the mapping. A mapped column that is
//! missing or calculated (or a missing table) stops that table: its rows are not bisected one by
//! one (two write calls per row, every retry round), and the reason names the column ids and
//! says to run `runner coda check`. Anything else is a row's fault and the batch is split.

use std::collections::HashMap;

use super::cells::CompiledMapping;
use super::client::CodaClient;
use super::error::{CodaError, PushError};

/// Whether `e`, an answer to a write or a key lookup on `m`'s table, may concern the table.
pub(super) fn may_concern_table(e: &CodaError) -> bool {
    matches!(e.status(), Some(400 | 404))
}

/// Compares `m`'s table with the mapping; `Some(reason)` when no row of it can be written.
pub(super) async fn table_fault(
    coda: &CodaClient,
    m: &CompiledMapping,
) -> Result<Option<String>, PushError> {
    let columns = match coda.list_columns(&m.doc, &m.table).await {
        Ok(c) => c,
        Err(e) if e.status() == Some(404) => {
            return Ok(Some(format!(
                "{}: Coda table not found in doc {} (404); run `runner coda check`",
                m.table, m.doc
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let calculated: HashMap<&str, bool> = columns
        .iter()
        .map(|c| (c.id.as_str(), c.calculated))
        .collect();
    let missing: Vec<&str> = m
        .column_ids()
        .filter(|id| !calculated.contains_key(id))
        .collect();
    let formulas: Vec<&str> = m
        .column_ids()
        .filter(|id| calculated.get(id) == Some(&true))
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "column {} of mappings/{}.yaml no longer exists in Coda",
            missing.join(", "),
            m.name
        ));
    }
    if !formulas.is_empty() {
        problems.push(format!(
            "column {} of mappings/{}.yaml is calculated in Coda and cannot be written",
            formulas.join(", "),
            m.name
        ));
    }
    Ok((!problems.is_empty()).then(|| {
        format!(
            "{}: {}; run `runner coda check`",
            m.table,
            problems.join("; ")
        )
    }))
}
