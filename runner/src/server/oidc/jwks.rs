//! The JWKS key cache of a verifier: keys by `kid`, used for a TTL, refetched early (and
//! rate-limited) when a token names an unknown `kid`, one fetch at a time. Only keys of the
//! verifier's one algorithm are kept (RSA keys for RS256: Google's OIDC tokens; P-256 keys for
//! ES256: IAP's signed header), so a key of another type in the set can never verify a token.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::OidcError;

#[derive(Debug)]
struct KeySet {
    keys: HashMap<String, DecodingKey>,
    fetched: Instant,
}

/// The cached signing keys of one JWKS URL.
#[derive(Debug)]
pub(crate) struct KeyCache {
    url: String,
    alg: Algorithm,
    ttl: Duration,
    min_refetch: Duration,
    http: reqwest::Client,
    cache: RwLock<Option<Arc<KeySet>>>,
    fetching: tokio::sync::Mutex<()>,
}

impl KeyCache {
    /// An empty cache for `url` keeping the keys of `alg` (RS256 or ES256); nothing is fetched
    /// until the first token.
    pub(crate) fn new(url: String, alg: Algorithm, ttl: Duration, min_refetch: Duration) -> Self {
        KeyCache {
            url,
            alg,
            ttl,
            min_refetch,
            http: crate::source::http_client(Duration::from_secs(10)),
            cache: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key `kid`: from the cache while fresh; otherwise, or when unknown, after a refetch.
    pub(crate) async fn key(&self, kid: &str) -> Result<DecodingKey, OidcError> {
        let cached = self.cached();
        if let Some(set) = &cached {
            let age = set.fetched.elapsed();
            if age < self.ttl {
                if let Some(k) = set.keys.get(kid) {
                    return Ok(k.clone());
                }
                if age < self.min_refetch {
                    return Err(OidcError::UnknownKey);
                }
            }
        }
        let fresh = match self.refresh(cached.as_ref().map(|s| s.fetched)).await {
            Ok(set) => set,
            // A stale set still verifies known keys while Google is unreachable.
            Err(e) => match cached.as_ref().and_then(|s| s.keys.get(kid)) {
                Some(k) => {
                    tracing::warn!(error = %e, "JWKS refetch failed; using the cached keys.");
                    return Ok(k.clone());
                }
                None => return Err(e),
            },
        };
        fresh.keys.get(kid).cloned().ok_or(OidcError::UnknownKey)
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.cache.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Fetches the key set unless another request replaced `seen` while this one waited.
    async fn refresh(&self, seen: Option<Instant>) -> Result<Arc<KeySet>, OidcError> {
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(set) = self.cached()
            && Some(set.fetched) != seen
        {
            return Ok(set);
        }
        let keys = self.fetch().await.map_err(|e| {
            tracing::warn!(error = %e, "Could not fetch the JWKS.");
            OidcError::KeysUnavailable(e)
        })?;
        let set = Arc::new(KeySet {
            keys,
            fetched: Instant::now(),
        });
        if let Ok(mut c) = self.cache.write() {
            *c = Some(set.clone());
        }
        tracing::debug!(keys = set.keys.len(), "JWKS fetched.");
        Ok(set)
    }

    /// The signing keys of the JWKS for the cache's algorithm, by `kid`. Keys of other types,
    /// curves or algorithms are skipped, so an HMAC or RSA key can never verify an ES256 token
    /// (nor an EC key an RS256 one).
    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let resp = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| format!("JWKS request failed: {}", e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!("JWKS answered {}", resp.status()));
        }
        let raw: RawSet = resp
            .json()
            .await
            .map_err(|e| format!("JWKS is not a key set: {}", e.without_url()))?;
        let mut keys = HashMap::new();
        for value in raw.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let (wanted, shape) = match (self.alg, &jwk.algorithm) {
                (Algorithm::RS256, AlgorithmParameters::RSA(_)) => (KeyAlgorithm::RS256, true),
                (Algorithm::ES256, AlgorithmParameters::EllipticCurve(p)) => {
                    (KeyAlgorithm::ES256, p.curve == EllipticCurve::P256)
                }
                _ => continue,
            };
            let alg_ok = jwk.common.key_algorithm.is_none_or(|a| a == wanted);
            if let (Some(kid), true, true) = (&jwk.common.key_id, shape, alg_ok)
                && let Ok(key) = DecodingKey::from_jwk(&jwk)
            {
                keys.insert(kid.clone(), key);
            }
        }
        if keys.is_empty() {
            return Err(format!("JWKS holds no {:?} key", self.alg));
        }
        Ok(keys)
    }
}
