//! Rows to Coda cells: the mappings of `mappings/*.yaml` compiled once, into the plan (`from`
//! columns and minijinja templates), PostgreSQL values converted to what Coda accepts, and the
//! content hash that decides whether a row must be sent again.
//!
//! Values arrive as `to_jsonb(row)` read with `timezone = UTC`, so dates are ISO 8601
//! (`2024-05-01`), timestamps RFC 3339 (`2024-05-01T14:00:00+00:00`), integers and numerics
//! numbers, booleans booleans and arrays arrays. Conversion then makes every value a Coda
//! `Value`: null becomes `""` (so a cleared field clears the cell), arrays keep at most one
//! level of nesting, and objects (jsonb) become their JSON text.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::PushError;
use crate::store::Ident;

/// Where a Coda column's value comes from.
#[derive(Debug, Clone)]
enum ColumnSource {
    /// A PostgreSQL column.
    From(String),
    /// A compiled template, by its name in the environment.
    Template(String),
}

/// One mapping, ready to turn rows into cells.
#[derive(Debug, Clone)]
pub struct CompiledMapping {
    /// The mapping name (file stem).
    pub name: String,
    /// The Coda doc id.
    pub doc: String,
    /// The Coda table id.
    pub table: String,
    /// The PostgreSQL table or view.
    pub source: Ident,
    /// The PostgreSQL key columns.
    pub key: Vec<String>,
    /// The Coda ids of the key columns (`keyColumns`), in key order.
    pub key_ids: Vec<String>,
    /// Remove soft-deleted rows from Coda instead of writing them.
    pub skip_deleted: bool,
    columns: Vec<(String, ColumnSource)>,
    /// The `label` of each column (its id when it has none), in mapping order.
    labels: Vec<String>,
}

impl CompiledMapping {
    /// The Coda ids of every column this mapping writes, in mapping order.
    pub fn column_ids(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(id, _)| id.as_str())
    }

    /// The label of column `id` (for reports: people know labels, and labels are no data).
    pub fn label<'a>(&'a self, id: &'a str) -> &'a str {
        self.columns
            .iter()
            .position(|(c, _)| c == id)
            .and_then(|i| self.labels.get(i))
            .map_or(id, String::as_str)
    }
}

/// Every mapping of a plan, compiled once.
#[derive(Debug)]
pub struct Mappings {
    /// The mappings, by name order.
    pub list: Vec<CompiledMapping>,
    env: Environment<'static>,
}

impl Mappings {
    /// Compiles mapping files by name; `doc_id` is the doc of those that name none.
    pub fn compile_files(
        files: &std::collections::BTreeMap<String, crate::config::coda_mapping::CodaMappingFile>,
        doc_id: &str,
    ) -> Result<Self, PushError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut list = Vec::new();
        for (name, file) in files {
            let fail = |reason: String| PushError::Mapping {
                mapping: name.clone(),
                reason,
            };
            let mut columns = Vec::new();
            for c in &file.columns {
                let source = match (&c.from, &c.template) {
                    (Some(col), None) => ColumnSource::From(col.clone()),
                    (None, Some(src)) => {
                        let tname = format!("{name}.{}", c.id);
                        env.add_template_owned(tname.clone(), src.clone())
                            .map_err(|e| {
                                fail(format!(
                                    "template of {} does not compile: {}",
                                    c.id,
                                    e.kind()
                                ))
                            })?;
                        ColumnSource::Template(tname)
                    }
                    _ => {
                        return Err(fail(format!(
                            "column {} needs exactly one of `from` and `template`",
                            c.id
                        )));
                    }
                };
                columns.push((c.id.clone(), source));
            }
            let key_ids = file
                .key
                .iter()
                .map(|k| {
                    columns
                        .iter()
                        .find(|(_, s)| matches!(s, ColumnSource::From(f) if f == k))
                        .map(|(id, _)| id.clone())
                        .ok_or_else(|| {
                            fail(format!("key column `{k}` is not mapped to a Coda column"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            list.push(CompiledMapping {
                name: name.clone(),
                doc: file.doc.clone().unwrap_or_else(|| doc_id.to_string()),
                table: file.table.clone(),
                source: Ident::new(&file.source).map_err(|e| fail(e.to_string()))?,
                key: file.key.clone(),
                key_ids,
                skip_deleted: file.skip_deleted,
                labels: file
                    .columns
                    .iter()
                    .map(|c| c.label.clone().unwrap_or_else(|| c.id.clone()))
                    .collect(),
                columns,
            });
        }
        Ok(Mappings { list, env })
    }

    /// The mappings fed by PostgreSQL table `source`.
    pub fn for_source<'a>(
        &'a self,
        source: &'a str,
    ) -> impl Iterator<Item = &'a CompiledMapping> + 'a {
        self.list
            .iter()
            .filter(move |m| m.source.as_str() == source)
    }

    /// The cells of `row` (a `to_jsonb` object) in mapping order. The error names the column
    /// id whose template failed, never a value.
    pub fn cells(
        &self,
        m: &CompiledMapping,
        row: &Map<String, Value>,
    ) -> Result<Vec<(String, Value)>, String> {
        m.columns
            .iter()
            .map(|(id, source)| {
                let v = match source {
                    ColumnSource::From(col) => coda_value(row.get(col).unwrap_or(&Value::Null)),
                    ColumnSource::Template(t) => {
                        let tmpl = self.env.get_template(t).map_err(|_| id.clone())?;
                        let out = tmpl
                            .render(minijinja::value::Serde(row))
                            .map_err(|_| id.clone())?;
                        Value::String(if out == "none" { String::new() } else { out })
                    }
                };
                Ok((id.clone(), v))
            })
            .collect()
    }

    /// The key cells of `row` (Coda id and value), in key order.
    pub fn key_cells(&self, m: &CompiledMapping, row: &Map<String, Value>) -> Vec<(String, Value)> {
        m.key
            .iter()
            .zip(&m.key_ids)
            .map(|(col, id)| (id.clone(), coda_value(row.get(col).unwrap_or(&Value::Null))))
            .collect()
    }
}

/// A PostgreSQL JSON value as a Coda cell value (see the module docs).
pub fn coda_value(v: &Value) -> Value {
    match v {
        Value::Null => Value::String(String::new()),
        Value::Array(items) => Value::Array(items.iter().map(|i| nested(i, 1)).collect()),
        Value::Object(_) => Value::String(v.to_string()),
        scalar => scalar.clone(),
    }
}

fn nested(v: &Value, depth: usize) -> Value {
    match v {
        Value::Null => Value::String(String::new()),
        Value::Array(items) if depth < 2 => {
            Value::Array(items.iter().map(|i| nested(i, depth + 1)).collect())
        }
        Value::Array(_) | Value::Object(_) => Value::String(v.to_string()),
        scalar => scalar.clone(),
    }
}

/// The text form under which two cells are the same: strings as they are, numbers by value
/// (`12`, `12.0` and `"12"` agree), booleans and arrays as text. Coda may hand back a number we
/// sent as text or the reverse; under this form both sides compare equal exactly when a push
/// of the PostgreSQL value would change nothing a person sees.
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => {
                format!("{}", f as i64)
            }
            Some(f) => f.to_string(),
            None => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(cell_text).collect::<Vec<_>>().join(",")
        ),
        Value::Object(_) => v.to_string(),
    }
}

/// Whether Coda's cell `have` (`None`: never written, which Coda serves as blank) holds `want`.
pub fn same_cell(have: Option<&Value>, want: &Value) -> bool {
    match have {
        Some(h) => h == want || cell_text(h) == cell_text(want),
        None => cell_text(want).is_empty(),
    }
}

/// One row as sent: `{"cells":[{"column":..,"value":..},..]}`.
pub fn row_json(cells: &[(String, Value)]) -> String {
    let cells: Vec<Value> = cells
        .iter()
        .map(|(c, v)| serde_json::json!({ "column": c, "value": v }))
        .collect();
    serde_json::json!({ "cells": cells }).to_string()
}

/// The content hash of a row as sent (hex SHA-256 of [`row_json`]): column ids and values,
/// so a mapping edit resends the rows it changes.
pub fn content_hash(row_json: &str) -> String {
    hex::encode(Sha256::digest(row_json.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_become_what_coda_accepts() {
        assert_eq!(coda_value(&Value::Null), json!(""));
        assert_eq!(coda_value(&json!(12)), json!(12));
        assert_eq!(coda_value(&json!(true)), json!(true));
        assert_eq!(coda_value(&json!("2024-05-01")), json!("2024-05-01"));
        assert_eq!(coda_value(&json!(["F32.9", null])), json!(["F32.9", ""]));
        assert_eq!(coda_value(&json!([[1, [2]]])), json!([[1, "[2]"]]));
        assert_eq!(coda_value(&json!({"a": 1})), json!("{\"a\":1}"));
        assert_eq!(coda_value(&json!([{"a": 1}])), json!(["{\"a\":1}"]));
    }

    #[test]
    fn cells_compare_by_their_text_form() {
        assert!(same_cell(Some(&json!(12)), &json!(12.0)));
        assert!(same_cell(Some(&json!("12")), &json!(12)));
        assert!(same_cell(None, &json!("")));
        assert!(same_cell(Some(&json!(["a", 1])), &json!(["a", 1.0])));
        assert!(!same_cell(Some(&json!("a")), &json!("b")));
        assert!(!same_cell(None, &json!(false)));
        assert!(!same_cell(Some(&json!(["a", "b"])), &json!("a,b")));
    }

    #[test]
    fn the_hash_follows_ids_and_values() {
        let a = row_json(&[("c-a".into(), json!("x"))]);
        let b = row_json(&[("c-b".into(), json!("x"))]);
        let c = row_json(&[("c-a".into(), json!("y"))]);
        assert_eq!(a, r#"{"cells":[{"column":"c-a","value":"x"}]}"#);
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
        assert_eq!(content_hash(&a), content_hash(&a.clone()));
    }
}
