//! The REST client of one system: every call waits for the shared rate budget, carries a fresh
//! access token, is logged in `access_log`, and is retried with backoff on 429, 5xx and
//! transport errors. A 401 triggers one token refresh; a second 401 is an alertable error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgPool;

use super::access_log::{AccessLog, path_template};
use super::budget::RateBudget;
use super::error::SourceError;
use super::oauth::TokenManager;
use super::retry::{RetryingCall, call_with_retry_decoding};
use crate::config::systems::{DrChrono, Retry};
use crate::telemetry::events;
use crate::telemetry::metrics::metrics;

/// A shared HTTP client (rustls with ring).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(8)
        .build()
        .unwrap_or_default()
}

/// A client for one system, cheap to clone and shared by all its pipelines.
#[derive(Debug, Clone)]
pub struct RestClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    system: String,
    base_url: String,
    http: reqwest::Client,
    budget: RateBudget,
    retry: Retry,
    tokens: TokenManager,
    log: AccessLog,
    page_size: u32,
}

impl RestClient {
    /// The DrChrono client described by `systems.yaml`.
    pub fn drchrono(cfg: &DrChrono, pool: PgPool) -> Self {
        let http = http_client(Duration::from_secs(cfg.timeout_secs));
        let tokens = TokenManager::new(
            "drchrono",
            &cfg.base_url,
            &cfg.oauth,
            pool.clone(),
            http.clone(),
        );
        RestClient {
            inner: Arc::new(Inner {
                system: "drchrono".into(),
                base_url: cfg.base_url.trim_end_matches('/').to_string(),
                http,
                budget: RateBudget::shared("drchrono", &cfg.rate, pool.clone()),
                retry: cfg.retry.clone(),
                tokens,
                log: AccessLog::new(Some(pool), "drchrono"),
                page_size: cfg.page_size,
            }),
        }
    }

    /// The absolute URL of `endpoint` (a path) with `params` as its query.
    pub fn url(&self, endpoint: &str, params: &[(String, String)]) -> Result<String, SourceError> {
        let base = format!("{}{}", self.inner.base_url, endpoint);
        let url = reqwest::Url::parse_with_params(&base, params)
            .map_err(|_| SourceError::Url(path_template(&base)))?;
        Ok(url.to_string())
    }

    /// `url` when it is on the configured base URL's origin (scheme, host and port): the
    /// only place the bearer token may go. A pagination `next` link elsewhere (another host,
    /// or `http://` for an `https://` base) is an error, never followed.
    pub fn same_origin(&self, url: &str) -> Result<reqwest::Url, SourceError> {
        let base = reqwest::Url::parse(&self.inner.base_url)
            .map_err(|_| SourceError::Url(path_template(&self.inner.base_url)))?;
        let u = reqwest::Url::parse(url).map_err(|_| SourceError::Url(path_template(url)))?;
        if u.origin() == base.origin() {
            Ok(u)
        } else {
            Err(SourceError::ForeignLink {
                system: self.inner.system.clone(),
                origin: u.origin().ascii_serialization(),
            })
        }
    }

    /// The path and query of `url` (on the base URL's origin): how a resumable listing stores
    /// where it stopped, so a resumed run goes to the configured host only.
    pub fn relative(&self, url: &str) -> Result<String, SourceError> {
        let u = self.same_origin(url)?;
        Ok(match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        })
    }

    /// The absolute URL of a stored path and query (see [`RestClient::relative`]). An absolute
    /// URL (stored by an older version) is accepted when it is on the base URL's origin.
    pub fn absolute(&self, stored: &str) -> Result<String, SourceError> {
        if stored.starts_with('/') {
            Ok(format!("{}{stored}", self.origin()?))
        } else {
            Ok(self.same_origin(stored)?.to_string())
        }
    }

    fn origin(&self) -> Result<String, SourceError> {
        let base = reqwest::Url::parse(&self.inner.base_url)
            .map_err(|_| SourceError::Url(path_template(&self.inner.base_url)))?;
        Ok(base.origin().ascii_serialization())
    }

    /// GETs `url` and parses its JSON body. `url` must be on the base URL's origin.
    pub async fn get_json(&self, url: &str, pipeline: Option<&str>) -> Result<Value, SourceError> {
        self.get_decoded(url, pipeline, |b| serde_json::from_slice(b).ok())
            .await
    }

    /// GETs `url` and decodes its body with `decode` (`None`: the body is undecodable, which
    /// is not retried). `url` must be on the base URL's origin.
    pub async fn get_decoded<T>(
        &self,
        url: &str,
        pipeline: Option<&str>,
        decode: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<T, SourceError> {
        let url = self.same_origin(url)?;
        let mut call = Get {
            inner: &self.inner,
            url: url.as_str(),
            path: path_template(url.as_str()),
            pipeline,
            token: String::new(),
            refreshed: false,
        };
        call_with_retry_decoding(&self.inner.retry, &mut call, decode).await
    }

    /// The system's default `page_size`.
    pub fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    /// The system's name.
    pub fn system(&self) -> &str {
        &self.inner.system
    }
}

/// One GET of [`RestClient::get_json`]: a fresh token and the shared budget before each
/// attempt, one token refresh on a 401.
struct Get<'a> {
    inner: &'a Inner,
    url: &'a str,
    path: String,
    pipeline: Option<&'a str>,
    /// The token the last attempt carried (refreshed on a 401).
    token: String,
    refreshed: bool,
}

impl RetryingCall for Get<'_> {
    type Error = SourceError;

    fn system(&self) -> &str {
        &self.inner.system
    }

    fn path(&self) -> &str {
        &self.path
    }

    async fn request(&mut self) -> Result<reqwest::RequestBuilder, SourceError> {
        let i = self.inner;
        // The token first: a refresh can take a while, and the budget must count the call
        // when it is really sent, not before.
        self.token = i.tokens.access_token().await?;
        let queued = Instant::now();
        i.budget.acquire().await;
        metrics().budget_wait(&i.system, queued.elapsed());
        Ok(i.http.get(self.url).bearer_auth(&self.token))
    }

    async fn record(&mut self, status: Option<u16>, elapsed: Duration) {
        let i = self.inner;
        metrics().api_request(&i.system, status);
        i.log
            .record("GET", self.url, status, elapsed, self.pipeline)
            .await;
    }

    fn throttled(&mut self) {
        tracing::warn!(event = events::DRCHRONO_RATE_LIMITED, system = %self.inner.system, pipeline = self.pipeline.unwrap_or("-"), path = %self.path, "DrChrono answered 429; backing off.");
    }

    async fn refused(&mut self, status: u16) -> Result<(), SourceError> {
        let i = self.inner;
        if status != 401 {
            return Err(SourceError::Status {
                system: i.system.clone(),
                path: self.path.clone(),
                status,
            });
        }
        if self.refreshed {
            tracing::error!(event = events::OAUTH_REFRESH_FAILED, system = %i.system, status = 401u16, stage = "fresh_token_refused", path = %self.path, "API refused a freshly refreshed token; re-authorisation needed.");
            return Err(SourceError::Unauthorized {
                system: i.system.clone(),
                path: self.path.clone(),
            });
        }
        self.refreshed = true;
        i.tokens.refresh(Some(&self.token)).await?;
        Ok(())
    }

    fn undecodable(&self) -> SourceError {
        SourceError::Decode {
            system: self.inner.system.clone(),
            path: self.path.clone(),
        }
    }

    fn exhausted(&self, attempts: u32, last: String) -> SourceError {
        SourceError::Exhausted {
            system: self.inner.system.clone(),
            path: self.path.clone(),
            attempts,
            last,
        }
    }
}
