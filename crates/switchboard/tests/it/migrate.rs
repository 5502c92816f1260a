//! `switchboard migrate`: an installation on SQLite, filled through the HTTP API and the CLI,
//! is copied by the real binary into PostgreSQL (twice: the second run changes nothing), and a
//! server started on the same data directory with `--store postgres://…` carries on where the
//! old one stopped: the same chat token continues the same conversation, people log in.
//!
//! Every command names its store with `--store`, so the source is SQLite whichever store the
//! rest of the suite runs on (`SWITCHBOARD_TEST_STORE`).

use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use switchboard_store::migrate::TABLES;

const PASSWORD: &str = "correct horse battery 9";
const BOT_TOKEN: &str = "7000000001:FAKE_migrate_token";

fn switchboard(data: &Path, store: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--data-dir")
        .arg(data)
        .args(["--store", store])
        .env("SWITCHBOARD__DEMO__BOT_DIR", demo_bot_dir())
        .env("SWITCHBOARD__LOG__LEVEL", "warn")
        // The key is the data directory's file, which both servers share.
        .env_remove("SWITCHBOARD_MASTER_KEY");
    cmd
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    tokio::task::block_in_place(|| child.wait_with_output()).expect("wait")
}

fn cli(data: &Path, store: &str, args: &[&str], stdin: &str) -> String {
    let mut cmd = switchboard(data, store);
    cmd.args(args);
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn ready(client: &reqwest::Client, base: &str) {
    eventually(30, "the server to be ready", || async {
        let r = client.get(format!("{base}/health")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn history(client: &reqwest::Client, base: &str, token: &str, conversation: &str) -> Vec<Value> {
    let url = format!("{base}/v1/chat/demo/conversations/{conversation}/messages?limit=200");
    let (status, page) = send(client, reqwest::Method::GET, url, Some(token), None).await;
    assert_eq!(status, 200, "{page}");
    page["messages"].as_array().cloned().unwrap_or_default()
}

/// Stops a server as an operator does (SIGTERM: it finishes what it has and exits).
fn stop(mut served: Served) {
    let pid = served.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(killed.success());
    let status = tokio::task::block_in_place(|| served.child.wait()).expect("wait");
    assert!(status.success(), "the server stopped cleanly: {status}");
}

/// The per-table counts `migrate` printed: table -> (SQLite, PostgreSQL).
fn counts(stdout: &str) -> BTreeMap<String, (u64, u64)> {
    stdout
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [table, a, b] => Some((table.to_owned(), (a.parse().ok()?, b.parse().ok()?))),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_from_sqlite_to_postgres_and_carries_on() {
    switchboard::runtime::tls::init();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let sqlite = format!("sqlite://{}", data.join("switchboard.db").display());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // The old installation, on SQLite.
    let old = tokio::task::block_in_place(|| serve_binary(switchboard(&data, &sqlite)));
    let base = old.base.clone();
    ready(&client, &base).await;
    let password = format!("{PASSWORD}\n");
    for args in [
        &[
            "user",
            "create",
            "--email",
            "root@example.com",
            "--name",
            "Root",
            "--role",
            "super_admin",
        ][..],
        &[
            "user",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana",
            "--role",
            "admin",
            "--tenant",
            "demo",
        ],
    ] {
        cli(&data, &sqlite, args, &password);
    }
    cli(
        &data,
        &sqlite,
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
            &format!("bot_token={BOT_TOKEN}"),
            "--secret",
            "webhook_secret=fake_Secret-Token_0001",
        ],
        "",
    );
    cli(
        &data,
        &sqlite,
        &["tenant", "secret", "--id", "demo", "--name", "form_key"],
        "a tenant secret\n",
    );
    let (status, login) = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/auth/login"),
        None,
        Some(json!({"email": "root@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let root = login["access_token"].as_str().expect("access token").to_owned();
    let (status, key) = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/tenants/demo/api-keys"),
        Some(&root),
        Some(json!({"name": "ci", "scopes": ["admin"]})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let api_key = key["key"].as_str().expect("key").to_owned();
    let (status, body) = send(
        &client,
        reqwest::Method::PATCH,
        format!("{base}/v1/tenants/demo/settings"),
        Some(&api_key),
        Some(json!({"time_zone": "Europe/Madrid"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/tenants/demo/webhooks"),
        Some(&api_key),
        Some(json!({"url": "https://hooks.example.com/switchboard", "events": ["message.received"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // A visitor's conversation.
    let (status, session) = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/chat/demo/sessions"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let chat = session["token"].as_str().expect("chat token").to_owned();
    let mut conversation = String::new();
    for text in ["hello", "tell me a joke", "thanks"] {
        let (status, answer) = send(
            &client,
            reqwest::Method::POST,
            format!("{base}/v1/chat/demo/messages"),
            Some(&chat),
            Some(json!({"text": text})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert!(answer["replies"][0]["text"].is_string(), "{answer}");
        conversation = answer["conversation_id"].as_str().expect("conversation").to_owned();
    }
    let before = history(&client, &base, &chat, &conversation).await;
    assert!(before.len() >= 6, "{before:?}");
    stop(old);

    // The copy, twice.
    let postgres = switchboard_store::postgres::testing::fresh_url()
        .await
        .expect("a fresh schema on the local PostgreSQL server");
    let migrate = || {
        let mut cmd = switchboard(&data, &sqlite);
        cmd.args(["migrate", "--from", &sqlite, "--to", &postgres]);
        run(cmd, "")
    };
    let first = migrate();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&first.stdout).into_owned(),
        String::from_utf8_lossy(&first.stderr).into_owned(),
    );
    assert!(first.status.success(), "{stdout}\n{stderr}");
    let copied = counts(&stdout);
    for table in TABLES {
        let (source, target) = copied
            .get(*table)
            .copied()
            .unwrap_or_else(|| panic!("{table}: {stdout}"));
        assert_eq!(source, target, "{table}: {stdout}");
        // Not a terminal: one line per table once it is copied.
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(table) && l.ends_with(&format!("{source}/{source} copied"))),
            "{table}: {stderr}"
        );
    }
    for (table, n) in [
        ("users", 2),
        ("connectors", 1),
        ("api_keys", 1),
        ("tenant_secrets", 1),
        ("event_endpoints", 1),
        ("tenant_settings", 1),
        ("conversations", 1),
    ] {
        assert_eq!(copied[table].0, n, "{table}: {stdout}");
    }
    assert_eq!(copied["messages"].0, before.len() as u64, "{stdout}");
    assert!(
        copied["refresh_tokens"].0 >= 1 && copied["audit_log"].0 >= 1,
        "{stdout}"
    );
    assert!(stdout.contains("verified"), "{stdout}");
    assert!(stdout.contains("master.key"), "the master key reminder: {stdout}");

    let second = migrate();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(
        counts(&String::from_utf8_lossy(&second.stdout)),
        copied,
        "nothing doubled"
    );

    // The new installation, on PostgreSQL, with the same data directory (and master key).
    let new = tokio::task::block_in_place(|| serve_binary(switchboard(&data, &postgres)));
    let base = new.base.clone();
    ready(&client, &base).await;
    let (status, answer) = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/chat/demo/messages"),
        Some(&chat),
        Some(json!({"text": "hello again"})),
    )
    .await;
    assert_eq!(status, 200, "the old chat token works: {answer}");
    assert_eq!(
        answer["conversation_id"],
        conversation.as_str(),
        "the same conversation"
    );
    assert!(answer["replies"][0]["text"].is_string(), "{answer}");
    let after = history(&client, &base, &chat, &conversation).await;
    assert_eq!(after[..before.len()], before[..], "the old messages, unchanged");
    assert!(
        after[before.len()..]
            .iter()
            .any(|m| m["direction"] == "in" && m["text"] == "hello again"),
        "{after:?}"
    );
    let seqs: Vec<i64> = after.iter().filter_map(|m| m["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "seq carries on: {seqs:?}");

    let (status, body) = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/auth/login"),
        None,
        Some(json!({"email": "ana@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "a person created before logs in: {body}");
    let (status, body) = send(
        &client,
        reqwest::Method::GET,
        format!("{base}/v1/tenants/demo/settings"),
        Some(&api_key),
        None,
    )
    .await;
    assert_eq!(status, 200, "the API key works: {body}");
    assert_eq!(body["time_zone"], "Europe/Madrid", "{body}");
    // Sealed secrets open with the same key.
    let connectors = cli(&data, &postgres, &["connector", "list", "--tenant", "demo"], "");
    assert!(connectors.contains("secrets: bot_token"), "{connectors}");
    drop(new);
}
