//! The baseline for `switchboard loadtest`: a bare axum endpoint with the same route and
//! answer shape as the chat API, doing no work beyond HTTP and JSON. Comparing the two in
//! one run shows what Switchboard's pipeline and durable storage cost on this machine.
//!
//! Any other path answers like a platform API that accepted a message (Telegram, Slack and
//! WhatsApp read their own fields of it), so it also stands in for the platforms when
//! benchmarking deliveries.
//!
//! cargo run --release --example bare_axum -- 127.0.0.1:8090

use axum::extract::Path;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};

static SEQ: AtomicI64 = AtomicI64::new(0);

async fn message(Path(_tenant): Path<String>, Json(body): Json<Value>) -> Json<Value> {
    let user = body["user"].as_str().unwrap_or_default();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
    Json(json!({
        "conversation_id": format!("cnv_{user}"),
        "message_id": format!("msg_{seq}"),
        "seq": seq,
        "status": "answered",
        "duplicate": false,
        "replies": [{"type": "text", "text": "Hello!"}],
    }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare axum listening on http://{addr}/");
    let accepted = || async {
        Json(json!({"ok": true, "result": {"message_id": 1}, "ts": "1.000001", "messages": [{"id": "wamid.bench"}]}))
    };
    let router = Router::new()
        .route("/v1/chat/{tenant}/messages", post(message))
        .fallback(accepted);
    axum::serve(listener, router).await
}
