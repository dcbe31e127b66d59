//! The docs and everything that changes them: table and column management for tests, and the
//! appliers of accepted mutations (upsert, update, delete).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::error::SimError;
use super::model::{ColumnSpec, Doc, Row, Table, canonical};
use crate::data::SplitMix64;

/// One row of an accepted upsert: the cells to write, by column id, in request order.
pub(super) type Cells = Vec<(String, Value)>;

/// All docs, plus the id generator and the counters that order rows.
#[derive(Debug)]
pub(crate) struct Store {
    docs: BTreeMap<String, Doc>,
    rng: SplitMix64,
    seq: u64,
    last: DateTime<Utc>,
}

const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Store {
    /// An empty store whose generated ids derive from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            docs: BTreeMap::new(),
            rng: SplitMix64::new(seed),
            seq: 0,
            last: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// A doc, if it exists.
    pub(crate) fn doc(&self, doc: &str) -> Option<&Doc> {
        self.docs.get(doc)
    }

    /// A table of a doc, by id, URL or name.
    pub(crate) fn table(&self, doc: &str, table: &str) -> Result<&Table, SimError> {
        let d = self
            .docs
            .get(doc)
            .ok_or_else(|| SimError::NoDoc(doc.to_owned()))?;
        d.table_position(table)
            .and_then(|i| d.tables.get(i))
            .ok_or_else(|| no_table(doc, table))
    }

    fn table_mut(&mut self, doc: &str, table: &str) -> Result<&mut Table, SimError> {
        let d = self
            .docs
            .get_mut(doc)
            .ok_or_else(|| SimError::NoDoc(doc.to_owned()))?;
        let i = d
            .table_position(table)
            .ok_or_else(|| no_table(doc, table))?;
        d.tables.get_mut(i).ok_or_else(|| no_table(doc, table))
    }

    /// A strictly increasing wall-clock timestamp (millisecond resolution).
    fn now(&mut self) -> DateTime<Utc> {
        let next = Utc::now().max(self.last + Duration::milliseconds(1));
        self.last = next;
        next
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A random id body of `n` alphanumerics.
    pub(crate) fn random_id(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| {
                let i = self.rng.below(ID_CHARS.len() as u64) as usize;
                char::from(ID_CHARS.get(i).copied().unwrap_or(b'x'))
            })
            .collect()
    }

    /// A fresh request id, `mutate:` and a UUID-shaped hex string (the spec leaves the form
    /// open: "an arbitrary unique identifier").
    pub(crate) fn new_request_id(&mut self) -> String {
        let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
        format!(
            "mutate:{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// A fresh row id (`i-` + 10 alphanumerics) unused in the table.
    pub(crate) fn new_row_id(&mut self, taken: &dyn Fn(&str) -> bool) -> String {
        loop {
            let id = format!("i-{}", self.random_id(10));
            if !taken(&id) {
                return id;
            }
        }
    }

    /// Creates a doc (if needed) and an empty table in it.
    pub(crate) fn create_table(
        &mut self,
        doc: &str,
        id: &str,
        name: &str,
        columns: Vec<ColumnSpec>,
    ) -> Result<(), SimError> {
        if id.is_empty() || name.is_empty() {
            return Err(SimError::Invalid(
                "table id and name must be non-empty".into(),
            ));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.id.is_empty() || c.name.is_empty() {
                return Err(SimError::Invalid(
                    "column id and name must be non-empty".into(),
                ));
            }
            if columns.iter().take(i).any(|o| o.id == c.id) {
                return Err(SimError::Duplicate(c.id.clone()));
            }
        }
        let now = self.now();
        let d = self.docs.entry(doc.to_owned()).or_default();
        if d.tables.iter().any(|t| t.id == id) {
            return Err(SimError::Duplicate(id.to_owned()));
        }
        d.tables.push(Table {
            id: id.to_owned(),
            name: name.to_owned(),
            columns,
            rows: Vec::new(),
            created_at: now,
            updated_at: now,
        });
        Ok(())
    }

    /// Removes a table and returns it.
    pub(crate) fn delete_table(&mut self, doc: &str, table: &str) -> Result<Table, SimError> {
        let d = self
            .docs
            .get_mut(doc)
            .ok_or_else(|| SimError::NoDoc(doc.to_owned()))?;
        let i = d
            .table_position(table)
            .ok_or_else(|| no_table(doc, table))?;
        Ok(d.tables.remove(i))
    }

    /// Appends a column.
    pub(crate) fn add_column(
        &mut self,
        doc: &str,
        table: &str,
        c: ColumnSpec,
    ) -> Result<(), SimError> {
        if c.id.is_empty() || c.name.is_empty() {
            return Err(SimError::Invalid(
                "column id and name must be non-empty".into(),
            ));
        }
        let t = self.table_mut(doc, table)?;
        if t.columns.iter().any(|o| o.id == c.id) {
            return Err(SimError::Duplicate(c.id));
        }
        t.columns.push(c);
        Ok(())
    }

    /// Renames a column (found by id or name); its id and values stay.
    pub(crate) fn rename_column(
        &mut self,
        doc: &str,
        table: &str,
        column: &str,
        name: &str,
    ) -> Result<(), SimError> {
        let t = self.table_mut(doc, table)?;
        let id = t.column(column).map(|c| c.id.clone());
        let c = t
            .columns
            .iter_mut()
            .find(|c| Some(&c.id) == id.as_ref())
            .ok_or_else(|| no_column(&t.id, column))?;
        c.name = name.to_owned();
        Ok(())
    }

    /// Deletes a column (found by id or name) and its values in every row.
    pub(crate) fn delete_column(
        &mut self,
        doc: &str,
        table: &str,
        column: &str,
    ) -> Result<(), SimError> {
        let t = self.table_mut(doc, table)?;
        let id = t
            .column(column)
            .map(|c| c.id.clone())
            .ok_or_else(|| no_column(&t.id, column))?;
        t.columns.retain(|c| c.id != id);
        for r in &mut t.rows {
            r.values.remove(&id);
        }
        Ok(())
    }

    /// Adds a row at once (no mutation queue); keys of `values` are column ids or names.
    pub(crate) fn insert_row(
        &mut self,
        doc: &str,
        table: &str,
        values: BTreeMap<String, Value>,
    ) -> Result<Row, SimError> {
        let t = self.table(doc, table)?;
        let cells = cells_of(t, values)?;
        let table_id = t.id.clone();
        let id = self.add_row(doc, &table_id, None, &cells);
        let t = self.table(doc, &table_id)?;
        t.rows
            .iter()
            .find(|r| Some(&r.id) == id.as_ref())
            .cloned()
            .ok_or_else(|| no_table(doc, table))
    }

    /// Edits cells of row `row` (by id) at once, as a person would in the doc; keys of
    /// `values` are column ids or names. Returns the row as it is now.
    pub(crate) fn edit_row(
        &mut self,
        doc: &str,
        table: &str,
        row: &str,
        values: BTreeMap<String, Value>,
    ) -> Result<Row, SimError> {
        let t = self.table(doc, table)?;
        let cells = cells_of(t, values)?;
        let position = t
            .rows
            .iter()
            .position(|r| r.id == row)
            .ok_or_else(|| SimError::Invalid(format!("no row `{row}` in table `{}`", t.id)))?;
        let table_id = t.id.clone();
        self.write_cells(doc, &table_id, position, &cells);
        self.table(doc, &table_id)?
            .rows
            .get(position)
            .cloned()
            .ok_or_else(|| no_table(doc, table))
    }

    /// Applies an upsert: without keys every row is added (with its pre-assigned id); with
    /// keys every existing row whose key cells all equal the new ones is updated, and a row
    /// is added when none matches. Rows apply in order, so a later row can match an earlier
    /// one. Cells of columns deleted since acceptance are dropped. Returns (added, updated).
    pub(crate) fn upsert(
        &mut self,
        doc: &str,
        table: &str,
        rows: &[Cells],
        keys: &[String],
        ids: &[String],
    ) -> (u64, u64) {
        let (mut added, mut updated) = (0, 0);
        if keys.is_empty() {
            for (i, cells) in rows.iter().enumerate() {
                added += u64::from(
                    self.add_row(doc, table, ids.get(i).cloned(), cells)
                        .is_some(),
                );
            }
            return (added, updated);
        }
        // An index of the existing rows by their key cells, built once per mutation: matching
        // each incoming row by scanning the table made a large push quadratic.
        let Ok(t) = self.table(doc, table) else {
            return (0, 0);
        };
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (r, row) in t.rows.iter().enumerate() {
            let key: Vec<String> = keys
                .iter()
                .map(|k| canonical(row.values.get(k).unwrap_or(&Value::String(String::new()))))
                .collect();
            index.entry(key.join("\u{1f}")).or_default().push(r);
        }
        for cells in rows {
            let wanted: Option<Vec<String>> = keys
                .iter()
                .map(|k| {
                    cells
                        .iter()
                        .rev()
                        .find(|(c, _)| c == k)
                        .map(|(_, v)| canonical(v))
                })
                .collect();
            let Some(wanted) = wanted else {
                // A row without every key cell matches nothing.
                added += u64::from(self.add_row(doc, table, None, cells).is_some());
                continue;
            };
            let key = wanted.join("\u{1f}");
            match index.get(&key).cloned() {
                Some(matches) => {
                    updated += matches.len() as u64;
                    for r in matches {
                        self.write_cells(doc, table, r, cells);
                    }
                }
                None => {
                    if self.add_row(doc, table, None, cells).is_some() {
                        added += 1;
                        let last = self
                            .table(doc, table)
                            .map_or(0, |t| t.rows.len().saturating_sub(1));
                        index.insert(key, vec![last]);
                    }
                }
            }
        }
        (added, updated)
    }

    /// Writes cells into the row at `position` and bumps its `updatedAt`.
    pub(crate) fn write_cells(
        &mut self,
        doc: &str,
        table: &str,
        position: usize,
        cells: &[(String, Value)],
    ) {
        let (now, version) = (self.now(), self.next_seq());
        let Ok(t) = self.table_mut(doc, table) else {
            return;
        };
        let columns: Vec<String> = t.columns.iter().map(|c| c.id.clone()).collect();
        let Some(row) = t.rows.get_mut(position) else {
            return;
        };
        for (c, v) in cells.iter().filter(|(c, _)| columns.contains(c)) {
            row.values.insert(c.clone(), v.clone());
        }
        row.updated_at = now;
        row.version = version;
        t.updated_at = now;
    }

    /// Appends a row; returns its id (none if the table is gone).
    fn add_row(
        &mut self,
        doc: &str,
        table: &str,
        id: Option<String>,
        cells: &[(String, Value)],
    ) -> Option<String> {
        let (now, seq) = (self.now(), self.next_seq());
        // Scanned in place: cloning every id per added row made large upserts quadratic in
        // allocations.
        let taken = |s: &Self, i: &str| {
            s.table(doc, table)
                .is_ok_and(|t| t.rows.iter().any(|r| r.id == i))
        };
        self.table(doc, table).ok()?;
        let id = match id.filter(|i| !taken(self, i)) {
            Some(i) => i,
            None => loop {
                let i = format!("i-{}", self.random_id(10));
                if !taken(self, &i) {
                    break i;
                }
            },
        };
        let t = self.table_mut(doc, table).ok()?;
        let values = cells
            .iter()
            .filter(|(c, _)| t.columns.iter().any(|k| &k.id == c))
            .cloned()
            .collect();
        t.rows.push(Row {
            id: id.clone(),
            values,
            created_at: now,
            updated_at: now,
            seq,
            version: seq,
        });
        t.updated_at = now;
        Some(id)
    }

    /// Removes the rows with these ids; unknown ids are ignored. Returns how many went.
    pub(crate) fn delete_rows(&mut self, doc: &str, table: &str, ids: &[String]) -> usize {
        let now = self.now();
        let Ok(t) = self.table_mut(doc, table) else {
            return 0;
        };
        let before = t.rows.len();
        t.rows.retain(|r| !ids.contains(&r.id));
        let gone = before - t.rows.len();
        if gone > 0 {
            t.updated_at = now;
        }
        gone
    }
}

/// Cells keyed by column id from `values` keyed by column id or name.
fn cells_of(t: &Table, values: BTreeMap<String, Value>) -> Result<Cells, SimError> {
    values
        .into_iter()
        .map(|(k, v)| {
            let c = t.column(&k).ok_or_else(|| no_column(&t.id, &k))?;
            Ok((c.id.clone(), v))
        })
        .collect()
}

fn no_table(doc: &str, table: &str) -> SimError {
    SimError::NoTable {
        doc: doc.to_owned(),
        table: table.to_owned(),
    }
}

fn no_column(table: &str, column: &str) -> SimError {
    SimError::NoColumn {
        table: table.to_owned(),
        column: column.to_owned(),
    }
}
