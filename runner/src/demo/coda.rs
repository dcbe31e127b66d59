//! The demo's Coda doc: one simulated table per mapping, with the mapped column ids.

use sim::coda::{CodaState, ColumnSpec};

use crate::config::Plan;

/// Creates, in the Coda simulator, every table the mappings write (columns as mapped, none
/// calculated), in the doc named by `systems.yaml`.
pub fn create_tables(coda: &CodaState, plan: &Plan) {
    for m in plan.mappings.values() {
        let doc = m
            .doc
            .clone()
            .unwrap_or_else(|| plan.systems.coda.doc_id.clone());
        let columns: Vec<ColumnSpec> = m
            .columns
            .iter()
            .map(|c| ColumnSpec::new(&c.id, c.label.as_deref().unwrap_or(&c.id)))
            .collect();
        let _ = coda.create_table(
            &doc,
            &m.table,
            m.label.as_deref().unwrap_or(&m.table),
            columns,
        );
    }
}
