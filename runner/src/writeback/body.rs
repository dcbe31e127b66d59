//! Validating a write-back body against its endpoint: a JSON object whose every field is
//! declared writable, of its declared type, one of its `allowed` values, and not null unless
//! `nullable`. Every problem is collected (a 422 lists them all); no reason repeats a value.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::FieldError;
use crate::config::field_type::FieldType;
use crate::config::writeback::{Endpoint, WritableField};

/// The body field that carries the version the caller read (optimistic concurrency).
pub const VERSION_FIELD: &str = "version";

/// A validated change: the values to write (normalised) and the version the caller read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// Field -> value, in the types PostgreSQL reads (`jsonb_populate_record`).
    pub values: Map<String, Value>,
    /// The `version` the caller read, if given.
    pub version: Option<String>,
    /// The same fields as the request carried them (what the Coda row shows).
    pub sent: Map<String, Value>,
}

/// Validates `body` for `ep`.
pub fn validate(ep: &Endpoint, body: &[u8]) -> Result<Change, Vec<FieldError>> {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return Err(vec![FieldError::new("body", "is not a JSON object")]);
    };
    let mut change = Change::default();
    let mut errors = Vec::new();
    for (name, value) in obj {
        if name == VERSION_FIELD {
            match value {
                Value::String(v) => change.version = Some(v),
                _ => errors.push(FieldError::new(
                    name,
                    "must be the version string the row was read with",
                )),
            }
            continue;
        }
        let Some(field) = ep.fields.get(&name) else {
            errors.push(FieldError::new(
                name,
                "is not a writable field of this endpoint",
            ));
            continue;
        };
        match check(field, value.clone()) {
            Ok(v) => {
                change.values.insert(name.clone(), v);
                change.sent.insert(name, value);
            }
            Err(reason) => errors.push(FieldError::new(name, reason)),
        }
    }
    if errors.is_empty() {
        Ok(change)
    } else {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Err(errors)
    }
}

/// The fields a new row must have that `change` lacks.
pub fn missing_for_create(ep: &Endpoint, change: &Change) -> Vec<FieldError> {
    ep.fields
        .iter()
        .filter(|(name, f)| f.required && !change.values.contains_key(*name))
        .map(|(name, _)| FieldError::new(name.clone(), "is required to create the row"))
        .collect()
}

/// Checks one value; returns it normalised.
fn check(field: &WritableField, value: Value) -> Result<Value, String> {
    if value.is_null() {
        return if field.nullable {
            Ok(Value::Null)
        } else {
            Err("may not be null".into())
        };
    }
    let v = typed(field.ty, value).ok_or_else(|| format!("must be a {}", field.ty.name()))?;
    if let Some(allowed) = &field.allowed {
        let text = v
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string());
        if !allowed.contains(&text) {
            return Err(format!("must be one of: {}", allowed.join(", ")));
        }
    }
    Ok(v)
}

/// `value` as `ty`, or `None` when it is not one.
fn typed(ty: FieldType, value: Value) -> Option<Value> {
    match ty {
        FieldType::Text => value.is_string().then_some(value),
        FieldType::Bool => value.is_boolean().then_some(value),
        FieldType::Int => value.as_i64().map(Value::from),
        FieldType::Numeric => match &value {
            Value::Number(_) => Some(value),
            Value::String(s) if s.parse::<f64>().is_ok_and(f64::is_finite) => Some(value),
            _ => None,
        },
        FieldType::Date => value
            .as_str()
            .filter(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
            .map(Value::from),
        FieldType::Timestamp => value
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| Value::from(t.with_timezone(&chrono::Utc).to_rfc3339())),
        FieldType::Uuid => value
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(|u| Value::from(u.to_string())),
        FieldType::Jsonb => Some(value),
        FieldType::TextArray => value
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string))
            .then_some(value),
    }
}

/// The path parameter as the key's type, or the reason it is not one.
pub fn key(ep: &Endpoint, raw: &str) -> Result<Value, FieldError> {
    let v = match ep.key_type {
        FieldType::Int => raw.parse::<i64>().ok().map(Value::from),
        other => typed(other, Value::from(raw)),
    };
    v.ok_or_else(|| FieldError::new(ep.key.clone(), format!("must be a {}", ep.key_type.name())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::writeback::Endpoint;

    fn endpoint() -> Endpoint {
        serde_json::from_value(serde_json::json!({
            "path": "/api/intake/{appointment_id}", "table": "intake_checklists",
            "key": "appointment_id", "roles": ["admin"], "fields": {
                "consent_signed": {"type": "bool", "nullable": false},
                "status": {"type": "text", "allowed": ["pending", "complete"], "nullable": false, "required": true},
                "completed_at": {"type": "timestamp"},
                "notes": {"type": "text"}
            }
        }))
        .unwrap()
    }

    #[test]
    fn every_problem_is_listed_and_no_value_is_repeated() {
        let body = br#"{"consent_signed": "yes", "status": "SECRET-VALUE", "bogus": 1, "completed_at": "not a time", "notes": null}"#;
        let errs = validate(&endpoint(), body).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["bogus", "completed_at", "consent_signed", "status"]
        );
        assert!(errs.iter().all(|e| !e.reason.contains("SECRET")));
        assert_eq!(errs[3].reason, "must be one of: pending, complete");
    }

    #[test]
    fn valid_values_are_normalised_and_the_version_is_kept() {
        let body = br#"{"status": "complete", "completed_at": "2026-11-27T10:00:00+02:00", "version": "v1"}"#;
        let c = validate(&endpoint(), body).unwrap();
        assert_eq!(c.values["completed_at"], "2026-11-27T08:00:00+00:00");
        assert_eq!(c.version.as_deref(), Some("v1"));
        assert!(
            missing_for_create(&endpoint(), &Change::default())
                .iter()
                .any(|e| e.field == "status")
        );
        assert!(key(&endpoint(), "not-a-uuid").is_err());
        assert!(validate(&endpoint(), b"[1]").is_err());
    }
}
