//! Understanding in the running server and through the `nlu` commands.

use crate::helpers::{TestApp, binary, eventually};
use serde_json::{Value, json};
use std::process::Command;

async fn reply(app: &TestApp, tenant: &str, user: &str, text: &str) -> String {
    let (status, body) = app.post(tenant, json!({"user": user, "text": text})).await;
    assert_eq!(status, 200, "{body}");
    body["replies"][0]["text"].as_str().unwrap_or_default().to_owned()
}

const WEATHER_BOT: &str = r#"
name = "Other"
fallback = ["Other bot fallback"]
[[intent]]
name = "greeting"
examples = ["hello", "hi"]
responses = ["Hello from the other tenant"]
[[intent]]
name = "weather"
examples = ["what is the weather like", "will it rain today", "is it sunny outside", "weather forecast please"]
responses = ["Sunny all week"]
"#;

#[tokio::test]
async fn an_edited_bot_is_retrained_in_the_background_and_a_broken_edit_keeps_the_running_bot() {
    let app = TestApp::spawn_with(|c, _| c.bots.reload_interval_ms = 100).await;
    let file = app.dir.path().join("bot-other/bot.toml");
    assert_eq!(
        reply(&app, "other", "u1", "will it rain today").await,
        "Other bot fallback"
    );

    std::fs::write(&file, WEATHER_BOT).expect("edit the bot");
    let mut n = 0;
    eventually(20, "the edited bot to answer", || {
        n += 1;
        let user = format!("u-{n}");
        let app = &app;
        async move { (reply(app, "other", &user, "will it rain today").await == "Sunny all week").then_some(()) }
    })
    .await;
    // The trained model is cached under the data directory, named by the definition's hash.
    let models: Vec<String> = std::fs::read_dir(app.dir.path().join("data/models"))
        .expect("models folder")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    // Only the current definition's model is kept.
    assert_eq!(
        models.iter().filter(|m| m.starts_with("other-")).count(),
        1,
        "{models:?}"
    );
    assert!(models.iter().any(|m| m.starts_with("demo-")), "{models:?}");

    std::fs::write(&file, "name = \"Other\"\nfallback = [\"{{ broken \"]\n").expect("break the bot");
    eventually(10, "the broken definition to be reported", || {
        let app = &app;
        async move {
            let m = app.metrics().await;
            m.lines()
                .any(|l| l.starts_with("switchboard_bot_reloads_total") && l.contains("result=\"invalid\""))
                .then_some(())
        }
    })
    .await;
    assert_eq!(
        reply(&app, "other", "u-last", "is it sunny outside").await,
        "Sunny all week"
    );
    // The demo tenant was never touched.
    assert!(app.say("u1", "hello").await["replies"][0]["text"].as_str().is_some());
    app.stop().await;
}

fn nlu(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(binary())
        .arg("nlu")
        .args(args)
        .output()
        .expect("run switchboard nlu");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn row(text: &str, intent: &str, split: &str) -> String {
    json!({"text": text, "intent": intent, "split": split}).to_string()
}

#[test]
fn nlu_test_trains_tunes_and_reports_on_a_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("tiny.jsonl");
    let mut rows = Vec::new();
    let intents = [
        (
            "balance",
            [
                "what is my balance",
                "how much money do i have",
                "show my account balance",
                "balance please",
                "check my balance",
                "money left in my account",
            ],
        ),
        (
            "transfer",
            [
                "send money to bob",
                "transfer 20 dollars to alice",
                "make a transfer",
                "wire money to my friend",
                "send cash to mom",
                "transfer funds",
            ],
        ),
        (
            "card_lost",
            [
                "i lost my card",
                "my card was stolen",
                "block my card",
                "card missing",
                "someone took my card",
                "freeze my lost card",
            ],
        ),
    ];
    for (intent, texts) in &intents {
        for t in texts {
            rows.push(row(t, intent, "train"));
        }
    }
    for (text, intent) in [
        ("what's my balance", "balance"),
        ("transfer money to bob", "transfer"),
        ("my card is lost", "card_lost"),
    ] {
        rows.push(row(text, intent, "val"));
        rows.push(row(text, intent, "test"));
    }
    for text in [
        "play some jazz",
        "what's the capital of peru",
        "tell me a joke about cats",
    ] {
        rows.push(row(text, "oos", "val"));
        rows.push(row(text, "oos", "test"));
    }
    std::fs::write(&data, rows.join("\n")).expect("write data");
    let path = data.to_str().expect("utf-8 path");

    let (ok, out, err) = nlu(&["test", "--data", path, "--json"]);
    assert!(ok, "{err}");
    assert!(err.contains("training on 18 rows"), "progress goes to stderr: {err}");
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["intents"], 3);
    assert_eq!(report["test_rows"], 6);
    assert_eq!(report["accuracy"], 1.0, "{report}");
    assert_eq!(report["per_intent"].as_array().map(Vec::len), Some(3));
    assert!(report["in_scope_accuracy"].as_f64().is_some() && report["oos_recall"].as_f64().is_some());
    assert!(report["latency_us_p99"].as_f64().is_some_and(|v| v > 0.0));

    let (ok, out, _) = nlu(&["test", "--data", path]);
    assert!(ok);
    for line in [
        "accuracy (in-scope, no threshold)",
        "macro-F1",
        "out-of-scope recall at threshold",
        "per intent",
    ] {
        assert!(out.contains(line), "{line} missing from\n{out}");
    }

    // Bad input: a clear error, naming the place.
    std::fs::write(&data, format!("{}\nnot json\n", rows[0])).expect("write");
    let (ok, _, err) = nlu(&["test", "--data", path]);
    assert!(!ok && err.contains("line 2"), "{err}");
    let (ok, _, err) = nlu(&["test", "--data", "/nonexistent/data.jsonl"]);
    assert!(!ok && err.contains("/nonexistent/data.jsonl"), "{err}");
}

#[test]
fn nlu_parse_and_train_work_on_the_demo_bot() {
    let (ok, out, err) = nlu(&["parse", "--json", "hola, buenos días"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (v["intent"].as_str(), v["language"].as_str()),
        (Some("greeting"), Some("es")),
        "{v}"
    );

    let (ok, out, err) = nlu(&[
        "parse",
        "--json",
        "--timezone",
        "Asia/Tokyo",
        "book a table for 4 tomorrow at 7pm, mail ana@example.com",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["intent"], "book_table", "{v}");
    let kinds: Vec<&str> = v["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .filter_map(|e| e["entity"].as_str())
        .collect();
    assert_eq!(kinds, ["number", "datetime", "email"], "{v}");
    let when = v["entities"][1]["value"]["value"].as_str().expect("datetime value");
    assert!(when.ends_with("T19:00:00+09:00"), "{when}");
    let (ok, _, err) = nlu(&["parse", "--timezone", "Mars/Base", "hi"]);
    assert!(!ok && err.contains("Mars/Base"), "{err}");

    let (ok, out, _) = nlu(&["parse", "completely unrelated gibberish about quantum tax law"]);
    assert!(ok);
    assert!(out.contains("none: the fallback answers"), "{out}");

    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("demo.model");
    let (ok, out, err) = nlu(&["train", "--out", model.to_str().expect("path")]);
    assert!(ok, "{err}");
    assert!(out.contains("languages en, es, de"), "{out}");
    assert!(std::fs::metadata(&model).expect("model written").len() > 1000);
}
