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

/// Whether the suite runs on PostgreSQL (`SWITCHBOARD_TEST_STORE=postgres`) rather than on
/// SQLite files in each test's folder.
pub fn on_postgres() -> bool {
    std::env::var("SWITCHBOARD_TEST_STORE").is_ok_and(|s| s.eq_ignore_ascii_case("postgres"))
}

/// The store URL for the data directory `data`: empty (SQLite inside it), or on PostgreSQL a
/// schema of its own, made the first time and kept in a file in the folder so that a restart
/// or a command line call on the same folder finds the same data.
pub fn store_url_for(data: &Path) -> String {
    if !on_postgres() {
        return String::new();
    }
    let file = data.join("test-store-url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return url;
    }
    // Its own runtime on its own thread: callers may be inside a runtime or not.
    let url = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(switchboard_store::postgres::testing::fresh_url())
            .expect("a fresh schema on the local PostgreSQL server")
    })
    .join()
    .expect("schema thread");
    std::fs::create_dir_all(data).expect("data directory");
    std::fs::write(&file, &url).expect("remember the store URL");
    url
}

/// The command line on the data directory `data` and its store, as an operator runs it.
pub fn switchboard_in(data: impl AsRef<Path>) -> std::process::Command {
    let data = data.as_ref();
    let mut cmd = std::process::Command::new(binary());
    cmd.arg("--data-dir").arg(data);
    if on_postgres() {
        cmd.env("SWITCHBOARD__STORE__URL", store_url_for(data));
    }
    cmd
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
    /// Chat tokens of the end users the tests named, per (tenant, user), and the identity
    /// secrets that vouch for them, per tenant.
    chat: std::sync::Mutex<ChatIdentities>,
    /// Held while an identity secret is made, so that concurrent first posts make one.
    making_secret: tokio::sync::Mutex<()>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// What the test servers want to see before they show `/metrics`.
pub const METRICS_TOKEN: &str = "test-metrics-token-0001";

pub fn test_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.store.data_dir = dir.join("data");
    config.store.url = store_url_for(&config.store.data_dir);
    config.store.synchronous = Synchronous::Normal;
    config.demo.bot_dir = demo_bot_dir();
    config.queue.workers = 16;
    config.queue.poll_interval_ms = 100;
    config.reminders.poll_interval_ms = 50;
    config.log.level = "warn".into();
    // The tests' receivers listen on 127.0.0.1.
    config.server.allow_private_targets = true;
    // Tests send from one address as fast as they can, and move clocks by days; the limits and
    // expiry have tests of their own.
    config.chat.requests_per_ip_per_second = 0;
    config.chat.sessions_per_ip_per_minute = 0;
    config.chat.messages_per_user_per_second = 0;
    config.chat.messages_per_tenant_per_second = 0;
    config.chat.identified_session_ttl_s = 10 * 365 * 86_400;
    config.metrics.token = METRICS_TOKEN.into();
    config
}

#[derive(Default)]
struct ChatIdentities {
    secrets: std::collections::HashMap<String, String>,
    tokens: std::collections::HashMap<(String, String), String>,
    /// Who owns each conversation the tests wrote in, to read its history with their token.
    owners: std::collections::HashMap<String, (String, String)>,
}

/// Hex HMAC-SHA256 of `user` under `secret`: how a tenant's backend vouches for its user.
pub fn identity_signature(secret: &str, user: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(user.as_bytes());
    hex::encode(mac.finalize().into_bytes())
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
        switchboard::runtime::tls::init();
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
            chat: Default::default(),
            making_secret: Default::default(),
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

    /// The tenant's identity secret, made with the CLI the first time it is needed (`None`
    /// for a tenant that does not exist).
    pub async fn identity_secret(&self, tenant: &str) -> Option<String> {
        let _making = self.making_secret.lock().await;
        if let Some(s) = self.chat.lock().expect("lock").secrets.get(tenant) {
            return Some(s.clone());
        }
        let data = self.dir.path().join("data");
        let t = tenant.to_owned();
        let out = tokio::task::spawn_blocking(move || {
            switchboard_in(data)
                .args(["tenant", "secret", "--id", &t, "--name", "chat_identity", "--generate"])
                .output()
        })
        .await
        .expect("join")
        .expect("run the CLI");
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("not found") || err.contains("tenant"),
                "tenant secret: {err}"
            );
            return None;
        }
        let secret = String::from_utf8(out.stdout).expect("utf-8").trim().to_owned();
        self.chat
            .lock()
            .expect("lock")
            .secrets
            .insert(tenant.to_owned(), secret.clone());
        Some(secret)
    }

    /// A chat token for `user` of `tenant`, vouched for with the tenant's identity secret.
    pub async fn token(&self, tenant: &str, user: &str) -> String {
        self.try_token(tenant, user)
            .await
            .unwrap_or_else(|| panic!("no chat session for {user} of {tenant}"))
    }

    /// [`TestApp::token`], or `None` where the tenant cannot give one (unknown, suspended).
    pub async fn try_token(&self, tenant: &str, user: &str) -> Option<String> {
        let key = (tenant.to_owned(), user.to_owned());
        if let Some(t) = self.chat.lock().expect("lock").tokens.get(&key) {
            return Some(t.clone());
        }
        let secret = self.identity_secret(tenant).await?;
        let (status, body) = self
            .start_session(
                tenant,
                Some(json!({"identity": {"user": user, "signature": identity_signature(&secret, user)}})),
            )
            .await;
        if status != 201 {
            return None;
        }
        let token = body["token"].as_str().expect("token").to_owned();
        self.chat.lock().expect("lock").tokens.insert(key, token.clone());
        Some(token)
    }

    /// `POST /v1/chat/{tenant}/sessions` with `body` (none: an anonymous visitor).
    pub async fn start_session(&self, tenant: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.post(self.url(&format!("/v1/chat/{tenant}/sessions")));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Posts a chat message as the body's `user` (with that user's token).
    pub async fn post(&self, tenant: &str, body: Value) -> (u16, Value) {
        let user = body["user"].as_str().expect("the body names its user").to_owned();
        // A tenant that gives no session (unknown, suspended) still answers the post itself.
        let token = self.try_token(tenant, &user).await.unwrap_or_default();
        let (status, answer) = self.post_with(tenant, &token, body).await;
        if let Some(conv) = answer["conversation_id"].as_str() {
            self.chat
                .lock()
                .expect("lock")
                .owners
                .insert(conv.to_owned(), (tenant.to_owned(), user));
        }
        (status, answer)
    }

    /// Posts a chat message with `token`.
    pub async fn post_with(&self, tenant: &str, token: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(&format!("/v1/chat/{tenant}/messages")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json body"))
    }

    /// The WebSocket URL of `user` of `tenant` (with the user's token), plus `query`.
    pub async fn ws_url(&self, tenant: &str, user: &str, query: &str) -> String {
        let token = self.token(tenant, user).await;
        let sep = if query.is_empty() { "" } else { "&" };
        format!("ws://{}/v1/chat/{tenant}/ws?token={token}{sep}{query}", self.addr)
    }

    /// The token of whoever wrote in `conversation` through [`TestApp::post`].
    pub async fn owner_token(&self, conversation: &str) -> String {
        let owner = self.chat.lock().expect("lock").owners.get(conversation).cloned();
        let (tenant, user) = match owner {
            Some(o) => o,
            // Written before a restart: the store knows whose it is.
            None => {
                let store =
                    switchboard::app::open_store(&test_config(self.dir.path()), switchboard_core::Clock::System)
                        .await
                        .expect("store");
                let id = switchboard_core::ConversationId::parse(conversation).expect("conversation id");
                let mut found = None;
                for t in store.list_tenants().await.expect("tenants") {
                    if let Some(c) = store.conversation(&t.id, &id).await.expect("read") {
                        found = Some((t.id.to_string(), c.user));
                    }
                }
                store.close();
                found.unwrap_or_else(|| panic!("no conversation {conversation}"))
            }
        };
        self.token(&tenant, &user).await
    }

    /// GET a chat path with `token`.
    pub async fn get_with(&self, path: &str, token: &str) -> (u16, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
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

    /// The whole history of a conversation, read with its owner's token.
    pub async fn history(&self, tenant: &str, conversation: &str) -> Vec<Value> {
        let token = self.owner_token(conversation).await;
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (status, page) = self
                .get_with(
                    &format!("/v1/chat/{tenant}/conversations/{conversation}/messages?after={after}&limit=200"),
                    &token,
                )
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
    let mut cmd = switchboard_in(app.dir.path().join("data"));
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

/// `switchboard tenant secret` with the value on standard input, as an operator would.
pub fn set_tenant_secret(app: &TestApp, tenant: &str, name: &str, value: &str) {
    use std::io::Write as _;
    let mut child = switchboard_in(app.dir.path().join("data"))
        .args(["tenant", "secret", "--id", tenant, "--name", name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the CLI");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{value}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "tenant secret: {}",
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

/// The real binary serving on a port it picked, with what it has logged so far. Killed when
/// dropped.
pub struct Served {
    pub child: std::process::Child,
    pub base: String,
    /// The line announcing the address.
    pub line: String,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cmd serve --listen 127.0.0.1:0`: waits for the address, then keeps reading the log so that
/// the server never blocks on a full pipe.
pub fn serve_binary(mut cmd: std::process::Command) -> Served {
    use std::io::BufRead as _;
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the server");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let (base, line) = loop {
        let line = lines.next().expect("the server prints its address").expect("a line");
        if let Some(rest) = line.strip_prefix("Switchboard listening on ") {
            let base = rest.split_whitespace().next().expect("url").trim_end_matches('/');
            break (base.to_owned(), line.clone());
        }
    };
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(mut log) = sink.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    Served { child, base, line, log }
}
