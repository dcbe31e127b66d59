//! The Coda drift check behind `runner coda check`: the columns of every mapped Coda table,
//! read from the live doc, compared with `mappings/*.yaml`.
//!
//! Errors (the push would fail or write the wrong thing): a table that does not exist, a
//! mapped column id that no longer exists (worse for a key column: upserts cannot match rows),
//! a mapped column that is calculated (Coda refuses writes to formula columns). Notices: a
//! table or column whose display name differs from the mapping's `label`; names change, ids
//! are stable, so the push keeps working and only the label is stale. Every finding is
//! located at its node (`mappings/<file>.yaml:line:col`).

mod reader;

use std::collections::HashMap;

use serde_json::Value;

use crate::config::coda_mapping::CodaMappingFile;
use crate::config::{Config, Diagnostics, Plan, SourceFile};
use crate::source::SourceError;

pub use reader::CodaReader;

/// A column as `listColumns` serves it (only what the check reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteColumn {
    /// Column id (`c-...`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// True when the column has a formula (it cannot be written).
    pub calculated: bool,
}

impl RemoteColumn {
    /// Reads a `Column` object; `None` when it has no id.
    pub fn from_json(v: &Value) -> Option<Self> {
        Some(RemoteColumn {
            id: v.get("id")?.as_str()?.to_string(),
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            calculated: v
                .get("calculated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// What the doc holds for one mapped table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteTable {
    /// The table (or its doc) does not exist, or the token cannot see it (404).
    Missing,
    /// The table's display name and columns.
    Found {
        /// Display name.
        name: String,
        /// Every column, in the doc's order.
        columns: Vec<RemoteColumn>,
    },
}

/// Reads one table: `getTable` for its name, then every page of `listColumns`.
pub async fn fetch(
    reader: &CodaReader,
    doc: &str,
    table: &str,
) -> Result<RemoteTable, SourceError> {
    let path = ["docs", doc, "tables", table];
    let detail = match reader.get_json(&reader.url(&path, &[])?).await {
        Ok(v) => v,
        Err(SourceError::Status { status: 404, .. }) => return Ok(RemoteTable::Missing),
        Err(e) => return Err(e),
    };
    let columns = match reader
        .list(&["docs", doc, "tables", table, "columns"])
        .await
    {
        Ok(items) => items.iter().filter_map(RemoteColumn::from_json).collect(),
        Err(SourceError::Status { status: 404, .. }) => return Ok(RemoteTable::Missing),
        Err(e) => return Err(e),
    };
    Ok(RemoteTable::Found {
        name: detail
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        columns,
    })
}

/// Compares one mapping with what the doc holds; findings are located in `source`.
pub fn compare(
    source: &SourceFile,
    m: &CodaMappingFile,
    doc: &str,
    remote: &RemoteTable,
    diags: &mut Diagnostics,
) {
    let (name, columns) = match remote {
        RemoteTable::Missing => {
            diags.push(source.error("/table", missing_table(&m.table, doc)));
            return;
        }
        RemoteTable::Found { name, columns } => (name, columns),
    };
    if let Some(label) = &m.label
        && label != name
    {
        diags.push(source.notice("/label", renamed("table", &m.table, name, label)));
    }
    let by_id: HashMap<&str, &RemoteColumn> = columns.iter().map(|c| (c.id.as_str(), c)).collect();
    for (i, c) in m.columns.iter().enumerate() {
        let at = format!("/columns/{i}");
        let key_from = c.from.as_deref().filter(|f| m.key.iter().any(|k| k == f));
        let Some(remote) = by_id.get(c.id.as_str()) else {
            let message = match key_from {
                Some(f) => format!(
                    "key column `{}` (from `{f}`) no longer exists in Coda table `{}`: upserts cannot match rows",
                    c.id, m.table
                ),
                None => format!(
                    "column `{}` no longer exists in Coda table `{}`",
                    c.id, m.table
                ),
            };
            diags.push(source.error(&format!("{at}/id"), message));
            continue;
        };
        if remote.calculated {
            diags.push(source.error(
                &format!("{at}/id"),
                format!(
                    "column `{}` (`{}`) of Coda table `{}` is calculated (it has a formula) and cannot be written",
                    c.id, remote.name, m.table
                ),
            ));
        }
        if let Some(label) = &c.label
            && *label != remote.name
        {
            diags.push(source.notice(
                &format!("{at}/label"),
                renamed("column", &c.id, &remote.name, label),
            ));
        }
    }
}

/// The finding for a mapped table the doc does not hold (`runner coda reconcile` says the same).
pub fn missing_table(table: &str, doc: &str) -> String {
    format!("Coda table `{table}` does not exist in doc `{doc}` (or the API token cannot see it)")
}

fn renamed(what: &str, id: &str, name: &str, label: &str) -> String {
    format!(
        "Coda names {what} `{id}` `{name}`, the mapping's label is `{label}` (ids are stable: only the label is stale)"
    )
}

/// Checks every mapping of `plan` against the live doc. `Err` only when Coda could not be
/// read (network, auth, throttling past the retries); drift itself is in the diagnostics.
pub async fn check(
    plan: &Plan,
    config: &Config,
    reader: &CodaReader,
) -> Result<Diagnostics, SourceError> {
    let mut diags = Diagnostics::default();
    for (name, m) in &plan.mappings {
        let Some(doc) = config.mappings.get(name) else {
            continue;
        };
        let doc_id = m.doc.as_deref().unwrap_or(&plan.systems.coda.doc_id);
        let remote = fetch(reader, doc_id, &m.table).await?;
        compare(&doc.source, m, doc_id, &remote, &mut diags);
    }
    Ok(diags.finish())
}

#[cfg(test)]
mod tests;
