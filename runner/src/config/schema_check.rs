//! Validation of a parsed document against its generated JSON Schema, turning each violation
//! into a short message at a JSON Pointer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::schema::DocKind;

type Validators = Mutex<HashMap<DocKind, Arc<jsonschema::Validator>>>;

fn validator(kind: DocKind) -> Option<Arc<jsonschema::Validator>> {
    static CACHE: OnceLock<Validators> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().ok()?;
    if let Some(v) = map.get(&kind) {
        return Some(v.clone());
    }
    let v = Arc::new(jsonschema::validator_for(&kind.schema()).ok()?);
    map.insert(kind, v.clone());
    Some(v)
}

/// Schema violations of `doc`: (JSON Pointer, whether the pointer names a key, message).
pub fn schema_errors(kind: DocKind, doc: &Value) -> Vec<(String, bool, String)> {
    let Some(v) = validator(kind) else {
        return vec![(
            String::new(),
            false,
            "internal error: schema does not compile".into(),
        )];
    };
    let mut out = Vec::new();
    for err in v.iter_errors(doc) {
        let at = err.instance_path().to_string();
        let field = display_path(&at);
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let p = format!("{at}/{}", super::locate::escape(key));
                    out.push((p, true, format!("unknown key `{key}`{}", in_field(&field))));
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                out.push((
                    at,
                    false,
                    format!("missing required key `{name}`{}", in_field(&field)),
                ));
            }
            _ => out.push((
                at,
                false,
                format!(
                    "{}: {err}",
                    if field.is_empty() { "document" } else { &field }
                ),
            )),
        }
    }
    out
}

fn in_field(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(" in `{field}`")
    }
}

/// `/source/params/0` -> `source.params[0]`.
pub fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}
