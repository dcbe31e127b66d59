//! Splitting a listing's page into its records without building the whole body: the record
//! array is located with borrowed raw values, each record is digested from its bytes as the
//! source sent them ([`super::digest`]), and only the records not recognized are parsed.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;
use serde_json::value::RawValue;

use super::digest::{Digest, Digester};
use crate::mapping::CompiledPath;

/// A page split into its records.
#[derive(Debug, Default)]
pub(super) struct Split {
    /// The records to map, in listing order.
    pub(super) records: Vec<Value>,
    /// Their digests (empty without a digester).
    pub(super) digests: Vec<Digest>,
    /// The records recognized (not parsed), in listing order.
    pub(super) known: Vec<Known>,
    /// The next page's URL, if any.
    pub(super) next: Option<String>,
}

/// A record recognized by its digest.
#[derive(Debug)]
pub(super) struct Known {
    /// Where it stands in the listing: before `records[at]`.
    pub(super) at: usize,
    /// Its digest.
    pub(super) digest: Digest,
    /// Its source text, to parse it after all if it is not confirmed.
    pub(super) text: String,
}

/// Splits a response body into its records (`records`) and the next page (`next`), parsing
/// only the records `digester` does not recognize. Fails on a body that is not JSON.
pub(super) fn split_page(
    body: &[u8],
    records: &CompiledPath,
    next: &CompiledPath,
    digester: Option<&Digester>,
) -> Result<Split, serde_json::Error> {
    let raw = match (records, next) {
        (CompiledPath::MembersEach(r), CompiledPath::Members(n))
            if !r.is_empty() && n.first() != r.first() =>
        {
            split_raw(body, r, n, digester)?
        }
        _ => None,
    };
    let mut split = match raw {
        Some(split) => split,
        None => split_parsed(body, records, next, digester)?,
    };
    split.next = split.next.filter(|s| !s.is_empty());
    Ok(split)
}

type RawObject<'a> = HashMap<Cow<'a, str>, &'a RawValue>;

/// `$.a.b[*]` records and a `$.x.y` next URL: only the path to the array is read as raw
/// values, and each record on its own. `None` when the body is not shaped so (not an object,
/// or the records are an object's values): the general way then says what it holds.
fn split_raw(
    body: &[u8],
    records: &[String],
    next: &[String],
    digester: Option<&Digester>,
) -> Result<Option<Split>, serde_json::Error> {
    let Ok(top) = serde_json::from_slice::<RawObject>(body) else {
        return Ok(None);
    };
    let next = match top.get(next[0].as_str()) {
        Some(raw) => {
            let v: Value = serde_json::from_str(raw.get())?;
            next[1..]
                .iter()
                .try_fold(&v, |cur, k| cur.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        }
        None => None,
    };
    let mut split = Split {
        next,
        ..Split::default()
    };
    let mut at = top.get(records[0].as_str()).copied();
    for key in &records[1..] {
        let Some(raw) = at else { break };
        let Ok(obj) = serde_json::from_str::<RawObject>(raw.get()) else {
            return Ok(Some(split));
        };
        at = obj.get(key.as_str()).copied();
    }
    let Some(raw) = at else {
        return Ok(Some(split));
    };
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
        return Ok(None);
    };
    split.records.reserve(items.len());
    for item in items {
        let text = item.get();
        if let Some(dg) = digester {
            let d = dg.digest(text.as_bytes());
            if dg.known(&d).is_some() {
                split.known.push(Known {
                    at: split.records.len(),
                    digest: d,
                    text: text.to_string(),
                });
                continue;
            }
            split.digests.push(d);
        }
        split.records.push(serde_json::from_str(text)?);
    }
    Ok(Some(split))
}

/// Any other paths: the body is parsed whole, and a record's bytes are its JSON text.
fn split_parsed(
    body: &[u8],
    records: &CompiledPath,
    next: &CompiledPath,
    digester: Option<&Digester>,
) -> Result<Split, serde_json::Error> {
    let body: Value = serde_json::from_slice(body)?;
    let mut split = Split {
        next: next.one(&body).as_str().map(str::to_string),
        ..Split::default()
    };
    for rec in records.all(&body) {
        if let Some(dg) = digester {
            let text = serde_json::to_string(rec)?;
            let d = dg.digest(text.as_bytes());
            if dg.known(&d).is_some() {
                split.known.push(Known {
                    at: split.records.len(),
                    digest: d,
                    text,
                });
                continue;
            }
            split.digests.push(d);
        }
        split.records.push(rec.clone());
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BODY: &str = r#"{"count": 3, "next": "https://x/api/x?cursor=2",
        "results": [{"id": 1, "name": "a"}, {"id": 2, "name": "b\u00e9"}, {"id": 3, "name": null}]}"#;

    fn path(p: &str) -> CompiledPath {
        CompiledPath::compile(p).unwrap()
    }

    #[test]
    fn the_raw_split_finds_what_the_parsed_one_finds() {
        let (r, n) = (path("$.results[*]"), path("$.next"));
        let raw = split_page(BODY.as_bytes(), &r, &n, None).unwrap();
        assert!(matches!(r, CompiledPath::MembersEach(_)));
        let parsed = split_parsed(BODY.as_bytes(), &r, &n, None).unwrap();
        assert_eq!(raw.records, parsed.records);
        assert_eq!(raw.records[1], json!({"id": 2, "name": "bé"}));
        assert_eq!(raw.next.as_deref(), Some("https://x/api/x?cursor=2"));
        assert_eq!(raw.next, parsed.next);
        let last = split_page(br#"{"next": null, "results": []}"#, &r, &n, None).unwrap();
        assert_eq!((last.records.len(), last.next), (0, None));
        let nested = split_page(
            br#"{"data": {"items": [{"id": 7}]}, "links": {"next": ""}}"#,
            &path("$.data.items[*]"),
            &path("$.links.next"),
            None,
        )
        .unwrap();
        assert_eq!(
            (nested.records, nested.next),
            (vec![json!({"id": 7})], None)
        );
        assert!(split_page(b"{\"results\": [", &r, &n, None).is_err());
    }
}
