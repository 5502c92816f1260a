//! Replies to platform messages go out through the platforms' APIs (fake ones on loopback).

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use switchboard_core::{Channel, Clock, MessageStatus, TenantId};

type Calls = Arc<Mutex<Vec<(String, Value)>>>;
type Answers = Arc<Mutex<Vec<(u16, Value)>>>;

/// A fake platform API: records every call; answers from `answers` in turn (status, body),
/// repeating the last one.
pub async fn fake_api(answers: Vec<(u16, Value)>) -> (String, Calls) {
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;
    let calls: Calls = Arc::default();
    let state = (calls.clone(), Arc::new(Mutex::new(answers)));
    async fn any(State((calls, answers)): State<(Calls, Answers)>, req: Request) -> axum::response::Response {
        let path = req.uri().path().to_owned();
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        calls.lock().expect("lock").push((path, body));
        let (status, answer) = {
            let mut a = answers.lock().expect("lock");
            if a.len() > 1 { a.remove(0) } else { a[0].clone() }
        };
        let code = axum::http::StatusCode::from_u16(status).expect("status");
        (code, axum::Json(answer)).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = axum::Router::new().fallback(any).with_state(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, calls)
}

pub async fn post(app: &TestApp, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> u16 {
    let mut req = app
        .client
        .post(app.url(path))
        .body(body)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("send").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_replies_are_sent_after_a_rate_limit_and_button_presses_are_answered() {
    let app = TestApp::spawn().await;
    let limited = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}});
    let ok = json!({"ok": true, "result": {"message_id": 777, "chat": {"id": 100000001}, "date": 1767225601}});
    let (api, calls) = fake_api(vec![(429, limited), (200, ok)]).await;
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[&format!("api_base={api}")],
    );
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/tg",
            &secret,
            channel_fixture("telegram/text_message.json")
        )
        .await,
        200
    );

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let reply = eventually(15, "the reply to be sent", || async {
        let conv = store
            .open_conversation(&demo, Channel::Telegram, "tg:100000001")
            .await
            .ok()??;
        let h = store.messages_after(&demo, &conv.id, 0, 10).await.ok()?;
        h.into_iter()
            .find(|m| m.in_reply_to.is_some() && m.status == MessageStatus::Sent)
    })
    .await;
    assert_eq!(
        reply.external_id.as_deref(),
        Some("777"),
        "the platform's id is kept for its statuses"
    );
    let seen = calls.lock().expect("lock").clone();
    let sends: Vec<&(String, Value)> = seen.iter().filter(|(p, _)| p.ends_with("/sendMessage")).collect();
    assert_eq!(sends.len(), 2, "one refused with 429, then sent once: {seen:?}");
    assert_eq!(sends[1].0, "/bot7000000001:FAKE/sendMessage");
    assert_eq!(sends[1].1["chat_id"].to_string().trim_matches('"'), "100000001");
    assert!(
        sends[1].1["text"].as_str().is_some_and(|t| t.contains("Monday")),
        "{:?}",
        sends[1].1
    );

    // A button press: the spinner is stopped (answerCallbackQuery) before the reply.
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/tg",
            &secret,
            channel_fixture("telegram/callback_query.json")
        )
        .await,
        200
    );
    eventually(15, "the answer to the button press", || async {
        let seen = calls.lock().expect("lock").clone();
        let answer = seen.iter().position(|(p, _)| p.ends_with("/answerCallbackQuery"))?;
        assert_eq!(seen[answer].1["callback_query_id"], "4382000000000000001");
        seen[answer..]
            .iter()
            .any(|(p, _)| p.ends_with("/sendMessage"))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_statuses_update_the_reply_and_refusals_are_recorded() {
    let app = TestApp::spawn().await;
    let ok: Value = serde_json::from_slice(&channel_fixture("whatsapp/outbound/response_ok.json")).expect("json");
    let (api, calls) = fake_api(vec![(200, ok)]).await;
    add_connector(
        &app,
        "wa",
        "whatsapp",
        "200000000000002",
        &[
            "access_token=EAAfake",
            "app_secret=fake0meta0app0secret000000000001",
            "verify_token=v",
        ],
        &[&format!("api_base={api}")],
    );
    let sign = meta_signature;
    let text = channel_fixture("whatsapp/text_message.json");
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/wa",
            &[("X-Hub-Signature-256", &sign(&text))],
            text.clone()
        )
        .await,
        200
    );
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let reply_of = || async {
        let conv = store
            .open_conversation(&demo, Channel::Whatsapp, "wa:15557654321")
            .await
            .ok()??;
        let h = store.messages_after(&demo, &conv.id, 0, 10).await.ok()?;
        h.into_iter().find(|m| m.in_reply_to.is_some())
    };
    let sent = eventually(15, "the reply to be sent", || async {
        reply_of().await.filter(|m| m.status == MessageStatus::Sent)
    })
    .await;
    assert!(sent.external_id.as_deref().is_some_and(|id| id.starts_with("wamid.")));
    let call = calls.lock().expect("lock")[0].clone();
    assert_eq!(call.0, "/200000000000002/messages");
    assert_eq!(
        (call.1["messaging_product"].as_str(), call.1["to"].as_str()),
        (Some("whatsapp"), Some("15557654321"))
    );

    let delivered = channel_fixture("whatsapp/status_delivered.json");
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/wa",
            &[("X-Hub-Signature-256", &sign(&delivered))],
            delivered
        )
        .await,
        200
    );
    eventually(10, "the delivered status", || async {
        reply_of().await.filter(|m| m.status == MessageStatus::Delivered)
    })
    .await;
    let read = channel_fixture("whatsapp/status_read.json");
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/wa",
            &[("X-Hub-Signature-256", &sign(&read))],
            read
        )
        .await,
        200
    );
    eventually(10, "the read status", || async {
        reply_of().await.filter(|m| m.status == MessageStatus::Read)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_replies_use_a_client_credentials_token_and_the_activitys_service_url() {
    let app = TestApp::spawn().await;
    let metadata = crate::webhooks::serve_bot_framework_keys().await;
    let token: Value = serde_json::from_slice(&channel_fixture("teams/outbound/token_response.json")).expect("json");
    let created: Value =
        serde_json::from_slice(&channel_fixture("teams/outbound/resource_response.json")).expect("json");
    let (api, calls) = fake_api(vec![(200, token), (200, created)]).await;
    let app_id = "00000000-1111-2222-3333-444444444444";
    add_connector(
        &app,
        "teams",
        "teams",
        app_id,
        &["app_password=FAKE-client-secret"],
        &[
            &format!("openid_metadata_url={metadata}"),
            &format!("token_url={api}/token"),
        ],
    );
    // The activity comes from "our" Bot Connector, whose service URL is the fake API.
    let service = format!("{api}/teams/");
    let body = String::from_utf8(channel_fixture("teams/message_activity.json"))
        .expect("utf-8")
        .replace("https://smba.trafficmanager.net/teams/", &service)
        .into_bytes();
    let auth = format!(
        "Bearer {}",
        crate::webhooks::bot_framework_token(app_id, &service, 3600)
    );
    assert_eq!(
        post(&app, "/v1/webhooks/demo/teams", &[("Authorization", &auth)], body).await,
        200
    );
    let seen = eventually(15, "the reply activity", || async {
        let seen = calls.lock().expect("lock").clone();
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    assert_eq!(seen[0].0, "/token");
    let form = seen[0].1.as_str().expect("form");
    assert!(
        form.contains("grant_type=client_credentials") && form.contains("client_secret=FAKE-client-secret"),
        "{form}"
    );
    assert!(seen[1].0.starts_with("/teams/v3/conversations/"), "{}", seen[1].0);
    assert_eq!(seen[1].1["type"], "message");
    assert!(
        seen[1].1["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{:?}",
        seen[1].1
    );
    let actions = seen[1].1["suggestedActions"]["actions"]
        .as_array()
        .expect("the bot's buttons as suggested actions");
    assert_eq!(actions[0]["type"], "imBack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_refused_because_the_person_blocked_the_bot_ends_the_conversation() {
    let app = TestApp::spawn().await;
    // Telegram answers 403 "bot was blocked by the user", a little slowly, so that the test can
    // see the conversation open before the refusal ends it.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let refuse = move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let body = channel_fixture("telegram/outbound/error_403_blocked.json");
            (axum::http::StatusCode::FORBIDDEN, body)
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(refuse)).await });
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[&format!("api_base={api}")],
    );
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];
    let status = post(
        &app,
        "/v1/webhooks/demo/tg",
        &secret,
        channel_fixture("telegram/text_message.json"),
    )
    .await;
    assert_eq!(status, 200);

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let conversation = eventually(10, "the conversation to open", || async {
        store
            .open_conversation(&demo, Channel::Telegram, "tg:100000001")
            .await
            .ok()?
            .map(|c| c.id)
    })
    .await;
    let reply = eventually(15, "the refused reply to be recorded", || async {
        let history = store.messages_after(&demo, &conversation, 0, 10).await.ok()?;
        history
            .into_iter()
            .find(|m| m.in_reply_to.is_some() && m.status == MessageStatus::Failed)
    })
    .await;
    assert_eq!(reply.status, MessageStatus::Failed);
    // The conversation ended, after one refusal: no retries against a person who blocked the bot.
    // (The reply is marked failed first, the conversation closed just after.)
    let ended = eventually(10, "the conversation to be closed", || async {
        let c = store.conversation(&demo, &conversation).await.ok()??;
        (c.status == switchboard_core::ConversationStatus::Closed).then_some(c)
    })
    .await;
    assert_eq!(ended.status, switchboard_core::ConversationStatus::Closed);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Their next message starts a new conversation.
    let next = String::from_utf8(channel_fixture("telegram/text_message.json"))
        .expect("utf-8")
        .replacen("\"update_id\": ", "\"update_id\": 1", 1);
    assert_eq!(
        post(&app, "/v1/webhooks/demo/tg", &secret, next.into_bytes()).await,
        200
    );
    let fresh = eventually(10, "a new conversation", || async {
        store
            .open_conversation(&demo, Channel::Telegram, "tg:100000001")
            .await
            .ok()?
            .map(|c| c.id)
    })
    .await;
    assert_ne!(fresh, conversation);
}
