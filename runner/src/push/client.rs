//! The Coda REST client: every call waits for its budget (writes and reads are separate, as
//! Coda counts them), is logged in `access_log`, and is retried with backoff on 429, 5xx and
//! transport errors. 400 and 413 come back as [`CodaError::Rejected`] so the caller can split
//! the batch; mutations are confirmed through `mutationStatus` with a bounded poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;

use super::error::{CodaError, PushError};
use crate::config::secret::Secret;
use crate::config::systems::{Coda, Retry};
use crate::source::{
    AccessLog, RateBudget, RetryingCall, call_with_retry, http_client, path_template,
};
use crate::telemetry::events;
use crate::telemetry::metrics::metrics;

/// A Coda row as `listRows` serves it: its id and its values by column id.
pub type CodaRow = (String, serde_json::Map<String, Value>);

/// How long a mutation may stay incomplete before the push gives up (events stay pending).
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(120);

/// The Coda REST client (shared write and read budgets). Cheap to clone; clones share the
/// budgets, the counters and the compiled mappings.
#[derive(Debug, Clone)]
pub struct CodaClient {
    inner: Arc<Inner>,
    confirm_timeout: Duration,
}

#[derive(Debug)]
struct Inner {
    base_url: String,
    doc_id: String,
    token: Secret,
    http: reqwest::Client,
    writes: RateBudget,
    reads: RateBudget,
    retry: Retry,
    log: AccessLog,
    max_rows: usize,
    max_bytes: usize,
    write_calls: AtomicU64,
    read_calls: AtomicU64,
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

impl CodaClient {
    /// The client described by `systems.yaml`; calls are logged in `access_log`.
    pub fn new(coda: &Coda, pool: PgPool) -> Self {
        CodaClient {
            inner: Arc::new(Inner {
                base_url: coda.base_url.trim_end_matches('/').to_string(),
                doc_id: coda.doc_id.clone(),
                token: coda.api_token.clone(),
                http: http_client(Duration::from_secs(coda.timeout_secs)),
                writes: RateBudget::shared("coda_write", &coda.write_rate, pool.clone()),
                reads: RateBudget::shared("coda_read", &coda.read_rate, pool.clone()),
                retry: coda.retry.clone(),
                log: AccessLog::new(Some(pool), "coda"),
                max_rows: coda.max_rows_per_call.max(1) as usize,
                max_bytes: coda.max_body_bytes.max(1) as usize,
                write_calls: AtomicU64::new(0),
                read_calls: AtomicU64::new(0),
            }),
            confirm_timeout: DEFAULT_CONFIRM_TIMEOUT,
        }
    }

    /// The same client, giving up on an incomplete mutation after `timeout`.
    pub fn with_confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }

    /// The default doc id (`systems.yaml`).
    pub fn doc_id(&self) -> &str {
        &self.inner.doc_id
    }

    /// Most rows in one `upsertRows` call.
    pub fn max_rows(&self) -> usize {
        self.inner.max_rows
    }

    /// Largest request body, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.inner.max_bytes
    }

    /// Write calls sent so far (every attempt counts).
    pub fn write_calls(&self) -> u64 {
        self.inner.write_calls.load(Ordering::Relaxed)
    }

    /// Read calls sent so far (every attempt counts).
    pub fn read_calls(&self) -> u64 {
        self.inner.read_calls.load(Ordering::Relaxed)
    }

    fn url(&self, segments: &[&str]) -> Result<reqwest::Url, CodaError> {
        let mut url = reqwest::Url::parse(&self.inner.base_url).map_err(|_| CodaError::Decode {
            method: "GET",
            path: path_template(&self.inner.base_url),
        })?;
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        Ok(url)
    }

    /// `upsertRows` with a pre-serialised body; returns the mutation's request id.
    pub async fn upsert(&self, doc: &str, table: &str, body: String) -> Result<String, CodaError> {
        let url = self.url(&["docs", doc, "tables", table, "rows"])?;
        let v = self.call(Method::Post, url, Some(body)).await?;
        request_id(&v, "POST")
    }

    /// `deleteRows`; returns the mutation's request id.
    pub async fn delete_rows(
        &self,
        doc: &str,
        table: &str,
        row_ids: &[String],
    ) -> Result<String, CodaError> {
        let url = self.url(&["docs", doc, "tables", table, "rows"])?;
        let body = serde_json::json!({ "rowIds": row_ids }).to_string();
        let v = self.call(Method::Delete, url, Some(body)).await?;
        request_id(&v, "DELETE")
    }

    /// Rows whose `column` equals `value` (`listRows` with `query`, every page), as
    /// `(row id, values by column id)`.
    pub async fn find_rows(
        &self,
        doc: &str,
        table: &str,
        column: &str,
        value: &Value,
    ) -> Result<Vec<CodaRow>, CodaError> {
        let query = format!("{column}:{value}");
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let (rows, next) = self
                .list_rows(doc, table, &[("query", &query)], 500, page.as_deref())
                .await?;
            out.extend(rows);
            match next {
                Some(t) => page = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// One page of `listRows`: the rows (id and values by column id, in `simpleWithArrays`,
    /// which serves our arrays as arrays) and the next page's token. The first page is asked
    /// with `params` and `limit`; a later one with its `pageToken` alone (the token implies
    /// every other parameter).
    pub async fn list_rows(
        &self,
        doc: &str,
        table: &str,
        params: &[(&str, &str)],
        limit: u32,
        page: Option<&str>,
    ) -> Result<(Vec<CodaRow>, Option<String>), CodaError> {
        let mut url = self.url(&["docs", doc, "tables", table, "rows"])?;
        match page {
            Some(token) => {
                url.query_pairs_mut().append_pair("pageToken", token);
            }
            None => {
                url.query_pairs_mut()
                    .extend_pairs(params)
                    .append_pair("valueFormat", "simpleWithArrays")
                    .append_pair("limit", &limit.max(1).to_string());
            }
        }
        let mut v = self.call(Method::Get, url, None).await?;
        let rows = match v.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|mut item| {
                    let id = item.get("id")?.as_str()?.to_string();
                    let values = match item.get_mut("values").map(Value::take) {
                        Some(Value::Object(values)) => values,
                        _ => serde_json::Map::new(),
                    };
                    Some((id, values))
                })
                .collect(),
            _ => Vec::new(),
        };
        let next = v["nextPageToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok((rows, next))
    }

    /// Every column of a table (`listColumns`, every page): id and whether it is calculated.
    pub async fn list_columns(
        &self,
        doc: &str,
        table: &str,
    ) -> Result<Vec<crate::coda_check::RemoteColumn>, CodaError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut url = self.url(&["docs", doc, "tables", table, "columns"])?;
            match &page {
                Some(token) => url.query_pairs_mut().append_pair("pageToken", token),
                None => url.query_pairs_mut().append_pair("limit", "100"),
            };
            let v = self.call(Method::Get, url, None).await?;
            let items = v["items"].as_array().into_iter().flatten();
            out.extend(items.filter_map(crate::coda_check::RemoteColumn::from_json));
            match v["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// Polls `mutationStatus` with a short growing wait until `completed: true`, for at most
    /// the confirm timeout.
    pub async fn confirm(&self, table: &str, request_id: &str) -> Result<(), PushError> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(40);
        loop {
            tokio::time::sleep(wait).await;
            let url = self.url(&["mutationStatus", request_id])?;
            match self.call(Method::Get, url, None).await {
                Ok(v) if v["completed"] == Value::Bool(true) => {
                    if v.get("warning").is_some_and(|w| !w.is_null()) {
                        tracing::warn!(table = %table, "Coda completed a mutation with a warning.");
                    }
                    return Ok(());
                }
                Ok(_) => {}
                // Just-accepted ids may not be known yet to the replica that answers.
                Err(CodaError::Status { status: 404, .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if started.elapsed() >= self.confirm_timeout {
                return Err(PushError::Unconfirmed {
                    table: table.to_string(),
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            wait = (wait * 3 / 2).min(Duration::from_secs(2));
        }
    }

    async fn call(
        &self,
        method: Method,
        url: reqwest::Url,
        body: Option<String>,
    ) -> Result<Value, CodaError> {
        let mut call = Call {
            inner: &self.inner,
            method,
            path: path_template(url.as_str()),
            url,
            body,
        };
        call_with_retry(&self.inner.retry, &mut call).await
    }
}

/// One call of [`CodaClient::call`]: the read or write budget before each attempt; 400 and
/// 413 are [`CodaError::Rejected`].
struct Call<'a> {
    inner: &'a Inner,
    method: Method,
    url: reqwest::Url,
    path: String,
    body: Option<String>,
}

impl RetryingCall for Call<'_> {
    type Error = CodaError;

    fn system(&self) -> &str {
        "coda"
    }

    fn path(&self) -> &str {
        &self.path
    }

    async fn request(&mut self) -> Result<reqwest::RequestBuilder, CodaError> {
        let i = self.inner;
        let queued = Instant::now();
        let req = match self.method {
            Method::Get => {
                i.reads.acquire().await;
                metrics().budget_wait("coda_read", queued.elapsed());
                i.read_calls.fetch_add(1, Ordering::Relaxed);
                i.http.get(self.url.clone())
            }
            Method::Post | Method::Delete => {
                i.writes.acquire().await;
                metrics().budget_wait("coda_write", queued.elapsed());
                metrics().coda_write_calls.inc();
                i.write_calls.fetch_add(1, Ordering::Relaxed);
                let r = if matches!(self.method, Method::Post) {
                    i.http.post(self.url.clone())
                } else {
                    i.http.delete(self.url.clone())
                };
                r.header("content-type", "application/json")
                    .body(self.body.clone().unwrap_or_default())
            }
        };
        Ok(req.bearer_auth(i.token.expose()))
    }

    async fn record(&mut self, status: Option<u16>, elapsed: Duration) {
        metrics().api_request("coda", status);
        self.inner
            .log
            .record(
                self.method.name(),
                self.url.as_str(),
                status,
                elapsed,
                Some("coda_push"),
            )
            .await;
    }

    fn throttled(&mut self) {
        metrics().coda_rate_limited.inc();
        tracing::warn!(event = events::CODA_RATE_LIMITED, operation = self.method.name(), path = %self.path, "Coda answered 429; backing off.");
    }

    async fn refused(&mut self, status: u16) -> Result<(), CodaError> {
        let (method, path) = (self.method.name(), self.path.clone());
        if matches!(status, 400 | 413) {
            return Err(CodaError::Rejected {
                method,
                path,
                status,
            });
        }
        if status == 401 {
            tracing::error!(path = %path, "Coda refused the API token (401); check CODA_API_TOKEN.");
        }
        Err(CodaError::Status {
            method,
            path,
            status,
        })
    }

    fn undecodable(&self) -> CodaError {
        CodaError::Decode {
            method: self.method.name(),
            path: self.path.clone(),
        }
    }

    fn exhausted(&self, attempts: u32, last: String) -> CodaError {
        CodaError::Exhausted {
            method: self.method.name(),
            path: self.path.clone(),
            attempts,
            last,
        }
    }
}

fn request_id(v: &Value, method: &'static str) -> Result<String, CodaError> {
    v["requestId"]
        .as_str()
        .map(str::to_string)
        .ok_or(CodaError::Decode {
            method,
            path: "requestId".into(),
        })
}
