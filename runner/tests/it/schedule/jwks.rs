//! A local stand-in for Google's OIDC: RSA keys generated in the test, a JWKS served on
//! `127.0.0.1:0`, and ID tokens with the claims Cloud Scheduler and Pub/Sub push send.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::State;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use runner::server::oidc::OidcConfig;
use serde_json::{Value, json};

/// The audience the verifier expects.
pub(crate) const AUDIENCE: &str = "https://runner.clinic.test";
/// The one allowed service account.
pub(crate) const EMAIL: &str = "scheduler@clinic-test.iam.gserviceaccount.com";
/// The key id of the JWKS's key.
pub(crate) const KID: &str = "key-1";

/// Two RSA keys, generated once per test binary: the JWKS's key and a stranger's.
pub(crate) fn keys() -> &'static (EncodingKey, EncodingKey) {
    static KEYS: OnceLock<(EncodingKey, EncodingKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let generate = || {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("keygen");
            EncodingKey::from_rsa_der(key.to_pkcs1_der().expect("der").as_bytes())
        };
        (generate(), generate())
    })
}

/// The public JWK of `key`, with `kid`.
pub(crate) fn jwk(kid: &str, key: &EncodingKey) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    serde_json::to_value(jwk).expect("jwk json")
}

/// Claims as Cloud Scheduler sends them (apis.md §4.3, §4.8).
pub(crate) fn claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "https://accounts.google.com", "aud": AUDIENCE, "azp": "1100", "sub": "1100",
        "email": EMAIL, "email_verified": true, "iat": now, "exp": now + 3600,
    })
}

/// An RS256 token with `kid` in its header.
pub(crate) fn token(kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

/// The JWKS server's state: its keys, and how often they were fetched.
type JwksState = (Arc<Mutex<Vec<Value>>>, Arc<AtomicUsize>);

/// A JWKS on `127.0.0.1:0` whose keys can be replaced; it counts its fetches.
pub(crate) struct Jwks {
    /// Where the key set is served.
    pub url: String,
    /// The keys served; replace them to rotate.
    pub keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Jwks {
    /// Serves `keys`.
    pub(crate) async fn start(keys: Vec<Value>) -> Jwks {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route(
                "/certs",
                axum::routing::get(|State((keys, n)): State<JwksState>| async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    let keys = keys.lock().expect("keys").clone();
                    axum::Json(json!({ "keys": keys }))
                }),
            )
            .with_state((keys.clone(), fetches.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Jwks {
            url: format!("http://{addr}/certs"),
            keys,
            fetches,
        }
    }

    /// A verifier config that trusts this key set, [`AUDIENCE`] and [`EMAIL`].
    pub(crate) fn config(&self) -> OidcConfig {
        OidcConfig {
            jwks_url: self.url.clone(),
            audience: AUDIENCE.into(),
            allowed_emails: vec![EMAIL.into()],
            ..OidcConfig::default()
        }
    }

    /// How often the key set was fetched.
    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}
