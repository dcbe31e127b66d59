//! Request-body validation against the official spec. `requests.schema.json` is a verbatim
//! copy of the spec's `RowsUpsert`, `RowUpdate`, `RowsDelete`, `RowEdit`, `CellEdit`, `Value`
//! and `ScalarValue` schemas (a test checks it against the spec file when that is present),
//! compiled once with `jsonschema`. Messages name keys and JSON Pointers, never cell values.

use std::sync::{Arc, OnceLock};

use jsonschema::error::ValidationErrorKind;
use serde_json::{Value, json};

/// The embedded fragment of the official OpenAPI file.
const FRAGMENT: &str = include_str!("requests.schema.json");

/// A request body schema of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// `upsertRows`.
    RowsUpsert,
    /// `updateRow`.
    RowUpdate,
    /// `deleteRows`.
    RowsDelete,
}

impl Body {
    fn name(self) -> &'static str {
        match self {
            Body::RowsUpsert => "RowsUpsert",
            Body::RowUpdate => "RowUpdate",
            Body::RowsDelete => "RowsDelete",
        }
    }

    fn validator(self) -> Option<Arc<jsonschema::Validator>> {
        static CELLS: [OnceLock<Option<Arc<jsonschema::Validator>>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let slot = match self {
            Body::RowsUpsert => &CELLS[0],
            Body::RowUpdate => &CELLS[1],
            Body::RowsDelete => &CELLS[2],
        };
        slot.get_or_init(|| {
            let fragment: Value = serde_json::from_str(FRAGMENT).ok()?;
            let schema = json!({
                "$ref": format!("#/components/schemas/{}", self.name()),
                "components": fragment.get("components")?,
            });
            jsonschema::validator_for(&schema).ok().map(Arc::new)
        })
        .clone()
    }
}

/// Checks a parsed body against its schema; the error is the first violation, described
/// without echoing any value.
pub(super) fn check(body: Body, instance: &Value) -> Result<(), String> {
    let Some(validator) = body.validator() else {
        return Err("internal error: the request schema does not compile".into());
    };
    let Some(err) = validator.iter_errors(instance).next() else {
        return Ok(());
    };
    let at = err.instance_path().to_string();
    let at = if at.is_empty() { "/".to_owned() } else { at };
    let what = match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            format!("unexpected property `{}`", unexpected.join("`, `"))
        }
        ValidationErrorKind::Required { property } => {
            format!(
                "missing required property `{}`",
                property.as_str().unwrap_or_default()
            )
        }
        ValidationErrorKind::Type { .. } => "has the wrong type".to_owned(),
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. } => {
            "is not a string, number, boolean, or an array of them (one level of nesting)"
                .to_owned()
        }
        other => format!("violates `{}`", other.keyword()),
    };
    Err(format!(
        "Request body does not match {}: {at} {what}.",
        body.name()
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn valid_bodies_pass_and_invalid_ones_name_the_place() {
        let ok = json!({"rows": [{"cells": [
            {"column": "c-a", "value": "x"},
            {"column": "c-b", "value": [1, ["a", true]]},
        ]}], "keyColumns": ["c-a"]});
        assert_eq!(check(Body::RowsUpsert, &ok), Ok(()));
        let cases = [
            (
                json!({"rows": [], "extra": 1}),
                "unexpected property `extra`",
            ),
            (json!({}), "missing required property `rows`"),
            (
                json!({"rows": [{}]}),
                "/rows/0 missing required property `cells`",
            ),
            (json!({"rows": [{"cells": [{"column": "c-a"}]}]}), "`value`"),
            (
                json!({"rows": [{"cells": [{"column": "c-a", "value": null}]}]}),
                "/value",
            ),
            (
                json!({"rows": [{"cells": [{"column": "c-a", "value": [[["x"]]]}]}]}),
                "/value",
            ),
            (
                json!({"rows": [{"cells": [{"column": "c-a", "value": {"a": 1}}]}]}),
                "/value",
            ),
            (json!({"rows": [], "keyColumns": "c-a"}), "/keyColumns"),
            (json!({"rows": [{"cells": [], "id": "i-1"}]}), "`id`"),
        ];
        for (body, needle) in cases {
            let err = check(Body::RowsUpsert, &body).expect_err("invalid body");
            assert!(err.contains(needle), "{err} should contain {needle}");
        }
        assert!(check(Body::RowsDelete, &json!({"rowIds": ["i-1"]})).is_ok());
        assert!(check(Body::RowsDelete, &json!({"rowIds": [1]})).is_err());
        assert!(check(Body::RowUpdate, &json!({"row": {"cells": []}})).is_ok());
    }

    #[test]
    fn error_messages_never_echo_values() {
        let body = json!({"rows": [{"cells": [{"column": "c-a", "value": {"ssn": "123-45"}}]}]});
        let err = check(Body::RowsUpsert, &body).expect_err("invalid");
        assert!(!err.contains("123-45"), "{err}");
    }

    /// The embedded fragment is a verbatim copy of the official spec's schemas.
    #[test]
    fn embedded_schemas_match_the_official_spec_file() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/specs/coda-openapi-v1.json");
        let Ok(text) = std::fs::read_to_string(&spec) else {
            return; // The reference copy lives outside the repository; skip without it.
        };
        let spec: Value = serde_json::from_str(&text).unwrap_or_default();
        let fragment: Value = serde_json::from_str(FRAGMENT).unwrap_or_default();
        let ours = fragment["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(ours.len(), 7);
        for (name, schema) in ours {
            assert_eq!(
                spec["components"]["schemas"][&name], schema,
                "{name} drifted from the spec; re-extract requests.schema.json"
            );
        }
    }
}
