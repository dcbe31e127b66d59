//! Semantic checks across files, run after every file has passed its schema: references
//! between files, natural keys among mapped columns, Coda ids, compilable paths and
//! templates, secrets given only as `${VAR}`. Every problem is reported; none stops the rest.
//! One file per document kind; what validation compiles (`Compiled`) becomes the plan.

mod fixtures;
mod inbound;
mod links;
mod mappings;
mod pipelines;
mod systems;
mod tables;
mod writeback;

use std::collections::BTreeMap;

use super::diag::Diagnostics;
use super::load::Config;
use crate::link::CompiledLinks;
use crate::mapping::CompiledPipeline;
use crate::push::Mappings;
use crate::store::PreparedUpsert;
use tables::Tables;

/// Columns every synced or Coda-owned table has, whatever its pipeline maps.
pub const STANDARD_COLUMNS: [&str; 5] =
    ["id", "created_at", "updated_at", "deleted_at", "synced_at"];

/// What validation compiled, for the plan to keep: the runtime never compiles config again.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    /// Each pipeline that compiled, with the upsert statement of its target, by name.
    pub(crate) pipelines: BTreeMap<String, (CompiledPipeline, PreparedUpsert)>,
    /// The link rules, when every rule compiled.
    pub(crate) links: Option<CompiledLinks>,
    /// The Coda mappings, when every mapping compiled.
    pub(crate) mappings: Option<Mappings>,
}

/// Runs every semantic check and compiles what the runtime executes.
pub(crate) fn check(config: &Config, diags: &mut Diagnostics) -> Compiled {
    let pipelines = pipelines::check_pipelines(config, diags);
    systems::check_secrets(config, diags);
    systems::check_retention(config, diags);
    super::reconcile::check(config, diags);
    let tables = Tables::of(config);
    let before = diags.error_count();
    links::check_links(config, &tables, diags);
    let links = if diags.error_count() == before {
        links::compile_links(config, diags)
    } else {
        None
    };
    writeback::check_writeback(config, &tables, diags);
    let before = diags.error_count();
    mappings::check_mappings(config, &tables, diags);
    let mappings = if diags.error_count() == before {
        mappings::compile_mappings(config, diags)
    } else {
        None
    };
    fixtures::check_fixtures(config, diags);
    fixtures::check_coda_fixtures(config, diags);
    super::page_size::check(config, diags);
    Compiled {
        pipelines,
        links,
        mappings,
    }
}
