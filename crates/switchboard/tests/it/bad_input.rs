use crate::helpers::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn raw_post(app: &TestApp, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/chat/demo/messages"))
        .bearer_auth(app.token("demo", "bad-input").await)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Sends raw bytes on a fresh connection and returns what the server answered before closing.
async fn raw_exchange(app: &TestApp, bytes: &[u8], pause_after: Option<Duration>) -> String {
    let mut s = TcpStream::connect(app.addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    if let Some(p) = pause_after {
        tokio::time::sleep(p).await;
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_json_errors_and_write_nothing() {
    let app = TestApp::spawn().await;
    let json_ct = "application/json";
    let long = "x".repeat(4001);
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed json",
            json_ct,
            b"{\"user\": \"bad1\", \"text\": ".to_vec(),
            400,
            "invalid_json",
        ),
        ("not an object", json_ct, b"[1, 2]".to_vec(), 400, "invalid_json"),
        (
            "unknown field",
            json_ct,
            br#"{"user":"bad1","text":"hi","txet":"x"}"#.to_vec(),
            400,
            "invalid_json",
        ),
        (
            "wrong type",
            json_ct,
            br#"{"user":"bad1","text":5}"#.to_vec(),
            400,
            "invalid_json",
        ),
        (
            "missing text",
            json_ct,
            br#"{"user":"bad1"}"#.to_vec(),
            422,
            "empty_text",
        ),
        (
            "empty text",
            json_ct,
            br#"{"user":"bad1","text":""}"#.to_vec(),
            422,
            "empty_text",
        ),
        (
            "blank text",
            json_ct,
            br#"{"user":"bad1","text":" \n\t "}"#.to_vec(),
            422,
            "empty_text",
        ),
        (
            "only control characters",
            json_ct,
            br#"{"user":"bad1","text":"\u0000\u0007"}"#.to_vec(),
            422,
            "empty_text",
        ),
        (
            "text too long",
            json_ct,
            json!({"user": "bad1", "text": long}).to_string().into_bytes(),
            422,
            "text_too_long",
        ),
        (
            "bad client_msg_id",
            json_ct,
            json!({"user": "bad1", "text": "hi", "client_msg_id": ""})
                .to_string()
                .into_bytes(),
            422,
            "invalid_client_msg_id",
        ),
        (
            "invalid utf-8",
            json_ct,
            b"{\"user\":\"bad1\",\"text\":\"\xff\xfe\"}".to_vec(),
            400,
            "invalid_utf8",
        ),
        (
            "form body",
            "application/x-www-form-urlencoded",
            b"user=bad1&text=hi".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "oversized body",
            json_ct,
            json!({"user": "bad1", "text": "y".repeat(70_000)})
                .to_string()
                .into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    for (what, ct, body, status, code) in cases {
        let (got, err) = raw_post(&app, ct, body).await;
        assert_eq!(
            (got, err["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {err}"
        );
        assert!(
            err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    let (status, err) = app.post("nope", json!({"user": "bad1", "text": "hi"})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("unknown_tenant")));
    let (status, _) = app.post("Bad Tenant!", json!({"user": "bad1", "text": "hi"})).await;
    assert_eq!(status, 404);
    for path in [
        "/v1/chat/demo/conversations/%C3%28/messages",
        "/v1/chat/%FF/conversations/x/messages",
        "/v1/chat/%FF/ws?user=x",
    ] {
        let res = app.client.get(app.url(path)).send().await.expect("send");
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.expect("a JSON error");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let res = app
        .client
        .post(app.url("/v1/chat/%FF/messages"))
        .json(&json!({"user": "u", "text": "x"}))
        .send()
        .await;
    assert_eq!(res.expect("send").status(), 404);

    let (_, health) = app.get("/health").await;
    assert_eq!(
        health["components"]["queue"]["stored_jobs"], 0,
        "nothing half-written: {health}"
    );
    let clean = app.say("bad1", "hel\u{0}lo").await;
    assert!(
        clean["replies"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Hello") || t.contains("Hi"))
    );
    let history = app
        .history("demo", clean["conversation_id"].as_str().expect("id"))
        .await;
    assert_eq!(history.len(), 2, "the rejected requests stored nothing");
    assert_eq!(history[0]["text"], "hello", "control characters are stripped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_headers_and_slow_clients_are_cut_off_cleanly() {
    let app = TestApp::spawn_with(|c, _| {
        c.server.header_read_timeout_ms = 300;
        c.server.body_read_timeout_ms = 300;
    })
    .await;
    let huge = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let answer = raw_exchange(&app, huge.as_bytes(), None).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // Headers that never finish: the connection is closed after the header timeout.
    let started = std::time::Instant::now();
    let answer = raw_exchange(&app, b"POST /v1/chat/demo/messages HTTP/1.1\r\nhost: x\r\n", None).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed by the server, not by the test's timeout"
    );
    assert!(!answer.contains("200 OK"));

    // A body that never finishes: 408 with a JSON error.
    let head = "POST /v1/chat/demo/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"user\":";
    let answer = raw_exchange(&app, head.as_bytes(), None).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");

    // Meanwhile the server keeps serving everyone else.
    app.say("patient", "hello").await;
}

#[test]
fn random_bodies_never_cause_a_server_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let field = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "\\PC{0,5000}".prop_map(Value::from),
    ];
    let object = proptest::collection::btree_map(
        prop_oneof![
            Just("user".to_owned()),
            Just("text".to_owned()),
            Just("client_msg_id".to_owned()),
            Just("payload".to_owned()),
            "[a-z]{1,6}"
        ],
        field,
        0..5,
    )
    .prop_map(|m| json!(m).to_string().into_bytes());
    let bodies = prop_oneof![proptest::collection::vec(any::<u8>(), 0..2000), object];
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 300,
        ..Default::default()
    });
    runner
        .run(&bodies, |body| {
            let (status, json) = rt.block_on(raw_post(&app, "application/json", body));
            prop_assert!(status < 500, "status {} for that body: {}", status, json);
            if status >= 400 {
                prop_assert!(json["error"]["code"].is_string(), "error body: {}", json);
            }
            Ok(())
        })
        .expect("no input produces a 5xx");
    let (_, health) = rt.block_on(app.get("/health"));
    assert_eq!(health["status"], "ok");
}
