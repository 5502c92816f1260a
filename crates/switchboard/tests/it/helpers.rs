use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard::config::{Config, TenantConfig};
use switchboard_store::Synchronous;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn demo_bot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-bot")
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// A bot definition in its own folder inside `dir`.
pub fn write_bot(dir: &Path, name: &str, source: &str) -> PathBuf {
    let folder = dir.join(format!("bot-{name}"));
    std::fs::create_dir_all(&folder).expect("bot folder");
    std::fs::write(folder.join("bot.toml"), source).expect("bot file");
    folder
}

pub const SECOND_BOT: &str = r#"
name = "Other"
fallback = ["Other bot fallback"]
[[intent]]
name = "greeting"
examples = ["hello", "hi"]
responses = ["Hello from the other tenant"]
"#;

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub dir: TempDir,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// What the test servers want to see before they show `/metrics`.
pub const METRICS_TOKEN: &str = "test-metrics-token-0001";

pub fn test_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.store.data_dir = dir.join("data");
    config.store.synchronous = Synchronous::Normal;
    config.demo.bot_dir = demo_bot_dir();
    config.queue.workers = 16;
    config.queue.poll_interval_ms = 100;
    config.reminders.poll_interval_ms = 50;
    config.log.level = "warn".into();
    // The tests' receivers listen on 127.0.0.1.
    config.server.allow_private_targets = true;
    config.metrics.token = METRICS_TOKEN.into();
    config
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_, _| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config, &Path)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::spawn_in(dir, tweak).await
    }

    /// Starts a server on an existing data directory (to test restarts).
    pub async fn spawn_in(dir: TempDir, tweak: impl FnOnce(&mut Config, &Path)) -> TestApp {
        Self::spawn_clocked(dir, switchboard_core::Clock::System, tweak).await
    }

    /// [`TestApp::spawn_in`] on a clock the test moves (`Clock::manual`).
    pub async fn spawn_clocked(
        dir: TempDir,
        clock: switchboard_core::Clock,
        tweak: impl FnOnce(&mut Config, &Path),
    ) -> TestApp {
        switchboard::tls::init();
        let mut config = test_config(dir.path());
        let second = write_bot(dir.path(), "other", SECOND_BOT);
        config.tenants.push(TenantConfig {
            id: "other".into(),
            name: "Other".into(),
            bot_dir: second,
        });
        tweak(&mut config, dir.path());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(switchboard::app::run_with_clock(config, listener, shutdown, clock));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let app = TestApp {
            addr,
            base: format!("http://{addr}"),
            dir,
            client,
            stop: Some(stop),
            task: Some(task),
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.client.get(format!("{}/health", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            if self.task.as_ref().is_some_and(|t| t.is_finished()) {
                panic!("the server stopped during start-up");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not become ready");
    }

    /// Stops the server gracefully and hands back its data directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran without error");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, tenant: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(&format!("/v1/chat/{tenant}/messages")))
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json body"))
    }

    pub async fn say(&self, user: &str, text: &str) -> Value {
        let (status, body) = self.post("demo", json!({"user": user, "text": text})).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.client.get(self.url(path)).send().await.expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn history(&self, tenant: &str, conversation: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (status, page) = self
                .get(&format!(
                    "/v1/chat/{tenant}/conversations/{conversation}/messages?after={after}&limit=200"
                ))
                .await;
            assert_eq!(status, 200, "{page}");
            let msgs = page["messages"].as_array().cloned().unwrap_or_default();
            all.extend(msgs);
            match page["next_after"].as_i64() {
                Some(n) => after = n,
                None => return all,
            }
        }
    }

    pub async fn metrics(&self) -> String {
        let res = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("metrics");
        assert_eq!(res.status(), 200, "/metrics with the token");
        res.text().await.expect("text")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `check` until it returns `Some`, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Outbound messages of a history, keyed by the inbound message they answer.
pub fn replies_by_inbound(history: &[Value]) -> std::collections::HashMap<String, Vec<Value>> {
    let mut map: std::collections::HashMap<String, Vec<Value>> = Default::default();
    for m in history.iter().filter(|m| m["direction"] == "out") {
        map.entry(m["in_reply_to"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(m.clone());
    }
    map
}

/// Waits until the demo tenant's conversation of `user` on `channel` holds at least `n`
/// messages, and returns them.
pub async fn history_of(
    store: &dyn switchboard_store::Store,
    channel: switchboard_core::Channel,
    user: &str,
    n: usize,
) -> Vec<switchboard_core::Message> {
    let demo = switchboard_core::TenantId::parse("demo").expect("id");
    eventually(10, &format!("{n} messages with {user}"), || async {
        let conv = store.open_conversation(&demo, channel, user).await.ok()??;
        let h = store.messages_after(&demo, &conv.id, 0, 10).await.ok()?;
        (h.len() >= n).then_some(h)
    })
    .await
}

/// Adds a connector to the demo tenant with the real CLI, as an operator would.
pub fn add_connector(app: &TestApp, id: &str, channel: &str, account: &str, secrets: &[&str], settings: &[&str]) {
    let mut cmd = std::process::Command::new(binary());
    cmd.arg("--data-dir").arg(app.dir.path().join("data"));
    cmd.args([
        "connector",
        "add",
        "--tenant",
        "demo",
        "--id",
        id,
        "--channel",
        channel,
        "--account-id",
        account,
    ]);
    for s in secrets {
        cmd.args(["--secret", s]);
    }
    for s in settings {
        cmd.args(["--setting", s]);
    }
    let out = tokio::task::block_in_place(|| cmd.output()).expect("run the CLI");
    assert!(
        out.status.success(),
        "connector add {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file of the channel fixtures (`switchboard-channels/tests/fixtures`).
pub fn channel_fixture(path: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../switchboard-channels/tests/fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The app secret of the test WhatsApp connectors.
pub const META_APP_SECRET: &str = "fake0meta0app0secret000000000001";

/// `X-Hub-Signature-256` of `body` under [`META_APP_SECRET`], as Meta signs webhooks.
pub fn meta_signature(body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(META_APP_SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
