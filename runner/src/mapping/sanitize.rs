//! Characters PostgreSQL cannot hold. A `text` or `jsonb` value may not contain U+0000 (NUL):
//! one such character in a source record used to fail its whole page's upsert (SQLSTATE
//! 22P05) and, in a webhook, the storing of the delivery. NUL carries no meaning in a clinical
//! record (it is a transport or client bug), so it is removed, from string values and object
//! keys alike, before anything is mapped or stored; the caller counts and logs how many were
//! removed, never the value. The raw bytes of an inbound delivery are kept as received
//! (`inbox.body` is `bytea`).

use serde_json::Value;

/// Removes every U+0000 from the strings and keys of `v`; returns how many were removed.
pub fn strip_nul(v: &mut Value) -> usize {
    match v {
        Value::String(s) => strip_str(s),
        Value::Array(items) => items.iter_mut().map(strip_nul).sum(),
        Value::Object(map) => {
            let mut n = 0;
            if map.keys().any(|k| k.contains('\0')) {
                let entries = std::mem::take(map);
                for (mut k, v) in entries {
                    n += strip_str(&mut k);
                    map.insert(k, v);
                }
            }
            n + map.values_mut().map(strip_nul).sum::<usize>()
        }
        _ => 0,
    }
}

fn strip_str(s: &mut String) -> usize {
    let before = s.len();
    if before == 0 || !s.contains('\0') {
        return 0;
    }
    s.retain(|c| c != '\0');
    before - s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_removed_from_values_and_keys_and_counted() {
        let mut v = json!({"first_name": "An\u{0}na", "notes": ["a\u{0}\u{0}b", 3], "k\u{0}": {"x": "\u{0}"}});
        assert_eq!(strip_nul(&mut v), 5);
        assert_eq!(
            v,
            json!({"first_name": "Anna", "notes": ["ab", 3], "k": {"x": ""}})
        );
        assert_eq!(strip_nul(&mut v), 0);
    }
}
