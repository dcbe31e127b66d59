//! The references between synced tables, read from the pipelines' lookups: a field with a
//! `lookup` (the local foreign key, e.g. `appointments.patient_id`) paired with the field of the
//! same pipeline that keeps the same source id as is (its sibling: same `path`, no lookup, no
//! transform, e.g. `appointments.drchrono_patient_id`). They let a parent that arrives after its
//! children fill the children's foreign keys, `verify` count the references still unresolved,
//! and a soft-deleted parent take its children along.

use super::plan::PlannedPipeline;

/// One reference from a child table to a parent table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The child's pipeline.
    pub pipeline: String,
    /// The child table.
    pub table: String,
    /// The foreign-key column (a uuid, null until resolved).
    pub fk: String,
    /// The child column with the parent's source id.
    pub source: String,
    /// The parent table.
    pub parent: String,
    /// The parent column that holds the source id.
    pub by: String,
}

/// Every relation of `pipelines` whose lookup has a sibling field. A lookup without one cannot
/// be re-resolved later; `runner validate` reports it as a warning.
pub fn relations(pipelines: &[PlannedPipeline]) -> Vec<Relation> {
    let mut out = Vec::new();
    for p in pipelines {
        for (name, f) in &p.file.fields {
            let Some(lookup) = &f.lookup else { continue };
            if let Some(source) = sibling(p, name) {
                out.push(Relation {
                    pipeline: p.mapping.name.clone(),
                    table: p.file.target.table.clone(),
                    fk: name.clone(),
                    source,
                    parent: lookup.table.clone(),
                    by: lookup.by.clone(),
                });
            }
        }
    }
    out
}

/// The field of `p` that keeps, as is (same path and type), the source id that the lookup
/// field `name` resolves.
pub fn sibling(p: &PlannedPipeline, name: &str) -> Option<String> {
    let f = p.file.fields.get(name)?;
    let path = f.path.as_ref()?;
    p.file
        .fields
        .iter()
        .find(|(other, g)| {
            *other != name
                && g.ty == f.ty
                && g.lookup.is_none()
                && g.transform.is_none()
                && g.path.as_ref() == Some(path)
        })
        .map(|(other, _)| other.clone())
}
