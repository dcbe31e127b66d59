//! Which columns of which table the config fills (pipelines, link rules, write-back), for the
//! checks of the files that name those columns.

use std::collections::{BTreeMap, BTreeSet};

use super::STANDARD_COLUMNS;
use crate::config::load::Config;

/// Which columns of which table are filled, and by which file.
pub(super) struct Tables<'a> {
    /// Table -> (pipeline name, columns it fills).
    pub(super) synced: BTreeMap<&'a str, (&'a str, BTreeSet<String>)>,
    /// Table -> columns write-back fills.
    pub(super) coda_owned: BTreeMap<&'a str, BTreeSet<String>>,
}

impl<'a> Tables<'a> {
    /// The columns `config` fills, table by table.
    pub(super) fn of(config: &'a Config) -> Self {
        let mut synced = BTreeMap::new();
        for (name, doc) in &config.pipelines {
            let t = &doc.value.target;
            let mut cols: BTreeSet<String> = doc.value.fields.keys().cloned().collect();
            cols.extend(t.raw.iter().cloned());
            cols.extend(t.generated.iter().cloned());
            cols.extend(STANDARD_COLUMNS.iter().map(|s| s.to_string()));
            synced.insert(t.table.as_str(), (name.as_str(), cols));
        }
        if let Some(links) = &config.links {
            for rule in &links.value.links {
                if let Some((_, cols)) = synced.get_mut(rule.from.as_str()) {
                    cols.extend(rule.set.keys().cloned());
                    cols.extend(rule.method_column.iter().cloned());
                    cols.extend(rule.linked_at_column.iter().cloned());
                    cols.insert(rule.unmatched.review_flag_column.clone());
                    cols.insert(rule.unmatched.review_reason_column.clone());
                    cols.extend(rule.unmatched.dismissed_at_column.iter().cloned());
                }
            }
        }
        let mut coda_owned: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        if let Some(wb) = &config.writeback {
            for ep in &wb.value.endpoints {
                let cols = coda_owned.entry(ep.table.as_str()).or_default();
                cols.extend(ep.fields.keys().cloned());
                cols.insert(ep.key.clone());
                cols.extend(STANDARD_COLUMNS.iter().map(|s| s.to_string()));
            }
        }
        Tables { synced, coda_owned }
    }

    /// The columns of `table` (synced or Coda-owned), if the config fills it.
    pub(super) fn columns(&self, table: &str) -> Option<&BTreeSet<String>> {
        self.synced
            .get(table)
            .map(|(_, c)| c)
            .or_else(|| self.coda_owned.get(table))
    }
}
