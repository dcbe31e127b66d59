//! The JSON Schemas of the config files, generated from the Rust types. They are checked in
//! under `schema/` (editors use them through the `yaml-language-server` line of every file)
//! and a test fails when they drift from the types.

use std::path::Path;

use schemars::JsonSchema;
use serde_json::Value;

use super::coda_fixture::CodaFixtureFile;
use super::coda_mapping::CodaMappingFile;
use super::fixture::FixtureFile;
use super::links::LinksFile;
use super::pipeline::PipelineFile;
use super::systems::SystemsFile;
use super::writeback::WritebackFile;

/// The kinds of config document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// `pipelines/systems.yaml`.
    Systems,
    /// `pipelines/<table>.yaml`.
    Pipeline,
    /// `pipelines/links.yaml`.
    Links,
    /// `pipelines/writeback.yaml`.
    Writeback,
    /// `mappings/<coda-table>.yaml`.
    CodaMapping,
    /// `pipelines/tests/*.yaml`.
    Fixture,
    /// `mappings/tests/*.yaml`.
    CodaFixture,
}

impl DocKind {
    /// Every kind, in a stable order.
    pub const ALL: [DocKind; 7] = [
        DocKind::Systems,
        DocKind::Pipeline,
        DocKind::Links,
        DocKind::Writeback,
        DocKind::CodaMapping,
        DocKind::Fixture,
        DocKind::CodaFixture,
    ];

    /// File name of the kind's schema under `schema/`.
    pub fn schema_file(self) -> &'static str {
        match self {
            DocKind::Systems => "systems.schema.json",
            DocKind::Pipeline => "pipeline.schema.json",
            DocKind::Links => "links.schema.json",
            DocKind::Writeback => "writeback.schema.json",
            DocKind::CodaMapping => "coda-mapping.schema.json",
            DocKind::Fixture => "fixture.schema.json",
            DocKind::CodaFixture => "coda-fixture.schema.json",
        }
    }

    /// The schema generated from the Rust type.
    pub fn schema(self) -> Value {
        match self {
            DocKind::Systems => generate::<SystemsFile>(),
            DocKind::Pipeline => generate::<PipelineFile>(),
            DocKind::Links => generate::<LinksFile>(),
            DocKind::Writeback => generate::<WritebackFile>(),
            DocKind::CodaMapping => generate::<CodaMappingFile>(),
            DocKind::Fixture => generate::<FixtureFile>(),
            DocKind::CodaFixture => generate::<CodaFixtureFile>(),
        }
    }

    /// The `# yaml-language-server: $schema=...` line a file of this kind starts with, for a
    /// file that is `depth` folders below the config dir.
    pub fn modeline(self, depth: usize) -> String {
        format!(
            "# yaml-language-server: $schema={}schema/{}",
            "../".repeat(depth),
            self.schema_file()
        )
    }
}

fn generate<T: JsonSchema>() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    simplify(&mut v);
    v
}

/// Rewrites the generated schema so validators give precise messages:
/// - an optional field (`anyOf: [X, null]`, `type: [T, "null"]`) becomes plain `X`: leaving a
///   key out is how a value is omitted, and errors then name what X expected instead of
///   "not valid under any of the given schemas";
/// - a `oneOf` of documented constants becomes an `enum` (with `enumDescriptions`, which
///   editors show), so a typo is reported with the list of allowed values.
fn simplify(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                simplify(child);
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            if let Some(Value::Array(types)) = map.get("type") {
                let non_null: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if non_null.len() == 1 && types.len() == 2 {
                    map.insert("type".into(), non_null[0].clone());
                }
            }
            if let Some(Value::Array(any)) = map.get("anyOf")
                && any.len() == 2
                && any
                    .iter()
                    .any(|a| a.get("type").and_then(Value::as_str) == Some("null"))
            {
                let inner = any
                    .iter()
                    .find(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned();
                map.remove("anyOf");
                if let Some(Value::Object(inner)) = inner {
                    for (k, val) in inner {
                        map.entry(k).or_insert(val);
                    }
                }
            }
            if let Some(Value::Array(one)) = map.get("oneOf") {
                let consts: Option<Vec<(Value, Value)>> = one
                    .iter()
                    .map(|o| {
                        Some((
                            o.get("const")?.clone(),
                            o.get("description").cloned().unwrap_or(Value::Null),
                        ))
                    })
                    .collect();
                if let Some(consts) = consts {
                    map.remove("oneOf");
                    map.insert("type".into(), Value::String("string".into()));
                    map.insert(
                        "enum".into(),
                        Value::Array(consts.iter().map(|c| c.0.clone()).collect()),
                    );
                    map.insert(
                        "enumDescriptions".into(),
                        Value::Array(consts.into_iter().map(|c| c.1).collect()),
                    );
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                simplify(item);
            }
        }
        _ => {}
    }
}

/// The text of a schema file: pretty JSON with a final newline.
pub fn render(kind: DocKind) -> String {
    let mut s = serde_json::to_string_pretty(&kind.schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// Writes every schema under `dir` (the repository's `schema/`).
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for kind in DocKind::ALL {
        std::fs::write(dir.join(kind.schema_file()), render(kind))?;
    }
    Ok(())
}

/// JSON Pointers of schema properties that have no `description`.
pub fn undocumented_properties(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(schema, "", &mut out);
    out
}

fn walk(node: &Value, at: &str, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for (name, prop) in props {
                    let has = prop
                        .get("description")
                        .and_then(Value::as_str)
                        .is_some_and(|d| !d.trim().is_empty());
                    if !has {
                        out.push(format!("{at}/properties/{name}"));
                    }
                }
            }
            for (k, v) in map {
                walk(v, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}
