//! Checks of `pipelines/<table>.yaml`: the mapping and the upsert statement compile, keys and
//! versions are mapped, sources fit their system, lookups and dependencies resolve, no cycle.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::diag::Diagnostics;
use crate::config::load::Config;
use crate::config::locate::escape;
use crate::config::pipeline::{PipelineFile, System};
use crate::mapping::CompiledPipeline;
use crate::store::PreparedUpsert;

/// Every pipeline compiles (mapping and upsert), fits its source system, maps its keys and
/// resolves its lookups and dependencies. Returns what compiled, by name.
pub(super) fn check_pipelines(
    config: &Config,
    diags: &mut Diagnostics,
) -> BTreeMap<String, (CompiledPipeline, PreparedUpsert)> {
    let mut compiled = BTreeMap::new();
    let mut by_table: HashMap<&str, &str> = HashMap::new();
    let target_fields: HashMap<&str, BTreeSet<&str>> = config
        .pipelines
        .values()
        .map(|d| {
            (
                d.value.target.table.as_str(),
                d.value.fields.keys().map(String::as_str).collect(),
            )
        })
        .collect();
    for (name, doc) in &config.pipelines {
        let p = &doc.value;
        let src = &doc.source;
        match CompiledPipeline::compile(name, p) {
            Ok(c) => {
                // The statement the runtime will execute: identifiers are checked now, where
                // the error can point at the file, not on the first page of a sync.
                match PreparedUpsert::new(&crate::config::plan::upsert_target(&c)) {
                    Ok(upsert) => {
                        compiled.insert(name.clone(), (c, upsert));
                    }
                    Err(e) => diags.push(src.error(&identifier_pointer(p, &e), e.to_string())),
                }
            }
            Err(errs) => {
                for (at, msg) in errs {
                    diags.push(src.error(&at, msg));
                }
            }
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            diags.push(src.error(
                "",
                format!("pipeline file name `{name}` must be lower_snake_case"),
            ));
        }
        match p.source.system {
            System::Drchrono if p.source.endpoint.is_none() => {
                diags.push(src.error("/source", "a drchrono source needs an `endpoint`"));
            }
            System::Drchrono => {}
            System::Deepcura if p.source.endpoint.is_some() => {
                diags.push(src.error(
                    "/source/endpoint",
                    "deepcura only pushes gridhooks: it has no list endpoint",
                ));
            }
            System::Deepcura => {}
            System::Inbound => super::inbound::check_inbound_source(config, name, p, src, diags),
        }
        for (i, g) in p.target.generated.iter().enumerate() {
            if p.fields.contains_key(g) || p.target.raw.as_ref() == Some(g) {
                diags.push(src.error(
                    &format!("/target/generated/{i}"),
                    format!("`{g}` is computed by the database: no field may write it"),
                ));
            }
        }
        if p.source.route.is_some() && p.source.system != System::Inbound {
            diags.push(src.error("/source/route", "only an `inbound` source has a route"));
        }
        if p.source.windows.is_some() && p.source.full.as_ref().is_some_and(|f| f.soft_delete) {
            diags.push(src.error(
                "/source/full/soft_delete",
                "a listing by date windows is never complete: it cannot tell a deleted record",
            ));
        }
        if let Some(f) = &p.source.full
            && !(0.0..=1.0).contains(&f.max_delete_share)
        {
            diags.push(src.error(
                "/source/full/max_delete_share",
                "must be between 0.0 and 1.0",
            ));
        }
        if let Some(w) = &p.source.windows
            && w.max_days == 0
        {
            diags.push(src.error("/source/windows/max_days", "must be at least 1"));
        }
        for (i, k) in p.target.key.iter().enumerate() {
            if !p.fields.contains_key(k) {
                diags.push(src.error(
                    &format!("/target/key/{i}"),
                    format!("natural key `{k}` is not among the mapped fields"),
                ));
            }
        }
        if p.target.key.is_empty() {
            diags.push(src.error("/target/key", "a natural key needs at least one column"));
        }
        if let Some(v) = &p.target.version
            && !p.fields.contains_key(v)
        {
            diags.push(src.error(
                "/target/version",
                format!("version column `{v}` is not among the mapped fields"),
            ));
        }
        if let Some(r) = &p.target.raw
            && p.fields.contains_key(r)
        {
            diags.push(src.error("/target/raw", format!("raw column `{r}` is filled with the source record; do not map it as a field too")));
        }
        if let Some(prev) = by_table.insert(p.target.table.as_str(), name.as_str()) {
            diags.push(src.error(
                "/target/table",
                format!(
                    "table `{}` is already the target of pipeline `{prev}`",
                    p.target.table
                ),
            ));
        }
        if let Some(x) = &p.expand
            && let Some(req) = &x.require
            && !p.fields.contains_key(req)
        {
            diags.push(src.error(
                "/expand/require",
                format!("`{req}` is not among the mapped fields"),
            ));
        }
        for (i, dep) in p.depends_on.iter().enumerate() {
            if !config.pipelines.contains_key(dep) {
                diags.push(src.error(
                    &format!("/depends_on/{i}"),
                    format!("unknown pipeline `{dep}`"),
                ));
            }
        }
        if let Some(d) = src.cron_error("/schedule", &p.schedule, "*/15 * * * *") {
            diags.push(d);
        }
        for (col, m) in &p.fields {
            if let Some(l) = &m.lookup {
                let at = format!("/fields/{}/lookup", escape(col));
                match target_fields.get(l.table.as_str()) {
                    None => diags.push(src.error(
                        &format!("{at}/table"),
                        format!("no pipeline writes table `{}`", l.table),
                    )),
                    Some(cols) if !cols.contains(l.by.as_str()) => diags.push(src.error(
                        &format!("{at}/by"),
                        format!("`{}` is not a mapped column of `{}`", l.by, l.table),
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    check_cycles(config, diags);
    compiled
}

/// No pipeline depends on itself through `depends_on`.
fn check_cycles(config: &Config, diags: &mut Diagnostics) {
    if let Err(cycle) = crate::config::plan::dependency_order(config)
        && let Some(doc) = config.pipelines.get(&cycle)
    {
        diags.push(doc.source.error(
            "/depends_on",
            format!("pipeline `{cycle}` is part of a dependency cycle"),
        ));
    }
}

/// Where in a pipeline file an invalid upsert target comes from: the field whose name or
/// lookup is not an identifier, else the target table.
fn identifier_pointer(p: &PipelineFile, e: &crate::store::StoreError) -> String {
    let crate::store::StoreError::InvalidIdentifier(bad) = e else {
        return "/target".into();
    };
    if &p.target.table == bad {
        return "/target/table".into();
    }
    for (col, f) in &p.fields {
        let at = format!("/fields/{}", escape(col));
        if col == bad {
            return at;
        }
        if let Some(l) = &f.lookup
            && (&l.table == bad || &l.by == bad)
        {
            return format!("{at}/lookup");
        }
    }
    if p.target.raw.as_ref() == Some(bad) {
        return "/target/raw".into();
    }
    "/target".into()
}
