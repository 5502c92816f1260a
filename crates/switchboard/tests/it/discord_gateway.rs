//! Discord's Gateway against a fake Gateway on loopback: identify, heartbeats, a message in,
//! the reply out through the (fake) REST API, a reconnect that resumes, and a replayed message
//! answered once.

use crate::delivery::fake_api;
use crate::helpers::*;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;

const APP_ID: &str = "1300000000000000001";
const CHANNEL: &str = "1300000000000000020";

fn message_create(seq: u64, id: &str, text: &str) -> String {
    let mut v: Value =
        serde_json::from_slice(&channel_fixture("discord/gateway/message_create.json")).expect("fixture");
    v["s"] = json!(seq);
    v["d"]["id"] = json!(id);
    v["d"]["content"] = json!(text);
    v.to_string()
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(15), f).await.expect("in time")
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn recv_json(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        if let Frame::Text(t) = frame {
            return serde_json::from_str(&t).expect("json");
        }
    }
}

/// Answers heartbeats until the client sends something else, which is returned.
async fn recv_non_heartbeat(ws: &mut Ws, beats: &mpsc::UnboundedSender<Value>) -> Value {
    loop {
        let v = recv_json(ws).await;
        if v["op"] == 1 {
            let _ = beats.send(v.clone());
            ws.send(Frame::text(json!({"op": 11}).to_string())).await.expect("ack");
            continue;
        }
        return v;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_messages_are_answered_once_across_a_resume() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gateway = format!("ws://{}", listener.local_addr().expect("addr"));
    let (opened_tx, mut opened) = mpsc::unbounded_channel::<Value>();
    let (beats_tx, mut beats) = mpsc::unbounded_channel::<Value>();
    let resume_url = gateway.clone();
    tokio::spawn(async move {
        // First connection: identify, ready, one message, then ask the client to reconnect.
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("handshake");
        ws.send(Frame::text(
            json!({"op": 10, "d": {"heartbeat_interval": 150}}).to_string(),
        ))
        .await
        .expect("hello");
        let identify = recv_non_heartbeat(&mut ws, &beats_tx).await;
        opened_tx.send(identify).expect("report");
        let ready =
            json!({"op": 0, "s": 1, "t": "READY", "d": {"session_id": "sess-1", "resume_gateway_url": resume_url}});
        ws.send(Frame::text(ready.to_string())).await.expect("ready");
        ws.send(Frame::text(message_create(2, "1300000000000000301", "tell me a joke")))
            .await
            .expect("message");
        // Let a heartbeat carry the last sequence number before asking for a reconnect.
        loop {
            let beat = recv_json(&mut ws).await;
            if beat["op"] == 1 {
                ws.send(Frame::text(json!({"op": 11}).to_string())).await.expect("ack");
                if beat["d"] == 2 {
                    beats_tx.send(beat).expect("report");
                    break;
                }
            }
        }
        ws.send(Frame::text(json!({"op": 7, "d": null}).to_string()))
            .await
            .expect("reconnect");

        // Second connection: the client resumes; the missed message is replayed (a duplicate
        // of one already handled) and a new one follows.
        let (tcp, _) = listener.accept().await.expect("accept again");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("handshake");
        ws.send(Frame::text(
            json!({"op": 10, "d": {"heartbeat_interval": 150}}).to_string(),
        ))
        .await
        .expect("hello");
        let resume = recv_non_heartbeat(&mut ws, &beats_tx).await;
        opened_tx.send(resume).expect("report");
        ws.send(Frame::text(message_create(2, "1300000000000000301", "tell me a joke")))
            .await
            .expect("replay");
        ws.send(Frame::text(message_create(3, "1300000000000000302", "hello")))
            .await
            .expect("message");
        loop {
            let _ = recv_non_heartbeat(&mut ws, &beats_tx).await;
        }
    });

    let (api, calls) = fake_api(vec![(200, json!({"id": "1300000000000000900", "channel_id": CHANNEL}))]).await;
    let app = TestApp::spawn().await;
    add_connector(
        &app,
        "dc",
        "discord",
        APP_ID,
        &["bot_token=FAKE.discord.token", "public_key=ab"],
        &[
            "gateway=on",
            &format!("gateway_url={gateway}"),
            &format!("api_base={api}"),
        ],
    );
    // The running server picks the new connector up and opens its session.

    let identify = within(opened.recv()).await.expect("identify");
    assert_eq!(identify["op"], 2, "{identify}");
    assert_eq!(identify["d"]["token"], "FAKE.discord.token");
    assert_eq!(identify["d"]["intents"], (1 << 9) | (1 << 12) | (1 << 15));
    let beat = within(beats.recv()).await.expect("a heartbeat");
    assert_eq!(beat["op"], 1);

    let resume = within(opened.recv()).await.expect("resume");
    assert_eq!(resume["op"], 6, "{resume}");
    assert_eq!(resume["d"]["session_id"], "sess-1");
    assert_eq!(resume["d"]["seq"], 2);

    let sent = eventually(20, "both replies to be sent", || {
        let calls = calls.clone();
        async move {
            let c = calls.lock().expect("lock").clone();
            (c.len() >= 2).then_some(c)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_after = calls.lock().expect("lock").clone();
    assert_eq!(
        sent_after.len(),
        2,
        "the replayed message is answered once: {sent_after:?}"
    );
    for (path, _) in &sent {
        assert_eq!(path, &format!("/channels/{CHANNEL}/messages"));
    }
    let texts: Vec<&str> = sent.iter().filter_map(|(_, b)| b["content"].as_str()).collect();
    assert!(
        texts.iter().any(|t| t.starts_with("Hello") || t.starts_with("Hi")),
        "{texts:?}"
    );
    app.stop().await;
}
