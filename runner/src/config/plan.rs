//! The resolved plan: what the runtime executes. It exists only for a config with no errors,
//! so the runtime never sees a broken pipeline (fail closed).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::coda_mapping::CodaMappingFile;
use super::diag::Diagnostics;
use super::env::Env;
use super::links::LinksFile;
use super::load::{Config, EnvMode, load_dir};
use super::pipeline::PipelineFile;
use super::systems::SystemsFile;
use super::writeback::WritebackFile;
use crate::link::CompiledLinks;
use crate::mapping::CompiledPipeline;
use crate::push::{Mappings, PushError};
use crate::store::{Lookup, PreparedUpsert, UpsertColumn, UpsertTarget};

/// One runnable pipeline: its file, its compiled mapping and its prepared upsert.
#[derive(Debug, Clone)]
pub struct PlannedPipeline {
    /// The pipeline file as written (after interpolation).
    pub file: PipelineFile,
    /// The compiled mapping.
    pub mapping: CompiledPipeline,
    /// The upsert statement of its target, built once from validated identifiers.
    pub upsert: PreparedUpsert,
}

/// The upsert target of a compiled pipeline: its mapped columns (lookups resolved by the
/// store) and the raw-object column.
pub fn upsert_target(m: &CompiledPipeline) -> UpsertTarget {
    let mut columns: Vec<UpsertColumn> = m
        .fields
        .iter()
        .map(|f| UpsertColumn {
            name: f.name.clone(),
            ty: f.ty,
            lookup: f.lookup.as_ref().map(|l| Lookup {
                table: l.table.clone(),
                by: l.by.clone(),
            }),
        })
        .collect();
    if let Some(raw) = &m.raw {
        columns.push(UpsertColumn {
            name: raw.clone(),
            ty: super::field_type::FieldType::Jsonb,
            lookup: None,
        });
    }
    UpsertTarget {
        table: m.table.clone(),
        key: m.key.clone(),
        version: m.version.clone(),
        columns,
        digest: false,
    }
}

/// A validated config, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The external systems.
    pub systems: SystemsFile,
    /// Pipelines in dependency order (a pipeline comes after everything it depends on).
    pub pipelines: Vec<PlannedPipeline>,
    /// Linking rules, as written.
    pub links: LinksFile,
    /// The linking rules compiled to SQL (once, at load).
    pub link_rules: Arc<CompiledLinks>,
    /// Write-back endpoints.
    pub writeback: WritebackFile,
    /// Coda mappings as written, by name.
    pub mappings: BTreeMap<String, CodaMappingFile>,
    /// The Coda mappings compiled (columns and templates, once, at load): what the push, the
    /// reconciliation and the write-back echo use.
    pub coda_mappings: Arc<Mappings>,
    /// References between synced tables (lookups with a sibling source-id column).
    pub relations: Vec<super::relations::Relation>,
}

impl Plan {
    /// Loads, validates and resolves the config under `dir`. Any error refuses the whole plan.
    pub fn load(dir: &Path, env: &Env, mode: EnvMode) -> Result<(Plan, Config), Diagnostics> {
        let (mut config, mut diags) = load_dir(dir, env, mode);
        let mut compiled = super::validate::check(&config, &mut diags);
        if diags.has_errors() {
            return Err(diags.finish());
        }
        let order = dependency_order(&config).unwrap_or_default();
        config.findings = diags.finish();
        let (Some(systems), Some(links), Some(writeback), Some(link_rules), Some(coda_mappings)) = (
            &config.systems,
            &config.links,
            &config.writeback,
            compiled.links,
            compiled.mappings,
        ) else {
            return Err(config.findings);
        };
        let pipelines: Vec<PlannedPipeline> = order
            .iter()
            .filter_map(|name| {
                let file = config.pipelines.get(name)?.value.clone();
                let (mapping, upsert) = compiled.pipelines.remove(name)?;
                Some(PlannedPipeline {
                    file,
                    mapping,
                    upsert,
                })
            })
            .collect();
        let relations = super::relations::relations(&pipelines);
        let plan = Plan {
            systems: systems.value.clone(),
            relations,
            pipelines,
            links: links.value.clone(),
            link_rules: Arc::new(link_rules),
            writeback: writeback.value.clone(),
            mappings: config
                .mappings
                .iter()
                .map(|(k, d)| (k.clone(), d.value.clone()))
                .collect(),
            coda_mappings: Arc::new(coda_mappings),
        };
        Ok((plan, config))
    }

    /// Compiles [`Plan::mappings`] again after they were edited in place (tests change a
    /// mapping of a loaded plan); any unusable mapping refuses the whole set.
    pub fn recompile_mappings(&mut self) -> Result<(), PushError> {
        self.coda_mappings = Arc::new(Mappings::compile_files(
            &self.mappings,
            &self.systems.coda.doc_id,
        )?);
        Ok(())
    }

    /// The pipeline named `name`.
    pub fn pipeline(&self, name: &str) -> Option<&PlannedPipeline> {
        self.pipelines.iter().find(|p| p.mapping.name == name)
    }
}

/// Pipeline names so that each comes after its dependencies (ties by name). On a cycle,
/// returns the name of one pipeline on it.
pub fn dependency_order(config: &Config) -> Result<Vec<String>, String> {
    let mut order = Vec::new();
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = visiting, 2 = done
    fn visit<'a>(
        name: &'a str,
        config: &'a Config,
        state: &mut BTreeMap<&'a str, u8>,
        order: &mut Vec<String>,
    ) -> Result<(), String> {
        match state.get(name) {
            Some(2) => return Ok(()),
            Some(_) => return Err(name.to_string()),
            None => {}
        }
        state.insert(name, 1);
        if let Some(doc) = config.pipelines.get(name) {
            for dep in &doc.value.depends_on {
                if config.pipelines.contains_key(dep) {
                    visit(dep, config, state, order)?;
                }
            }
        }
        state.insert(name, 2);
        order.push(name.to_string());
        Ok(())
    }
    for name in config.pipelines.keys() {
        visit(name, config, &mut state, &mut order)?;
    }
    Ok(order)
}
