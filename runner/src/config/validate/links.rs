//! Checks of `pipelines/links.yaml`: tables and columns the rules name exist, and every rule
//! compiles to the SQL the runtime runs.

use super::Tables;
use crate::config::diag::Diagnostics;
use crate::config::links::LinkRule;
use crate::config::load::Config;
use crate::config::locate::escape;
use crate::link::CompiledLinks;
use crate::store::StoreError;

/// The tables and columns every link rule names exist (or are filled by the rule itself).
pub(super) fn check_links(config: &Config, tables: &Tables<'_>, diags: &mut Diagnostics) {
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

/// Compiles the link rules to the statements the runtime runs. An error points at the name
/// that is not an identifier, else at the rule.
pub(super) fn compile_links(config: &Config, diags: &mut Diagnostics) -> Option<CompiledLinks> {
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
fn link_pointer(rule: &LinkRule, i: usize, e: &StoreError) -> String {
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
