//! Consent, opt-out and the agent's side of a handoff, through the chat API, the store and the
//! real CLI.

use crate::helpers::*;
use serde_json::{Value, json};
use std::path::Path;
use switchboard::config::{Config, TenantConfig};
use switchboard_core::{Channel, Clock, TenantId};

const CAREFUL_BOT: &str = r#"
name = "Careful"
fallback = ["Sorry?"]

[consent]
required = true
version = "2026-11"
text = ["We keep this chat to help you. OK?"]
accept = ["Yes, fine"]
decline = ["No"]
granted = ["Thanks, go ahead."]
refused = ["Fine, nothing is kept."]

[[intent]]
name = "greeting"
examples = ["hello", "hi", "good morning"]
responses = ["Hello there!"]
"#;

fn with_careful(config: &mut Config, dir: &Path) {
    config.tenants.push(TenantConfig {
        id: "careful".into(),
        name: "Careful".into(),
        bot_dir: write_bot(dir, "careful", CAREFUL_BOT),
    });
}

fn cli(app: &TestApp, args: &[&str]) -> String {
    let out = switchboard_in(app.dir.path().join("data"))
        .args(args)
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn send(app: &TestApp, tenant: &str, user: &str, body: Value) -> Value {
    let mut body = body;
    body["user"] = json!(user);
    let (status, reply) = app.post(tenant, body).await;
    assert_eq!(status, 200, "{reply}");
    reply
}

fn texts(reply: &Value) -> Vec<String> {
    reply["replies"]
        .as_array()
        .map(|r| r.iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn consent_is_asked_first_and_recorded_in_the_ledger() {
    let app = TestApp::spawn_with(with_careful).await;
    let asked = send(&app, "careful", "ann", json!({"text": "hello"})).await;
    assert_eq!(texts(&asked), ["We keep this chat to help you. OK?"]);
    let buttons = &asked["replies"][0]["buttons"];
    assert_eq!(buttons[0]["title"], "Yes, fine", "{asked}");
    // Until consent is given nothing else is answered.
    let again = send(&app, "careful", "ann", json!({"text": "good morning"})).await;
    assert_eq!(texts(&again), ["We keep this chat to help you. OK?"]);

    let payload = buttons[0]["payload"].as_str().expect("payload");
    let granted = send(&app, "careful", "ann", json!({"payload": payload})).await;
    assert_eq!(texts(&granted), ["Thanks, go ahead."]);
    let answered = send(&app, "careful", "ann", json!({"text": "hello"})).await;
    assert_eq!(texts(&answered), ["Hello there!"]);

    let ledger: Vec<Value> = cli(&app, &["consent", "--tenant", "careful"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0]["decision"], "granted");
    assert_eq!(ledger[0]["text_version"], "2026-11");
    assert_eq!(ledger[0]["channel"], "webchat");
    assert_eq!(ledger[0]["text"], "We keep this chat to help you. OK?");
    assert!(ledger[0]["created_at"].as_i64().is_some());
    app.stop().await;
}

#[tokio::test]
async fn a_refusal_keeps_nothing_but_the_ledger_entry_and_silences_the_bot_until_start() {
    let app = TestApp::spawn_with(with_careful).await;
    send(&app, "careful", "bob", json!({"text": "hello, my name is Bob Example"})).await;
    let refused = send(&app, "careful", "bob", json!({"text": "No"})).await;
    assert_eq!(texts(&refused), ["Fine, nothing is kept."]);
    for text in ["hello?", "are you there"] {
        let silent = send(&app, "careful", "bob", json!({"text": text})).await;
        assert_eq!(silent["replies"], json!([]), "{silent}");
    }

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let careful = TenantId::parse("careful").expect("id");
    assert!(
        store
            .open_conversation(&careful, Channel::Webchat, "bob")
            .await
            .expect("read")
            .is_none(),
        "no conversation is kept for a refuser"
    );
    let ledger = store
        .consent_ledger(&careful, Some((Channel::Webchat, "bob")), 10)
        .await
        .expect("ledger");
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].decision, switchboard_store::ConsentDecision::Refused);

    // "start" opens the door again: consent is asked anew.
    let start = send(&app, "careful", "bob", json!({"text": "START"})).await;
    assert_eq!(texts(&start), ["We keep this chat to help you. OK?"]);
    let granted = send(&app, "careful", "bob", json!({"text": "yes"})).await;
    assert_eq!(texts(&granted), ["Thanks, go ahead."]);
    assert_eq!(
        texts(&send(&app, "careful", "bob", json!({"text": "hello"})).await),
        ["Hello there!"]
    );
    let decisions: Vec<_> = store
        .consent_ledger(&careful, Some((Channel::Webchat, "bob")), 10)
        .await
        .expect("ledger")
        .into_iter()
        .map(|e| e.decision.as_str())
        .collect();
    assert_eq!(decisions, ["granted", "opted_in", "refused"]);
    store.close();
    app.stop().await;
}

#[tokio::test]
async fn stop_silences_the_bot_and_start_brings_it_back_in_the_users_language() {
    let app = TestApp::spawn().await;
    assert!(!texts(&app.say("carla", "hello").await).is_empty());
    let stopped = app.say("carla", "STOP").await;
    assert!(texts(&stopped)[0].contains("won't get any more messages"), "{stopped}");
    let conversation = stopped["conversation_id"].as_str().expect("id").to_owned();
    let kept = app.history("demo", &conversation).await.len();
    let silent = app.say("carla", "tell me a joke").await;
    assert_eq!(silent["replies"], json!([]), "{silent}");
    assert_eq!(
        app.history("demo", &conversation).await.len(),
        kept,
        "a message after stop is not kept"
    );
    let started = app.say("carla", "start").await;
    assert!(texts(&started)[0].contains("Welcome back"), "{started}");
    assert!(!texts(&app.say("carla", "tell me a joke").await).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_agent_takes_a_handed_over_conversation_replies_and_hands_it_back() {
    let app = TestApp::spawn().await;
    let asked = app.say("dora", "can i speak to a person").await;
    let conversation = asked["conversation_id"].as_str().expect("id").to_owned();
    let waiting: Vec<Value> = cli(&app, &["handoff", "list", "--tenant", "demo", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["conversation"], conversation.as_str());
    assert_eq!(waiting[0]["handoff"]["status"], "pending");

    cli(
        &app,
        &["handoff", "take", "--tenant", "demo", &conversation, "--agent", "agnes"],
    );
    assert_eq!(app.say("dora", "hello?").await["replies"], json!([]));
    cli(
        &app,
        &[
            "handoff",
            "reply",
            "--tenant",
            "demo",
            &conversation,
            "--agent",
            "agnes",
            "Hi Dora, Agnes here. How can I help?",
        ],
    );
    let history = app.history("demo", &conversation).await;
    let agent = history.last().expect("a message");
    assert_eq!(agent["text"], "Hi Dora, Agnes here. How can I help?", "{agent}");
    assert_eq!(agent["direction"], "out");
    // Still the person's: the bot says nothing.
    assert_eq!(app.say("dora", "thanks agnes").await["replies"], json!([]));

    cli(&app, &["handoff", "release", "--tenant", "demo", &conversation]);
    assert!(
        cli(&app, &["handoff", "list", "--tenant", "demo", "--json"])
            .trim()
            .is_empty(),
        "nothing waits any more"
    );
    let back = app.say("dora", "hello").await;
    assert!(!texts(&back).is_empty(), "the bot answers again: {back}");
    app.stop().await;
}

#[tokio::test]
async fn an_agent_cannot_reply_to_a_conversation_the_bot_owns() {
    let app = TestApp::spawn().await;
    let hello = app.say("eve", "hello").await;
    let conversation = hello["conversation_id"].as_str().expect("id");
    let out = switchboard_in(app.dir.path().join("data"))
        .args([
            "handoff",
            "reply",
            "--tenant",
            "demo",
            conversation,
            "--agent",
            "a",
            "hi",
        ])
        .output()
        .expect("cli");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not handed to a person"));
    app.stop().await;
}
