//! Checks of `mappings/<coda-table>.yaml`: Coda ids, columns their table has, templates, key
//! columns, and the compiled mappings the push runs.

use std::collections::{BTreeSet, HashMap};

use super::Tables;
use crate::config::diag::Diagnostics;
use crate::config::load::Config;
use crate::push::{Mappings, PushError};

/// Coda ids are well formed and used once, `from` columns and template names exist in the
/// source table, and every key column is mapped.
pub(super) fn check_mappings(config: &Config, tables: &Tables<'_>, diags: &mut Diagnostics) {
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

/// Whether `id` is one of `prefixes` followed by letters, digits, `_` or `-`.
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

/// Compiles the Coda mappings the push runs (columns and templates). An error points at the
/// mapping file.
pub(super) fn compile_mappings(config: &Config, diags: &mut Diagnostics) -> Option<Mappings> {
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
