//! IAP's signed header, verified on every request: ES256 against a local JWK set (a P-256 key
//! made in the test), IAP's issuer, the configured audience, 30 s of skew; then `staff_roles`.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use runner::admin::{AdminAuth, IAP_HEADER, IAP_ISSUER, IapConfig, IapVerifier};
use runner::server::{AppState, router};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{ADMIN, INACTIVE, STRANGER, get, get_with, plan, seed};
use crate::common::LogCapture;
use crate::schedule::jwks::Jwks;

/// The admin backend's audience.
const AUDIENCE: &str = "/projects/123456/global/backendServices/987654";
const KID: &str = "iap-key-1";

/// A fresh P-256 signing key (random bytes from two v4 UUIDs).
fn es256_key() -> EncodingKey {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let secret = p256::SecretKey::from_slice(&bytes).expect("a valid scalar");
    EncodingKey::from_ec_der(secret.to_pkcs8_der().expect("pkcs8").as_bytes())
}

/// The public JWK of `key`, as IAP publishes its keys.
fn jwk(kid: &str, key: &EncodingKey) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::ES256).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    serde_json::to_value(jwk).expect("jwk json")
}

/// The claims IAP signs for `email`, issued `age` seconds ago and valid for 10 minutes.
fn claims(email: &str, age: i64) -> Value {
    let now = chrono::Utc::now().timestamp() - age;
    json!({
        "iss": IAP_ISSUER, "aud": AUDIENCE, "sub": "accounts.google.com:1234",
        "email": email, "hd": "clinic.example", "iat": now, "exp": now + 600,
    })
}

fn sign(kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

/// The router trusting `jwks`.
fn app(pool: &PgPool, jwks_url: &str) -> Router {
    let verifier = IapVerifier::new(IapConfig {
        jwks_url: jwks_url.to_string(),
        ..IapConfig::new(AUDIENCE)
    })
    .expect("verifier");
    let mut state = AppState::new(pool.clone(), Arc::new(plan()));
    state.admin = AdminAuth::iap(verifier);
    router(state)
}

async fn status_with(app: &Router, token: &str) -> StatusCode {
    get_with(app, "/admin", &[(IAP_HEADER, token)]).await.status
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_valid_iap_assertion_of_active_staff_opens_the_dashboard(pool: PgPool) {
    seed(&pool).await;
    let key = es256_key();
    let jwks = Jwks::start(vec![jwk(KID, &key)]).await;
    let app = app(&pool, &jwks.url);
    let page = get_with(
        &app,
        "/admin",
        &[(IAP_HEADER, &sign(KID, &key, &claims(ADMIN, 0)))],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(ADMIN), "the page names who is signed in");
    // Within the 30 s skew: issued a little in the future, or expired a little ago.
    assert_eq!(
        status_with(&app, &sign(KID, &key, &claims(ADMIN, -20))).await,
        StatusCode::OK
    );
    assert_eq!(
        status_with(&app, &sign(KID, &key, &claims(ADMIN, 620))).await,
        StatusCode::OK
    );
    // The email's case does not matter.
    let upper = claims(&ADMIN.to_uppercase(), 0);
    assert_eq!(
        status_with(&app, &sign(KID, &key, &upper)).await,
        StatusCode::OK
    );
    assert_eq!(jwks.fetches(), 1, "the key set is cached");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_missing_or_invalid_iap_assertion_is_401_and_nothing_is_shown(pool: PgPool) {
    seed(&pool).await;
    let key = es256_key();
    let jwks = Jwks::start(vec![jwk(KID, &key)]).await;
    let app = app(&pool, &jwks.url);
    let logs = LogCapture::start();
    let with = |c: Value| sign(KID, &key, &c);
    let mut c = claims(ADMIN, 0);
    c["aud"] = json!("/projects/123456/global/backendServices/1");
    let wrong_aud = with(c);
    let mut c = claims(ADMIN, 0);
    c["iss"] = json!("https://accounts.google.com");
    let wrong_iss = with(c);
    let mut c = claims(ADMIN, 0);
    c.as_object_mut().unwrap().remove("email");
    let no_email = with(c);
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(ADMIN, 0),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    let cases = [
        ("expired beyond the skew", with(claims(ADMIN, 700))),
        (
            "issued beyond the skew in the future",
            with(claims(ADMIN, -120)),
        ),
        ("wrong audience", wrong_aud),
        ("wrong issuer", wrong_iss),
        ("no email", no_email),
        (
            "signed by another key",
            sign(KID, &es256_key(), &claims(ADMIN, 0)),
        ),
        ("unknown key id", sign("other", &key, &claims(ADMIN, 0))),
        ("HS256", hs256),
        ("not a JWT", "not-a-jwt".to_string()),
    ];
    for (what, token) in &cases {
        let page = get_with(&app, "/admin", &[(IAP_HEADER, token)]).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(page.body.contains("Not signed in"), "{what}: {}", page.body);
        assert!(
            !page.body.contains("patients"),
            "{what}: nothing of the dashboard"
        );
    }
    // No header at all, or only the unsigned headers IAP also sets (forgeable around IAP).
    assert_eq!(get(&app, "/admin").await.status, StatusCode::UNAUTHORIZED);
    let forged = get_with(
        &app,
        "/admin/audit",
        &[(
            "x-goog-authenticated-user-email",
            "accounts.google.com:oncall@clinic.example",
        )],
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    // A POST is refused before its body is read.
    let post = super::post(&app, "/admin/failures/inbox/replay-all", &[("csrf", "x")]).await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED);
    let refused = logs.text();
    assert!(refused.contains("admin_refused") && refused.contains("wrong audience"));
    for (_, token) in &cases {
        assert!(!refused.contains(token.as_str()), "an assertion was logged");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_verified_email_that_is_not_active_staff_is_403(pool: PgPool) {
    seed(&pool).await;
    let key = es256_key();
    let jwks = Jwks::start(vec![jwk(KID, &key)]).await;
    let app = app(&pool, &jwks.url);
    for email in [STRANGER, INACTIVE] {
        let page = get_with(
            &app,
            "/admin",
            &[(IAP_HEADER, &sign(KID, &key, &claims(email, 0)))],
        )
        .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{email}");
        assert!(
            page.body.contains("not an active staff member"),
            "{}",
            page.body
        );
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn without_an_audience_or_with_iap_keys_unreachable_nobody_gets_in(pool: PgPool) {
    seed(&pool).await;
    let key = es256_key();
    let token = sign(KID, &key, &claims(ADMIN, 0));
    // No IAP_AUDIENCE: the dashboard refuses everyone.
    let closed = router(AppState::new(pool.clone(), Arc::new(plan())));
    assert_eq!(status_with(&closed, &token).await, StatusCode::UNAUTHORIZED);
    // IAP's keys cannot be fetched: 503, try again.
    let down = app(&pool, "http://127.0.0.1:9/iap-keys");
    let page = get_with(&down, "/admin", &[(IAP_HEADER, &token)]).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.headers.contains_key("retry-after"));
}
