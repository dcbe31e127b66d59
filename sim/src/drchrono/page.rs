//! Cursor pagination in the style of DRF's `CursorPagination`: the opaque cursor holds a
//! position (the sort key of the last record seen), a direction and a fingerprint of the
//! filters, base64-encoded. Positions survive inserts and deletes between pages, so a walk
//! never skips or repeats a record that stayed put. A cursor replayed with other filters, or
//! tampered with, is refused like DRF refuses a bad cursor: 404 `{"detail": "Invalid cursor"}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::ApiError;
use super::query::{ListQuery, served};
use super::store::Store;
use crate::data::SortKey;

/// What a cursor encodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// The boundary record's sort key.
    p: SortKey,
    /// True for a `previous` cursor: read backwards from `p`.
    r: bool,
    /// The fingerprint of the filters the cursor was issued for.
    f: u64,
}

fn encode(pos: &Position) -> String {
    let json = serde_json::to_vec(pos).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode(cursor: &str, fingerprint: u64) -> Result<Position, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ApiError::InvalidCursor)?;
    let pos: Position = serde_json::from_slice(&bytes).map_err(|_| ApiError::InvalidCursor)?;
    if pos.f != fingerprint {
        return Err(ApiError::InvalidCursor);
    }
    Ok(pos)
}

/// Builds the `{"previous", "next", "results"}` body for one page. `base` is the absolute
/// URL of the endpoint (`http://host:port/api/patients`).
pub(super) fn page(store: &Store, q: &ListQuery, base: &str) -> Result<Value, ApiError> {
    let table = store.table(q.resource);
    let start = q
        .cursor
        .as_deref()
        .map(|c| decode(c, q.fingerprint))
        .transpose()?;
    let keep = |(_, v): &(&SortKey, &Value)| q.matches(v, store);
    let n = q.page_size;
    let (rows, more_before, more_after): (Vec<(&SortKey, &Value)>, bool, bool) = match &start {
        Some(pos) if pos.r => {
            let mut rows: Vec<_> = table.before(&pos.p).filter(keep).take(n + 1).collect();
            let more_before = rows.len() > n;
            rows.truncate(n);
            rows.reverse();
            (rows, more_before, true)
        }
        _ => {
            let after = start.as_ref().map(|p| &p.p);
            let mut rows: Vec<_> = table.after(after).filter(keep).take(n + 1).collect();
            let more_after = rows.len() > n;
            rows.truncate(n);
            let more_before = match rows.first() {
                Some((first, _)) if start.is_some() => table.before(first).any(|r| keep(&r)),
                _ => false,
            };
            (rows, more_before, more_after)
        }
    };
    let link = |key: &SortKey, reverse: bool| {
        let cursor = encode(&Position {
            p: key.clone(),
            r: reverse,
            f: q.fingerprint,
        });
        let mut pairs = q.carry.clone();
        pairs.push(("cursor".into(), cursor));
        format!("{base}?{}", query_string(&pairs))
    };
    let next = rows
        .last()
        .filter(|_| more_after)
        .map(|(k, _)| link(k, false));
    let previous = rows
        .first()
        .filter(|_| more_before)
        .map(|(k, _)| link(k, true));
    let results: Vec<Value> = rows
        .iter()
        .map(|(_, v)| served(q.resource, v, q.verbose))
        .collect();
    Ok(json!({ "previous": previous, "next": next, "results": results }))
}

/// Renders `k=v&...`, percent-encoding everything but RFC 3986 unreserved characters.
pub(super) fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_other_filters() {
        let pos = Position {
            p: SortKey {
                time: String::new(),
                num: 5,
                id: "5".into(),
            },
            r: false,
            f: 42,
        };
        let c = encode(&pos);
        assert!(
            !c.contains('5') || c.len() > 10,
            "cursor should not be a plain offset"
        );
        assert_eq!(decode(&c, 42).expect("decodes"), pos);
        assert!(matches!(decode(&c, 43), Err(ApiError::InvalidCursor)));
        assert!(matches!(
            decode("not a cursor!", 42),
            Err(ApiError::InvalidCursor)
        ));
    }

    #[test]
    fn query_strings_escape_reserved_characters() {
        let pairs = vec![
            ("date_range".to_owned(), "2024-01-01/2024-02-01".to_owned()),
            ("q".into(), "a b&c".into()),
        ];
        assert_eq!(
            query_string(&pairs),
            "date_range=2024-01-01%2F2024-02-01&q=a%20b%26c"
        );
    }
}
