use crate::helpers::*;
use serde_json::{Value, json};
use switchboard::config::TenantConfig;

/// A bot whose greeting uses a variable nobody sets: rendering fails at every attempt, as a
/// bot author's typo would.
const BROKEN_BOT: &str = r#"
name = "Broken"
fallback = ["fallback"]
[[intent]]
name = "greeting"
examples = ["hello", "hi"]
responses = ["Hello {{ vars.name }}!"]
[[intent]]
name = "joke"
examples = ["tell me a joke"]
responses = ["A joke."]
"#;

fn cli(app_dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = switchboard_in(app_dir.join("data"))
        .args(args)
        .output()
        .expect("run the CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn with_broken_bot(source: String) -> impl FnOnce(&mut switchboard::config::Config, &std::path::Path) {
    move |c, dir| {
        let folder = write_bot(dir, "broken", &source);
        c.tenants.push(TenantConfig {
            id: "broken".into(),
            name: "Broken".into(),
            bot_dir: folder,
        });
        c.queue.max_attempts = 3;
        c.queue.backoff_base_ms = 20;
        c.queue.backoff_max_ms = 100;
        c.chat.reply_wait_ms = 100;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_turns_are_retried_then_dead_lettered_and_replayed_after_a_fix() {
    let app = TestApp::spawn_with(with_broken_bot(BROKEN_BOT.to_owned())).await;
    let (status, first) = app.post("broken", json!({"user": "zoe", "text": "hello"})).await;
    assert_eq!(status, 202, "{first}");
    // The next message of the same conversation waits behind the failing one.
    let (_, second) = app
        .post("broken", json!({"user": "zoe", "text": "tell me a joke"}))
        .await;
    let conv = first["conversation_id"].as_str().expect("id").to_owned();

    let listed: Value = eventually(20, "a dead letter", || async {
        let (ok, out, _) = cli(app.dir.path(), &["dead-letters", "list", "--json"]);
        assert!(ok);
        out.lines().next().map(|l| serde_json::from_str(l).expect("json line"))
    })
    .await;
    assert_eq!(listed["message"], first["message_id"]);
    assert_eq!(listed["tenant"], "broken");
    assert_eq!(listed["attempts"], 3);
    assert!(
        listed["last_error"].as_str().expect("error").contains("undefined"),
        "{listed}"
    );

    let history = eventually(10, "the joke after the dead letter", || async {
        let h = app.history("broken", &conv).await;
        (h.len() == 3).then_some(h)
    })
    .await;
    assert_eq!(history[0]["status"], "failed");
    assert_eq!(
        (&history[2]["text"], &history[2]["in_reply_to"]),
        (&json!("A joke."), &second["message_id"])
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchboard_queue_retries_total{tenant=\"broken\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_dead_letters_total{tenant=\"broken\"}"));
    assert!(metrics.contains("switchboard_dead_letters_pending 1"));
    let (_, table, _) = cli(app.dir.path(), &["dead-letters", "list"]);
    assert!(
        table.contains("broken") && table.contains(first["message_id"].as_str().expect("id")),
        "{table}"
    );

    // The author fixes the bot; the server restarts with it and the dead letter is replayed
    // from the CLI while the server runs.
    let dir = app.stop().await;
    let fixed = BROKEN_BOT.replace("{{ vars.name }}", "there");
    let app = TestApp::spawn_in(dir, with_broken_bot(fixed)).await;
    let id = listed["id"].to_string();
    let (ok, out, err) = cli(app.dir.path(), &["dead-letters", "replay", &id]);
    assert!(ok, "{err}");
    assert!(out.contains("replayed dead letter"), "{out}");
    let history = eventually(10, "the replayed reply", || async {
        let h = app.history("broken", &conv).await;
        (h.len() == 4).then_some(h)
    })
    .await;
    assert_eq!(
        (&history[3]["text"], &history[3]["in_reply_to"]),
        (&json!("Hello there!"), &first["message_id"])
    );
    assert_eq!(history[0]["status"], "processed");
    let (_, out, _) = cli(app.dir.path(), &["dead-letters", "list"]);
    assert!(out.contains("no dead letters"), "{out}");
    let (ok, _, err) = cli(app.dir.path(), &["dead-letters", "replay", &id]);
    assert!(
        !ok && err.contains("not found"),
        "a dead letter is replayed once: {err}"
    );
    let (ok, _, err) = cli(app.dir.path(), &["dead-letters", "replay"]);
    assert!(!ok && err.contains("--all"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_all_puts_every_dead_letter_back() {
    let app = TestApp::spawn_with(with_broken_bot(BROKEN_BOT.to_owned())).await;
    for user in ["a", "b"] {
        app.post("broken", json!({"user": user, "text": "hello"})).await;
    }
    eventually(20, "two dead letters", || async {
        let (_, out, _) = cli(
            app.dir.path(),
            &["dead-letters", "list", "--json", "--tenant", "broken"],
        );
        (out.lines().count() == 2).then_some(())
    })
    .await;
    let (ok, out, _) = cli(
        app.dir.path(),
        &["dead-letters", "replay", "--all", "--tenant", "broken"],
    );
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    // Still broken: they fail again and come back as dead letters.
    eventually(20, "the replays to fail again", || async {
        let (_, out, _) = cli(app.dir.path(), &["dead-letters", "list", "--json"]);
        (out.lines().count() == 2).then_some(())
    })
    .await;
}

/// Stores messages with their jobs while no server runs, as a process that died mid-way leaves them.
async fn leave_pending(dir: &std::path::Path, messages: &[(&str, &str, u32)]) -> Vec<String> {
    use switchboard_store::{NewInbound, Priority, TenantRecord};
    let config = test_config(dir);
    let store = switchboard::app::open_store(&config, switchboard_core::Clock::System)
        .await
        .expect("open");
    let demo = switchboard_core::TenantId::parse("demo").expect("id");
    let record = TenantRecord {
        id: demo.clone(),
        name: "Demo".into(),
        bot_source: String::new(),
        created_at: 0,
        updated_at: 0,
    };
    store.upsert_tenant(&record).await.expect("tenant");
    let mut ids = Vec::new();
    for (user, text, attempts) in messages {
        let inbound = NewInbound {
            id: switchboard_core::MessageId::generate(),
            channel: switchboard_core::Channel::Webchat,
            user: (*user).into(),
            content: switchboard_core::Content::text(*text),
            metadata: json!({}),
            external_id: None,
            priority: Priority::Interactive,
        };
        let job = store
            .accept_inbound(&demo, inbound)
            .await
            .expect("accept")
            .job
            .expect("job");
        if *attempts > 0 {
            store
                .retry_job(&demo, job.id, *attempts, 0, "earlier failures")
                .await
                .expect("retry");
        }
        ids.push(job.message.to_string());
    }
    store.close();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_interrupted_by_crashes_ends_in_the_dead_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two earlier crashes already hit p's first message; q's has never been tried.
    let ids = leave_pending(
        dir.path(),
        &[("p", "hello", 2), ("p", "tell me a joke", 0), ("q", "hello", 0)],
    )
    .await;
    // No clean-shutdown marker: the server starts as after a crash.
    let app = TestApp::spawn_in(dir, |c, _| c.queue.max_attempts = 3).await;
    let (_, listed, _) = cli(app.dir.path(), &["dead-letters", "list", "--json"]);
    let dead: Vec<Value> = listed.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(dead.len(), 1, "{listed}");
    assert_eq!(dead[0]["message"], ids[0].as_str());
    assert!(
        dead[0]["last_error"].as_str().is_some_and(|e| e.contains("stopped")),
        "{listed}"
    );
    // The conversation moves on; the other conversation's turn is charged one attempt and runs.
    for (user, id) in [("p", &ids[1]), ("q", &ids[2])] {
        eventually(10, "the reply", || async {
            let (_, page) = app.post("demo", json!({"user": user, "text": "thanks"})).await;
            let history = app.history("demo", page["conversation_id"].as_str()?).await;
            replies_by_inbound(&history).contains_key(id.as_str()).then_some(())
        })
        .await;
    }

    // After a graceful stop nothing was running: pending turns are not charged.
    let dir = app.stop().await;
    let ids = leave_pending(dir.path(), &[("r", "hello", 2)]).await;
    let app = TestApp::spawn_in(dir, |c, _| c.queue.max_attempts = 3).await;
    let (_, page) = app.post("demo", json!({"user": "r", "text": "thanks"})).await;
    let history = app.history("demo", page["conversation_id"].as_str().expect("id")).await;
    assert!(
        replies_by_inbound(&history).contains_key(ids[0].as_str()),
        "{history:?}"
    );
    let (_, listed, _) = cli(app.dir.path(), &["dead-letters", "list", "--json"]);
    assert_eq!(listed.lines().count(), 1, "only the earlier dead letter: {listed}");
}
