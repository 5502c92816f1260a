//! Knowledge QnA through the real interfaces: the chat API and WebSocket of a running server,
//! the `kb` CLI, and a local OpenAI-compatible server standing in for the language model.

use crate::helpers::*;
use axum::http::{StatusCode, header};
use axum::routing::post;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::config::TenantConfig;
use switchboard_core::{Clock, ConversationId, Direction, TenantId};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const SHOP_BOT: &str = r#"
name = "Shop"
fallback = ["Sorry, I don't know that one."]

[knowledge]
min_score = 1.5

[[intent]]
name = "greeting"
examples = ["hello", "hi", "good morning"]
responses = ["Hello!"]
"#;

fn shop(dir: &Path) -> std::path::PathBuf {
    let bot = write_bot(dir, "shop", SHOP_BOT);
    let kb = bot.join("knowledge");
    std::fs::create_dir_all(&kb).expect("knowledge folder");
    std::fs::write(
        kb.join("returns.md"),
        "# Returns\n\nYou can return any item within 30 days of delivery for a full refund.\n\n\
         ## Damaged items\n\nIf an item arrives damaged, send us a photo and we replace it free of charge.\n",
    )
    .expect("doc");
    std::fs::write(
        kb.join("shipping.html"),
        "<html><head><title>Shipping</title></head><body><h1>Shipping</h1>\
         <p>Orders leave the warehouse within two business days.</p></body></html>",
    )
    .expect("doc");
    bot
}

fn with_shop(config: &mut switchboard::config::Config, dir: &Path) {
    config.tenants.push(TenantConfig {
        id: "shop".into(),
        name: "Shop".into(),
        bot_dir: shop(dir),
    });
}

async fn ask(app: &TestApp, tenant: &str, user: &str, text: &str) -> (String, String) {
    let (status, body) = app.post(tenant, json!({"user": user, "text": text})).await;
    assert_eq!(status, 200, "{body}");
    let reply = body["replies"][0]["text"].as_str().expect("a reply").to_owned();
    (
        reply,
        body["conversation_id"].as_str().expect("conversation").to_owned(),
    )
}

/// The routing reasons recorded with a conversation's inbound messages, in order.
async fn reasons(app: &TestApp, tenant: &str, conversation: &str) -> Vec<(String, String)> {
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let tenant = TenantId::parse(tenant).expect("id");
    let conv = ConversationId::parse(conversation).expect("id");
    let stored = store.messages_after(&tenant, &conv, 0, 100).await.expect("messages");
    stored
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .filter_map(|m| m.processed.clone())
        .map(|p| (p.handler, p.route_reason))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowledge_answers_when_no_intent_is_confident_and_the_fallback_below_its_score() {
    let app = TestApp::spawn_with(with_shop).await;

    let (reply, conv) = ask(&app, "shop", "ana", "How many days do I have to return an item?").await;
    assert_eq!(
        reply,
        "You can return any item within 30 days of delivery for a full refund.\n\n— Returns"
    );
    let (reply, _) = ask(&app, "shop", "ana", "my item arrived damaged, what now?").await;
    assert!(reply.ends_with("— Returns › Damaged items"), "{reply}");
    let (reply, _) = ask(&app, "shop", "ana", "when do orders leave the warehouse").await;
    assert!(
        reply.starts_with("Orders leave the warehouse within two business days."),
        "{reply}"
    );
    // A confident intent comes first; a question the documents do not cover gets the fallback.
    assert_eq!(ask(&app, "shop", "ana", "hello").await.0, "Hello!");
    assert_eq!(
        ask(&app, "shop", "ana", "do you sell purple umbrellas").await.0,
        "Sorry, I don't know that one."
    );

    let reasons = reasons(&app, "shop", &conv).await;
    assert_eq!(reasons[0].0, "knowledge");
    assert!(
        reasons[0].1.starts_with("knowledge: best passage 'Returns' at score "),
        "{:?}",
        reasons[0]
    );
    assert_eq!(reasons[3].0, "small_talk");
    assert_eq!(reasons[4].0, "fallback");
    assert!(reasons[4].1.contains("knowledge: "), "{:?}", reasons[4]);

    // A document added to the folder is indexed by the running server.
    let kb = app.dir.path().join("bot-shop/knowledge");
    std::fs::write(
        kb.join("gift-cards.txt"),
        "Gift cards can be bought in any amount and never expire.",
    )
    .expect("doc");
    // A new user per attempt: fallbacks in a row would hand one user's conversation to a person.
    let attempt = std::sync::atomic::AtomicUsize::new(0);
    eventually(30, "the new document answers", || async {
        let n = attempt.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (reply, _) = ask(&app, "shop", &format!("bob-{n}"), "do gift cards expire?").await;
        reply.contains("never expire").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bot_answers_its_faq_in_english_and_spanish() {
    let app = TestApp::spawn().await;
    let body = app.say("faq-en", "Is there somewhere to park my car?").await;
    let reply = body["replies"][0]["text"].as_str().expect("reply");
    assert!(reply.contains("underground garage"), "{reply}");
    let body = app.say("faq-en", "are gluten free dishes available").await;
    let reply = body["replies"][0]["text"].as_str().expect("reply");
    assert!(reply.contains("Gluten-free"), "{reply}");
    let body = app
        .say("faq-es", "¿Dónde puedo aparcar el coche cerca del restaurante?")
        .await;
    let reply = body["replies"][0]["text"].as_str().expect("reply");
    assert!(reply.contains("garaje"), "{reply}");
}

/// A local OpenAI-compatible server: `/ok/v1` streams a fixed answer, `/fail/v1` answers 500,
/// `/slow/v1` answers after two seconds. Every request body is kept.
struct FakeLlm {
    base: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

const ANSWER: [&str; 4] = ["Parking is free", " in the garage on", " Harbour Street", " [1]."];

async fn fake_llm() -> FakeLlm {
    let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = |requests: Arc<Mutex<Vec<Value>>>, body: Value| {
        if let Ok(mut r) = requests.lock() {
            r.push(body);
        }
    };
    let (r1, r2, r3) = (requests.clone(), requests.clone(), requests.clone());
    let app = axum::Router::new()
        .route(
            "/ok/v1/chat/completions",
            post(move |axum::Json(body): axum::Json<Value>| async move {
                keep(r1, body);
                let mut sse = String::new();
                for delta in ANSWER {
                    let chunk = json!({"choices": [{"index": 0, "delta": {"content": delta}}]});
                    sse.push_str(&format!("data: {chunk}\n\n"));
                }
                let usage = json!({"choices": [], "usage": {"prompt_tokens": 321, "completion_tokens": 12}});
                sse.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
                ([(header::CONTENT_TYPE, "text/event-stream")], sse)
            }),
        )
        .route(
            "/fail/v1/chat/completions",
            post(move |axum::Json(body): axum::Json<Value>| async move {
                keep(r2, body);
                (StatusCode::INTERNAL_SERVER_ERROR, "model crashed")
            }),
        )
        .route(
            "/slow/v1/chat/completions",
            post(move |axum::Json(body): axum::Json<Value>| async move {
                keep(r3, body);
                tokio::time::sleep(Duration::from_secs(2)).await;
                ([(header::CONTENT_TYPE, "text/event-stream")], "data: [DONE]\n\n")
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeLlm {
        base: format!("http://{addr}"),
        requests,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_language_model_the_answer_is_streamed_from_the_passages_and_cites_them() {
    let llm = fake_llm().await;
    let base = format!("{}/ok/v1", llm.base);
    let app = TestApp::spawn_with(|config, _| {
        config.llm.enabled = true;
        config.llm.base_url = base;
        config.llm.model = "test-model".into();
        config.llm.api_key = "sk-test".into();
    })
    .await;

    let url = app.ws_url("demo", "streamer", "").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
    ws.send(WsMessage::Text(
        json!({"type": "message", "client_msg_id": "q1", "text": "Where can guests park their car?"})
            .to_string()
            .into(),
    ))
    .await
    .expect("send");
    let mut deltas = String::new();
    let reply = loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        let WsMessage::Text(t) = frame else { continue };
        let f: Value = serde_json::from_str(t.as_str()).expect("json");
        if f["type"] == "stream" {
            assert!(
                f["in_reply_to"].as_str().is_some_and(|id| id.starts_with("msg_")),
                "{f}"
            );
            deltas.push_str(f["delta"].as_str().expect("delta"));
        }
        if f["type"] == "message" && f["direction"] == "out" {
            break f["text"].as_str().expect("text").to_owned();
        }
    };
    let generated = ANSWER.concat();
    assert_eq!(deltas, generated, "every token streamed, in order");
    assert_eq!(reply, format!("{generated}\n\n[1] Parking and access › Parking"));

    let requests = llm.requests.lock().expect("requests").clone();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (&request["model"], &request["stream"]),
        (&json!("test-model"), &json!(true))
    );
    let system = request["messages"][0]["content"].as_str().expect("system prompt");
    assert!(
        system.contains("[1] Parking and access › Parking\nThere is free parking"),
        "{system}"
    );
    assert!(system.contains("say that you do not know"), "{system}");
    assert_eq!(request["messages"][1]["content"], "Where can guests park their car?");

    // Token usage is kept per tenant and day in the database, and counted in the metrics.
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let usage = store
        .llm_usage(&TenantId::parse("demo").expect("id"), 10)
        .await
        .expect("usage");
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].requests, usage[0].prompt_tokens, usage[0].completion_tokens),
        (1, 321, 12)
    );
    // And readable from the command line while the server runs.
    let out = tokio::task::block_in_place(|| {
        switchboard_in(app.dir.path().join("data").to_str().expect("path"))
            .args(["kb", "usage", "--tenant", "demo", "--json"])
            .output()
            .expect("kb usage")
    });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (
            &rows[0]["requests"],
            &rows[0]["prompt_tokens"],
            &rows[0]["completion_tokens"]
        ),
        (&json!(1), &json!(321), &json!(12)),
        "{rows}"
    );
    let metrics = app.metrics().await;
    for kind in ["prompt", "completion"] {
        assert!(
            metrics.lines().any(|l| l.starts_with("switchboard_llm_tokens_total")
                && l.contains(&format!("kind=\"{kind}\""))
                && l.contains("tenant=\"demo\"")),
            "{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_slow_language_model_falls_back_to_the_best_passage_and_trips_the_breaker() {
    let llm = fake_llm().await;
    let base = format!("{}/fail/v1", llm.base);
    let app = TestApp::spawn_with(|config, dir| {
        with_shop(config, dir);
        config.llm.enabled = true;
        config.llm.base_url = base;
        config.llm.breaker_failures = 2;
        config.llm.breaker_open_ms = 600_000;
    })
    .await;
    let extractive = "You can return any item within 30 days of delivery for a full refund.\n\n— Returns";
    for _ in 0..4 {
        assert_eq!(ask(&app, "shop", "ana", "can I return an item?").await.0, extractive);
    }
    assert_eq!(
        llm.requests.lock().expect("requests").len(),
        2,
        "after two failures in a row the breaker stops calling the model"
    );

    // A model that does not answer in time, and one that cannot be reached.
    let slow = format!("{}/slow/v1", llm.base);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/v1", l.local_addr().expect("addr"))
    };
    for base in [slow, closed] {
        let app = TestApp::spawn_with(|config, dir| {
            with_shop(config, dir);
            config.llm.enabled = true;
            config.llm.base_url = base;
            config.llm.timeout_ms = 300;
        })
        .await;
        assert_eq!(ask(&app, "shop", "ana", "can I return an item?").await.0, extractive);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_talk_is_worded_by_the_model_when_the_bot_allows_it_and_by_the_bot_when_it_fails() {
    let llm = fake_llm().await;
    let chatty = SHOP_BOT.replace(
        "[knowledge]",
        "[small_talk]\nllm = true\npersona = \"A friendly shop assistant.\"\nintents = [\"greeting\"]\n\n[knowledge]",
    );
    for (path, expected) in [("ok", ANSWER.concat()), ("fail", "Hello!".to_owned())] {
        let base = format!("{}/{path}/v1", llm.base);
        let chatty = chatty.clone();
        let app = TestApp::spawn_with(|config, dir| {
            let bot = write_bot(dir, "chatty", &chatty);
            config.tenants.push(TenantConfig {
                id: "chatty".into(),
                name: "Chatty".into(),
                bot_dir: bot,
            });
            config.llm.enabled = true;
            config.llm.base_url = base;
        })
        .await;
        assert_eq!(ask(&app, "chatty", "ana", "hello").await.0, expected);
        app.stop().await;
    }
    let requests = llm.requests.lock().expect("requests");
    assert_eq!(requests.len(), 2, "one call per greeting");
    let system = requests[0]["messages"][0]["content"].as_str().expect("system prompt");
    assert!(system.contains("A suitable reply would be: \"Hello!\""), "{system}");
    assert!(system.contains("A friendly shop assistant."), "{system}");
    assert_eq!(requests[0]["messages"][1]["content"], "hello");
}

fn kb(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let config = dir.join("sb.toml");
    let out = std::process::Command::new(binary())
        .args(["--config", config.to_str().expect("path")])
        .args(["--data-dir", dir.join("data").to_str().expect("path")])
        .arg("kb")
        .args(args)
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_kb_cli_adds_lists_and_searches_a_tenants_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = shop(dir.path());
    std::fs::write(
        dir.path().join("sb.toml"),
        format!(
            "[demo]\nenabled = false\n[[tenants]]\nid = \"shop\"\nname = \"Shop\"\nbot_dir = {:?}\n",
            bot.to_str().expect("path")
        ),
    )
    .expect("config");

    let (ok, out, err) = kb(dir.path(), &["list", "--tenant", "shop", "--json"]);
    assert!(ok, "{err}");
    let docs: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(
        docs[0],
        json!({"source": "returns.md", "title": "Returns", "language": "en", "passages": 2})
    );

    let faq = dir.path().join("warranty.md");
    std::fs::write(
        &faq,
        "# Warranty\n\nEvery appliance has a two-year warranty covering repairs.",
    )
    .expect("doc");
    let (ok, out, err) = kb(dir.path(), &["add", "--tenant", "shop", faq.to_str().expect("path")]);
    assert!(ok, "{err}");
    assert!(out.contains("now has 3 documents"), "{out}");
    assert!(dir.path().join("data/knowledge/shop/docs/warranty.md").exists());

    let (ok, out, err) = kb(
        dir.path(),
        &["search", "--tenant", "shop", "how long is the warranty", "--json"],
    );
    assert!(ok, "{err}");
    let best: Value = serde_json::from_str(out.lines().next().expect("a hit")).expect("json");
    assert_eq!(best["title"], "Warranty");
    assert_eq!(best["source"], "warranty.md");
    assert!(best["score"].as_f64().is_some_and(|s| s > 0.0), "{best}");

    let (ok, out, _) = kb(dir.path(), &["search", "--tenant", "shop", "warranty"]);
    assert!(ok && out.contains("Warranty") && out.contains("two-year"), "{out}");

    // Refused with a reason, and nothing copied: not a document, not UTF-8, unknown tenant.
    let image = dir.path().join("logo.png");
    std::fs::write(&image, [0x89, b'P', b'N', b'G']).expect("file");
    let (ok, _, err) = kb(dir.path(), &["add", "--tenant", "shop", image.to_str().expect("path")]);
    assert!(!ok && err.contains("not a knowledge document"), "{err}");
    let binary = dir.path().join("blob.txt");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("file");
    let (ok, _, err) = kb(dir.path(), &["add", "--tenant", "shop", binary.to_str().expect("path")]);
    assert!(!ok && err.contains("not UTF-8"), "{err}");
    assert!(!dir.path().join("data/knowledge/shop/docs/blob.txt").exists());
    let (ok, _, err) = kb(dir.path(), &["list", "--tenant", "nope"]);
    assert!(!ok && err.contains("unknown tenant"), "{err}");
}
