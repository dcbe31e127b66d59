//! The comparison of one mapping with a table as the doc serves it.

use std::path::PathBuf;

use super::*;
use crate::config::Severity;
use crate::config::locate::LocationIndex;
use crate::config::schema::DocKind;

const YAML: &str = "\
table: grid-x
label: Patients
source: patients
key: [drchrono_id]
columns:
  - id: c-key
    label: DrChrono ID
    from: drchrono_id
  - id: c-name
    label: Name
    from: first_name
  - id: c-age
    label: Age
    from: age
";

fn mapping() -> (SourceFile, CodaMappingFile) {
    let raw: Value = serde_saphyr::from_str(YAML).expect("yaml");
    let m: CodaMappingFile = serde_json::from_value(raw.clone()).expect("mapping");
    let source = SourceFile {
        path: PathBuf::from("mappings/patients.yaml"),
        kind: DocKind::CodaMapping,
        raw,
        index: LocationIndex::build(YAML),
    };
    (source, m)
}

fn col(id: &str, name: &str, calculated: bool) -> RemoteColumn {
    RemoteColumn {
        id: id.into(),
        name: name.into(),
        calculated,
    }
}

fn run(remote: &RemoteTable) -> Vec<String> {
    let (source, m) = mapping();
    let mut diags = Diagnostics::default();
    compare(&source, &m, "doc-1", remote, &mut diags);
    diags.finish().0.iter().map(ToString::to_string).collect()
}

#[test]
fn an_identical_table_has_no_findings() {
    let remote = RemoteTable::Found {
        name: "Patients".into(),
        columns: vec![
            col("c-key", "DrChrono ID", false),
            col("c-name", "Name", false),
            col("c-age", "Age", false),
            col("c-extra", "Staff notes", true),
        ],
    };
    assert_eq!(run(&remote), Vec::<String>::new());
}

#[test]
fn drift_is_located_at_the_mapping_node() {
    let remote = RemoteTable::Found {
        name: "People".into(),
        columns: vec![
            col("c-name", "First name", false),
            col("c-age", "Age", true),
        ],
    };
    let found = run(&remote);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0]
            .starts_with("mappings/patients.yaml:2:8: notice: Coda names table `grid-x` `People`")
    );
    assert!(
        found[1].starts_with("mappings/patients.yaml:6:9: key column `c-key` (from `drchrono_id`)")
    );
    assert!(found[2].starts_with(
        "mappings/patients.yaml:10:12: notice: Coda names column `c-name` `First name`"
    ));
    assert!(found[3].contains("12:9: column `c-age` (`Age`) of Coda table `grid-x` is calculated"));
}

#[test]
fn a_missing_table_is_one_error_at_the_table_id() {
    let (source, m) = mapping();
    let mut diags = Diagnostics::default();
    compare(&source, &m, "doc-1", &RemoteTable::Missing, &mut diags);
    assert_eq!(diags.0.len(), 1);
    assert_eq!(diags.0[0].severity, Severity::Error);
    assert_eq!(diags.0[0].pos.line, 1);
    assert!(
        diags.0[0]
            .message
            .contains("`grid-x` does not exist in doc `doc-1`")
    );
}

#[test]
fn columns_are_read_from_the_api_shape() {
    let v = serde_json::json!({"id": "c-1", "type": "column", "name": "Total", "calculated": true, "format": {"type": "number"}});
    assert_eq!(RemoteColumn::from_json(&v), Some(col("c-1", "Total", true)));
    assert_eq!(
        RemoteColumn::from_json(&serde_json::json!({"name": "x"})),
        None
    );
}
