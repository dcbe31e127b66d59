//! The trace context of an incoming request, so Cloud Logging groups a request's log lines
//! under its trace: Cloud Run sends `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` and the W3C
//! `traceparent: 00-TRACE_ID-SPAN_ID-FLAGS`.

use axum::http::HeaderMap;

/// The 32-hex-digit trace id of a request, from `traceparent` or else
/// `X-Cloud-Trace-Context`; `None` when neither carries a well-formed one.
pub fn trace_id(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("traceparent")
        .and_then(from_traceparent)
        .or_else(|| header("x-cloud-trace-context").and_then(from_cloud_trace))
}

fn from_traceparent(v: &str) -> Option<String> {
    let mut parts = v.trim().split('-');
    let (_version, id) = (parts.next()?, parts.next()?);
    well_formed(id)
}

fn from_cloud_trace(v: &str) -> Option<String> {
    well_formed(v.trim().split(['/', ';']).next()?)
}

fn well_formed(id: &str) -> Option<String> {
    let ok = id.len() == 32
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && id.bytes().any(|b| b != b'0');
    ok.then(|| id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn both_header_forms_give_the_trace_id_and_traceparent_wins() {
        let cloud = "105445aa7843bc8bf206b12000100000/1;o=1";
        let w3c = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id(&headers(&[("x-cloud-trace-context", cloud)])).as_deref(),
            Some("105445aa7843bc8bf206b12000100000")
        );
        assert_eq!(
            trace_id(&headers(&[
                ("x-cloud-trace-context", cloud),
                ("traceparent", w3c)
            ]))
            .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn malformed_or_missing_trace_headers_give_none() {
        assert_eq!(trace_id(&HeaderMap::new()), None);
        assert_eq!(
            trace_id(&headers(&[("x-cloud-trace-context", "abc/1")])),
            None
        );
        assert_eq!(
            trace_id(&headers(&[(
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
            )])),
            None
        );
    }
}
