//! List plumbing shared by every list endpoint: query parameters, opaque page tokens and the
//! `{items, href, nextPageToken, nextPageLink}` envelope.
//!
//! A page token is base64url JSON holding the endpoint it was issued for, every original query
//! parameter and the position after which the next page starts. As the spec says, a request
//! with `pageToken` takes all its parameters from the token and ignores the others. A token
//! that does not decode or belongs to another endpoint gets 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::ApiError;

/// Query parameters in request order.
pub(super) type Pairs = Vec<(String, String)>;

/// The default `limit` of every list endpoint (spec: 25).
pub const DEFAULT_PAGE: usize = 25;
/// The largest page of `listColumns` (spec: `maximum: 100`); larger limits are clamped.
pub const COLUMNS_MAX_PAGE: usize = 100;
/// The largest page of `listTables` (the spec gives none; our choice).
pub const TABLES_MAX_PAGE: usize = 100;
/// The largest page of `listRows` (the spec gives none; our choice).
pub const ROWS_MAX_PAGE: usize = 500;

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    /// The endpoint (scope) the token was issued for.
    s: String,
    /// The original query parameters.
    q: Pairs,
    /// The position after which the next page starts.
    a: u64,
}

/// The parameters in force and the start position: from the token when `pageToken` is given,
/// else the request's own parameters from the start.
pub(super) fn resolve(pairs: Pairs, scope: &str) -> Result<(Pairs, Option<u64>), ApiError> {
    let Some(token) = get(&pairs, "pageToken") else {
        return Ok((pairs, None));
    };
    let invalid = || ApiError::BadRequest("Invalid pageToken.".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let t: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if t.s != scope {
        return Err(invalid());
    }
    Ok((t.q, Some(t.a)))
}

/// A token for the page after position `after`.
pub(super) fn token(scope: &str, pairs: &Pairs, after: u64) -> String {
    let t = Token {
        s: scope.to_owned(),
        q: pairs
            .iter()
            .filter(|(k, _)| k != "pageToken")
            .cloned()
            .collect(),
        a: after,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&t).unwrap_or_default())
}

/// The spec's list envelope. `href` is the URL of this request; `nextPageLink` carries only
/// `pageToken`, which implies every other parameter.
pub(super) fn envelope(items: Vec<Value>, href: String, next: Option<String>) -> Value {
    let mut out = Map::new();
    let endpoint = href.split('?').next().unwrap_or_default().to_owned();
    out.insert("items".into(), Value::Array(items));
    out.insert("href".into(), json!(href));
    if let Some(token) = next {
        out.insert(
            "nextPageLink".into(),
            json!(format!("{endpoint}?pageToken={token}")),
        );
        out.insert("nextPageToken".into(), json!(token));
    }
    Value::Object(out)
}

/// The last value of a query parameter.
pub(super) fn get<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A boolean parameter (`true`/`false`); anything else is a 400.
pub(super) fn flag(pairs: &Pairs, name: &str) -> Result<Option<bool>, ApiError> {
    match get(pairs, name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::BadRequest(format!(
            "Invalid value for `{name}`: expected true or false."
        ))),
    }
}

/// `limit`: an integer ≥ 1 (else 400), clamped to `max`, `DEFAULT_PAGE` when absent.
pub(super) fn limit(pairs: &Pairs, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = get(pairs, "limit") else {
        return Ok(DEFAULT_PAGE.min(max));
    };
    match raw.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX).min(max)),
        _ => Err(ApiError::BadRequest(
            "Invalid value for `limit`: expected an integer of at least 1.".into(),
        )),
    }
}

/// One page of an offset-paged list (tables, columns): `(items, next token)`.
pub(super) fn by_offset(
    items: Vec<Value>,
    start: Option<u64>,
    size: usize,
    scope: &str,
    pairs: &Pairs,
) -> (Vec<Value>, Option<String>) {
    let start = usize::try_from(start.unwrap_or(0)).unwrap_or(usize::MAX);
    let end = start.saturating_add(size);
    let next = (end < items.len()).then(|| token(scope, pairs, end as u64));
    let page = items.into_iter().skip(start).take(size).collect();
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Pairs {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tokens_carry_the_parameters_and_stay_on_their_endpoint() {
        let original = pairs(&[("limit", "2"), ("sortBy", "updatedAt")]);
        let t = token("rows:d/grid-1", &original, 7);
        let with_token = pairs(&[("pageToken", t.as_str()), ("limit", "99")]);
        let (effective, after) = resolve(with_token.clone(), "rows:d/grid-1").expect("valid");
        assert_eq!(effective, original);
        assert_eq!(after, Some(7));
        assert!(resolve(with_token, "rows:d/grid-2").is_err());
        assert!(resolve(pairs(&[("pageToken", "???")]), "x").is_err());
    }

    #[test]
    fn limits_default_clamp_and_reject_nonsense() {
        assert_eq!(limit(&pairs(&[]), 100), Ok(25));
        assert_eq!(limit(&pairs(&[("limit", "1000")]), 100), Ok(100));
        assert!(limit(&pairs(&[("limit", "0")]), 100).is_err());
        assert!(limit(&pairs(&[("limit", "x")]), 100).is_err());
    }

    #[test]
    fn the_envelope_links_the_next_page_by_token_only() {
        let v = envelope(
            vec![],
            "http://h/docs/d/tables?limit=1".into(),
            Some("T".into()),
        );
        assert_eq!(v["nextPageLink"], "http://h/docs/d/tables?pageToken=T");
        let last = envelope(vec![], "http://h/x".into(), None);
        assert!(last.get("nextPageToken").is_none());
    }
}
