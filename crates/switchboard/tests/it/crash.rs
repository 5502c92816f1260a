//! The real binary is killed with SIGKILL while messages stream in, then restarted: every
//! message that got a 200/202 is answered exactly once, and none is lost.

use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

fn start(data: &Path) -> Served {
    let mut cmd = switchboard_in(data);
    cmd.env("SWITCHBOARD__DEMO__BOT_DIR", demo_bot_dir())
        .env("SWITCHBOARD__LOG__LEVEL", "warn")
        // The load comes from one address faster than any person types.
        .env("SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND", "0")
        .env("SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND", "0");
    serve_binary(cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_accepted_message_and_answers_each_once() {
    switchboard::runtime::tls::init();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut server = start(&data);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    // (user, client_msg_id) -> the server's answer, for every request that got 200 or 202.
    let accepted: Arc<Mutex<HashMap<(String, String), Value>>> = Arc::default();
    let url = format!("{}/v1/chat/demo/messages", server.base);
    // Each sender is an anonymous visitor; its token must still work after the restart.
    let mut tokens: HashMap<String, String> = HashMap::new();
    for u in 0..24 {
        let session: Value = client
            .post(format!("{}/v1/chat/demo/sessions", server.base))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        tokens.insert(
            format!("crash-{u}"),
            session["token"].as_str().expect("token").to_owned(),
        );
    }
    let mut senders = Vec::new();
    for u in 0..24 {
        let (client, url, accepted) = (client.clone(), url.clone(), accepted.clone());
        let token = tokens[&format!("crash-{u}")].clone();
        senders.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let (user, id) = (format!("crash-{u}"), format!("m{i}"));
                let text = ["hello", "tell me a joke", "thanks"][i % 3];
                let body = json!({"text": text, "client_msg_id": id});
                match client.post(&url).bearer_auth(&token).json(&body).send().await {
                    Ok(res) if res.status() == 200 || res.status() == 202 => {
                        let answer: Value = res.json().await.unwrap_or(Value::Null);
                        if answer.is_object() {
                            accepted.lock().await.insert((user, id), answer);
                        }
                    }
                    // The server died under us: stop this sender.
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reap");
    for s in senders {
        s.await.expect("sender");
    }
    let accepted = std::mem::take(&mut *accepted.lock().await);
    assert!(
        accepted.len() > 50,
        "the load reached the server before the kill ({} accepted)",
        accepted.len()
    );

    let server = start(&data);
    let base = server.base.clone();
    let conversations: HashMap<String, String> = accepted
        .iter()
        .map(|((user, _), a)| (user.clone(), a["conversation_id"].as_str().expect("id").to_owned()))
        .collect();
    let histories: HashMap<String, Vec<Value>> = eventually(60, "every accepted message to be answered", || {
        let (client, base, conversations, accepted, tokens) = (&client, &base, &conversations, &accepted, &tokens);
        async move {
            let mut out = HashMap::new();
            for (user, conv) in conversations {
                let url = format!("{base}/v1/chat/demo/conversations/{conv}/messages?limit=200");
                let mut all = Vec::new();
                let mut after = 0;
                loop {
                    let page: Value = client
                        .get(format!("{url}&after={after}"))
                        .bearer_auth(&tokens[user])
                        .send()
                        .await
                        .ok()?
                        .json()
                        .await
                        .ok()?;
                    all.extend(page["messages"].as_array()?.iter().cloned());
                    match page["next_after"].as_i64() {
                        Some(n) => after = n,
                        None => break,
                    }
                }
                out.insert(user.clone(), all);
            }
            let replies: HashMap<String, usize> = out
                .values()
                .flat_map(|h| replies_by_inbound(h).into_iter().map(|(k, v)| (k, v.len())))
                .collect();
            // Every accepted message, and every message stored without its answer reaching the
            // client before the kill, gets its reply.
            let all_answered = accepted
                .values()
                .all(|a| replies.contains_key(a["message_id"].as_str().unwrap_or("")))
                && out
                    .values()
                    .flatten()
                    .filter(|m| m["direction"] == "in")
                    .all(|m| replies.contains_key(m["id"].as_str().unwrap_or("")));
            all_answered.then_some(out)
        }
    })
    .await;

    for (user, history) in &histories {
        let replies = replies_by_inbound(history);
        for m in history.iter().filter(|m| m["direction"] == "in") {
            let id = m["id"].as_str().expect("id");
            assert_eq!(
                replies.get(id).map(Vec::len),
                Some(1),
                "{user}: message {id} answered exactly once"
            );
        }
        let seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().expect("seq")).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "{user}: no gaps, no repeats"
        );
    }
    for ((user, _), answer) in &accepted {
        let history = &histories[user];
        let id = answer["message_id"].as_str().expect("id");
        assert_eq!(
            history.iter().filter(|m| m["id"] == id).count(),
            1,
            "accepted message {id} is stored once"
        );
    }

    // Idempotency survives the restart: a retry of an accepted message gets the same answer.
    let ((user, cid), answer) = accepted.iter().next().expect("one");
    let text = histories[user]
        .iter()
        .find(|m| m["id"] == answer["message_id"])
        .expect("stored")["text"]
        .clone();
    let retry: Value = client
        .post(format!("{base}/v1/chat/demo/messages"))
        .bearer_auth(&tokens[user])
        .json(&json!({"text": text, "client_msg_id": cid}))
        .send()
        .await
        .expect("retry")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (&retry["message_id"], &retry["duplicate"]),
        (&answer["message_id"], &json!(true))
    );
}
