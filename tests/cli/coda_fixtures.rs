//! Coda mapping fixtures (`mappings/tests/`) as an engineer runs them: `runner test` turns each
//! row into cells with the mapping and names the cell that differs.

use crate::support::{copy, out, runner};

#[test]
fn runner_test_runs_the_coda_mapping_fixtures_and_a_wrong_cell_fails_with_a_diff() {
    let o = runner(&e2e::repo()).arg("test").output().unwrap();
    let (stdout, _) = out(&o);
    assert!(o.status.success(), "{stdout}");
    assert!(
        stdout.contains("mappings/tests/patients.yaml: an active patient"),
        "{stdout}"
    );

    let dir = copy();
    let fixture = dir.join("mappings/tests/patients.yaml");
    let text = std::fs::read_to_string(&fixture).unwrap();
    std::fs::write(
        &fixture,
        text.replacen(
            "      c-patFullNam: \"Ada Fakename\"",
            "      c-patFullNam: \"Fakename Ada\"",
            1,
        ),
    )
    .unwrap();
    let o = runner(&dir).arg("test").output().unwrap();
    let (stdout, _) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  ") && stdout.contains("mappings/tests/patients.yaml"),
        "{stdout}"
    );
    let changed: Vec<&str> = stdout
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with(['-', '+']))
        .collect();
    assert_eq!(
        changed,
        [
            "- c-patFullNam (Name): \"Fakename Ada\"",
            "+ c-patFullNam (Name): \"Ada Fakename\"",
        ],
        "only the differing cell, by id and label: {stdout}"
    );
    assert!(
        stdout.contains("fixtures: ") && stdout.contains(" 1 failed"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_mapping_without_fixtures_fails_runner_test() {
    let dir = copy();
    std::fs::remove_file(dir.join("mappings/tests/providers.yaml")).unwrap();
    let o = runner(&dir).arg("test").output().unwrap();
    let (stdout, _) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "no fixture tests for mapping `providers`: add mappings/tests/providers.yaml"
        ),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).ok();
}
