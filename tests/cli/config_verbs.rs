//! The config verbs as an engineer runs them: `runner validate`, `runner test`, `runner schema`
//! and `runner demo`.

use std::path::Path;

use crate::support::{broken, copy, located, out, runner, validate_fails};

#[test]
fn validate_passes_on_the_shipped_config() {
    let o = runner(&e2e::repo()).arg("validate").output().unwrap();
    assert!(o.status.success(), "{:?}", out(&o));
}

#[test]
fn validate_reports_a_typo_a_wrong_type_and_a_dangling_link_at_once_with_locations() {
    let dir = broken(&[
        (
            "pipelines/patients.yaml",
            "\ntarget:",
            "\ntargte:\n  table: x\ntarget:",
        ),
        (
            "pipelines/medications.yaml",
            "\nfields:\n",
            "\nfields:\n  x_bogus: {path: $.id, required: \"yes\"}\n",
        ),
        (
            "pipelines/links.yaml",
            "to: clinical_notes",
            "to: clinical_notez",
        ),
    ]);
    let (_, stderr) = validate_fails(&dir);
    let located = |file: &str, needle: &str| located(&stderr, file, needle);
    assert!(located("patients.yaml", "unknown key `targte`"), "{stderr}");
    assert!(located("medications.yaml", "boolean"), "{stderr}");
    assert!(located("links.yaml", "clinical_notez"), "{stderr}");

    let o = runner(&dir)
        .args(["validate", "--format", "github"])
        .output()
        .unwrap();
    let (stdout, _) = out(&o);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("::error file=") && l.contains("patients.yaml,line=")),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn validate_warns_about_a_list_endpoint_without_page_size_and_still_passes() {
    let o = runner(&e2e::repo()).arg("validate").output().unwrap();
    let (_, stderr) = out(&o);
    assert!(!stderr.contains("warning:"), "the shipped config: {stderr}");

    let dir = broken(&[
        ("pipelines/systems.yaml", "  page_size: 250\n", ""),
        (
            "pipelines/appointments.yaml",
            "page_size: 250",
            "page_size: 1000",
        ),
    ]);
    let o = runner(&dir).arg("validate").output().unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(0), "warnings never fail: {stderr}");
    let warned = |file: &str, needle: &str| located(&stderr, file, &format!(" warning: {needle}"));
    assert!(
        warned(
            "patients.yaml",
            "/api/patients is listed without `page_size`"
        ),
        "{stderr}"
    );
    assert!(
        warned(
            "appointments.yaml",
            "/api/appointments returns at most 250 records a page: page_size 1000"
        ),
        "{stderr}"
    );
    // Pipelines that set their own page size are left alone.
    assert!(
        !stderr
            .lines()
            .any(|l| l.contains("insurance_records.yaml") && l.contains("warning:")),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn validate_env_names_each_unset_variable() {
    let o = runner(&e2e::repo())
        .args(["validate", "--env"])
        .output()
        .unwrap();
    let (_, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(1));
    for var in [
        "DRCHRONO_CLIENT_ID",
        "DRCHRONO_REFRESH_TOKEN",
        "DEEPCURA_SHARED_SECRET",
        "CODA_API_TOKEN",
        "CODA_DOC_ID",
    ] {
        assert!(
            stderr.contains(&format!("environment variable {var} is not set")),
            "{var}: {stderr}"
        );
    }
}

#[test]
fn runner_test_passes_and_a_wrong_expectation_prints_a_diff() {
    let o = runner(&e2e::repo()).arg("test").output().unwrap();
    let (stdout, _) = out(&o);
    assert!(o.status.success(), "{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    let dir = copy();
    let fixture = dir.join("pipelines/tests/providers.yaml");
    let text = std::fs::read_to_string(&fixture).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("last_name:") && l.starts_with("        "))
        .expect("an expected last_name")
        .to_string();
    std::fs::write(
        &fixture,
        text.replacen(
            &line,
            &format!("{}: Zzwrong", line.split(':').next().unwrap()),
            1,
        ),
    )
    .unwrap();
    let o = runner(&dir).arg("test").output().unwrap();
    let (stdout, _) = out(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    let minus = stdout
        .lines()
        .any(|l| l.trim_start().starts_with('-') && l.contains("\"last_name\": \"Zzwrong\""));
    let plus = stdout
        .lines()
        .any(|l| l.trim_start().starts_with('+') && l.contains("\"last_name\""));
    assert!(stdout.contains("FAIL") && minus && plus, "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(['-', '+']))
            .count(),
        2,
        "only the differing value: {stdout}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn schema_check_detects_a_stale_schema_and_schema_rewrites_it() {
    let dir = copy();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::copy(
        e2e::repo().join("docs/configuration.md"),
        dir.join("docs/configuration.md"),
    )
    .unwrap();
    assert!(
        runner(&dir)
            .args(["schema", "--check"])
            .output()
            .unwrap()
            .status
            .success()
    );
    std::fs::write(dir.join("schema/pipeline.schema.json"), "{}\n").unwrap();
    let o = runner(&dir).args(["schema", "--check"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o)
            .1
            .contains("schema/pipeline.schema.json is out of date: run `runner schema`")
    );
    assert!(
        runner(&dir)
            .arg("schema")
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        runner(&dir)
            .args(["schema", "--check"])
            .output()
            .unwrap()
            .status
            .success()
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn demo_with_a_throwaway_postgresql_runs_the_whole_flow_and_removes_it_on_exit() {
    let o = runner(&e2e::repo())
        .env_remove("DEMO_DATABASE_URL")
        .args([
            "demo",
            "--exit",
            "--patients",
            "4",
            "--listen",
            "127.0.0.1:0",
            "--throwaway-db",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Throwaway PostgreSQL: "))
        .expect("the demo says where its database lives");
    let dir = line
        .trim_start_matches("Throwaway PostgreSQL: ")
        .split(" (port")
        .next()
        .unwrap();
    assert!(stdout.contains("Demo summary"), "{stdout}");
    assert!(
        stdout.contains("questionnaires:          2 stored, 2 linked"),
        "{stdout}"
    );
    assert!(
        !Path::new(dir).exists(),
        "the throwaway cluster is removed on exit"
    );
    let port: u16 = line
        .split("(port ")
        .nth(1)
        .and_then(|p| p.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the throwaway server is stopped"
    );
}

#[test]
fn validate_reports_a_misspelt_template_variable_and_a_table_name_that_is_no_identifier() {
    let dir = broken(&[
        (
            "mappings/patients.yaml",
            "[first_name, last_name]",
            "[first_name, nick_nmae]",
        ),
        (
            "pipelines/appointments.yaml",
            "{{ value[:10] if value }}",
            "{{ valeu[:10] if valeu }}",
        ),
        (
            "pipelines/line_items.yaml",
            "table: line_items",
            "table: Line_Items",
        ),
    ]);
    let (stdout, stderr) = validate_fails(&dir);
    assert!(!stdout.contains("Config valid."), "{stdout}");
    let located = |file: &str, line: u32, needle: &str| {
        located(&stderr, file, needle) && stderr.contains(&format!("{file}:{line}:"))
    };
    assert!(
        located("mappings/patients.yaml", 23, "`nick_nmae`"),
        "{stderr}"
    );
    assert!(
        located("pipelines/appointments.yaml", 69, "`valeu`"),
        "{stderr}"
    );
    assert!(
        located("pipelines/line_items.yaml", 17, "Line_Items"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}
