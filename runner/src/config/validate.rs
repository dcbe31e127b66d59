//! Semantic checks across files, run after every file has passed its schema: references
//! between files, natural keys among mapped columns, Coda ids, compilable paths and
//! templates, secrets given only as `${VAR}`. Every problem is reported; none stops the rest.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::diag::Diagnostics;
use super::load::{Config, SourceFile};
use super::locate::escape;
use super::pipeline::System;
use crate::link::CompiledLinks;
use crate::mapping::CompiledPipeline;
use crate::push::{Mappings, PushError};
use crate::store::{PreparedUpsert, StoreError};

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
    let pipelines = check_pipelines(config, diags);
    check_secrets(config, diags);
    check_retention(config, diags);
    super::reconcile::check(config, diags);
    let tables = Tables::of(config);
    let before = diags.error_count();
    check_links(config, &tables, diags);
    let links = if diags.error_count() == before {
        compile_links(config, diags)
    } else {
        None
    };
    check_writeback(config, &tables, diags);
    let before = diags.error_count();
    check_mappings(config, &tables, diags);
    let mappings = if diags.error_count() == before {
        compile_mappings(config, diags)
    } else {
        None
    };
    check_fixtures(config, diags);
    check_coda_fixtures(config, diags);
    super::page_size::check(config, diags);
    Compiled {
        pipelines,
        links,
        mappings,
    }
}

/// Which columns of which table are filled, and by which file.
struct Tables<'a> {
    /// Table -> (pipeline name, columns it fills).
    synced: BTreeMap<&'a str, (&'a str, BTreeSet<String>)>,
    /// Table -> columns write-back fills.
    coda_owned: BTreeMap<&'a str, BTreeSet<String>>,
}

impl<'a> Tables<'a> {
    fn of(config: &'a Config) -> Self {
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

    fn columns(&self, table: &str) -> Option<&BTreeSet<String>> {
        self.synced
            .get(table)
            .map(|(_, c)| c)
            .or_else(|| self.coda_owned.get(table))
    }
}

fn check_pipelines(
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
                match PreparedUpsert::new(&super::plan::upsert_target(&c)) {
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
            System::Inbound => check_inbound_source(config, name, p, src, diags),
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
        if let Err(e) = crate::schedule::parse_schedule(&p.schedule) {
            diags.push(src.error(
                "/schedule",
                format!(
                    "`{}` is not a cron expression ({e}); for example `*/15 * * * *`",
                    p.schedule
                ),
            ));
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

fn check_cycles(config: &Config, diags: &mut Diagnostics) {
    if let Err(cycle) = super::plan::dependency_order(config)
        && let Some(doc) = config.pipelines.get(&cycle)
    {
        diags.push(doc.source.error(
            "/depends_on",
            format!("pipeline `{cycle}` is part of a dependency cycle"),
        ));
    }
}

fn check_secrets(config: &Config, diags: &mut Diagnostics) {
    let mut check = |src: &SourceFile, pointers: &[&str]| {
        for p in pointers {
            let raw = pointer_str(&src.raw, p);
            let is_ref = raw.is_some_and(|s| {
                s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1
            });
            if raw.is_some() && !is_ref {
                diags.push(src.error(
                    p,
                    "secrets must be given as a `${VAR}` reference, never written in the file",
                ));
            }
        }
    };
    if let Some(s) = &config.systems {
        check(
            &s.source,
            &[
                "/drchrono/oauth/client_id",
                "/drchrono/oauth/client_secret",
                "/drchrono/oauth/refresh_token",
                "/drchrono/oauth/encryption_key",
                "/drchrono/oauth/previous_encryption_key",
                "/drchrono/webhooks/secret",
                "/deepcura/shared_secret",
                "/coda/api_token",
                "/inbound/secret",
            ],
        );
    }
    if let Some(w) = &config.writeback {
        check(&w.source, &["/secret"]);
    }
}

/// Where in a pipeline file an invalid upsert target comes from: the field whose name or
/// lookup is not an identifier, else the target table.
fn identifier_pointer(
    p: &crate::config::pipeline::PipelineFile,
    e: &crate::store::StoreError,
) -> String {
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

/// An `inbound` source: a route under `/inbound/` that no other pipeline takes, no list
/// endpoint, and the `inbound` block of `systems.yaml` that signs it.
fn check_inbound_source(
    config: &Config,
    name: &str,
    p: &crate::config::pipeline::PipelineFile,
    src: &SourceFile,
    diags: &mut Diagnostics,
) {
    if p.source.endpoint.is_some() {
        diags.push(src.error(
            "/source/endpoint",
            "an inbound source is posted to: it has no list endpoint",
        ));
    }
    let Some(route) = &p.source.route else {
        diags.push(src.error(
            "/source",
            "an inbound source needs a `route`, for example `/inbound/questionnaires`",
        ));
        return;
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    let valid = route
        .strip_prefix("/inbound/")
        .is_some_and(|rest| rest.split('/').all(segment_ok));
    if !valid {
        diags.push(src.error(
            "/source/route",
            format!(
                "`{route}` must be a path under `/inbound/` of lower-case letters, digits, `-` \
                 and `_` (no parameters), for example `/inbound/questionnaires`"
            ),
        ));
    }
    if let Some(other) = config
        .pipelines
        .iter()
        .find(|(n, d)| n.as_str() < name && d.value.source.route.as_deref() == Some(route.as_str()))
    {
        diags.push(src.error(
            "/source/route",
            format!("`{route}` is already the route of pipeline `{}`", other.0),
        ));
    }
    if config
        .systems
        .as_ref()
        .is_some_and(|s| s.value.inbound.is_none())
    {
        diags.push(src.error(
            "/source/system",
            "systems.yaml has no `inbound` block (its secret signs the posts to this route)",
        ));
    }
}

/// The `retention` block: a valid cron, at least one hot month, and never fewer than the six
/// years HIPAA asks documentation to be kept.
fn check_retention(config: &Config, diags: &mut Diagnostics) {
    let Some(doc) = &config.systems else { return };
    let r = &doc.value.retention;
    if let Err(e) = crate::schedule::parse_schedule(&r.cron) {
        diags.push(doc.source.error(
            "/retention/cron",
            format!(
                "`{}` is not a cron expression ({e}); for example `30 3 * * *`",
                r.cron
            ),
        ));
    }
    if r.hot_months == 0 {
        diags.push(doc.source.error(
            "/retention/hot_months",
            "keep at least the last whole month attached",
        ));
    }
    if r.keep_years < 6 {
        diags.push(doc.source.error(
            "/retention/keep_years",
            "audit records must be kept at least 6 years (HIPAA); the clinic keeps 7",
        ));
    }
}

fn pointer_str<'a>(v: &'a serde_json::Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(serde_json::Value::as_str)
}

fn check_links(config: &Config, tables: &Tables<'_>, diags: &mut Diagnostics) {
    let Some(doc) = &config.links else { return };
    let src = &doc.source;
    for (i, rule) in doc.value.links.iter().enumerate() {
        let at = format!("/links/{i}");
        let from = tables.columns(&rule.from);
        let to = tables.columns(&rule.to);
        if from.is_none() {
            diags.push(src.error(
                &format!("{at}/from"),
                format!("unknown pipeline table `{}`", rule.from),
            ));
        }
        if to.is_none() {
            diags.push(src.error(
                &format!("{at}/to"),
                format!("unknown pipeline table `{}`", rule.to),
            ));
        }
        let join = rule
            .join
            .as_ref()
            .map(|j| (j.table.as_str(), tables.columns(&j.table)));
        if let Some((jt, None)) = join {
            diags.push(src.error(
                &format!("{at}/join/table"),
                format!("unknown pipeline table `{jt}`"),
            ));
        }
        if let (Some(j), Some(to_cols), Some((_, Some(join_cols)))) = (&rule.join, to, join) {
            for (t, jc) in &j.on {
                let p = format!("{at}/join/on/{}", escape(t));
                if !to_cols.contains(t) {
                    diags
                        .push(src.key_error(&p, format!("`{t}` is not a column of `{}`", rule.to)));
                }
                if !join_cols.contains(jc) {
                    diags.push(src.error(&p, format!("`{jc}` is not a column of `{}`", j.table)));
                }
            }
        }
        let to_ref_ok = |c: &str| match c.split_once('.') {
            Some((t, col)) => {
                join.is_some_and(|(jt, cols)| jt == t && cols.is_some_and(|cs| cs.contains(col)))
            }
            None => to.is_none_or(|cs| cs.contains(c)),
        };
        for (s, strat) in rule.strategies.iter().enumerate() {
            for (f, t) in &strat.matches {
                let p = format!("{at}/strategies/{s}/match/{}", escape(f));
                if from.is_some_and(|cs| !cs.contains(f)) {
                    diags.push(
                        src.key_error(&p, format!("`{f}` is not a column of `{}`", rule.from)),
                    );
                }
                if !to_ref_ok(t) {
                    diags.push(src.error(
                        &p,
                        format!("`{t}` is not a column of `{}` or of its join", rule.to),
                    ));
                }
            }
        }
        if rule.strategies.is_empty() {
            diags.push(src.error(
                &format!("{at}/strategies"),
                "a link needs at least one strategy",
            ));
        }
        for (f, t) in &rule.set {
            if !to_ref_ok(t) {
                diags.push(src.error(
                    &format!("{at}/set/{}", escape(f)),
                    format!("`{t}` is not a column of `{}`", rule.to),
                ));
            }
        }
    }
}

/// The roles of `staff_roles.role` (its CHECK constraint in `schema/db/0004_workflow.sql`).
const STAFF_ROLES: [&str; 5] = ["admin", "clinician", "front_desk", "billing", "viewer"];

fn check_writeback(config: &Config, tables: &Tables<'_>, diags: &mut Diagnostics) {
    let Some(doc) = &config.writeback else { return };
    let src = &doc.source;
    let mut paths = BTreeSet::new();
    for (i, ep) in doc.value.endpoints.iter().enumerate() {
        let at = format!("/endpoints/{i}");
        let params: Vec<&str> = ep
            .path
            .split('/')
            .filter(|s| s.starts_with('{') && s.ends_with('}'))
            .collect();
        if !ep.path.starts_with('/') || params.len() != 1 {
            diags.push(src.error(
                &format!("{at}/path"),
                "a write-back path starts with `/` and has exactly one `{param}` segment",
            ));
        }
        if !paths.insert(ep.path.clone()) {
            diags.push(src.error(
                &format!("{at}/path"),
                format!("path `{}` is declared twice", ep.path),
            ));
        }
        if let Some((pipeline, _)) = tables.synced.get(ep.table.as_str()) {
            diags.push(src.error(&format!("{at}/table"), format!("`{}` is synced from upstream by pipeline `{pipeline}`; Coda may only write Coda-owned tables", ep.table)));
        }
        if ep.fields.contains_key(&ep.key) {
            diags.push(src.error(
                &format!("{at}/fields"),
                format!("the key `{}` cannot also be a writable field", ep.key),
            ));
        }
        if ep
            .fields
            .contains_key(crate::writeback::body::VERSION_FIELD)
        {
            diags.push(src.error(
                &format!("{at}/fields/version"),
                "`version` is the body's optimistic-concurrency field; a column by that name cannot be written",
            ));
        }
        if ep.roles.is_empty() {
            diags.push(src.error(
                &format!("{at}/roles"),
                "no staff role may call this endpoint: list at least one",
            ));
        }
        for (j, role) in ep.roles.iter().enumerate() {
            if !STAFF_ROLES.contains(&role.as_str()) {
                diags.push(src.error(
                    &format!("{at}/roles/{j}"),
                    format!(
                        "unknown staff role `{role}`; staff_roles knows {}",
                        STAFF_ROLES.join(", ")
                    ),
                ));
            }
        }
    }
}

fn check_mappings(config: &Config, tables: &Tables<'_>, diags: &mut Diagnostics) {
    let mut seen_ids: HashMap<String, String> = HashMap::new();
    for (name, doc) in &config.mappings {
        let src = &doc.source;
        let m = &doc.value;
        if !valid_id(&m.table, &["grid-", "table-"]) {
            diags.push(src.error(
                "/table",
                format!("`{}` is not a Coda table id (`grid-...`)", m.table),
            ));
        }
        let cols = tables.columns(&m.source);
        if cols.is_none() {
            diags.push(src.error(
                "/source",
                format!(
                    "no pipeline or write-back endpoint fills table `{}`",
                    m.source
                ),
            ));
        }
        let mut mapped_from = BTreeSet::new();
        let mut env = minijinja::Environment::new();
        for (i, c) in m.columns.iter().enumerate() {
            let at = format!("/columns/{i}");
            if !valid_id(&c.id, &["c-"]) {
                diags.push(src.error(
                    &format!("{at}/id"),
                    format!(
                        "`{}` is not a Coda column id (`c-` then letters, digits, `_` or `-`)",
                        c.id
                    ),
                ));
            } else if let Some(prev) = seen_ids.insert(c.id.clone(), name.clone()) {
                diags.push(src.error(
                    &format!("{at}/id"),
                    format!(
                        "column id `{}` is already mapped in mappings/{prev}.yaml",
                        c.id
                    ),
                ));
            }
            match (&c.from, &c.template) {
                (Some(f), None) => {
                    mapped_from.insert(f.clone());
                    if cols.is_some_and(|cs| !cs.contains(f)) {
                        diags.push(src.error(
                            &format!("{at}/from"),
                            format!(
                                "no pipeline or write-back fills column `{f}` of `{}`",
                                m.source
                            ),
                        ));
                    }
                }
                (None, Some(t)) => {
                    let tname = format!("{name}.{i}");
                    if let Err(e) = env.add_template_owned(tname.clone(), t.clone()) {
                        diags.push(src.error(
                            &format!("{at}/template"),
                            format!("template does not compile: {e}"),
                        ));
                    } else if let (Some(cs), Ok(tmpl)) = (cols, env.get_template(&tname)) {
                        // A name the row does not have would fail every row at push time.
                        let mut unknown: Vec<String> = tmpl
                            .undeclared_variables(false)
                            .into_iter()
                            .filter(|v| !cs.contains(v))
                            .collect();
                        unknown.sort();
                        for v in unknown {
                            diags.push(src.error(
                                &format!("{at}/template"),
                                format!(
                                    "template names `{v}`, which is not a column of `{}`",
                                    m.source
                                ),
                            ));
                        }
                    }
                }
                _ => {
                    diags
                        .push(src.error(&at, "a column takes exactly one of `from` or `template`"));
                }
            }
        }
        for (i, k) in m.key.iter().enumerate() {
            if !mapped_from.contains(k) {
                diags.push(src.error(
                    &format!("/key/{i}"),
                    format!(
                        "key `{k}` is not mapped to a Coda column (add a column with `from: {k}`)"
                    ),
                ));
            }
        }
        if m.key.is_empty() {
            diags.push(src.error("/key", "a Coda mapping needs at least one key column"));
        }
    }
}

fn valid_id(id: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        id.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
    })
}

fn check_fixtures(config: &Config, diags: &mut Diagnostics) {
    for doc in &config.fixtures {
        let src = &doc.source;
        if !config.pipelines.contains_key(&doc.value.pipeline) {
            diags.push(src.error(
                "/pipeline",
                format!("unknown pipeline `{}`", doc.value.pipeline),
            ));
        }
        for (i, case) in doc.value.cases.iter().enumerate() {
            if case.expect.is_some() == case.error.is_some() {
                diags.push(src.error(
                    &format!("/cases/{i}"),
                    "a case has exactly one of `expect` or `error`",
                ));
            }
        }
    }
}

/// Compiles the link rules to the statements the runtime runs. An error points at the name
/// that is not an identifier, else at the rule.
fn compile_links(config: &Config, diags: &mut Diagnostics) -> Option<CompiledLinks> {
    let doc = config.links.as_ref()?;
    match CompiledLinks::compile_each(&doc.value) {
        Ok(links) => Some(links),
        Err(errors) => {
            for (i, e) in errors {
                let at = doc
                    .value
                    .links
                    .get(i)
                    .map_or_else(|| format!("/links/{i}"), |rule| link_pointer(rule, i, &e));
                diags.push(doc.source.error(&at, e.to_string()));
            }
            None
        }
    }
}

/// Where in `links.yaml` rule `i`'s error comes from: the value that is not an identifier,
/// else the rule.
fn link_pointer(rule: &crate::config::links::LinkRule, i: usize, e: &StoreError) -> String {
    let at = format!("/links/{i}");
    let StoreError::InvalidIdentifier(bad) = e else {
        return at;
    };
    let mut candidates: Vec<(String, &str)> = vec![
        (format!("{at}/from"), &rule.from),
        (format!("{at}/to"), &rule.to),
    ];
    if let Some(j) = &rule.join {
        candidates.push((format!("{at}/join/table"), &j.table));
        for (t, c) in &j.on {
            candidates.push((format!("{at}/join/on/{}", escape(t)), c));
            candidates.push((format!("{at}/join/on/{}", escape(t)), t));
        }
    }
    for (k, strat) in rule.strategies.iter().enumerate() {
        for (f, t) in &strat.matches {
            let p = format!("{at}/strategies/{k}/match/{}", escape(f));
            candidates.push((p.clone(), f));
            candidates.push((p, t.rsplit('.').next().unwrap_or(t)));
        }
    }
    for (f, t) in &rule.set {
        let p = format!("{at}/set/{}", escape(f));
        candidates.push((p.clone(), f));
        candidates.push((p, t.rsplit('.').next().unwrap_or(t)));
    }
    let u = &rule.unmatched;
    for (p, v) in [
        ("method_column", rule.method_column.as_ref()),
        ("linked_at_column", rule.linked_at_column.as_ref()),
        ("unmatched/review_flag_column", Some(&u.review_flag_column)),
        (
            "unmatched/review_reason_column",
            Some(&u.review_reason_column),
        ),
        (
            "unmatched/dismissed_at_column",
            u.dismissed_at_column.as_ref(),
        ),
    ] {
        if let Some(v) = v {
            candidates.push((format!("{at}/{p}"), v));
        }
    }
    candidates
        .into_iter()
        .find(|(_, v)| *v == bad)
        .map_or(at, |(p, _)| p)
}

/// Compiles the Coda mappings the push runs (columns and templates). An error points at the
/// mapping file.
fn compile_mappings(config: &Config, diags: &mut Diagnostics) -> Option<Mappings> {
    let systems = config.systems.as_ref()?;
    let files = config
        .mappings
        .iter()
        .map(|(k, d)| (k.clone(), d.value.clone()))
        .collect();
    match Mappings::compile_files(&files, &systems.value.coda.doc_id) {
        Ok(m) => Some(m),
        Err(e) => {
            let at = match &e {
                PushError::Mapping { mapping, .. } => config.mappings.get(mapping),
                _ => None,
            };
            match at {
                Some(doc) => diags.push(doc.source.error("", e.to_string())),
                None => diags.push(systems.source.error("/coda", e.to_string())),
            }
            None
        }
    }
}

/// A Coda mapping fixture names a mapping, and only column ids of that mapping.
fn check_coda_fixtures(config: &Config, diags: &mut Diagnostics) {
    for doc in &config.coda_fixtures {
        let src = &doc.source;
        let Some(m) = config.mappings.get(&doc.value.mapping) else {
            diags.push(src.error(
                "/mapping",
                format!("unknown Coda mapping `{}`", doc.value.mapping),
            ));
            continue;
        };
        for (i, case) in doc.value.cases.iter().enumerate() {
            for id in case.cells.keys() {
                if !m.value.columns.iter().any(|c| &c.id == id) {
                    diags.push(src.key_error(
                        &format!("/cases/{i}/cells/{}", escape(id)),
                        format!(
                            "`{id}` is not a column of mappings/{}.yaml",
                            doc.value.mapping
                        ),
                    ));
                }
            }
        }
    }
}
