//! Unit tests of the verifier that need no JWKS.

use axum::http::HeaderValue;

use super::*;

#[test]
fn a_config_without_audience_or_emails_builds_no_verifier() {
    let base = OidcConfig {
        audience: "https://runner.example".into(),
        allowed_emails: vec!["scheduler@p.iam.gserviceaccount.com".into()],
        ..OidcConfig::default()
    };
    assert!(OidcVerifier::new(base.clone()).is_ok());
    let no_aud = OidcConfig {
        audience: " ".into(),
        ..base.clone()
    };
    assert!(matches!(
        OidcVerifier::new(no_aud),
        Err(OidcConfigError::NoAudience)
    ));
    let no_emails = OidcConfig {
        allowed_emails: vec![" , ".into()],
        ..base
    };
    assert!(matches!(
        OidcVerifier::new(no_emails),
        Err(OidcConfigError::NoAllowedEmails)
    ));
}

#[test]
fn only_a_bearer_authorization_yields_a_token() {
    let mut h = HeaderMap::new();
    assert!(matches!(bearer(&h), Err(OidcError::MissingToken)));
    h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
    assert!(matches!(bearer(&h), Err(OidcError::MissingToken)));
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("bearer a.b.c"),
    );
    assert_eq!(bearer(&h).ok(), Some("a.b.c"));
}

#[tokio::test]
async fn a_token_with_another_algorithm_is_refused_before_any_key_fetch() {
    let v = OidcVerifier::new(OidcConfig {
        jwks_url: "http://127.0.0.1:9/never".into(),
        audience: "a".into(),
        allowed_emails: vec!["e@x".into()],
        ..OidcConfig::default()
    })
    .expect("verifier");
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &serde_json::json!({"exp": 4_000_000_000u64}),
        &jsonwebtoken::EncodingKey::from_secret(b"k"),
    )
    .expect("encode");
    assert!(matches!(v.verify(&hs).await, Err(OidcError::Algorithm)));
    assert!(matches!(
        v.verify("garbage").await,
        Err(OidcError::Malformed)
    ));
}
