//! Tenants as a whole over HTTP and the CLI: settings, suspension, quotas, export and deletion
//! (`tenant_access.rs`: CORS and master key rotation).

use crate::api::{PASSWORD, call, create_user, new_key, token_of};
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::{Clock, TenantId};

pub(crate) fn cli(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = tokio::task::block_in_place(|| {
        switchboard_in(app.dir.path().join("data"))
            .args(args)
            .envs(env.iter().copied())
            .output()
    })
    .expect("run the CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) async fn root(app: &TestApp) -> String {
    create_user(app, "root@example.com", "super_admin", None, PASSWORD);
    token_of(app, "root@example.com").await
}

pub(crate) async fn patch(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::PATCH, "/v1/tenants/demo/settings", Some(token), Some(body)).await
}

pub(crate) const TG_SECRET: (&str, &str) = ("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001");
/// No secret header at all (a wrong one would count as `bad_signature`, a figure another test
/// of this process checks exactly).
pub(crate) const UNSIGNED: (&str, &str) = ("X-Unrelated", "x");

pub(crate) fn add_telegram(app: &TestApp) {
    add_connector(
        app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[],
    );
}

pub(crate) async fn telegram(app: &TestApp, secret: (&str, &str), update: Vec<u8>) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/webhooks/demo/tg"))
        .header("content-type", "application/json")
        .header(secret.0, secret.1)
        .body(update)
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A Telegram update with its own update id, so that each counts as a new message.
pub(crate) fn telegram_update(n: u64) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&channel_fixture("telegram/text_message.json")).expect("fixture");
    v["update_id"] = json!(900_000_100 + n);
    v["message"]["message_id"] = json!(100 + n);
    serde_json::to_vec(&v).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_validated_audited_and_override_the_bots_consent() {
    let app = TestApp::spawn().await;
    let root = root(&app).await;
    let (admin, _) = new_key(&app, &root, "demo", &["admin"]).await;
    let (reader, _) = new_key(&app, &root, "demo", &["read"]).await;
    let (status, body) = call(&app, Method::GET, "/v1/tenants/demo/settings", Some(&admin), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["monthly_message_quota"], Value::Null);
    assert_eq!(body["suspended"], false);
    assert_eq!(patch(&app, &reader, json!({"languages": ["en"]})).await.0, 403);
    for (bad, code) in [
        (json!({"time_zone": "Mars/Olympus"}), "bad_time_zone"),
        (json!({"languages": ["English"]}), "bad_languages"),
        (
            json!({"allowed_origins": ["https://shop.example/path"]}),
            "bad_allowed_origins",
        ),
    ] {
        let (status, body) = patch(&app, &admin, bad.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some(code)),
            "{bad}: {body}"
        );
    }
    assert!(patch(&app, &admin, json!({"monthly_message_quota": -1})).await.0 / 100 == 4);
    assert_eq!(patch(&app, &admin, json!({"colour": "red"})).await.0 / 100, 4);

    // The tenant's time zone is the default in which "9am" is meant (the bot says Berlin).
    assert_eq!(patch(&app, &admin, json!({"time_zone": "Asia/Tokyo"})).await.0, 200);
    let said = app.say("hana", "remind me to call mum tomorrow at 9am").await;
    assert_eq!(said["status"], "answered", "{said}");
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let pending = store
        .reminders(&demo, "hana", switchboard_store::ReminderStatus::Pending, 10)
        .await
        .expect("reminders");
    assert_eq!(
        pending.iter().map(|r| r.time_zone.as_str()).collect::<Vec<_>>(),
        ["Asia/Tokyo"]
    );

    let (status, body) = patch(
        &app,
        &admin,
        json!({"time_zone": "Europe/Paris", "languages": ["en", "es"], "consent_required": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["time_zone"], "Europe/Paris");
    assert_eq!(body["languages"], json!(["en", "es"]));
    // An absent field stays; null clears.
    let (_, body) = patch(&app, &admin, json!({"time_zone": null})).await;
    assert_eq!(
        (body["time_zone"].clone(), body["consent_required"].clone()),
        (Value::Null, json!(true))
    );

    let (_, audit) = call(&app, Method::GET, "/v1/tenants/demo/audit", Some(&admin), None).await;
    let entry = audit["data"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "tenant.settings" && e["new_value"]["time_zone"].is_null())
        .unwrap_or_else(|| panic!("audited: {audit}"))
        .clone();
    assert_eq!(entry["old_value"]["time_zone"], "Europe/Paris", "{entry}");

    // The demo bot does not ask for consent; the tenant's setting makes it.
    let said = app.say("carla", "hello").await;
    let buttons = said["replies"][0]["buttons"].as_array().map(Vec::len);
    assert_eq!(buttons, Some(2), "the consent question: {said}");

    // Languages the bot speaks but the tenant does not serve are not detected.
    assert_eq!(patch(&app, &admin, json!({"languages": ["en"]})).await.0, 200);
    let said = app
        .say("diego", "hola, quiero reservar una mesa para mañana por la noche")
        .await;
    let id = said["message_id"].as_str().expect("id");
    let message = store
        .message(&demo, &switchboard_core::MessageId::parse(id).expect("id"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(message.processed.expect("processed").language, "en");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenant_is_refused_on_chat_and_webhooks_but_managed_as_usual() {
    let app = TestApp::spawn().await;
    let root = root(&app).await;
    let (admin, _) = new_key(&app, &root, "demo", &["admin"]).await;
    add_telegram(&app);
    let first = app.say("dora", "hello").await;
    let conv = first["conversation_id"].as_str().expect("id").to_owned();

    let (status, body) = call(&app, Method::POST, "/v1/tenants/demo/suspend", Some(&admin), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "super admins only"
    );
    let (status, body) = call(&app, Method::POST, "/v1/tenants/demo/suspend", Some(&root), None).await;
    assert_eq!((status, body["suspended"].as_bool()), (200, Some(true)), "{body}");

    let (status, body) = app.post("demo", json!({"user": "dora", "text": "hi"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("tenant_suspended")),
        "{body}"
    );
    let (status, body) = app.get(&format!("/v1/chat/demo/conversations/{conv}/messages")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("tenant_suspended"))
    );
    let ws = tokio_tungstenite::connect_async(format!("ws://{}/v1/chat/demo/ws?user=dora", app.addr)).await;
    assert!(
        matches!(ws, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 403),
        "{ws:?}"
    );
    // Webhooks are verified first: a forger learns nothing, a platform hears 403.
    let (status, _) = telegram(&app, UNSIGNED, telegram_update(1)).await;
    assert_eq!(status, 401);
    let (status, body) = telegram(&app, TG_SECRET, telegram_update(1)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("tenant_suspended"))
    );
    // The other tenant and the management API carry on.
    assert_eq!(app.post("other", json!({"user": "x", "text": "hi"})).await.0 / 100, 2);
    let (status, _) = call(&app, Method::GET, "/v1/tenants/demo/conversations", Some(&admin), None).await;
    assert_eq!(status, 200);

    // A turn already queued (written here as another process would) ends without a reply.
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let queued = store
        .accept_inbound(
            &demo,
            switchboard_store::NewInbound {
                id: switchboard_core::MessageId::generate(),
                channel: switchboard_core::Channel::Webchat,
                user: "dora".into(),
                content: switchboard_core::Content::text("hello again"),
                metadata: json!({}),
                external_id: None,
                priority: switchboard_store::Priority::Interactive,
            },
        )
        .await
        .expect("queued");
    let processed = eventually(10, "the queued turn processed", || async {
        let m = store.message(&demo, &queued.message).await.ok()??;
        m.processed
    })
    .await;
    assert_eq!(processed.handler, "suspended");
    assert!(
        store
            .replies_to(&demo, &queued.message)
            .await
            .expect("replies")
            .is_empty()
    );

    let (status, body) = call(&app, Method::POST, "/v1/tenants/demo/resume", Some(&root), None).await;
    assert_eq!((status, body["suspended"].as_bool()), (200, Some(false)));
    assert_eq!(app.post("demo", json!({"user": "dora", "text": "hi"})).await.0, 200);
    let (_, audit) = call(&app, Method::GET, "/v1/tenants/demo/audit", Some(&admin), None).await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"tenant.suspend") && actions.contains(&"tenant.resume"),
        "{actions:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_past_the_monthly_quota_get_429_on_chat_and_are_dropped_from_webhooks() {
    let app = TestApp::spawn().await;
    let root = root(&app).await;
    add_telegram(&app);
    let (status, _) = patch(&app, &root, json!({"monthly_message_quota": 2})).await;
    assert_eq!(status, 200);
    assert_eq!(app.post("demo", json!({"user": "eve", "text": "hello"})).await.0, 200);
    assert_eq!(telegram(&app, TG_SECRET, telegram_update(1)).await.0, 200);
    let res = app
        .client
        .post(app.url("/v1/chat/demo/messages"))
        .bearer_auth(app.token("demo", "eve").await)
        .json(&json!({"user": "eve", "text": "one more"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=31 * 86_400).contains(&retry), "{retry}");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    // The platform is told all is well (it would only retry), the message is not kept.
    assert_eq!(telegram(&app, TG_SECRET, telegram_update(2)).await.0, 200);
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    assert_eq!(
        store
            .monthly_messages(&demo, Clock::System.now_ms())
            .await
            .expect("count"),
        2
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains("over_quota"), "{metrics}");
    // Another tenant has no quota.
    assert_eq!(app.post("other", json!({"user": "eve", "text": "hi"})).await.0 / 100, 2);
    // Lifting the quota lets messages in again.
    patch(&app, &root, json!({"monthly_message_quota": null})).await;
    assert_eq!(app.post("demo", json!({"user": "eve", "text": "hello"})).await.0, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_is_exported_whole_and_deleted_whole() {
    let app = TestApp::spawn().await;
    let root = root(&app).await;
    let (admin, _) = new_key(&app, &root, "demo", &["admin"]).await;
    create_user(&app, "ann@example.com", "admin", Some("demo"), PASSWORD);
    app.say("gus", "hello").await;
    app.say("gus", "remind me to call mum tomorrow at 9am").await;
    app.post("other", json!({"user": "gus", "text": "hello"})).await;

    let res = app
        .client
        .get(app.url("/v1/tenants/demo/export"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let count = |t: &str| lines.iter().filter(|l| l["type"] == t).count();
    assert_eq!(count("tenant"), 1);
    assert!(count("message") >= 4 && count("conversation") == 1, "{text}");
    assert!(
        count("user") == 1 && count("api_key") >= 1 && count("audit") >= 1,
        "{text}"
    );
    assert!(!text.contains("argon2") && !text.contains("\"hash\"") && !text.contains("password_hash"));
    assert!(!text.contains("\"other\""), "nothing of another tenant");
    let (ok, cli_text, err) = cli(&app, &["tenant", "export", "--id", "demo"], &[]);
    assert!(ok, "{err}");
    assert!(cli_text.lines().count() >= lines.len(), "{cli_text}");

    let (status, body) = call(&app, Method::DELETE, "/v1/tenants/demo", Some(&admin), None).await;
    assert_eq!(status, 403, "super admins only: {body}");
    let (status, body) = call(
        &app,
        Method::DELETE,
        "/v1/tenants/demo?confirm=other",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("confirmation_required"))
    );
    let res = app
        .client
        .delete(app.url("/v1/tenants/demo?confirm=demo"))
        .bearer_auth(&root)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 204);
    let (status, body) = call(&app, Method::GET, "/v1/tenants/demo", Some(&root), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_tenant")));
    let (status, body) = app.post("demo", json!({"user": "gus", "text": "hello"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_tenant")));
    assert_eq!(
        call(&app, Method::GET, "/v1/me", Some(&admin), None).await.0,
        401,
        "its keys are gone"
    );
    assert_eq!(app.post("other", json!({"user": "gus", "text": "hi"})).await.0, 200);

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    assert_eq!(store.tenant_row_counts(&demo).await.expect("counts"), Vec::new());
    let audit = store.audit_log(None, 100).await.expect("audit");
    let entry = audit
        .iter()
        .find(|e| e.action == "tenant.delete")
        .expect("the deletion is audited");
    assert_eq!((entry.tenant.as_ref(), entry.target.as_str()), (None, "tenant:demo"));

    // The CLI: `other` goes too, only with --yes.
    let (ok, _, err) = cli(&app, &["tenant", "delete", "--id", "other"], &[]);
    assert!(!ok && err.contains("--yes"), "{err}");
    let (ok, _, err) = cli(&app, &["tenant", "delete", "--id", "other", "--yes"], &[]);
    assert!(ok, "{err}");
    let other = TenantId::parse("other").expect("id");
    assert_eq!(store.tenant_row_counts(&other).await.expect("counts"), Vec::new());
    app.stop().await;
}
