//! The read side of the Coda API that the drift check needs: paginated JSON GETs under the
//! read budget of `systems.yaml`, with the token as a bearer, retries with backoff on 429, 5xx
//! and transport errors, and one `access_log` row per call when a database is given.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;

use crate::config::secret::Secret;
use crate::config::systems::{Coda, Retry};
use crate::source::{
    AccessLog, RateBudget, RetryingCall, SourceError, call_with_retry, http_client, path_template,
};

/// Where a list endpoint's pages stop, whatever the server says (a guard against a server
/// that keeps answering the same `nextPageToken`).
const MAX_PAGES: usize = 1000;

/// A read-only Coda client.
#[derive(Debug)]
pub struct CodaReader {
    http: reqwest::Client,
    base_url: String,
    token: Secret,
    budget: RateBudget,
    retry: Retry,
    log: AccessLog,
}

impl CodaReader {
    /// The reader described by `systems.yaml`; calls are logged in `access_log` when `pool`
    /// is given.
    pub fn new(coda: &Coda, pool: Option<PgPool>) -> Self {
        CodaReader {
            http: http_client(Duration::from_secs(coda.timeout_secs)),
            base_url: coda.base_url.trim_end_matches('/').to_string(),
            token: coda.api_token.clone(),
            budget: RateBudget::new(&coda.read_rate),
            retry: coda.retry.clone(),
            log: AccessLog::new(pool, "coda"),
        }
    }

    /// The URL of API path `segments` (each percent-encoded) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<String, SourceError> {
        let mut url = reqwest::Url::parse(&self.base_url)
            .map_err(|_| SourceError::Url(path_template(&self.base_url)))?;
        url.path_segments_mut()
            .map_err(|()| SourceError::Url(path_template(&self.base_url)))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url.to_string())
    }

    /// Every item of a paginated list (`{items, nextPageToken}`), following `pageToken`.
    pub async fn list(&self, segments: &[&str]) -> Result<Vec<Value>, SourceError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            // With `pageToken` Coda ignores every other parameter (the token implies them).
            let url = match &token {
                None => self.url(segments, &[("limit", "100")])?,
                Some(t) => self.url(segments, &[("pageToken", t)])?,
            };
            let mut page = self.get_json(&url).await?;
            if let Some(Value::Array(found)) = page.get_mut("items").map(Value::take) {
                items.extend(found);
            }
            match page.get("nextPageToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(items),
            }
        }
        Err(SourceError::Exhausted {
            system: "coda".into(),
            path: path_template(&self.url(segments, &[])?),
            attempts: MAX_PAGES as u32,
            last: "too many pages".into(),
        })
    }

    /// GETs `url` and parses its JSON body. A 4xx other than 429 is returned at once as
    /// [`SourceError::Status`] (404: the doc, table or column does not exist).
    pub async fn get_json(&self, url: &str) -> Result<Value, SourceError> {
        let mut read = Read {
            reader: self,
            url,
            path: path_template(url),
        };
        call_with_retry(&self.retry, &mut read).await
    }
}

/// One GET of [`CodaReader::get_json`], under the read budget.
struct Read<'a> {
    reader: &'a CodaReader,
    url: &'a str,
    path: String,
}

impl RetryingCall for Read<'_> {
    type Error = SourceError;

    fn system(&self) -> &str {
        "coda"
    }

    fn path(&self) -> &str {
        &self.path
    }

    async fn request(&mut self) -> Result<reqwest::RequestBuilder, SourceError> {
        let r = self.reader;
        r.budget.acquire().await;
        Ok(r.http.get(self.url).bearer_auth(r.token.expose()))
    }

    async fn record(&mut self, status: Option<u16>, elapsed: Duration) {
        self.reader
            .log
            .record("GET", self.url, status, elapsed, None)
            .await;
    }

    async fn refused(&mut self, status: u16) -> Result<(), SourceError> {
        Err(SourceError::Status {
            system: "coda".into(),
            path: self.path.clone(),
            status,
        })
    }

    fn undecodable(&self) -> SourceError {
        SourceError::Decode {
            system: "coda".into(),
            path: self.path.clone(),
        }
    }

    fn exhausted(&self, attempts: u32, last: String) -> SourceError {
        SourceError::Exhausted {
            system: "coda".into(),
            path: self.path.clone(),
            attempts,
            last,
        }
    }
}
