//! Spawning a Coda simulator on an ephemeral port with one table, and talking to it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sim::coda::{CodaConfig, CodaHandle, CodaSim, ColumnSpec, DEFAULT_TOKEN};

/// The doc every test uses.
pub(crate) const DOC: &str = "AbCDeFGH";
/// The table every test starts with.
pub(crate) const TABLE: &str = "grid-pqRst-U";

/// A running simulator and an HTTP client.
pub(crate) struct Sim {
    pub handle: CodaHandle,
    pub http: reqwest::Client,
    pub token: String,
}

/// The columns of the test table: key, name, visits (number), and a calculated one.
pub(crate) fn columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::new("c-key", "Patient id"),
        ColumnSpec::new("c-name", "Name"),
        ColumnSpec::new("c-visits", "Visits").with_format("number"),
        ColumnSpec {
            formula: Some("thisRow.Visits * 2".into()),
            ..ColumnSpec::new("c-calc", "Double").calculated()
        },
    ]
}

/// Starts a simulator with no rate limit, no apply delay, the test table, and the tweaks.
pub(crate) async fn start(tweak: impl FnOnce(&mut CodaConfig)) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = CodaConfig {
        rate_limit: None,
        apply_delay: Duration::ZERO,
        ..CodaConfig::default()
    };
    tweak(&mut config);
    let handle = CodaSim::start(config).await.expect("simulator starts");
    handle
        .state()
        .create_table(DOC, TABLE, "Patients", columns())
        .expect("table");
    Sim {
        handle,
        http: reqwest::Client::new(),
        token: DEFAULT_TOKEN.to_owned(),
    }
}

impl Sim {
    /// An absolute URL for a path (absolute URLs pass through).
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.handle.url())
        }
    }

    /// `/docs/<DOC>/tables/<TABLE><rest>`.
    pub(crate) fn table_path(rest: &str) -> String {
        format!("/docs/{DOC}/tables/{TABLE}{rest}")
    }

    /// Sends a request with the bearer token and an optional JSON body.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request is sent")
    }

    /// Like [`Sim::send`], returning the status and JSON body.
    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let response = self.send(method, path, body).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GET with the bearer token, returning the status and JSON body.
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.json(Method::GET, path, None).await
    }

    /// POSTs an upsert to the test table; asserts 202 and returns the body.
    pub(crate) async fn upsert(&self, body: Value) -> Value {
        let (status, answer) = self
            .json(Method::POST, &Self::table_path("/rows"), Some(&body))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        answer
    }

    /// Follows `nextPageLink` from `path` to the end; returns every item and the page count.
    pub(crate) async fn walk(&self, path: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut url = Some(self.url(path));
        let mut pages = 0;
        while let Some(u) = url {
            let (status, body) = self.get(&u).await;
            assert_eq!(status, StatusCode::OK, "{u}: {body}");
            items.extend(body["items"].as_array().cloned().unwrap_or_default());
            assert_eq!(
                body["nextPageLink"].is_string(),
                body["nextPageToken"].is_string()
            );
            url = body["nextPageLink"].as_str().map(str::to_owned);
            pages += 1;
            assert!(pages < 1000, "pagination does not terminate");
        }
        (items, pages)
    }
}

/// A row's cells in the API's shape: `[{"column": id, "value": v}, ...]`.
pub(crate) fn cells(pairs: &[(&str, Value)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(c, v)| serde_json::json!({"column": c, "value": v}))
            .collect(),
    )
}

/// Asserts the spec's error shape and status, and returns the message.
pub(crate) fn assert_error(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["statusCode"], expected.as_u16(), "{body}");
    assert_eq!(
        body["statusMessage"],
        expected.canonical_reason().unwrap_or_default(),
        "{body}"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "{body}");
    body["message"].as_str().unwrap_or_default().to_owned()
}
