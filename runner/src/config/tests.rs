//! Tests of the config language against the shipped config and broken copies of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::schema::{DocKind, undocumented_properties};
use super::{Env, EnvMode, Plan};

pub(super) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Copies the shipped config into a temporary dir, so a test can break it.
pub(super) fn copy_config() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("runner-config-{}", uuid::Uuid::new_v4()));
    for sub in ["pipelines", "pipelines/tests", "mappings", "mappings/tests"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(repo().join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    dir
}

pub(super) fn edit(path: &Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(
        s.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}

#[test]
fn checked_in_schemas_and_reference_match_the_types() {
    let stale = crate::cli::stale_files(&repo());
    if !stale.is_empty() && std::env::var("UPDATE_SCHEMAS").is_ok() {
        super::schema::write_all(&repo().join("schema")).unwrap();
        std::fs::write(
            repo().join(crate::docs::REFERENCE_PATH),
            crate::docs::reference(),
        )
        .unwrap();
        return;
    }
    for f in &stale {
        let on_disk = std::fs::read_to_string(repo().join(f)).unwrap_or_default();
        let kind = DocKind::ALL
            .into_iter()
            .find(|k| f.ends_with(k.schema_file()));
        let fresh = kind.map_or_else(crate::docs::reference, super::schema::render);
        let diff = similar::TextDiff::from_lines(&on_disk, &fresh);
        eprintln!(
            "--- {f} (checked in)\n+++ {f} (generated)\n{}",
            diff.unified_diff().context_radius(2)
        );
    }
    assert!(
        stale.is_empty(),
        "{stale:?} drifted from the Rust types: run `cargo run -p runner -- schema` (or UPDATE_SCHEMAS=1 cargo test) and commit"
    );
}

#[test]
fn every_schema_property_has_a_description() {
    for kind in DocKind::ALL {
        let missing = undocumented_properties(&kind.schema());
        assert!(
            missing.is_empty(),
            "{}: undocumented {missing:?}",
            kind.schema_file()
        );
    }
}

#[test]
fn the_shipped_config_is_valid() {
    if let Err(d) = Plan::load(&repo(), &Env::Map(BTreeMap::new()), EnvMode::Lenient) {
        panic!("shipped config invalid:\n{d}");
    }
}

#[test]
fn every_shipped_yaml_file_starts_with_its_schema_modeline() {
    for sub in ["pipelines", "pipelines/tests", "mappings", "mappings/tests"] {
        for e in std::fs::read_dir(repo().join(sub)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "yaml") {
                let first = std::fs::read_to_string(e.path())
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                assert!(
                    first.starts_with("# yaml-language-server: $schema="),
                    "{}",
                    e.path().display()
                );
            }
        }
    }
}

// A broken copy with a typo'd key, a wrong type and a dangling link is exercised through the
// binary in `tests/cli/config_verbs.rs` (`validate_reports_a_typo_a_wrong_type_and_a_dangling_link_...`).

#[test]
fn strict_env_names_every_unset_variable() {
    let err = Plan::load(&repo(), &Env::Map(BTreeMap::new()), EnvMode::Strict).unwrap_err();
    for var in [
        "DRCHRONO_CLIENT_ID",
        "DRCHRONO_CLIENT_SECRET",
        "DRCHRONO_REFRESH_TOKEN",
        "DRCHRONO_WEBHOOK_SECRET",
        "DEEPCURA_SHARED_SECRET",
        "CODA_API_TOKEN",
        "CODA_DOC_ID",
        "INBOUND_SECRET",
    ] {
        assert!(
            err.0
                .iter()
                .any(|d| d.message.contains(var) && d.file.ends_with("systems.yaml")),
            "{var} not reported:\n{err}"
        );
    }
    assert!(
        !err.to_string().contains("DRCHRONO_BASE_URL"),
        "a variable with a default is not required"
    );
}

#[test]
fn a_literal_secret_is_refused() {
    let dir = copy_config();
    edit(
        &dir.join("pipelines/systems.yaml"),
        "${DRCHRONO_CLIENT_SECRET}",
        "hunter2",
    );
    let err = Plan::load(&dir, &Env::Map(BTreeMap::new()), EnvMode::Lenient).unwrap_err();
    assert!(
        err.0
            .iter()
            .any(|d| d.message.contains("`${VAR}` reference")),
        "{err}"
    );
    assert!(
        !err.to_string().contains("hunter2"),
        "the secret must not be echoed"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn malformed_yaml_is_located_not_a_panic() {
    let dir = copy_config();
    std::fs::write(
        dir.join("pipelines/patients.yaml"),
        "# yaml-language-server: $schema=../schema/pipeline.schema.json\nsource: [unclosed\n",
    )
    .unwrap();
    let err = Plan::load(&dir, &Env::Map(BTreeMap::new()), EnvMode::Lenient).unwrap_err();
    assert!(
        err.0
            .iter()
            .any(|d| d.file.ends_with("patients.yaml") && d.message.starts_with("invalid YAML")),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_write_back_endpoint_on_a_table_a_pipeline_fills_is_refused_with_its_location() {
    let dir = copy_config();
    edit(
        &dir.join("pipelines/writeback.yaml"),
        "    table: prior_authorizations",
        "    table: patients",
    );
    let err = Plan::load(&dir, &Env::Map(BTreeMap::new()), EnvMode::Lenient).unwrap_err();
    let d = err
        .0
        .iter()
        .find(|d| d.file.ends_with("writeback.yaml") && d.message.contains("pipeline `patients`"))
        .unwrap_or_else(|| panic!("not reported:\n{err}"));
    assert!(d.pos.line > 1, "located at the endpoint's table: {d:?}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_write_back_endpoint_without_roles_or_with_an_unknown_role_is_refused() {
    let dir = copy_config();
    edit(
        &dir.join("pipelines/writeback.yaml"),
        "    roles: [admin, billing]",
        "    roles: [admin, janitor]",
    );
    let err = Plan::load(&dir, &Env::Map(BTreeMap::new()), EnvMode::Lenient).unwrap_err();
    assert!(
        err.0
            .iter()
            .any(|d| d.message.contains("unknown staff role `janitor`")),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// The messages of loading `dir`, which must fail.
fn errors_of(dir: &Path) -> Vec<String> {
    let err = Plan::load(dir, &Env::Map(BTreeMap::new()), EnvMode::Lenient).unwrap_err();
    err.0
        .iter()
        .map(|d| format!("{}:{}: {}", d.file.display(), d.pos.line, d.message))
        .collect()
}

#[test]
fn inbound_sources_need_a_route_under_inbound_used_once_and_the_systems_block() {
    let q = "pipelines/questionnaire_responses.yaml";
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            q,
            "  route: /inbound/questionnaires\n",
            "",
            "an inbound source needs a `route`",
        ),
        (
            q,
            "  route: /inbound/questionnaires",
            "  route: /webhooks/questionnaires",
            "must be a path under `/inbound/`",
        ),
        (
            q,
            "  route: /inbound/questionnaires",
            "  route: /inbound/{id}",
            "must be a path under `/inbound/`",
        ),
        (
            "pipelines/patients.yaml",
            "  endpoint: /api/patients\n",
            "  endpoint: /api/patients\n  route: /inbound/patients\n",
            "only an `inbound` source has a route",
        ),
    ];
    for (file, from, to, want) in cases {
        let dir = copy_config();
        edit(&dir.join(file), from, to);
        let errors = errors_of(&dir);
        assert!(
            errors.iter().any(|e| e.contains(want) && e.contains(file)),
            "{want}: {errors:?}"
        );
        std::fs::remove_dir_all(dir).ok();
    }
    // A second pipeline on the same route, and no `inbound` block in systems.yaml.
    let dir = copy_config();
    std::fs::copy(dir.join(q), dir.join("pipelines/questionnaire_copies.yaml")).unwrap();
    edit(
        &dir.join("pipelines/questionnaire_copies.yaml"),
        "  table: questionnaire_responses",
        "  table: questionnaire_copies",
    );
    let errors = errors_of(&dir);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("questionnaire_responses.yaml")
                && e.contains("already the route of pipeline `questionnaire_copies`")),
        "{errors:?}"
    );
    std::fs::remove_dir_all(dir).ok();
    let dir = copy_config();
    edit(
        &dir.join("pipelines/systems.yaml"),
        "inbound:\n  secret: ${INBOUND_SECRET}\n",
        "",
    );
    edit(
        &dir.join("pipelines/systems.yaml"),
        "  tolerance_secs: 300\n",
        "",
    );
    let errors = errors_of(&dir);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("systems.yaml has no `inbound` block")),
        "{errors:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_generated_column_may_be_read_by_link_rules_but_not_written_by_a_field() {
    let dir = copy_config();
    edit(
        &dir.join("pipelines/patients.yaml"),
        "  generated: [email_lower]\n",
        "  generated: [email]\n",
    );
    let errors = errors_of(&dir);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`email` is computed by the database: no field may write it")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("links.yaml")
            && e.contains("`email_lower` is not a column of `patients`")),
        "{errors:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn reconcile_may_not_delete_extra_rows_of_a_write_back_table_nor_run_on_a_bad_cron() {
    let dir = copy_config();
    edit(
        &dir.join("mappings/intake_checklists.yaml"),
        "key: [appointment_id]",
        "key: [appointment_id]\nextra_rows: delete",
    );
    edit(
        &dir.join("pipelines/systems.yaml"),
        "schedule: \"0 5 * * *\"",
        "schedule: \"every day\"",
    );
    let errors = errors_of(&dir);
    assert!(
        errors.iter().any(|e| e.contains("intake_checklists.yaml")
            && e.contains("`intake_checklists` is written back from Coda")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("systems.yaml")
                && e.contains("`every day` is not a cron expression")),
        "{errors:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}
