//! Spawning a simulator on an ephemeral port and talking to it.

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde_json::Value;
use sim::drchrono::{DrChronoConfig, DrChronoHandle, DrChronoSim};

/// A running simulator, an HTTP client and a valid access token.
pub(crate) struct Sim {
    pub handle: DrChronoHandle,
    pub http: reqwest::Client,
    pub token: String,
}

/// The fixed anchor of test data, so runs are reproducible.
pub(crate) fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).unwrap_or_default()
}

/// Starts a simulator with `patients` patients, no rate limit, and the given tweaks.
pub(crate) async fn start(patients: usize, tweak: impl FnOnce(&mut DrChronoConfig)) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = DrChronoConfig {
        seed: 11,
        patients,
        anchor: Some(anchor()),
        rate_limit: None,
        ..DrChronoConfig::default()
    };
    tweak(&mut config);
    let handle = DrChronoSim::start(config).await.expect("simulator starts");
    let token = handle.state().issue_access_token();
    Sim {
        handle,
        http: reqwest::Client::new(),
        token,
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

    /// GET with the bearer token.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request is sent")
    }

    /// GET with the bearer token, returning the status and JSON body.
    pub(crate) async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Follows `next` verbatim from `path` until it is null; returns every result in order.
    pub(crate) async fn walk(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut url = Some(self.url(path));
        let mut pages = 0;
        while let Some(u) = url {
            let (status, body) = self.get_json(&u).await;
            assert_eq!(status, StatusCode::OK, "{u}: {body}");
            assert_eq!(
                body.as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>()),
                Some(vec![
                    "previous".to_owned(),
                    "next".to_owned(),
                    "results".to_owned()
                ])
            );
            out.extend(body["results"].as_array().cloned().unwrap_or_default());
            url = body["next"].as_str().map(str::to_owned);
            pages += 1;
            assert!(pages < 10_000, "pagination does not terminate");
        }
        out
    }
}

/// The `id` of a record as text.
pub(crate) fn id_of(v: &Value) -> String {
    match &v["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
