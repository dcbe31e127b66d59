//! OAuth2 access tokens from a rotating refresh token, shared by every task and instance.
//!
//! The refresh token lives in `oauth_credentials`. A refresh locks that row (`FOR UPDATE`), so
//! two instances never spend the same refresh token; the rotated token is written in the same
//! transaction that holds the lock. The environment's `DRCHRONO_REFRESH_TOKEN` only seeds the
//! row: once it has rotated the stored token wins, until the environment value changes (a
//! manual re-authorisation), which re-seeds it.

use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Mutex;

use super::access_log::AccessLog;
use super::error::SourceError;
use crate::config::secret::Secret;
use crate::config::systems::OAuth2;
use crate::telemetry::events;

#[derive(Debug, Clone)]
struct Cached {
    token: String,
    expires: Instant,
}

/// Hands out valid access tokens, refreshing them before expiry and on demand.
#[derive(Debug)]
pub struct TokenManager {
    system: String,
    token_url: String,
    client_id: Secret,
    client_secret: Secret,
    seed: Secret,
    margin: Duration,
    pool: PgPool,
    http: reqwest::Client,
    log: AccessLog,
    cached: Mutex<Option<Cached>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StoredCredentials {
    refresh_token: String,
    seed_fingerprint: String,
    access_token: Option<String>,
    expires_in_secs: Option<f64>,
}

impl TokenManager {
    /// A manager for `system`, whose token endpoint is `oauth.token_url` (relative to `base_url`
    /// when it is a path).
    pub fn new(
        system: &str,
        base_url: &str,
        oauth: &OAuth2,
        pool: PgPool,
        http: reqwest::Client,
    ) -> Self {
        let token_url = if oauth.token_url.starts_with('/') {
            format!("{}{}", base_url.trim_end_matches('/'), oauth.token_url)
        } else {
            oauth.token_url.clone()
        };
        TokenManager {
            system: system.to_string(),
            token_url,
            client_id: oauth.client_id.clone(),
            client_secret: oauth.client_secret.clone(),
            seed: oauth.refresh_token.clone(),
            margin: Duration::from_secs(oauth.refresh_margin_secs),
            log: AccessLog::new(Some(pool.clone()), system),
            pool,
            http,
            cached: Mutex::new(None),
        }
    }

    /// A valid access token, refreshed first when it expires within the margin.
    pub async fn access_token(&self) -> Result<String, SourceError> {
        {
            let cached = self.cached.lock().await;
            if let Some(c) = cached
                .as_ref()
                .filter(|c| c.expires > Instant::now() + self.margin)
            {
                return Ok(c.token.clone());
            }
        }
        self.refresh(None).await
    }

    /// Refreshes the access token. With `rejected`, the token an API just refused: if another
    /// task or instance has already replaced it, that newer token is used instead of spending
    /// the refresh token again.
    pub async fn refresh(&self, rejected: Option<&str>) -> Result<String, SourceError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let usable = c.expires > Instant::now() + self.margin;
            if usable && rejected != Some(c.token.as_str()) {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.refresh_locked(rejected).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn refresh_locked(&self, rejected: Option<&str>) -> Result<Cached, SourceError> {
        let fingerprint = hex::encode(Sha256::digest(self.seed.expose().as_bytes()));
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into oauth_credentials (system, refresh_token, seed_fingerprint) values ($1, $2, $3) on conflict (system) do nothing",
        )
        .bind(&self.system)
        .bind(self.seed.expose())
        .bind(&fingerprint)
        .execute(&mut *tx)
        .await?;
        let row: StoredCredentials = sqlx::query_as(
            "select refresh_token, seed_fingerprint, access_token, extract(epoch from access_expires_at - now())::float8 as expires_in_secs from oauth_credentials where system = $1 for update",
        )
        .bind(&self.system)
        .fetch_one(&mut *tx)
        .await?;
        // Another instance may have refreshed while we waited for the lock.
        if let (Some(token), Some(secs)) = (&row.access_token, row.expires_in_secs) {
            let left = Duration::from_secs_f64(secs.max(0.0));
            if left > self.margin
                && rejected != Some(token.as_str())
                && row.seed_fingerprint == fingerprint
            {
                tx.commit().await?;
                return Ok(Cached {
                    token: token.clone(),
                    expires: Instant::now() + left,
                });
            }
        }
        let reseeded = row.seed_fingerprint != fingerprint && !self.seed.is_empty();
        let refresh_token = if reseeded {
            self.seed.expose().to_string()
        } else {
            row.refresh_token
        };
        if reseeded {
            tracing::info!(system = %self.system, "Refresh token changed in the environment; re-seeding stored credentials.");
        }
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", self.client_id.expose()),
            ("client_secret", self.client_secret.expose()),
        ];
        let started = Instant::now();
        let resp = self.http.post(&self.token_url).form(&form).send().await;
        let status = resp.as_ref().ok().map(|r| r.status().as_u16());
        self.log
            .record("POST", &self.token_url, status, started.elapsed(), None)
            .await;
        let resp = resp.map_err(|e| SourceError::Exhausted {
            system: self.system.clone(),
            path: super::access_log::path_template(&self.token_url),
            attempts: 1,
            last: transport_kind(&e).to_string(),
        })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        if status != 200 {
            let reason = serde_json::from_slice::<TokenError>(&body)
                .ok()
                .and_then(|e| e.error)
                .unwrap_or_else(|| "no error code".into());
            tracing::error!(event = events::OAUTH_REFRESH_FAILED, system = %self.system, status, stage = "refresh", reason = %reason, "Token refresh refused; re-authorisation needed.");
            return Err(SourceError::RefreshRefused {
                system: self.system.clone(),
                status,
                reason,
            });
        }
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|_| SourceError::Decode {
            system: self.system.clone(),
            path: super::access_log::path_template(&self.token_url),
        })?;
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600));
        let new_refresh = t.refresh_token.unwrap_or(refresh_token);
        sqlx::query(
            "update oauth_credentials set refresh_token = $2, seed_fingerprint = $3, access_token = $4, access_expires_at = now() + make_interval(secs => $5), rotated_at = now(), updated_at = now() where system = $1",
        )
        .bind(&self.system)
        .bind(&new_refresh)
        .bind(&fingerprint)
        .bind(&t.access_token)
        .bind(lifetime.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(system = %self.system, "Access token refreshed; refresh token rotated and stored.");
        Ok(Cached {
            token: t.access_token,
            expires: Instant::now() + lifetime,
        })
    }
}

/// A short, data-free name for a transport error.
pub fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection refused"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "transport error"
    }
}
