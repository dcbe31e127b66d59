//! The simulator's tables: records kept in list order (a `BTreeMap` on [`SortKey`]) with an
//! id index, so cursor pages are range scans and detail reads are lookups.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use serde_json::Value;

use super::error::SimError;
use crate::data::{Clinic, Resource, SortKey, first_id, record_id};

/// One resource's records.
#[derive(Debug, Default, Clone)]
pub(crate) struct Table {
    rows: BTreeMap<SortKey, Value>,
    keys: HashMap<String, SortKey>,
}

impl Table {
    /// Records strictly after `after` (all records if `None`), in list order.
    pub(crate) fn after<'a>(
        &'a self,
        after: Option<&SortKey>,
    ) -> impl Iterator<Item = (&'a SortKey, &'a Value)> {
        let lower = after.map_or(Bound::Unbounded, |k| Bound::Excluded(k.clone()));
        self.rows.range((lower, Bound::Unbounded))
    }

    /// Records strictly before `before`, nearest first.
    pub(crate) fn before<'a>(
        &'a self,
        before: &SortKey,
    ) -> impl Iterator<Item = (&'a SortKey, &'a Value)> {
        self.rows
            .range((Bound::Unbounded, Bound::Excluded(before.clone())))
            .rev()
    }

    /// Every record, in list order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Value> {
        self.rows.values()
    }

    /// The record with this id.
    pub(crate) fn get(&self, id: &str) -> Option<&Value> {
        self.keys.get(id).and_then(|k| self.rows.get(k))
    }
}

/// All tables of the simulated practice.
#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    tables: [Table; 9],
}

impl Store {
    /// Loads a generated clinic.
    pub(crate) fn from_clinic(clinic: Clinic) -> Store {
        let mut store = Store::default();
        for (resource, records) in clinic.into_tables() {
            for record in records {
                // Generated ids are unique, so this cannot fail; ignoring keeps start-up total.
                let _ = store.insert(resource, record);
            }
        }
        store
    }

    /// The table of a resource.
    pub(crate) fn table(&self, resource: Resource) -> &Table {
        &self.tables[resource as usize]
    }

    /// The record of `resource` with this id.
    pub(crate) fn get(&self, resource: Resource, id: &str) -> Option<&Value> {
        self.table(resource).get(id)
    }

    /// Adds a record; fails if it has no id or the id is taken.
    pub(crate) fn insert(&mut self, resource: Resource, record: Value) -> Result<(), SimError> {
        let id = record_id(&record)
            .ok_or_else(|| SimError::Invalid("record has no usable `id`".into()))?;
        let table = &mut self.tables[resource as usize];
        if table.keys.contains_key(&id) {
            return Err(SimError::Duplicate { resource, id });
        }
        let key = SortKey::of(resource, &record);
        table.keys.insert(id, key.clone());
        table.rows.insert(key, record);
        Ok(())
    }

    /// Removes and returns the record with this id.
    pub(crate) fn remove(&mut self, resource: Resource, id: &str) -> Result<Value, SimError> {
        let table = &mut self.tables[resource as usize];
        let key = table.keys.remove(id).ok_or_else(|| SimError::NotFound {
            resource,
            id: id.to_owned(),
        })?;
        table.rows.remove(&key).ok_or_else(|| SimError::NotFound {
            resource,
            id: id.to_owned(),
        })
    }

    /// Replaces a record in place (same id), re-sorting it if its sort key changed.
    pub(crate) fn replace(
        &mut self,
        resource: Resource,
        id: &str,
        record: Value,
    ) -> Result<(), SimError> {
        self.remove(resource, id)?;
        self.insert(resource, record)
    }

    /// The next free numeric id: one past the largest numeric id, or the resource's first id.
    pub(crate) fn next_id(&self, resource: Resource) -> u64 {
        self.table(resource)
            .keys
            .keys()
            .filter_map(|id| id.parse::<u64>().ok())
            .max()
            .map_or(first_id(resource), |m| m + 1)
    }
}
