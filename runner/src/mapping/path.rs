//! Compiled JSONPath queries. Plain member chains (`$.a.b`, `$['a']`) take a direct lookup;
//! anything else goes through the RFC 9535 engine, compiled once.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

/// A JSONPath ready to run.
#[derive(Debug, Clone)]
pub enum CompiledPath {
    /// `$.a.b.c`: member lookups only.
    Members(Vec<String>),
    /// `$.a.b[*]`: member lookups, then every element of the array found.
    MembersEach(Vec<String>),
    /// Any other query.
    Query(Box<JpQuery>),
}

impl CompiledPath {
    /// Compiles `path`, or says why it is not a JSONPath.
    pub fn compile(path: &str) -> Result<Self, String> {
        let query =
            parse_json_path(path).map_err(|e| format!("`{path}` is not a valid JSONPath: {e}"))?;
        if let Some(members) = simple_members(path) {
            return Ok(CompiledPath::Members(members));
        }
        if let Some(members) = path.strip_suffix("[*]").and_then(simple_members) {
            return Ok(CompiledPath::MembersEach(members));
        }
        Ok(CompiledPath::Query(Box::new(query)))
    }

    /// The single value found (null when none; an array when several).
    pub fn one(&self, doc: &Value) -> Value {
        match self {
            CompiledPath::Members(keys) => follow(doc, keys).cloned().unwrap_or(Value::Null),
            CompiledPath::MembersEach(_) => match self.all(doc).as_slice() {
                [] => Value::Null,
                [one] => (*one).clone(),
                many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
            },
            CompiledPath::Query(q) => {
                let mut found = js_path_process(q, doc).unwrap_or_default();
                match found.len() {
                    0 => Value::Null,
                    1 => found.remove(0).val().clone(),
                    _ => Value::Array(found.into_iter().map(|r| r.val().clone()).collect()),
                }
            }
        }
    }

    /// Every value found, in order (a record selector such as `$.results[*]`).
    pub fn all<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        match self {
            CompiledPath::Members(keys) => follow(doc, keys).into_iter().collect(),
            CompiledPath::MembersEach(keys) => match follow(doc, keys) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(Value::Object(map)) => map.values().collect(),
                _ => Vec::new(),
            },
            CompiledPath::Query(q) => js_path_process(q, doc)
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.val())
                .collect(),
        }
    }
}

fn follow<'a>(doc: &'a Value, keys: &[String]) -> Option<&'a Value> {
    keys.iter().try_fold(doc, |cur, k| cur.get(k))
}

/// `$.a.b` -> `["a", "b"]`; `None` for anything with filters, wildcards, indexes or quotes.
fn simple_members(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('$')?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for seg in rest.strip_prefix('.')?.split('.') {
        let ok = !seg.is_empty()
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !seg.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return None;
        }
        out.push(seg.to_string());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn member_chains_use_the_fast_path_and_agree_with_the_engine() {
        let doc = json!({"a": {"b": 3}, "list": [1, 2]});
        let p = CompiledPath::compile("$.a.b").unwrap();
        assert!(matches!(p, CompiledPath::Members(_)));
        assert_eq!(p.one(&doc), json!(3));
        assert_eq!(
            CompiledPath::compile("$['a']['b']").unwrap().one(&doc),
            json!(3)
        );
        assert_eq!(
            CompiledPath::compile("$.missing.x").unwrap().one(&doc),
            Value::Null
        );
    }

    #[test]
    fn wildcards_return_every_match() {
        let doc = json!({"results": [{"id": 1}, {"id": 2}]});
        let p = CompiledPath::compile("$.results[*]").unwrap();
        assert!(matches!(p, CompiledPath::MembersEach(_)));
        assert_eq!(p.all(&doc).len(), 2);
        let q = CompiledPath::compile("$.results[?@.id > 1]").unwrap();
        assert_eq!(q.all(&doc), vec![&json!({"id": 2})]);
        assert_eq!(
            CompiledPath::compile("$.results[*].id").unwrap().one(&doc),
            json!([1, 2])
        );
        assert_eq!(
            CompiledPath::compile("$.results").unwrap().one(&doc),
            json!([{"id": 1}, {"id": 2}])
        );
    }

    #[test]
    fn invalid_paths_are_rejected_with_the_path_in_the_message() {
        let e = CompiledPath::compile("$.a[").unwrap_err();
        assert!(e.contains("`$.a[`"), "{e}");
        assert!(CompiledPath::compile("first_name").is_err());
    }
}
