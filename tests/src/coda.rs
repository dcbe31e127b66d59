//! The Coda side of the suite, read from `mappings/*.yaml` on its own (not through the
//! runner's code): each mapping's table created in the simulator, and the comparison of a
//! Coda table with PostgreSQL by merge key, cell by cell, for every column mapped `from` a
//! PostgreSQL column, in the cell form the README documents (null is an empty cell, JSON
//! objects are their text, timestamps RFC 3339 in UTC).

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sim::coda::{CodaState, ColumnSpec};

use crate::db::Db;
use crate::repo;

/// One Coda mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The file stem.
    pub name: String,
    /// The Coda table id.
    pub table: String,
    /// The PostgreSQL table it shows.
    pub source: String,
    /// PostgreSQL key columns.
    pub key: Vec<String>,
    /// Soft-deleted rows leave Coda.
    pub skip_deleted: bool,
    /// (Coda column id, PostgreSQL column or `None` for a template).
    pub columns: Vec<(String, Option<String>)>,
    labels: Vec<String>,
}

impl Mapping {
    /// Every file of `mappings/`, by name.
    pub fn all() -> Vec<Mapping> {
        let mut out: Vec<Mapping> = std::fs::read_dir(repo().join("mappings"))
            .expect("mappings/ exists")
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).expect("readable mapping");
                let doc: Value = serde_saphyr::from_str(&text).expect("a YAML mapping");
                let name = e.path().file_stem().unwrap().to_string_lossy().into_owned();
                Mapping::from_json(name, &doc)
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn from_json(name: String, doc: &Value) -> Mapping {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let columns = doc["columns"].as_array().cloned().unwrap_or_default();
        Mapping {
            name,
            table: text(&doc["table"]),
            source: text(&doc["source"]),
            key: doc["key"]
                .as_array()
                .map(|k| k.iter().map(text).collect())
                .unwrap_or_default(),
            skip_deleted: doc["skip_deleted"].as_bool().unwrap_or(true),
            columns: columns
                .iter()
                .map(|c| (text(&c["id"]), c["from"].as_str().map(str::to_string)))
                .collect(),
            labels: columns
                .iter()
                .map(|c| {
                    c["label"]
                        .as_str()
                        .unwrap_or(c["id"].as_str().unwrap_or(""))
                })
                .map(str::to_string)
                .collect(),
        }
    }

    /// Creates the table in the simulator, with its mapped columns.
    pub fn create_in(&self, coda: &CodaState, doc: &str) {
        let columns = self
            .columns
            .iter()
            .zip(&self.labels)
            .map(|((id, _), label)| ColumnSpec::new(id, label))
            .collect();
        coda.create_table(doc, &self.table, &self.name, columns)
            .expect("the table is created");
    }

    /// The Coda id of PostgreSQL column `column`.
    pub fn column_id(&self, column: &str) -> &str {
        self.columns
            .iter()
            .find(|(_, from)| from.as_deref() == Some(column))
            .map(|(id, _)| id.as_str())
            .unwrap_or_else(|| panic!("{}: {column} is not mapped", self.name))
    }

    /// The rows of the table in the simulator.
    pub fn rows(&self, coda: &CodaState, doc: &str) -> Vec<Map<String, Value>> {
        coda.table_rows(doc, &self.table)
            .into_iter()
            .map(|r| r.values.into_iter().collect())
            .collect()
    }

    fn key_of(&self, row: &Map<String, Value>, by_id: bool) -> String {
        let key: Vec<Value> = self
            .key
            .iter()
            .map(|k| {
                let v = if by_id {
                    row.get(self.column_id(k))
                } else {
                    row.get(k)
                };
                cell(v.unwrap_or(&Value::Null))
            })
            .collect();
        Value::Array(key).to_string()
    }

    /// The Coda table holds exactly the rows PostgreSQL holds for it (live rows only when
    /// soft-deleted ones leave Coda), with every `from` cell equal.
    pub async fn assert_equal(&self, db: &Db, coda: &CodaState, doc: &str) {
        let filter = if self.skip_deleted {
            " where t.deleted_at is null"
        } else {
            ""
        };
        let want: BTreeMap<String, Map<String, Value>> = db
            .json(&format!(
                "select to_jsonb(t) from public.{} t{filter}",
                self.source
            ))
            .await
            .into_iter()
            .filter_map(|v| v.as_object().cloned())
            .map(|row| (self.key_of(&row, false), row))
            .collect();
        let have: BTreeMap<String, Map<String, Value>> = self
            .rows(coda, doc)
            .into_iter()
            .map(|row| (self.key_of(&row, true), row))
            .collect();
        assert_eq!(
            have.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{}: the Coda rows are not the PostgreSQL rows",
            self.name
        );
        for (key, row) in &want {
            for (id, from) in &self.columns {
                let Some(col) = from else { continue };
                let expected = cell(row.get(col).unwrap_or(&Value::Null));
                let actual = have[key].get(id).cloned().unwrap_or(Value::Null);
                assert!(
                    same(&expected, &actual),
                    "{}: row {key}, column {id} ({col}): Coda {actual} != PostgreSQL {expected}",
                    self.name
                );
            }
        }
    }
}

/// A PostgreSQL JSON value as its Coda cell.
fn cell(v: &Value) -> Value {
    match v {
        Value::Null => Value::String(String::new()),
        Value::Object(_) => Value::String(v.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(cell).collect()),
        other => other.clone(),
    }
}

/// Equal cells; numbers compare by value (Coda may give `1.0` for `1`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
