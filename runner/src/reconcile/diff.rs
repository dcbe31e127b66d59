//! The comparison at the heart of reconcile, pure (no I/O): what the mapping makes of the
//! PostgreSQL rows against the rows Coda serves, matched by merge key in the canonical cell
//! form of the push ([`cell_text`]). Rows are grouped by key in Coda's listing order (creation
//! order), so of a key held twice the oldest row is the one kept.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use uuid::Uuid;

use crate::push::{CodaRow, CompiledMapping, cell_text, same_cell};

/// What the mapping makes of one PostgreSQL row.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The row's `id`.
    pub id: Uuid,
    /// Its cells, in mapping order.
    pub cells: Vec<(String, Value)>,
}

/// A merge key held by more than one Coda row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The PostgreSQL row of the key.
    pub record: Uuid,
    /// The Coda row kept (the oldest).
    pub keep: String,
    /// The other Coda rows with the key.
    pub others: Vec<String>,
}

/// A Coda row whose synced cells differ from PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The PostgreSQL row.
    pub record: Uuid,
    /// The Coda row.
    pub row: String,
    /// The Coda ids of the cells that differ, in mapping order.
    pub columns: Vec<String>,
}

/// Everything that differs between one Coda table and PostgreSQL. Ids only, never values.
#[derive(Debug, Clone, Default)]
pub struct Drift {
    /// PostgreSQL rows with no Coda row.
    pub missing: Vec<Uuid>,
    /// Coda rows (their oldest one per key) whose synced cells differ.
    pub changed: Vec<Changed>,
    /// Coda rows whose key matches no PostgreSQL row.
    pub extra: Vec<String>,
    /// Keys held by several Coda rows.
    pub duplicates: Vec<Duplicate>,
    /// PostgreSQL rows Coda holds exactly: (row id, Coda row id).
    pub equal: Vec<(Uuid, String)>,
}

impl Drift {
    /// True when Coda equals PostgreSQL.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
            && self.changed.is_empty()
            && self.extra.is_empty()
            && self.duplicates.is_empty()
    }
}

/// The merge key of a row's cells, in the canonical form (unit separator between parts).
fn key_of<'a>(m: &CompiledMapping, cell: impl Fn(&str) -> Option<&'a Value>) -> String {
    m.key_ids
        .iter()
        .map(|k| cell(k).map(cell_text).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Compares `expected` (the mapping's rows of PostgreSQL) with `coda` (the table's rows in
/// listing order).
pub(super) fn diff(m: &CompiledMapping, expected: &[Expected], coda: &[CodaRow]) -> Drift {
    let mut by_key: HashMap<String, Vec<&CodaRow>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for row in coda {
        let key = key_of(m, |k| row.1.get(k));
        let rows = by_key.entry(key.clone()).or_default();
        if rows.is_empty() {
            order.push(key);
        }
        rows.push(row);
    }
    let mut drift = Drift::default();
    let mut matched: HashSet<String> = HashSet::new();
    for e in expected {
        let key = key_of(m, |k| e.cells.iter().find(|(c, _)| c == k).map(|(_, v)| v));
        let Some(rows) = by_key.get(&key) else {
            drift.missing.push(e.id);
            continue;
        };
        let Some(((keep, values), others)) = rows.split_first().map(|(f, o)| (*f, o)) else {
            drift.missing.push(e.id);
            continue;
        };
        matched.insert(key);
        if !others.is_empty() {
            drift.duplicates.push(Duplicate {
                record: e.id,
                keep: keep.clone(),
                others: others.iter().map(|r| r.0.clone()).collect(),
            });
        }
        let columns: Vec<String> = e
            .cells
            .iter()
            .filter(|(c, want)| !same_cell(values.get(c), want))
            .map(|(c, _)| c.clone())
            .collect();
        if columns.is_empty() {
            drift.equal.push((e.id, keep.clone()));
        } else {
            drift.changed.push(Changed {
                record: e.id,
                row: keep.clone(),
                columns,
            });
        }
    }
    for key in &order {
        if !matched.contains(key) {
            let rows = by_key.get(key).map(Vec::as_slice).unwrap_or_default();
            drift.extra.extend(rows.iter().map(|r| r.0.clone()));
        }
    }
    drift
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::push::Mappings;

    fn mapping() -> (Mappings, usize) {
        // One mapping: index 0.
        let yaml = "table: grid-t\nsource: t\nkey: [k]\ncolumns:\n  - {id: c-k, from: k}\n  - {id: c-a, label: A, from: a}\n";
        let file: crate::config::coda_mapping::CodaMappingFile =
            serde_saphyr::from_str(yaml).unwrap();
        let mut plan_maps = std::collections::BTreeMap::new();
        plan_maps.insert("t".to_string(), file);
        (Mappings::compile_files(&plan_maps, "doc").unwrap(), 0)
    }

    fn coda(id: &str, k: Value, a: Value) -> CodaRow {
        let mut v = serde_json::Map::new();
        v.insert("c-k".into(), k);
        v.insert("c-a".into(), a);
        v.insert("c-own".into(), json!("staff note"));
        (id.to_string(), v)
    }

    fn want(n: u128, k: Value, a: Value) -> Expected {
        Expected {
            id: Uuid::from_u128(n),
            cells: vec![("c-k".into(), k), ("c-a".into(), a)],
        }
    }

    #[test]
    fn missing_changed_extra_and_duplicate_rows_are_found_by_key() {
        let (maps, i) = mapping();
        let m = &maps.list[i];
        let expected = [
            want(1, json!(1), json!("x")),
            want(2, json!(2), json!("y")),
            want(3, json!(3), json!("z")),
            want(4, json!(4), json!(5)),
        ];
        let rows = [
            coda("i-1", json!(1), json!("x")),
            coda("i-2", json!("2"), json!("edited")),
            coda("i-9", json!(9), json!("mine")),
            coda("i-1b", json!(1.0), json!("x")),
            coda("i-4", json!(4), json!("5")),
        ];
        let d = diff(m, &expected, &rows);
        assert_eq!(d.missing, vec![Uuid::from_u128(3)]);
        assert_eq!(
            d.changed,
            vec![Changed {
                record: Uuid::from_u128(2),
                row: "i-2".into(),
                columns: vec!["c-a".into()],
            }]
        );
        assert_eq!(d.extra, vec!["i-9".to_string()]);
        assert_eq!(
            d.duplicates,
            vec![Duplicate {
                record: Uuid::from_u128(1),
                keep: "i-1".into(),
                others: vec!["i-1b".into()],
            }]
        );
        assert_eq!(
            d.equal,
            vec![
                (Uuid::from_u128(1), "i-1".to_string()),
                (Uuid::from_u128(4), "i-4".to_string())
            ]
        );
        assert!(!d.is_empty());
        assert_eq!(m.label("c-a"), "A");
        assert_eq!(m.label("c-k"), "c-k");
    }

    #[test]
    fn an_equal_table_has_no_drift_whatever_columns_coda_adds() {
        let (maps, i) = mapping();
        let d = diff(
            &maps.list[i],
            &[want(1, json!(1), json!("x"))],
            &[coda("i-1", json!(1), json!("x"))],
        );
        assert!(d.is_empty());
    }
}
