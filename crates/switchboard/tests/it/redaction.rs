//! A connector's secrets never reach the logs, the queue's `last_error`, the dead letters (a
//! read-scope API key sees them) or a message's metadata: the real binary, its log output
//! captured, sends through a Telegram API that drops the connection and then answers 500 with
//! the token in its error description.

use crate::helpers::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_core::{Channel, Clock, TenantId};

const TOKEN: &str = "7000000001:AAHfakeTOKENsecretPART_x-1";
/// The part of the token after the bot id: what must never show.
const TOKEN_SECRET: &str = "AAHfakeTOKENsecretPART";

/// A broken Telegram API: the first connection is dropped without an answer, the others get a
/// 500 whose description quotes the token, with control characters and a long tail.
async fn broken_telegram() -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                let _ = tcp.read(&mut buf).await;
                if n == 0 {
                    return;
                }
                let description = format!(
                    "Internal error at /bot{TOKEN}/sendMessage\u{1b}[2J\r\nforged line {}",
                    "x".repeat(5000)
                );
                let body = json!({"ok": false, "error_code": 500, "description": description}).to_string();
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
            });
        }
    });
    (base, hits)
}

fn start(data: &std::path::Path) -> Served {
    let mut cmd = switchboard_in(data);
    cmd.env("SWITCHBOARD__DEMO__BOT_DIR", demo_bot_dir())
        .env("SWITCHBOARD__LOG__LEVEL", "warn")
        .env("SWITCHBOARD__SERVER__ALLOW_PRIVATE_TARGETS", "true")
        .env("SWITCHBOARD__DELIVERY__MAX_ATTEMPTS", "3")
        .env("SWITCHBOARD__DELIVERY__BACKOFF_BASE_MS", "400")
        .env("SWITCHBOARD__DELIVERY__BACKOFF_MAX_MS", "800")
        .env("SWITCHBOARD__QUEUE__POLL_INTERVAL_MS", "100");
    serve_binary(cmd)
}

fn cli(data: &std::path::Path, args: &[&str]) -> String {
    let out = tokio::task::block_in_place(|| switchboard_in(data).args(args).output()).expect("run the CLI");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_token_never_reaches_logs_the_queue_or_the_dead_letters() {
    switchboard::runtime::tls::init();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = start(&data);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    // Ready once the store is open and migrated: the CLI opens the same database.
    eventually(30, "the server to be ready", || async {
        let res = client.get(format!("{}/health", server.base)).send().await.ok()?;
        (res.status() == 200).then_some(())
    })
    .await;
    let (api, hits) = broken_telegram().await;
    cli(
        &data,
        &[
            "connector",
            "add",
            "--tenant",
            "demo",
            "--id",
            "tg",
            "--channel",
            "telegram",
            "--account-id",
            "7000000001",
            "--secret",
            &format!("bot_token={TOKEN}"),
            "--secret",
            "webhook_secret=fake_Secret-Token_0001",
            "--setting",
            &format!("api_base={api}"),
        ],
    );
    let reader = cli(
        &data,
        &[
            "apikey", "create", "--tenant", "demo", "--name", "reader", "--scope", "read",
        ],
    );
    let res = client
        .post(format!("{}/v1/webhooks/demo/tg", server.base))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")
        .body(channel_fixture("telegram/text_message.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);

    // Every error the queue records on the way to the dead letter.
    let store = switchboard::app::open_store(&test_config(dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let dead = eventually(40, "the delivery to be dead-lettered", || {
        let (store, demo, seen) = (&store, &demo, seen.clone());
        async move {
            for job in store.pending_jobs(0, 100).await.ok()? {
                if let Some(e) = job.last_error {
                    seen.lock().expect("lock").push(e);
                }
            }
            let dead = store.dead_letters(Some(demo), 10).await.ok()?;
            (!dead.is_empty()).then_some(dead)
        }
    })
    .await;
    assert_eq!(hits.load(Ordering::SeqCst), 3, "three attempts reached the API");
    let seen = seen.lock().expect("lock").clone();
    assert!(!seen.is_empty(), "a retry's error was seen in the queue");
    for e in &seen {
        assert!(!e.contains(TOKEN_SECRET), "jobs.last_error: {e}");
    }
    let last = &dead[0].last_error;
    assert!(!last.contains(TOKEN_SECRET), "dead_letters.last_error: {last}");
    assert!(
        last.contains("bot[redacted]"),
        "the token the platform quoted was there, and replaced: {last}"
    );
    assert!(
        last.chars().count() < 400 && !last.contains('\u{1b}'),
        "a short reason: {last}"
    );

    let res = client
        .get(format!("{}/v1/tenants/demo/dead-letters", server.base))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let listed = res.text().await.expect("body");
    assert!(
        listed.contains("redacted") && !listed.contains(TOKEN_SECRET),
        "{listed}"
    );

    let conv = store
        .open_conversation(&demo, Channel::Telegram, "tg:100000001")
        .await
        .expect("read")
        .expect("conversation");
    let messages = store.messages_after(&demo, &conv.id, 0, 50).await.expect("messages");
    let stored = serde_json::to_string(&messages).expect("json");
    assert!(!stored.contains(TOKEN_SECRET), "{stored}");

    // The reader thread may lag a little behind the server.
    let log = eventually(10, "the dead letter in the log", || async {
        let log = server.log.lock().ok()?.clone();
        log.contains("dead letter").then_some(log)
    })
    .await;
    assert!(!log.contains(TOKEN_SECRET), "{log}");
    store.close();
}
