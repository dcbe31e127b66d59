//! Fixture tests (`pipelines/tests/*.yaml`): each case maps a source object through its
//! pipeline, without a database, and compares the rows with the expected ones. This is how an
//! engineer proves a mapping edit.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::config::fixture::FixtureCase;
use crate::config::{Config, Plan};

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The fixture file.
    pub file: PathBuf,
    /// The case name.
    pub name: String,
    /// `None` when the case passed; otherwise what went wrong (with a diff).
    pub failure: Option<String>,
}

/// Runs every case of every fixture file, and fails pipelines that have no fixture.
pub fn run(plan: &Plan, config: &Config, only: &[String]) -> Vec<CaseResult> {
    let mut results = Vec::new();
    let mut covered = BTreeSet::new();
    for doc in &config.fixtures {
        let pipeline = &doc.value.pipeline;
        if !only.is_empty() && !only.contains(pipeline) {
            continue;
        }
        covered.insert(pipeline.clone());
        let Some(p) = plan.pipeline(pipeline) else {
            continue;
        };
        for case in &doc.value.cases {
            results.push(CaseResult {
                file: doc.source.path.clone(),
                name: case.name.clone(),
                failure: run_case(&p.mapping, case).err(),
            });
        }
    }
    for p in &plan.pipelines {
        let name = &p.mapping.name;
        if (only.is_empty() || only.contains(name)) && !covered.contains(name) {
            results.push(CaseResult {
                file: config
                    .dir
                    .join("pipelines/tests")
                    .join(format!("{name}.yaml")),
                name: format!("pipeline {name} has fixtures"),
                failure: Some(format!(
                    "no fixture tests for pipeline `{name}`: add pipelines/tests/{name}.yaml"
                )),
            });
        }
    }
    results
}

fn run_case(mapping: &crate::mapping::CompiledPipeline, case: &FixtureCase) -> Result<(), String> {
    let outcome = mapping.map_record(&case.input);
    match (&case.expect, &case.error, outcome) {
        (_, Some(want), Err(e)) => {
            let got = e.with_value();
            if got.contains(want.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "error was:\n    {got}\nexpected it to contain:\n    {want}"
                ))
            }
        }
        (_, Some(want), Ok(rows)) => Err(format!(
            "expected an error containing `{want}`, but the record mapped to {} row(s)",
            rows.len()
        )),
        (Some(_), None, Err(e)) => Err(format!("mapping failed: {}", e.with_value())),
        (Some(expect), None, Ok(rows)) => compare(mapping, &case.input, expect, &rows),
        (None, None, _) => Err("the case has neither `expect` nor `error`".into()),
    }
}

fn compare(
    mapping: &crate::mapping::CompiledPipeline,
    input: &Value,
    expect: &[Map<String, Value>],
    rows: &[Map<String, Value>],
) -> Result<(), String> {
    let mut problems = Vec::new();
    let strip = |r: &Map<String, Value>| -> Map<String, Value> {
        r.iter()
            .filter(|(k, _)| Some(k.as_str()) != mapping.raw.as_deref())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let actual: Vec<_> = rows.iter().map(strip).collect();
    let expected: Vec<_> = expect.iter().map(strip).collect();
    if let Some(raw) = &mapping.raw
        && mapping.expand.is_empty()
        && rows.iter().any(|r| r.get(raw) != Some(input))
    {
        problems.push(format!("raw column `{raw}` does not hold the input object"));
    }
    for (i, e) in expected.iter().enumerate() {
        for f in &mapping.fields {
            if !e.contains_key(&f.name) {
                problems.push(format!("expected row {i} does not list column `{}` (every mapped column must be listed)", f.name));
            }
        }
    }
    if actual != expected {
        problems.push(format!(
            "rows differ (- expected, + actual):\n{}",
            diff(&expected, &actual)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn diff(expected: &[Map<String, Value>], actual: &[Map<String, Value>]) -> String {
    // Sorted keys, so the diff shows values that differ, not key order.
    let sorted = |rows: &[Map<String, Value>]| -> Vec<std::collections::BTreeMap<String, Value>> {
        rows.iter()
            .map(|r| r.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .collect()
    };
    let e = serde_json::to_string_pretty(&sorted(expected)).unwrap_or_default();
    let a = serde_json::to_string_pretty(&sorted(actual)).unwrap_or_default();
    let mut out = String::new();
    for change in similar::TextDiff::from_lines(&e, &a).iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => '-',
            similar::ChangeTag::Insert => '+',
            similar::ChangeTag::Equal => ' ',
        };
        out.push_str(&format!("    {sign} {change}"));
    }
    out
}
