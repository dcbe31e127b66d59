//! Bearer authentication.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Sim, assert_error, start};

#[tokio::test]
async fn requests_without_a_valid_token_get_401_in_the_spec_shape() {
    let sim = start(|_| {}).await;
    let url = sim.url(&Sim::table_path("/rows"));
    let cases = [
        None,
        Some("Bearer wrong"),
        Some("Basic c2ltLWNvZGEtdG9rZW4="),
    ];
    for header in cases {
        let mut req = sim.http.get(&url);
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let response = req.send().await.expect("sent");
        let status = response.status();
        let body = response.json().await.unwrap_or_default();
        assert_error(status, &body, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(sim.handle.state().stats().unauthorized, 3);
    let (status, _) = sim.get(&Sim::table_path("/rows")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn tokens_can_be_added_and_revoked_at_runtime() {
    let mut sim = start(|c| c.tokens = vec!["first".into()]).await;
    sim.token = "first".into();
    assert_eq!(sim.get("/whoami").await.0, StatusCode::OK);
    sim.handle.state().add_token("second");
    assert!(sim.handle.state().revoke_token("first"));
    assert_eq!(sim.get("/whoami").await.0, StatusCode::UNAUTHORIZED);
    sim.token = "second".into();
    let (status, me) = sim.get("/whoami").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["type"], "user");
    // Control endpoints need no token.
    let r = sim
        .http
        .post(sim.url("/_sim/tokens"))
        .json(&json!({"token": "third"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    sim.token = "third".into();
    assert_eq!(sim.get("/whoami").await.0, StatusCode::OK);
}
