//! Coercion of extracted JSON values to the declared column types, in the JSON form the store
//! binds (`jsonb_to_recordset`): dates as `YYYY-MM-DD`, timestamps as RFC 3339 UTC, numerics
//! as decimal strings so no precision is lost.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::error::CoerceError;
use crate::config::field_type::FieldType;

/// Coerces `v` to `ty`. Null stays null; an empty string is null for every type but text.
pub fn coerce(v: &Value, ty: FieldType) -> Result<Value, CoerceError> {
    let fail = || CoerceError {
        expected: ty,
        value: render(v),
    };
    if v.is_null() {
        return Ok(Value::Null);
    }
    if let Value::String(s) = v
        && s.trim().is_empty()
        && ty != FieldType::Text
    {
        return Ok(if ty == FieldType::TextArray {
            Value::Array(Vec::new())
        } else {
            Value::Null
        });
    }
    match ty {
        FieldType::Text => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(fail()),
        },
        FieldType::Int => int(v).map(Value::from).ok_or_else(fail),
        FieldType::Numeric => numeric(v).map(Value::String).ok_or_else(fail),
        FieldType::Bool => boolean(v).map(Value::Bool).ok_or_else(fail),
        FieldType::Date => v
            .as_str()
            .and_then(date)
            .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(fail),
        FieldType::Timestamp => v
            .as_str()
            .and_then(timestamp)
            .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
            .ok_or_else(fail),
        FieldType::Jsonb => Ok(v.clone()),
        FieldType::TextArray => match v {
            Value::Array(items) => items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| match i {
                    Value::String(s) => Ok(Value::String(s.clone())),
                    Value::Number(n) => Ok(Value::String(n.to_string())),
                    Value::Bool(b) => Ok(Value::String(b.to_string())),
                    _ => Err(fail()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::String(s) => Ok(Value::Array(vec![Value::String(s.clone())])),
            _ => Err(fail()),
        },
        FieldType::Uuid => v
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
            .map(|u| Value::String(u.hyphenated().to_string()))
            .ok_or_else(fail),
    }
}

fn render(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.floor_char_boundary(77)])
    } else {
        s
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn numeric(v: &Value) -> Option<String> {
    let s = match v {
        Value::Number(n) => return Some(n.to_string()),
        Value::String(s) => s.trim(),
        _ => return None,
    };
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int_part, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    let ok = !(int_part.is_empty() && frac.is_empty()) && digits(int_part) && digits(frac);
    ok.then(|| s.to_string())
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" => Some(true),
            "false" | "f" | "no" | "n" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| timestamp(s).map(|t| t.date_naive()))
}

fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value, ty: FieldType) -> Value {
        coerce(&v, ty).unwrap()
    }

    #[test]
    fn dates_and_timestamps_normalise() {
        assert_eq!(
            ok(json!("1990-01-31"), FieldType::Date),
            json!("1990-01-31")
        );
        assert_eq!(
            ok(json!("2024-03-05T14:30:00"), FieldType::Date),
            json!("2024-03-05")
        );
        assert_eq!(
            ok(json!("2024-03-05T14:30:00"), FieldType::Timestamp),
            json!("2024-03-05T14:30:00Z")
        );
        assert_eq!(
            ok(json!("2024-03-05T14:30:00+02:00"), FieldType::Timestamp),
            json!("2024-03-05T12:30:00Z")
        );
        assert_eq!(
            ok(json!("2024-03-05T14:30:00.250"), FieldType::Timestamp),
            json!("2024-03-05T14:30:00.250Z")
        );
        assert_eq!(ok(json!(""), FieldType::Date), Value::Null);
        let e = coerce(&json!("13/45/1990"), FieldType::Date).unwrap_err();
        assert_eq!(e.to_string(), "\"13/45/1990\" is not a date");
        assert!(coerce(&json!("1990-02-30"), FieldType::Date).is_err());
    }

    #[test]
    fn numbers_bools_and_texts() {
        assert_eq!(ok(json!("42"), FieldType::Int), json!(42));
        assert_eq!(ok(json!(42.0), FieldType::Int), json!(42));
        assert!(coerce(&json!("4x"), FieldType::Int).is_err());
        assert_eq!(ok(json!("125.00"), FieldType::Numeric), json!("125.00"));
        assert_eq!(ok(json!(12.5), FieldType::Numeric), json!("12.5"));
        assert!(coerce(&json!("1.2.3"), FieldType::Numeric).is_err());
        assert_eq!(ok(json!("Yes"), FieldType::Bool), json!(true));
        assert!(coerce(&json!("maybe"), FieldType::Bool).is_err());
        assert_eq!(ok(json!(""), FieldType::Text), json!(""));
        assert_eq!(ok(json!(7), FieldType::Text), json!("7"));
        assert!(coerce(&json!({"a": 1}), FieldType::Text).is_err());
    }

    #[test]
    fn arrays_uuids_and_json() {
        assert_eq!(
            ok(json!(["F32.1", null, 3]), FieldType::TextArray),
            json!(["F32.1", "3"])
        );
        assert_eq!(ok(json!(""), FieldType::TextArray), json!([]));
        assert_eq!(
            ok(
                json!("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
                FieldType::Uuid
            ),
            json!("6f9619ff-8b86-d011-b42d-00c04fc964ff")
        );
        assert!(coerce(&json!("not-a-uuid"), FieldType::Uuid).is_err());
        assert_eq!(ok(json!({"a": [1]}), FieldType::Jsonb), json!({"a": [1]}));
        assert_eq!(ok(Value::Null, FieldType::Int), Value::Null);
    }
}
