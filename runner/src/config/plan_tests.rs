//! Tests of what [`Plan::load`] compiles: errors the runtime would only meet later are
//! reported at load, located in the file.

use std::collections::BTreeMap;

use super::tests::{copy_config, edit};
use super::{Env, EnvMode, Plan};

#[test]
fn the_plan_holds_the_compiled_link_rules_mappings_and_upserts() {
    let (plan, _) = Plan::load(
        &super::tests::repo(),
        &Env::Map(BTreeMap::new()),
        EnvMode::Lenient,
    )
    .unwrap();
    assert_eq!(plan.coda_mappings.list.len(), plan.mappings.len());
    let patients = plan.pipeline("patients").unwrap();
    assert!(patients.upsert.sql().contains("\"patients\""));
}

#[test]
fn a_link_rule_column_that_is_not_an_identifier_is_located_at_load() {
    let dir = copy_config();
    edit(
        &dir.join("pipelines/links.yaml"),
        "    method_column: link_method",
        "    method_column: link method",
    );
    let err = Plan::load(&dir, &Env::Map(BTreeMap::new()), EnvMode::Lenient).unwrap_err();
    let d = err
        .0
        .iter()
        .find(|d| d.file.ends_with("links.yaml") && d.message.contains("link method"))
        .unwrap_or_else(|| panic!("not reported:\n{err}"));
    let text = std::fs::read_to_string(dir.join("pipelines/links.yaml")).unwrap();
    let line = text.lines().nth(d.pos.line - 1).unwrap_or_default();
    assert!(line.contains("method_column: link method"), "{d}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_unknown_source_system_is_refused_at_its_line_with_the_known_ones() {
    let dir = copy_config();
    let file = dir.join("pipelines/patients.yaml");
    edit(&file, "system: drchrono", "system: drchronoo");
    let err = Plan::load(&dir, &Env::Map(BTreeMap::new()), EnvMode::Lenient).unwrap_err();
    let d = err
        .0
        .iter()
        .find(|d| d.file.ends_with("patients.yaml") && d.message.contains("drchronoo"))
        .unwrap_or_else(|| panic!("not reported:\n{err}"));
    assert!(
        ["drchrono", "deepcura", "inbound"]
            .iter()
            .all(|s| d.message.contains(s)),
        "{d}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text.lines().nth(d.pos.line - 1).unwrap_or_default();
    assert!(line.contains("system: drchronoo"), "{d}");
    std::fs::remove_dir_all(dir).ok();
}
