//! A webhook request as data: method, path with query, headers and body.

use axum::body::Body;
use axum::http::{Method, Request};

/// One HTTP request a simulated sender makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// `GET` (handshake) or `POST` (delivery).
    pub method: Method,
    /// Path and query, e.g. `/webhooks/drchrono?msg=abc`.
    pub path: String,
    /// Header names and values, in sending order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// A request without headers or body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        WebhookRequest {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets header `name`, replacing any value it had.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Removes header `name`.
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces the body (headers, signatures included, are left as they were).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The request for an in-process router (`tower::ServiceExt::oneshot`).
    pub fn to_http(&self) -> Request<Body> {
        let mut b = Request::builder()
            .method(self.method.clone())
            .uri(&self.path);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        b.body(Body::from(self.body.clone()))
            .expect("a simulated request is well-formed")
    }

    /// Sends the request to `base_url` (e.g. `http://127.0.0.1:41234`).
    pub async fn send(
        &self,
        client: &reqwest::Client,
        base_url: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), self.path);
        let mut b = client.request(self.method.clone(), url);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        b.body(self.body.clone()).send().await
    }
}
