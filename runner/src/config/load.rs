//! Loading the config dir: read each file, check its modeline, parse the YAML, validate it
//! against its JSON Schema, interpolate `${VAR}`s and deserialize it. Every problem becomes a
//! located [`Diagnostic`]; loading never stops at the first one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::coda_fixture::CodaFixtureFile;
use super::coda_mapping::CodaMappingFile;
use super::diag::{Diagnostic, Diagnostics};
use super::env::{Env, InterpolationError, interpolate};
use super::fixture::FixtureFile;
use super::links::LinksFile;
use super::locate::{LocationIndex, Pos};
use super::pipeline::PipelineFile;
use super::schema::DocKind;
use super::schema_check::schema_errors;
use super::systems::SystemsFile;
use super::writeback::WritebackFile;

/// A parsed file with what is needed to point at any of its nodes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as shown in messages.
    pub path: PathBuf,
    /// What kind of document it is.
    pub kind: DocKind,
    /// The YAML as written, before `${VAR}` interpolation.
    pub raw: Value,
    /// Node positions.
    pub index: LocationIndex,
}

impl SourceFile {
    /// An error located at the value under `pointer`.
    pub fn error(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.path, self.index.value(pointer), message)
    }

    /// An error located at the key of the member under `pointer`.
    pub fn key_error(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.path, self.index.key(pointer), message)
    }

    /// A warning located at the value under `pointer`.
    pub fn warning(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(&self.path, self.index.value(pointer), message)
    }

    /// A notice located at the value under `pointer`.
    pub fn notice(&self, pointer: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::notice(&self.path, self.index.value(pointer), message)
    }

    /// An error at the value under `pointer` when `expr` is not a cron expression; `example`
    /// shows one that is.
    pub fn cron_error(&self, pointer: &str, expr: &str, example: &str) -> Option<Diagnostic> {
        crate::schedule::parse_schedule(expr).err().map(|e| {
            self.error(
                pointer,
                format!("`{expr}` is not a cron expression ({e}); for example `{example}`"),
            )
        })
    }

    /// The file stem (`patients` for `pipelines/patients.yaml`).
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A typed document and its source.
#[derive(Debug, Clone)]
pub struct Doc<T> {
    /// Where it came from.
    pub source: SourceFile,
    /// The deserialized value (after interpolation).
    pub value: T,
}

/// Every config document of a config dir.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The config dir.
    pub dir: PathBuf,
    /// `pipelines/systems.yaml`.
    pub systems: Option<Doc<SystemsFile>>,
    /// `pipelines/<name>.yaml`, by name.
    pub pipelines: BTreeMap<String, Doc<PipelineFile>>,
    /// `pipelines/links.yaml`.
    pub links: Option<Doc<LinksFile>>,
    /// `pipelines/writeback.yaml`.
    pub writeback: Option<Doc<WritebackFile>>,
    /// `mappings/<name>.yaml`, by name.
    pub mappings: BTreeMap<String, Doc<CodaMappingFile>>,
    /// `pipelines/tests/*.yaml`.
    pub fixtures: Vec<Doc<FixtureFile>>,
    /// `mappings/tests/*.yaml`.
    pub coda_fixtures: Vec<Doc<CodaFixtureFile>>,
    /// Warnings and notices of a config without errors (filled by [`Plan::load`]), for
    /// `runner validate` to show.
    ///
    /// [`Plan::load`]: super::Plan::load
    pub findings: Diagnostics,
}

/// How `${VAR}`s are treated while loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvMode {
    /// An unset variable without default is an error (deployment preflight, runtime).
    Strict,
    /// An unset variable without default becomes an empty string (CI without secrets).
    Lenient,
    /// Strict for the parts a command uses, lenient elsewhere: `runner sync` needs DrChrono's
    /// credentials, not Coda's.
    Needs(super::needs::Needs),
}

impl EnvMode {
    /// Whether an unset variable at `pointer` of a `kind` document is an error.
    pub fn requires(self, kind: DocKind, pointer: &str) -> bool {
        match self {
            EnvMode::Strict => true,
            EnvMode::Lenient => false,
            EnvMode::Needs(n) => n.requires(kind, pointer),
        }
    }
}

/// Loads every config file under `dir`. The config is usable only when the returned
/// diagnostics hold no error.
pub fn load_dir(dir: &Path, env: &Env, mode: EnvMode) -> (Config, Diagnostics) {
    let mut diags = Diagnostics::default();
    // Paths in messages are relative to the working directory when the config dir is it.
    let dir = if dir == Path::new(".") {
        Path::new("")
    } else {
        dir
    };
    let mut config = Config {
        dir: dir.to_path_buf(),
        ..Config::default()
    };
    let pipelines_dir = dir.join("pipelines");
    if !pipelines_dir.is_dir() {
        diags.push(Diagnostic::error(
            &pipelines_dir,
            Pos { line: 1, col: 1 },
            "no pipelines/ folder here: run from the config dir or pass --config-dir",
        ));
        return (config, diags);
    }
    let ctx = Loader { env, mode };
    for path in yaml_files(&pipelines_dir) {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match stem.as_str() {
            "systems" => config.systems = ctx.load(&path, DocKind::Systems, 1, &mut diags),
            "links" => config.links = ctx.load(&path, DocKind::Links, 1, &mut diags),
            "writeback" => config.writeback = ctx.load(&path, DocKind::Writeback, 1, &mut diags),
            _ => {
                if let Some(doc) = ctx.load(&path, DocKind::Pipeline, 1, &mut diags) {
                    config.pipelines.insert(stem, doc);
                }
            }
        }
    }
    for path in yaml_files(&pipelines_dir.join("tests")) {
        if let Some(doc) = ctx.load(&path, DocKind::Fixture, 2, &mut diags) {
            config.fixtures.push(doc);
        }
    }
    for path in yaml_files(&dir.join("mappings")) {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(doc) = ctx.load(&path, DocKind::CodaMapping, 1, &mut diags) {
            config.mappings.insert(stem, doc);
        }
    }
    for path in yaml_files(&dir.join("mappings/tests")) {
        if let Some(doc) = ctx.load(&path, DocKind::CodaFixture, 2, &mut diags) {
            config.coda_fixtures.push(doc);
        }
    }
    let missing = [
        ("systems.yaml", config.systems.is_none()),
        ("links.yaml", config.links.is_none()),
        ("writeback.yaml", config.writeback.is_none()),
    ];
    for (name, absent) in missing {
        let path = pipelines_dir.join(name);
        if absent && !path.exists() {
            diags.push(Diagnostic::error(
                &path,
                Pos { line: 1, col: 1 },
                format!("missing required file {name}"),
            ));
        }
    }
    (config, diags)
}

/// `*.yaml` and `*.yml` files directly in `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    out.sort();
    out
}

struct Loader<'a> {
    env: &'a Env,
    mode: EnvMode,
}

impl Loader<'_> {
    fn load<T: DeserializeOwned>(
        &self,
        path: &Path,
        kind: DocKind,
        depth: usize,
        diags: &mut Diagnostics,
    ) -> Option<Doc<T>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::error(
                    path,
                    Pos { line: 1, col: 1 },
                    format!("cannot read file: {e}"),
                ));
                return None;
            }
        };
        let (source, value) = parse_source(path, kind, depth, &text, self.env, self.mode, diags)?;
        match serde_json::from_value::<T>(value) {
            Ok(value) => Some(Doc { source, value }),
            Err(e) => {
                diags.push(Diagnostic::error(
                    path,
                    Pos { line: 1, col: 1 },
                    format!("invalid document: {e}"),
                ));
                None
            }
        }
    }
}

/// Parses and checks one document's text; returns its source and its interpolated value when
/// it is valid against its schema.
pub fn parse_source(
    path: &Path,
    kind: DocKind,
    depth: usize,
    text: &str,
    env: &Env,
    mode: EnvMode,
    diags: &mut Diagnostics,
) -> Option<(SourceFile, Value)> {
    let modeline = kind.modeline(depth);
    if text.lines().next().map(str::trim_end) != Some(modeline.as_str()) {
        diags.push(Diagnostic::error(
            path,
            Pos { line: 1, col: 1 },
            format!("the first line must be `{modeline}`"),
        ));
    }
    let raw: Value = match serde_saphyr::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let pos = e.location().map_or(Pos { line: 1, col: 1 }, |l| Pos {
                line: usize::try_from(l.line()).unwrap_or(1),
                col: usize::try_from(l.column()).unwrap_or(1),
            });
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid YAML").to_string();
            diags.push(Diagnostic::error(
                path,
                pos,
                format!("invalid YAML: {first}"),
            ));
            return None;
        }
    };
    let source = SourceFile {
        path: path.to_path_buf(),
        kind,
        raw,
        index: LocationIndex::build(text),
    };
    let before = diags.error_count();
    for (pointer, at_key, message) in schema_errors(kind, &source.raw) {
        diags.push(if at_key {
            source.key_error(&pointer, message)
        } else {
            source.error(&pointer, message)
        });
    }
    if diags.error_count() > before {
        return None;
    }
    let mut value = source.raw.clone();
    if !matches!(kind, DocKind::Fixture | DocKind::CodaFixture) {
        interpolate_tree(&mut value, "", &source, env, mode, diags);
    }
    if diags.error_count() > before {
        return None;
    }
    Some((source, value))
}

fn interpolate_tree(
    v: &mut Value,
    at: &str,
    source: &SourceFile,
    env: &Env,
    mode: EnvMode,
    diags: &mut Diagnostics,
) {
    match v {
        Value::String(s) if s.contains('$') => match interpolate(s, env) {
            Ok(out) => *s = out,
            Err(InterpolationError::Malformed(m)) => diags.push(source.error(at, m)),
            Err(InterpolationError::Missing(names)) => {
                if mode.requires(source.kind, at) {
                    for n in names {
                        diags.push(source.error(
                            at,
                            format!("environment variable {n} is not set and has no default"),
                        ));
                    }
                }
                s.clear();
            }
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{at}/{i}"), source, env, mode, diags);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let p = format!("{at}/{}", super::locate::escape(k));
                interpolate_tree(item, &p, source, env, mode, diags);
            }
        }
        _ => {}
    }
}
