use crate::helpers::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_in_the_users_language_with_history() {
    let app = TestApp::spawn().await;
    let first = app.say("ana", "hello").await;
    assert_eq!(first["status"], "answered");
    assert_eq!(first["seq"], 1);
    let reply = first["replies"][0]["text"].as_str().expect("text");
    assert!(reply.contains("Hello") || reply.contains("Hi there"), "{reply}");

    let second = app.say("ana", "hola").await;
    assert_eq!(
        second["conversation_id"], first["conversation_id"],
        "one open conversation per user"
    );
    assert!(
        second["replies"][0]["text"]
            .as_str()
            .expect("text")
            .starts_with("¡Hola!"),
        "{second}"
    );

    let german = app.say("ana", "Kannst du mir bitte einen Witz erzählen?").await;
    assert_eq!(
        german["replies"][0]["text"],
        "Was macht ein Pirat am Computer? Er drückt die Enter-Taste."
    );

    let lost = app.say("ana", "xyzzy plugh").await;
    assert!(
        lost["replies"][0]["text"].as_str().expect("text").contains("ich"),
        "German sticks: {lost}"
    );

    let help = app.say("bob", "what can you do?").await;
    let buttons = help["replies"][0]["buttons"].as_array().expect("buttons");
    assert_eq!(
        buttons[0],
        json!({"title": "Tell me a joke", "payload": "tell me a joke"})
    );
    let (status, pressed) = app
        .post("demo", json!({"user": "bob", "payload": "tell me a joke"}))
        .await;
    assert_eq!(status, 200);
    assert!(
        pressed["replies"][0]["text"].as_str().expect("text").len() > 10,
        "{pressed}"
    );

    let conv = first["conversation_id"].as_str().expect("id");
    let history = app.history("demo", conv).await;
    assert_eq!(history.len(), 8);
    let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().expect("seq")).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert_eq!(history[0]["direction"], "in");
    assert_eq!(history[0]["status"], "processed");
    assert_eq!(history[1]["direction"], "out");
    assert_eq!(history[1]["in_reply_to"], first["message_id"]);
    assert_eq!(history[1]["text"], first["replies"][0]["text"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_and_stays_inside_its_tenant() {
    let app = TestApp::spawn().await;
    let mut conv = String::new();
    for i in 0..6 {
        conv = app.say("carol", &format!("hello {i}")).await["conversation_id"]
            .as_str()
            .expect("id")
            .to_owned();
    }
    let token = app.token("demo", "carol").await;
    let path =
        |after: i64, limit: u32| format!("/v1/chat/demo/conversations/{conv}/messages?after={after}&limit={limit}");
    let (status, page) = app.get_with(&path(0, 5), &token).await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(5));
    assert_eq!(page["next_after"], 5);
    let (_, page) = app.get_with(&path(10, 5), &token).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(2));
    assert!(page.get("next_after").is_none(), "last page: {page}");

    for (bad, code) in [
        (path(0, 0), 400),
        (path(0, 100_000), 400),
        (format!("/v1/chat/demo/conversations/{conv}/messages?after=x"), 400),
    ] {
        let (status, body) = app.get_with(&bad, &token).await;
        assert_eq!(status, code, "{bad}: {body}");
        assert!(body["error"]["code"].is_string());
    }
    let path = format!("/v1/chat/other/conversations/{conv}/messages");
    let (status, _) = app.get_with(&path, &token).await;
    assert_eq!(status, 401, "a demo token is no credential for another tenant");
    let (status, _) = app.get_with(&path, &app.token("other", "carol").await).await;
    assert_eq!(status, 404, "another tenant cannot read this conversation");
    let (status, body) = app
        .get_with(
            "/v1/chat/demo/conversations/cnv_00000000000000000000000000000000/messages",
            &token,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_conversation"))
    );
    let (status, _) = app
        .get_with("/v1/chat/demo/conversations/not-an-id/messages", &token)
        .await;
    assert_eq!(status, 404);

    let other = app.post("other", json!({"user": "carol", "text": "hello"})).await;
    assert_eq!(
        other.1["replies"][0]["text"], "Hello from the other tenant",
        "each tenant has its own bot"
    );
    assert_ne!(other.1["conversation_id"], conv.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_message_is_answered_once() {
    let app = TestApp::spawn().await;
    let body = json!({"user": "dan", "text": "tell me a joke", "client_msg_id": "retry-1"});
    let sends = (0..5).map(|_| app.post("demo", body.clone()));
    let answers = futures_util::future::join_all(sends).await;
    let first = &answers[0].1;
    for (status, a) in &answers {
        assert_eq!(*status, 200, "{a}");
        assert_eq!(a["message_id"], first["message_id"]);
        assert_eq!(a["replies"], first["replies"], "a retry gets the same replies");
    }
    assert_eq!(answers.iter().filter(|(_, a)| a["duplicate"] == false).count(), 1);
    let later = app.post("demo", body.clone()).await;
    assert_eq!(
        (later.0, &later.1["duplicate"], &later.1["replies"]),
        (200, &json!(true), &first["replies"])
    );

    let history = app
        .history("demo", first["conversation_id"].as_str().expect("id"))
        .await;
    assert_eq!(history.len(), 2, "one message in, one reply out: {history:?}");

    let (status, conflict) = app
        .post(
            "demo",
            json!({"user": "dan", "text": "something else", "client_msg_id": "retry-1"}),
        )
        .await;
    assert_eq!(
        (status, conflict["error"]["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    let (status, _) = app
        .post(
            "demo",
            json!({"user": "eve", "text": "tell me a joke", "client_msg_id": "retry-1"}),
        )
        .await;
    assert_eq!(status, 200, "client_msg_id is per user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_turn_answers_202_and_the_reply_lands_in_history() {
    let app = TestApp::spawn_with(|c, _| c.chat.reply_wait_ms = 0).await;
    let (status, body) = app.post("demo", json!({"user": "fay", "text": "hello"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");
    assert!(body["replies"].as_array().is_some_and(Vec::is_empty));
    let conv = body["conversation_id"].as_str().expect("id").to_owned();
    let history = eventually(10, "the reply", || async {
        let h = app.history("demo", &conv).await;
        (h.len() == 2).then_some(h)
    })
    .await;
    assert_eq!(history[1]["in_reply_to"], body["message_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_are_handled_in_order_per_conversation() {
    let app = TestApp::spawn().await;
    let mut sends = Vec::new();
    for user in 0..8 {
        for i in 0..12 {
            let app = &app;
            sends.push(async move {
                let text = if i % 2 == 0 { "hello" } else { "tell me a joke" };
                app.post(
                    "demo",
                    json!({"user": format!("u{user}"), "text": text, "client_msg_id": format!("{i}")}),
                )
                .await
            });
        }
    }
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|(s, _)| *s == 200));
    let convs: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(_, a)| a["conversation_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(convs.len(), 8);
    for conv in convs {
        let history = app.history("demo", &conv).await;
        assert_eq!(history.len(), 24);
        let seq_of: std::collections::HashMap<&str, i64> = history
            .iter()
            .map(|m| (m["id"].as_str().expect("id"), m["seq"].as_i64().expect("seq")))
            .collect();
        // Replies come in the order of the messages they answer, each after its message: the
        // turns of one conversation ran one at a time, in arrival order.
        let answered: Vec<i64> = history
            .iter()
            .filter(|m| m["direction"] == "out")
            .map(|m| seq_of[m["in_reply_to"].as_str().expect("in_reply_to")])
            .collect();
        assert!(answered.windows(2).all(|w| w[0] < w[1]), "{answered:?}");
        for m in history.iter().filter(|m| m["direction"] == "out") {
            assert!(m["seq"].as_i64() > Some(seq_of[m["in_reply_to"].as_str().expect("id")]));
        }
    }
}

#[tokio::test]
async fn a_conversation_handed_to_a_person_gets_no_more_bot_replies() {
    let app = TestApp::spawn().await;
    let asked = app.say("handoff-user", "can i speak to a person").await;
    let text = asked["replies"][0]["text"].as_str().expect("text");
    assert!(text.contains("passing you to a person"), "{asked}");
    for message in ["hello", "tell me a joke", "what can you do"] {
        let after = app.say("handoff-user", message).await;
        assert_eq!(after["status"], "answered", "{after}");
        assert_eq!(after["replies"], serde_json::json!([]), "the bot stays silent: {after}");
    }
    // Another user is not affected.
    let other = app.say("someone-else", "hello").await;
    assert!(other["replies"][0]["text"].as_str().is_some(), "{other}");
    app.stop().await;
}
