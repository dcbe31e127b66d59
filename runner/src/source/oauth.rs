//! OAuth2 access tokens from a rotating refresh token, shared by every task and instance.
//!
//! The tokens live in `oauth_credentials`, sealed with AES-256-GCM ([`super::sealed`]). A
//! refresh holds a session-level advisory lock per system on a connection of its own, so two
//! instances never spend the same refresh token; the rotated token is written the moment it
//! arrives, in a statement of its own, with retries, since DrChrono has already invalidated the
//! old one. The environment's `DRCHRONO_REFRESH_TOKEN` only seeds the row: once it has rotated
//! the stored token wins, until the environment value changes (a manual re-authorisation),
//! which re-seeds it.

use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::sync::Mutex;

use super::access_log::AccessLog;
use super::error::SourceError;
use super::sealed::{SealError, TokenCipher};
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
    cipher: Result<TokenCipher, SealError>,
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
            cipher: TokenCipher::new(&oauth.encryption_key, &oauth.previous_encryption_key),
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
        let cipher = self.cipher.as_ref().map_err(|e| SourceError::Sealed {
            system: self.system.clone(),
            reason: e.to_string(),
        })?;
        let fingerprint = hex::encode(Sha256::digest(self.seed.expose().as_bytes()));
        // One refresher at a time across instances: a session-level advisory lock on a
        // connection of its own, so that the rotated token can be written (and committed) the
        // moment it arrives, outside any transaction that could still fail afterwards.
        let mut lock = PgConnection::connect_with(&self.pool.connect_options()).await?;
        sqlx::query("select pg_advisory_lock(hashtext('runner.oauth'), hashtext($1))")
            .bind(&self.system)
            .execute(&mut lock)
            .await?;
        let result = self
            .refresh_holding_lock(cipher, &fingerprint, rejected)
            .await;
        let _ = lock.close().await; // ends the session: the lock is released
        result
    }

    async fn refresh_holding_lock(
        &self,
        cipher: &TokenCipher,
        fingerprint: &str,
        rejected: Option<&str>,
    ) -> Result<Cached, SourceError> {
        let sealed_seed = self.seal(cipher, self.seed.expose())?;
        sqlx::query(
            "insert into oauth_credentials (system, refresh_token, seed_fingerprint) values ($1, $2, $3) on conflict (system) do nothing",
        )
        .bind(&self.system)
        .bind(&sealed_seed)
        .bind(fingerprint)
        .execute(&self.pool)
        .await?;
        let row: StoredCredentials = sqlx::query_as(
            "select refresh_token, seed_fingerprint, access_token, extract(epoch from access_expires_at - now())::float8 as expires_in_secs from oauth_credentials where system = $1",
        )
        .bind(&self.system)
        .fetch_one(&self.pool)
        .await?;
        let (stored_refresh, reseal) = self.open(cipher, &row.refresh_token)?;
        let access = row
            .access_token
            .as_deref()
            .map(|t| self.open(cipher, t))
            .transpose()?;
        // Another instance may have refreshed while we waited for the lock.
        if let (Some((token, _)), Some(secs)) = (&access, row.expires_in_secs) {
            let left = Duration::from_secs_f64(secs.max(0.0));
            if left > self.margin
                && rejected != Some(token.as_str())
                && row.seed_fingerprint == fingerprint
            {
                if reseal {
                    self.reseal(cipher, &stored_refresh, token).await?;
                }
                return Ok(Cached {
                    token: token.clone(),
                    expires: Instant::now() + left,
                });
            }
        }
        let reseeded = row.seed_fingerprint != fingerprint && !self.seed.is_empty();
        let refresh_token = if reseeded {
            tracing::info!(system = %self.system, "Refresh token changed in the environment; re-seeding stored credentials.");
            self.seed.expose().to_string()
        } else {
            stored_refresh
        };
        let t = self.call_token_endpoint(&refresh_token).await?;
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(3600));
        let new_refresh = t.refresh_token.clone().unwrap_or(refresh_token);
        self.persist(cipher, &new_refresh, fingerprint, &t.access_token, lifetime)
            .await?;
        tracing::info!(system = %self.system, "Access token refreshed; refresh token rotated and stored.");
        Ok(Cached {
            token: t.access_token,
            expires: Instant::now() + lifetime,
        })
    }

    /// The refresh call itself.
    async fn call_token_endpoint(&self, refresh_token: &str) -> Result<TokenResponse, SourceError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
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
        serde_json::from_slice(&body).map_err(|_| SourceError::Decode {
            system: self.system.clone(),
            path: super::access_log::path_template(&self.token_url),
        })
    }

    /// Writes the rotated tokens at once (each statement commits on its own), retrying on a
    /// fresh connection: DrChrono has already invalidated the old refresh token, so losing the
    /// new one means a person must re-authorise. When every attempt fails, that is said loudly
    /// (`oauth_token_not_persisted`) and the token is still used by this process.
    async fn persist(
        &self,
        cipher: &TokenCipher,
        refresh: &str,
        fingerprint: &str,
        access: &str,
        lifetime: Duration,
    ) -> Result<(), SourceError> {
        let (refresh, access) = (self.seal(cipher, refresh)?, self.seal(cipher, access)?);
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=PERSIST_ATTEMPTS {
            let written = sqlx::query(
                "update oauth_credentials set refresh_token = $2, seed_fingerprint = $3, access_token = $4, access_expires_at = now() + make_interval(secs => $5), rotated_at = now(), updated_at = now() where system = $1",
            )
            .bind(&self.system)
            .bind(&refresh)
            .bind(fingerprint)
            .bind(&access)
            .bind(lifetime.as_secs_f64())
            .execute(&self.pool)
            .await;
            match written {
                Ok(_) => return Ok(()),
                Err(e) if attempt < PERSIST_ATTEMPTS => {
                    tracing::warn!(system = %self.system, attempt, error = %crate::store::StoreError::from_sqlx("store the rotated token", e), "Could not store the rotated refresh token yet; retrying.");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => {
                    tracing::error!(event = events::OAUTH_TOKEN_NOT_PERSISTED, system = %self.system, error = %crate::store::StoreError::from_sqlx("store the rotated token", e), "The rotated refresh token could not be stored: re-authorise the application (RUNBOOK: DrChrono auth).");
                }
            }
        }
        Ok(())
    }

    async fn reseal(
        &self,
        cipher: &TokenCipher,
        refresh: &str,
        access: &str,
    ) -> Result<(), SourceError> {
        sqlx::query("update oauth_credentials set refresh_token = $2, access_token = $3, updated_at = now() where system = $1")
            .bind(&self.system)
            .bind(self.seal(cipher, refresh)?)
            .bind(self.seal(cipher, access)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn seal(&self, cipher: &TokenCipher, plain: &str) -> Result<String, SourceError> {
        cipher
            .seal(&self.system, plain)
            .map_err(|e| SourceError::Sealed {
                system: self.system.clone(),
                reason: e.to_string(),
            })
    }

    fn open(&self, cipher: &TokenCipher, stored: &str) -> Result<(String, bool), SourceError> {
        cipher
            .open(&self.system, stored)
            .map_err(|e| SourceError::Sealed {
                system: self.system.clone(),
                reason: e.to_string(),
            })
    }
}

/// Attempts to store a rotated token before giving up.
const PERSIST_ATTEMPTS: u32 = 5;

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
