//! The simulated doc contents: tables, their columns and rows, and how a reference (id, URL
//! or name) finds one of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A column of a table, as tests define it and as the simulator stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The column id, e.g. `c-tuVwxYz`.
    pub id: String,
    /// The column name, e.g. `Patient name`.
    pub name: String,
    /// True when the column has a formula: upserts that write it get 400. Default false.
    #[serde(default)]
    pub calculated: bool,
    /// The formula text served in `formula`, if any. Default none.
    #[serde(default)]
    pub formula: Option<String>,
    /// The `format.type` served (`text`, `number`, `date`, ...). Default `text`.
    #[serde(default = "text_format")]
    pub format: String,
    /// True for the display column (the row `name`). Default: the first column is it.
    #[serde(default)]
    pub display: bool,
}

fn text_format() -> String {
    "text".to_owned()
}

impl Default for ColumnSpec {
    /// An empty writable text column, for `ColumnSpec { id, name, ..Default::default() }`.
    fn default() -> Self {
        Self::new("", "")
    }
}

impl ColumnSpec {
    /// A writable text column.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            calculated: false,
            formula: None,
            format: text_format(),
            display: false,
        }
    }

    /// The same column, marked calculated (it has a formula and cannot be written).
    pub fn calculated(mut self) -> Self {
        self.calculated = true;
        self
    }

    /// The same column with another `format.type`.
    pub fn with_format(mut self, format: impl Into<String>) -> Self {
        self.format = format.into();
        self
    }
}

/// A row as stored: cell values keyed by column id, exactly as last written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The row id, e.g. `i-AbCdEfGhIj`.
    pub id: String,
    /// Cell values by column id; a column never written has no entry.
    pub values: BTreeMap<String, Value>,
    /// When the row was added.
    pub created_at: DateTime<Utc>,
    /// When the row was last written.
    pub updated_at: DateTime<Utc>,
    /// Insertion order, for `sortBy=createdAt` and page tokens.
    #[serde(skip)]
    pub(crate) seq: u64,
    /// Order of the last write, for `sortBy=updatedAt` and page tokens.
    #[serde(skip)]
    pub(crate) version: u64,
}

/// A base table: its columns in display order and its rows in natural (insertion) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The table id, e.g. `grid-pqRst-U`.
    pub id: String,
    /// The table name.
    pub name: String,
    /// The columns, in order.
    pub columns: Vec<ColumnSpec>,
    /// The rows, in natural order (`index` is the position here).
    pub rows: Vec<Row>,
    /// When the table was created.
    pub created_at: DateTime<Utc>,
    /// When the table or its contents last changed.
    pub updated_at: DateTime<Utc>,
}

impl Table {
    /// Finds a column by id, by API URL (`.../columns/<id>`) or by name, in that order.
    pub fn column(&self, reference: &str) -> Option<&ColumnSpec> {
        let by_id = |id: &str| self.columns.iter().find(|c| c.id == id);
        by_id(reference)
            .or_else(|| {
                let (_, tail) = reference.rsplit_once("/columns/")?;
                by_id(tail.trim_end_matches('/'))
            })
            .or_else(|| self.columns.iter().find(|c| c.name == reference))
    }

    /// The display column: the one flagged `display`, else the first.
    pub fn display_column(&self) -> Option<&ColumnSpec> {
        self.columns
            .iter()
            .find(|c| c.display)
            .or_else(|| self.columns.first())
    }

    /// Finds a row by id, else the first row whose display value equals `reference`.
    pub fn row_position(&self, reference: &str) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| r.id == reference)
            .or_else(|| {
                let display = self.display_column()?;
                self.rows.iter().position(|r| {
                    r.values
                        .get(&display.id)
                        .is_some_and(|v| super::render::plain(v) == reference)
                })
            })
    }
}

/// A doc: its tables in creation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Doc {
    /// The tables, in creation order.
    pub tables: Vec<Table>,
}

impl Doc {
    /// Finds a table by id, by API URL (`.../tables/<id>`) or by name, in that order.
    pub(crate) fn table_position(&self, reference: &str) -> Option<usize> {
        let by_id = |id: &str| self.tables.iter().position(|t| t.id == id);
        by_id(reference)
            .or_else(|| {
                let (_, tail) = reference.rsplit_once("/tables/")?;
                by_id(tail.trim_end_matches('/'))
            })
            .or_else(|| self.tables.iter().position(|t| t.name == reference))
    }
}

/// Cell equality for upsert keys and `query`: numbers compare by value (`1` equals `1.0`),
/// arrays element by element, everything else exactly.
pub(super) fn cell_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| cell_eq(p, q))
        }
        _ => a == b,
    }
}

/// A text form of a cell under which two cells are equal exactly when [`cell_eq`] says so
/// (numbers compare by value, arrays element by element).
pub(super) fn canonical(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("n:{}", n.as_f64().unwrap_or(f64::NAN)),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn table() -> Table {
        Table {
            id: "grid-1".into(),
            name: "Tasks".into(),
            columns: vec![ColumnSpec::new("c-a", "Name"), ColumnSpec::new("c-b", "B")],
            rows: Vec::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn columns_resolve_by_id_url_and_name() {
        let t = table();
        assert_eq!(t.column("c-b").map(|c| c.name.as_str()), Some("B"));
        let url = "https://coda.io/apis/v1/docs/d/tables/grid-1/columns/c-b";
        assert_eq!(t.column(url).map(|c| c.id.as_str()), Some("c-b"));
        assert_eq!(t.column("Name").map(|c| c.id.as_str()), Some("c-a"));
        assert!(t.column("nope").is_none());
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(cell_eq(&json!(1), &json!(1.0)));
        assert!(cell_eq(&json!(["a", 2]), &json!(["a", 2.0])));
        assert!(!cell_eq(&json!("1"), &json!(1)));
    }
}
