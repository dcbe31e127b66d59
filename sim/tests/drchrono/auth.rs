//! OAuth: rotating refresh tokens, client authentication and access-token expiry.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Sim, start};

async fn refresh(sim: &Sim, refresh_token: &str, secret: &str) -> (StatusCode, Value) {
    let response = sim
        .http
        .post(sim.url("/o/token/"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "sim-client-id"),
            ("client_secret", secret),
        ])
        .send()
        .await
        .expect("token request is sent");
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn patients_status(sim: &Sim, token: &str) -> (StatusCode, Value) {
    let response = sim
        .http
        .get(sim.url("/api/patients?page_size=1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request is sent");
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_is_an_invalid_grant() {
    let sim = start(5, |_| {}).await;
    let (status, first) = refresh(&sim, "sim-refresh-token", "sim-client-secret").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 48 * 3600);
    assert!(first["scope"].is_string());
    let new_rt = first["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    assert_ne!(new_rt, "sim-refresh-token");
    let (status, body) = refresh(&sim, "sim-refresh-token", "sim-client-secret").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, second) = refresh(&sim, &new_rt, "sim-client-secret").await;
    assert_eq!(status, StatusCode::OK);
    let at1 = first["access_token"].as_str().unwrap_or_default();
    let at2 = second["access_token"].as_str().unwrap_or_default();
    assert_eq!(
        patients_status(&sim, at1).await.0,
        StatusCode::UNAUTHORIZED,
        "old access token revoked"
    );
    assert_eq!(patients_status(&sim, at2).await.0, StatusCode::OK);
    let state = sim.handle.state();
    assert_eq!(
        state.current_refresh_token().as_deref(),
        second["refresh_token"].as_str()
    );
    assert_eq!(state.stats().token_refreshes, 2);
}

#[tokio::test]
async fn wrong_client_credentials_are_an_invalid_client() {
    let sim = start(5, |_| {}).await;
    let (status, body) = refresh(&sim, "sim-refresh-token", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    // The refresh token was not consumed by the failed attempt.
    let response = sim
        .http
        .post(sim.url("/o/token/"))
        .basic_auth("sim-client-id", Some("sim-client-secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sim-refresh-token"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn authorization_codes_work_once() {
    let sim = start(5, |_| {}).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "sim-auth-code"),
        ("redirect_uri", "http://localhost/cb"),
        ("client_id", "sim-client-id"),
        ("client_secret", "sim-client-secret"),
    ];
    let first = sim
        .http
        .post(sim.url("/o/token/"))
        .form(&form)
        .send()
        .await
        .expect("sent");
    assert_eq!(first.status(), StatusCode::OK);
    let again = sim
        .http
        .post(sim.url("/o/token/"))
        .form(&form)
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn expired_access_tokens_get_401_until_the_client_refreshes() {
    let sim = start(5, |_| {}).await;
    assert_eq!(patients_status(&sim, &sim.token).await.0, StatusCode::OK);
    let expired = sim
        .http
        .post(sim.url("/_sim/tokens/expire"))
        .send()
        .await
        .expect("sent");
    assert_eq!(expired.status(), StatusCode::NO_CONTENT);
    let (status, body) = patients_status(&sim, &sim.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].is_string());
    let (_, tokens) = refresh(&sim, "sim-refresh-token", "sim-client-secret").await;
    let fresh = tokens["access_token"].as_str().unwrap_or_default();
    assert_eq!(patients_status(&sim, fresh).await.0, StatusCode::OK);
    assert_eq!(sim.handle.state().stats().unauthorized, 1);
}

#[tokio::test]
async fn access_tokens_expire_after_their_lifetime() {
    let sim = start(5, |c| c.access_token_ttl = Duration::from_millis(300)).await;
    assert_eq!(patients_status(&sim, &sim.token).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        patients_status(&sim, &sim.token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let anonymous = sim
        .http
        .get(sim.url("/api/patients"))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Bearer realm=\"api\""
    );
}
