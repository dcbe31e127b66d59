//! Compilation of a pipeline file into the form that maps records: JSONPaths parsed and
//! templates compiled once, so mapping a record does no parsing.

use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

use super::path::CompiledPath;
use crate::config::field_type::FieldType;
use crate::config::locate::escape;
use crate::config::pipeline::{Lookup, PipelineFile};

/// The variables a transform template may read: the extracted `value` and the whole `record`.
const TRANSFORM_VARIABLES: [&str; 2] = ["value", "record"];

/// One column, ready to compute.
#[derive(Debug, Clone)]
pub struct CompiledField {
    /// Column name.
    pub name: String,
    /// Declared type.
    pub ty: FieldType,
    /// Where the value is read.
    pub path: Option<CompiledPath>,
    /// Name of the compiled transform template, if any.
    pub transform: Option<String>,
    /// Whether the transform reads `record` (so the record is only handed over when needed).
    pub transform_reads_record: bool,
    /// Value when the source has none.
    pub default: Option<Value>,
    /// A missing value fails the record.
    pub required: bool,
    /// Foreign-key lookup, done by the store.
    pub lookup: Option<Lookup>,
}

/// A pipeline's mapping, compiled.
#[derive(Debug, Clone)]
pub struct CompiledPipeline {
    /// The pipeline name (file stem).
    pub name: String,
    /// The file name, for messages (`patients.yaml`).
    pub file: String,
    /// Target table.
    pub table: String,
    /// Natural-key columns.
    pub key: Vec<String>,
    /// Version column.
    pub version: Option<String>,
    /// Raw JSONB column.
    pub raw: Option<String>,
    /// Record selector of a list response.
    pub records: CompiledPath,
    /// Next-page URL of a list response.
    pub next: CompiledPath,
    /// Where a webhook payload holds the record.
    pub webhook_object: Option<CompiledPath>,
    /// Paths a webhook's record must hold (`webhooks.require`), with their source text.
    pub webhook_require: Vec<(String, CompiledPath)>,
    /// The detail endpoint (with `{id}`) and the id's path, when webhooks re-read the record.
    pub refetch: Option<(String, CompiledPath)>,
    /// Incremental cursor field of a record.
    pub cursor_field: Option<CompiledPath>,
    /// Expansion items: label and path.
    pub expand: Vec<(String, CompiledPath)>,
    /// Column that must be non-empty for an expanded item to yield a row.
    pub expand_require: Option<String>,
    /// The columns, in name order.
    pub fields: Vec<CompiledField>,
    pub(super) templates: Arc<Environment<'static>>,
}

/// A compile error: JSON Pointer into the pipeline file and message.
pub(super) type CompileError = (String, String);

impl CompiledPipeline {
    /// Compiles `file` (named `name`). Returns every error found, each at its JSON Pointer.
    pub fn compile(name: &str, file: &PipelineFile) -> Result<Self, Vec<CompileError>> {
        let mut errors = Vec::new();
        fn path(errors: &mut Vec<CompileError>, p: &str, at: String) -> Option<CompiledPath> {
            CompiledPath::compile(p)
                .map_err(|e| errors.push((at, e)))
                .ok()
        }
        let records = path(&mut errors, &file.source.records, "/source/records".into());
        let next = path(&mut errors, &file.source.next, "/source/next".into());
        let webhook_object = file
            .webhooks
            .as_ref()
            .and_then(|w| path(&mut errors, &w.object, "/webhooks/object".into()));
        let mut webhook_require = Vec::new();
        let mut refetch = None;
        if let Some(w) = &file.webhooks {
            for (i, p) in w.require.iter().enumerate() {
                if let Some(c) = path(&mut errors, p, format!("/webhooks/require/{i}")) {
                    webhook_require.push((p.clone(), c));
                }
            }
            if let Some(r) = &w.refetch {
                if !r.endpoint.starts_with('/') || !r.endpoint.contains("{id}") {
                    errors.push((
                        "/webhooks/refetch/endpoint".into(),
                        "must be a path starting with `/` that holds `{id}`".into(),
                    ));
                }
                refetch = path(&mut errors, &r.id, "/webhooks/refetch/id".into())
                    .map(|id| (r.endpoint.clone(), id));
            }
        }
        let cursor_field = file
            .source
            .incremental
            .as_ref()
            .and_then(|i| path(&mut errors, &i.field, "/source/incremental/field".into()));
        let mut expand = Vec::new();
        if let Some(x) = &file.expand {
            for (label, p) in &x.items {
                if let Some(c) = path(&mut errors, p, format!("/expand/items/{}", escape(label))) {
                    expand.push((label.clone(), c));
                }
            }
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut fields = Vec::new();
        for (col, m) in &file.fields {
            let at = format!("/fields/{}", escape(col));
            if m.path.is_none() && m.transform.is_none() {
                errors.push((
                    at.clone(),
                    format!("field {col}: needs `path`, `transform` or both"),
                ));
            }
            let compiled_path = m
                .path
                .as_ref()
                .and_then(|p| path(&mut errors, p, format!("{at}/path")));
            let mut reads_record = false;
            let transform = m.transform.as_ref().and_then(|src| {
                let tname = format!("{name}.{col}");
                match env.add_template_owned(tname.clone(), src.clone()) {
                    Ok(()) => {
                        let names = env
                            .get_template(&tname)
                            .map(|t| t.undeclared_variables(false))
                            .unwrap_or_default();
                        // The analysis does not look inside slices (`record.x[:1]`), so the
                        // text decides too: handing the record over when unneeded costs little.
                        reads_record = names.contains("record") || src.contains("record");
                        let mut unknown: Vec<&String> = names
                            .iter()
                            .filter(|v| !TRANSFORM_VARIABLES.contains(&v.as_str()))
                            .collect();
                        unknown.sort();
                        for v in unknown {
                            errors.push((
                                format!("{at}/transform"),
                                format!(
                                    "field {col}: template names `{v}`; a transform sees only `value` and `record`"
                                ),
                            ));
                        }
                        Some(tname)
                    }
                    Err(e) => {
                        errors.push((
                            format!("{at}/transform"),
                            format!("field {col}: template does not compile: {e}"),
                        ));
                        None
                    }
                }
            });
            fields.push(CompiledField {
                name: col.clone(),
                ty: m.ty,
                path: compiled_path,
                transform,
                transform_reads_record: reads_record,
                default: m.default.clone(),
                required: m.required,
                lookup: m.lookup.clone(),
            });
        }
        let (Some(records), Some(next), true) = (records, next, errors.is_empty()) else {
            return Err(errors);
        };
        Ok(CompiledPipeline {
            name: name.to_string(),
            file: format!("{name}.yaml"),
            table: file.target.table.clone(),
            key: file.target.key.clone(),
            version: file.target.version.clone(),
            raw: file.target.raw.clone(),
            records,
            next,
            webhook_object,
            webhook_require,
            refetch,
            cursor_field,
            expand,
            expand_require: file.expand.as_ref().and_then(|x| x.require.clone()),
            fields,
            templates: Arc::new(env),
        })
    }

    /// The field named `col`.
    pub fn field(&self, col: &str) -> Option<&CompiledField> {
        self.fields.iter().find(|f| f.name == col)
    }
}
