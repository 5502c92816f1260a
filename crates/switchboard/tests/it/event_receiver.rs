//! The tenant's side of event webhooks in the tests: a local endpoint that records every call
//! and checks its signature as the README tells receivers to.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub const SECRET: &str = "whsec_events_test_0001";

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Call {
    pub verified: bool,
    pub signature: String,
    pub raw: Vec<u8>,
    pub event: String,
    pub delivery: String,
    pub idempotency_key: String,
    pub body: Value,
}

pub type Received = Arc<Mutex<Vec<Call>>>;
/// What the receiver keeps: its calls, the statuses still to answer, the secret it checks.
type HookState = (Received, Arc<Mutex<Vec<u16>>>, &'static str);

/// `t=<secs>,v1=<hex>`: HMAC-SHA256 over "<t>.<body>" with the endpoint's secret, as the
/// README tells receivers to check.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let mut parts = header.split(',').filter_map(|p| p.split_once('='));
    let (Some(("t", t)), Some(("v1", v1))) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else { return false };
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[test]
fn a_tampered_body_signature_or_secret_does_not_verify() {
    let body = br#"{"id":"e1","type":"ping"}"#;
    let header = switchboard::runtime::signed::signature(SECRET.as_bytes(), 1_795_168_800, body);
    assert!(verify(SECRET, &header, body));
    assert!(
        !verify(SECRET, &header, br#"{"id":"e1","type":"pong"}"#),
        "body changed"
    );
    assert!(!verify("whsec_someone_else_000", &header, body), "other secret");
    let later = header.replace("t=1795168800", "t=1795168801");
    assert!(!verify(SECRET, &later, body), "time changed");
    assert!(!verify(SECRET, "v1=00,t=1", body), "malformed");
}

/// The tenant's endpoint: records every call and answers the next status of `answers` (the
/// last one repeats).
pub async fn receiver(secret: &'static str, answers: Vec<u16>) -> (String, Received) {
    let received: Received = Arc::default();
    let state = (received.clone(), Arc::new(Mutex::new(answers)), secret);
    async fn hook(State((received, answers, secret)): State<HookState>, req: Request) -> StatusCode {
        // Read before the body is awaited: the request itself cannot be held across it.
        let (signature, event, delivery, key) = {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                header("x-switchboard-signature"),
                header("x-switchboard-event"),
                header("x-switchboard-delivery"),
                header("idempotency-key"),
            )
        };
        let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
        received.lock().expect("lock").push(Call {
            verified: verify(secret, &signature, &body),
            signature,
            raw: body.to_vec(),
            event,
            delivery,
            idempotency_key: key,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let mut a = answers.lock().expect("lock");
        let status = if a.len() > 1 { a.remove(0) } else { a[0] };
        StatusCode::from_u16(status).expect("status")
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hooks/events", listener.local_addr().expect("addr"));
    let router = axum::Router::new()
        .route("/hooks/events", axum::routing::post(hook))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}
