//! Assessments and feedback through the web chat API: the demo bot's wellbeing check scored
//! into its band and read back with the CLI, invalid answers asked again, cancelling, resuming
//! after a restart and after the context expired, satisfaction asked once after a resolved
//! conversation, and a handed-off conversation left alone.

use crate::helpers::*;
use serde_json::{Value, json};
use switchboard::config::TenantConfig;
use switchboard_core::Clock;
use tempfile::TempDir;

/// 2026-11-20T10:00:00Z.
const START: i64 = 1_795_168_800_000;
const HOUR: i64 = 3_600_000;

fn texts(body: &Value) -> Vec<String> {
    body["replies"]
        .as_array()
        .map(|r| r.iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

async fn press(app: &TestApp, tenant: &str, user: &str, payload: &str) -> Value {
    let (status, body) = app.post(tenant, json!({"user": user, "payload": payload})).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn say_to(app: &TestApp, tenant: &str, user: &str, text: &str) -> Value {
    let (status, body) = app.post(tenant, json!({"user": user, "text": text})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Runs the CLI on the server's data directory and returns each JSON line it printed.
fn cli_json(app: &TestApp, args: &[&str]) -> Vec<Value> {
    let out = tokio::task::block_in_place(|| {
        switchboard_in(app.dir.path().join("data"))
            .args(args)
            .arg("--json")
            .output()
    })
    .expect("run the CLI");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_assessment_is_scored_banded_stored_and_readable_with_the_cli() {
    let app = TestApp::spawn().await;
    let start = app.say("ana", "start the wellbeing check").await;
    assert_eq!(
        texts(&start),
        [
            "A quick wellbeing check: 4 short questions. Say \"cancel\" to stop at any time.",
            "[1/4] How has your mood been this week?"
        ]
    );
    let buttons = &start["replies"][1]["buttons"];
    assert_eq!(buttons[0], json!({"title": "Great", "payload": "great"}), "{start}");
    assert_eq!(buttons.as_array().map(Vec::len), Some(3));

    let energy = press(&app, "demo", "ana", "great").await;
    assert_eq!(
        texts(&energy),
        ["[2/4] How is your energy, from 1 (none) to 5 (plenty)?"]
    );
    assert_eq!(energy["replies"][0]["buttons"].as_array().map(Vec::len), Some(5));

    // Out of range: said why, and the same question again, with its buttons.
    let again = app.say("ana", "7").await;
    assert_eq!(
        texts(&again),
        ["Please answer with a number from 1 to 5.\n[2/4] How is your energy, from 1 (none) to 5 (plenty)?"]
    );
    assert_eq!(again["replies"][0]["buttons"].as_array().map(Vec::len), Some(5));

    let sleep = press(&app, "demo", "ana", "4").await;
    assert_eq!(texts(&sleep), ["[3/4] About how many hours do you sleep a night?"]);
    let not_a_number = app.say("ana", "quite a lot").await;
    assert!(texts(&not_a_number)[0].starts_with("Please answer with a number from 0 to 24.\n[3/4]"));
    let helped = app.say("ana", "8").await;
    assert_eq!(
        texts(&helped),
        ["[4/4] What did you do for yourself this week? (one or more, e.g. 1, 3)"]
    );
    let done = app.say("ana", "exercise and rest").await;
    // great (2) x weight 2 + energy 4 + two activities (1 each) = 10 of 12: "good".
    assert_eq!(
        texts(&done),
        [
            "Your wellbeing score is 10 of 12: you're doing great. Keep it up!",
            "How satisfied are you with this conversation? (1 = not at all, 5 = very)"
        ]
    );
    assert_eq!(
        done["replies"][1]["buttons"][4],
        json!({"title": "5", "payload": "csat:5"})
    );

    // The conversation is back to normal.
    let hello = app.say("ana", "hello").await;
    assert!(
        texts(&hello)[0].starts_with("Hello!") || texts(&hello)[0].starts_with("Hi there"),
        "{hello}"
    );

    let results = cli_json(&app, &["assessment", "results", "--tenant", "demo", "--user", "ana"]);
    assert_eq!(results.len(), 1, "{results:?}");
    let r = &results[0];
    assert_eq!(
        (r["assessment"].as_str(), r["score"].as_f64()),
        (Some("wellbeing"), Some(10.0))
    );
    assert_eq!(r["band"], "good");
    assert_eq!(
        r["answers"],
        json!({"mood": "great", "energy": 4, "sleep": 8, "helped": ["exercise", "rest"]})
    );
    assert!(cli_json(&app, &["assessment", "results", "--tenant", "demo", "--user", "bob"]).is_empty());
    assert!(cli_json(&app, &["assessment", "results", "--tenant", "other"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_leaves_the_assessment_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.say("cid", "start the wellbeing check").await;
    press(&app, "demo", "cid", "okay").await;
    let stopped = app.say("cid", "Cancel").await;
    assert_eq!(texts(&stopped), ["OK, I've stopped the questionnaire."]);
    let joke = app.say("cid", "tell me a joke").await;
    assert!(!texts(&joke)[0].starts_with('['), "normal again: {joke}");
    // Started again, it starts from the beginning.
    let fresh = app.say("cid", "start the wellbeing check").await;
    assert_eq!(texts(&fresh)[1], "[1/4] How has your mood been this week?");
    assert!(cli_json(&app, &["assessment", "results", "--tenant", "demo"]).is_empty());
}

async fn spawn(dir: TempDir, clock: &Clock) -> TestApp {
    TestApp::spawn_clocked(dir, clock.clone(), |_, _| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assessment_survives_restarts_and_resumes_after_the_context_expired() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    app.say("dora", "start the wellbeing check").await;
    press(&app, "demo", "dora", "low").await;

    // A restart: the next answer goes on with the next question.
    let app = spawn(app.stop().await, &clock).await;
    let sleep = app.say("dora", "2").await;
    assert_eq!(texts(&sleep), ["[3/4] About how many hours do you sleep a night?"]);

    // Down for two hours, past the demo's 60-minute context: the flow starts over...
    let dir = app.stop().await;
    clock.advance(2 * HOUR);
    let app = spawn(dir, &clock).await;
    let joke = app.say("dora", "tell me a joke").await;
    assert!(!texts(&joke)[0].starts_with('['), "not an answer any more: {joke}");
    // ...but the answers are kept, and continuing is offered once.
    assert_eq!(
        texts(&joke)[1],
        "You have an unfinished questionnaire (2 of 4 answered). Continue?"
    );
    assert_eq!(
        joke["replies"][1]["buttons"],
        json!([{"title": "Continue", "payload": "/wellbeing_check"}])
    );
    assert_eq!(texts(&app.say("dora", "hello").await).len(), 1, "offered once");
    let back = press(&app, "demo", "dora", "/wellbeing_check").await;
    assert_eq!(
        texts(&back),
        [
            "Welcome back! Let's continue where we left off.",
            "[3/4] About how many hours do you sleep a night?"
        ]
    );
    app.say("dora", "6").await;
    let done = press(&app, "demo", "dora", "nothing").await;
    assert_eq!(
        texts(&done).len(),
        2,
        "the result and the satisfaction question: {done}"
    );
    // low (0) + energy 2 + nothing (0) = 2: "low".
    assert!(texts(&done)[0].starts_with("Your wellbeing score is 2 of 12"), "{done}");
    let results = cli_json(&app, &["assessment", "results", "--tenant", "demo"]);
    assert_eq!((results.len(), results[0]["band"].as_str()), (1, Some("low")));
    assert_eq!(results[0]["answers"]["sleep"], 6);

    // The satisfaction question is still open; a day later "3" is no answer to it.
    clock.advance(24 * HOUR);
    let later = app.say("dora", "3").await;
    assert!(!texts(&later)[0].contains("Anything we could do better"), "{later}");
    assert!(cli_json(&app, &["feedback", "list", "--tenant", "demo"]).is_empty());
}

const SHOP: &str = r#"
name = "Shop"
fallback = ["Sorry?"]
[feedback]
[[intent]]
name = "greeting"
examples = ["hello", "hi", "good morning"]
responses = ["Hello!"]
[[intent]]
name = "goodbye"
resolves = true
examples = ["bye", "goodbye", "see you later"]
responses = ["Goodbye!"]
[[intent]]
name = "human"
handler = "handoff"
examples = ["talk to a person", "i want a human agent"]
"#;

async fn shop() -> TestApp {
    TestApp::spawn_with(|config, dir| {
        config.tenants.push(TenantConfig {
            id: "shop".into(),
            name: "Shop".into(),
            bot_dir: write_bot(dir, "shop", SHOP),
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn satisfaction_is_asked_once_after_a_resolved_conversation_and_recorded() {
    let app = shop().await;
    say_to(&app, "shop", "eve", "hello").await;
    let bye = say_to(&app, "shop", "eve", "bye").await;
    assert_eq!(
        texts(&bye),
        [
            "Goodbye!",
            "How satisfied are you with this conversation? (1 = not at all, 5 = very)"
        ]
    );
    let comment = press(&app, "shop", "eve", "csat:4").await;
    assert_eq!(
        texts(&comment),
        ["Thanks! Anything we could do better? (or say \"skip\")"]
    );
    let thanks = say_to(&app, "shop", "eve", "faster answers please").await;
    assert_eq!(texts(&thanks), ["Thank you for your feedback!"]);

    // Not twice in the same conversation.
    assert_eq!(texts(&say_to(&app, "shop", "eve", "goodbye").await), ["Goodbye!"]);
    // A typed score without an open question is just a message.
    assert_eq!(texts(&say_to(&app, "shop", "eve", "5").await), ["Sorry?"]);
    // A thumb is recorded at any time.
    let thumb = press(&app, "shop", "eve", "thumbs:down").await;
    assert_eq!(texts(&thumb), ["Thank you for your feedback!"]);

    let list = cli_json(&app, &["feedback", "list", "--tenant", "shop"]);
    let got: Vec<(&str, i64, Option<&str>)> = list
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or(""),
                f["score"].as_i64().unwrap_or(-1),
                f["comment"].as_str(),
            )
        })
        .collect();
    assert_eq!(got, [("thumbs", 0, None), ("csat", 4, Some("faster answers please"))]);
    assert_eq!(list[1]["user"], "eve");
    let days = tokio::task::block_in_place(|| {
        switchboard_in(app.dir.path().join("data"))
            .args(["feedback", "days", "--tenant", "shop", "--json"])
            .output()
    })
    .expect("run the CLI");
    let days: Value = serde_json::from_slice(&days.stdout).expect("json");
    assert_eq!(days[0]["csat_count"], 1);
    assert_eq!(days[0]["csat_average"], 4.0);
    assert_eq!(
        (days[0]["thumbs_up"].as_i64(), days[0]["thumbs_down"].as_i64()),
        (Some(0), Some(1))
    );
    assert!(cli_json(&app, &["feedback", "list", "--tenant", "demo"]).is_empty());

    // Skipping the comment also thanks.
    say_to(&app, "shop", "fay", "bye").await;
    press(&app, "shop", "fay", "csat:2").await;
    assert_eq!(
        texts(&say_to(&app, "shop", "fay", "skip").await),
        ["Thank you for your feedback!"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_off_conversation_stays_silent_and_is_not_asked_for_feedback() {
    let app = shop().await;
    let handed = say_to(&app, "shop", "gil", "i want a human agent").await;
    assert_eq!(texts(&handed).len(), 1, "{handed}");
    for (text, payload) in [
        ("bye", None),
        ("hello", None),
        ("", Some("csat:5")),
        ("", Some("thumbs:up")),
    ] {
        let body = match payload {
            Some(p) => press(&app, "shop", "gil", p).await,
            None => say_to(&app, "shop", "gil", text).await,
        };
        assert_eq!(body["replies"], json!([]), "silent: {body}");
    }
    assert!(cli_json(&app, &["feedback", "list", "--tenant", "shop"]).is_empty());

    // The same on the demo bot: an assessment does not start either.
    let demo = TestApp::spawn().await;
    demo.say("hal", "can i speak to a person").await;
    let body = demo.say("hal", "start the wellbeing check").await;
    assert_eq!(body["replies"], json!([]), "silent: {body}");
}
