//! The router mounted in-process, without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use sim::drchrono::{DrChronoConfig, DrChronoState, router};
use tower::ServiceExt;

#[tokio::test]
async fn the_router_serves_in_process_with_links_from_the_host_header() {
    let config = DrChronoConfig {
        patients: 10,
        anchor: Some(crate::common::anchor()),
        ..DrChronoConfig::default()
    };
    let state = DrChronoState::new(&config);
    let token = state.issue_access_token();
    let request = Request::get("/api/patients?page_size=3")
        .header(header::HOST, "drchrono.test")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request builds");
    let response = router(state)
        .oneshot(request)
        .await
        .expect("router answers");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert!(
        body["next"]
            .as_str()
            .unwrap_or_default()
            .starts_with("http://drchrono.test/api/patients?")
    );
}
