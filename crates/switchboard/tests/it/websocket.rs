use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to the demo tenant's socket as the query's `user=` (with that user's token).
pub async fn connect(app: &TestApp, query: &str) -> Ws {
    let mut user = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| match p.strip_prefix("user=") {
            Some(u) => {
                user = Some(u.to_owned());
                false
            }
            None => true,
        })
        .collect();
    let url = app
        .ws_url("demo", &user.expect("user= in the query"), &rest.join("&"))
        .await;
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

pub async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time");
        match msg.expect("open").expect("frame") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("json frame"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Frames until (and including) the first one `stop` accepts.
pub async fn frames_until(ws: &mut Ws, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let f = next_frame(ws).await;
        let done = stop(&f);
        out.push(f);
        if done {
            return out;
        }
    }
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into())).await.expect("send");
}

fn is_reply(f: &Value) -> bool {
    f["type"] == "message" && f["direction"] == "out"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_replies_typing_and_receipts_flow_over_the_socket() {
    let app = TestApp::spawn().await;
    let mut ws = connect(&app, "user=wendy").await;
    let ready = next_frame(&mut ws).await;
    assert_eq!(
        ready,
        json!({"type": "ready", "protocol": "switchboard.webchat.v1", "conversation_id": null, "last_seq": 0})
    );

    send(
        &mut ws,
        json!({"type": "message", "client_msg_id": "c1", "text": "what can you do"}),
    )
    .await;
    let frames = frames_until(&mut ws, is_reply).await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().expect("type")).collect();
    let ack = frames.iter().find(|f| f["type"] == "ack").expect("an ack");
    assert_eq!(
        (&ack["client_msg_id"], &ack["seq"], &ack["duplicate"]),
        (&json!("c1"), &json!(1), &json!(false))
    );
    assert!(kinds.contains(&"typing"), "{kinds:?}");
    let receipt = frames.iter().find(|f| f["type"] == "receipt").expect("a receipt");
    assert_eq!((&receipt["id"], &receipt["status"]), (&ack["id"], &json!("read")));
    let echo = frames
        .iter()
        .find(|f| f["type"] == "message" && f["direction"] == "in")
        .expect("own message echoed");
    assert_eq!((&echo["seq"], &echo["text"]), (&json!(1), &json!("what can you do")));
    let reply = frames.last().expect("reply");
    assert_eq!((&reply["seq"], &reply["in_reply_to"]), (&json!(2), &ack["id"]));
    assert_eq!(reply["quick_replies"][1]["payload"], "when are you open");
    assert!(reply["sent_at"].as_str().is_some_and(|s| s.ends_with('Z')));

    send(
        &mut ws,
        json!({"type": "postback", "client_msg_id": "c2", "payload": "when are you open", "title": "Opening hours"}),
    )
    .await;
    let frames = frames_until(&mut ws, is_reply).await;
    assert!(
        frames.last().expect("reply")["text"]
            .as_str()
            .expect("text")
            .contains("Monday")
    );

    send(
        &mut ws,
        json!({"type": "message", "client_msg_id": "c1", "text": "what can you do"}),
    )
    .await;
    let dup = frames_until(&mut ws, |f| f["type"] == "ack").await;
    assert_eq!(
        dup.last().expect("ack")["duplicate"],
        true,
        "a resent frame is not handled twice"
    );

    send(&mut ws, json!({"type": "message", "text": ""})).await;
    let err = frames_until(&mut ws, |f| f["type"] == "error").await;
    assert_eq!(err.last().expect("error")["code"], "empty_text");
    ws.send(Message::Text("{not json".into())).await.expect("send");
    let err = frames_until(&mut ws, |f| f["type"] == "error").await;
    assert_eq!(err.last().expect("error")["code"], "invalid_frame");
    send(&mut ws, json!({"type": "message", "text": "hello"})).await;
    frames_until(&mut ws, is_reply).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reconnects_gets_everything_it_missed() {
    let app = TestApp::spawn().await;
    let mut ws = connect(&app, "user=rick").await;
    next_frame(&mut ws).await;
    send(&mut ws, json!({"type": "message", "text": "hello"})).await;
    let seen = frames_until(&mut ws, is_reply).await;
    let last_seen = seen.last().expect("reply")["seq"].as_i64().expect("seq");
    assert_eq!(last_seen, 2);
    ws.close(None).await.expect("close");

    // While the client is away, the conversation goes on through HTTP.
    app.say("rick", "tell me a joke").await;
    app.say("rick", "thanks").await;

    let mut ws = connect(&app, "user=rick").await;
    let ready = next_frame(&mut ws).await;
    assert_eq!(ready["last_seq"], 6);
    send(
        &mut ws,
        json!({"type": "hello", "protocol": "switchboard.webchat.v1", "resume_after_seq": last_seen}),
    )
    .await;
    let missed = frames_until(&mut ws, |f| f["seq"] == 6).await;
    let seqs: Vec<i64> = missed.iter().filter_map(|f| f["seq"].as_i64()).collect();
    assert_eq!(seqs, [3, 4, 5, 6], "exactly what was missed, in order");
    assert_eq!(missed[0]["text"], "tell me a joke");

    // Resuming through the URL works too, and live messages follow without gaps or repeats.
    let mut ws2 = connect(&app, "user=rick&after=4").await;
    next_frame(&mut ws2).await;
    let replay: Vec<i64> = frames_until(&mut ws2, |f| f["seq"] == 6)
        .await
        .iter()
        .filter_map(|f| f["seq"].as_i64())
        .collect();
    assert_eq!(replay, [5, 6]);
    app.say("rick", "bye").await;
    let live: Vec<i64> = frames_until(&mut ws2, |f| f["seq"] == 8)
        .await
        .iter()
        .filter_map(|f| f["seq"].as_i64())
        .collect();
    assert_eq!(live, [7, 8]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_refuses_bad_requests_before_upgrading() {
    let app = TestApp::spawn().await;
    let unknown = tokio_tungstenite::connect_async(format!("ws://{}/v1/chat/nope/ws?user=x", app.addr)).await;
    match unknown {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 404),
        other => panic!("expected a 404, got {other:?}"),
    }
    // A user id is no credential: without a token the socket is refused.
    let no_token = tokio_tungstenite::connect_async(format!("ws://{}/v1/chat/demo/ws?user=x", app.addr)).await;
    assert!(matches!(no_token, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401));
    let token = app.token("demo", "x").await;
    let (status, body) = app.get_with("/v1/chat/demo/ws", &token).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("not_a_websocket")));
}
