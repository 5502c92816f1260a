//! The web chat page in a real browser: headless Chromium driven over the WebDriver protocol
//! (Debian's chromium and chromium-driver; `scripts/install-test-deps.sh` installs them).

use crate::helpers::*;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find(env: &str, default: &str) -> String {
    let path = std::env::var(env).unwrap_or_else(|_| default.to_owned());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: run scripts/install-test-deps.sh (Debian packages chromium and chromium-driver)"
    );
    path
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        let chromedriver = find("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = find("CHROMIUM", "/usr/bin/chromium");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let root = format!("http://127.0.0.1:{port}");
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                     format!("--user-data-dir={}", profile.path().display())],
        }}}});
        let mut session = None;
        for _ in 0..100 {
            if let Ok(res) = http.post(format!("{root}/session")).json(&caps).send().await {
                let body: Value = res.json().await.expect("session json");
                session = Some(body["value"]["sessionId"].as_str().expect("a session id").to_owned());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let session = session.expect("chromedriver answers");
        Browser {
            driver,
            http,
            base: format!("{root}/session/{session}"),
            _profile: profile,
        }
    }

    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("webdriver");
        let v: Value = res.json().await.expect("webdriver json");
        v["value"].clone()
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url})).await;
    }

    pub(crate) async fn script(&self, js: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": js, "args": []}),
        )
        .await
    }

    pub(crate) async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    pub(crate) async fn type_text(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// The element `css` inside the shadow root of the element `host` (WebDriver's own lookup,
    /// so that clicks and typing go through the browser like a person's).
    pub(crate) async fn shadow_element(&self, host: &str, css: &str) -> String {
        let host = self.element(host).await;
        let root = self
            .call(reqwest::Method::GET, &format!("/element/{host}/shadow"), json!({}))
            .await;
        let root = root["shadow-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no shadow root: {root}"))
            .to_owned();
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("/shadow/{root}/element"),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css} in the shadow root: {v}"))
            .to_owned()
    }

    pub(crate) async fn click_element(&self, id: &str) {
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    pub(crate) async fn type_into(&self, id: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// Saves a screenshot as `<name>.png` in the folder `SWITCHBOARD_SCREENSHOTS` names, to be
    /// looked at by a person; without it, nothing.
    pub(crate) async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("SWITCHBOARD_SCREENSHOTS") else {
            return;
        };
        use base64::Engine as _;
        let shot = self.call(reqwest::Method::GET, "/screenshot", json!({})).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).expect("write the screenshot");
    }

    /// Texts of the bot's (`out`) or the user's (`in`) messages on the page, in order.
    async fn messages(&self, direction: &str) -> Vec<String> {
        let js = format!(
            "return [...document.querySelectorAll('#messages .msg-{direction} .bubble')].map(e => e.textContent)"
        );
        serde_json::from_value(self.script(&js).await).unwrap_or_default()
    }

    async fn wait_for_bot_messages(&self, n: usize) -> Vec<String> {
        eventually(20, &format!("{n} bot messages on the page"), || async {
            let m = self.messages("out").await;
            (m.len() >= n).then_some(m)
        })
        .await
    }
}

async fn wait_connected(browser: &Browser) {
    eventually(20, "the page to connect", || async {
        (browser
            .script("return document.querySelector('#status').textContent")
            .await
            == "connected")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_chats_with_the_demo_bot_in_the_browser() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    // A token the server does not take (a rotated master key, say): the page starts a new session.
    // Planted once the first load has stored its own, which would otherwise overwrite it.
    browser.goto(&format!("{}/", app.base)).await;
    wait_connected(&browser).await;
    browser
        .script(
            "localStorage.setItem('switchboard.demo.session', JSON.stringify({user: 'anon_gone', \
             token: 'swc1.e30.AAAA', expires_at: '2999-01-01T00:00:00Z'}))",
        )
        .await;
    browser.goto(&format!("{}/", app.base)).await;
    wait_connected(&browser).await;

    let session = browser
        .script("return JSON.parse(localStorage.getItem('switchboard.demo.session'))")
        .await;
    assert!(
        session["token"].is_string() && session["user"] != "anon_gone",
        "{session}"
    );

    browser.type_text("#input", "hello").await;
    browser.click("#send").await;
    let bot = browser.wait_for_bot_messages(1).await;
    assert!(bot[0].contains("Hello") || bot[0].contains("Hi there"), "{bot:?}");

    browser.type_text("#input", "what can you do").await;
    browser.click("#send").await;
    browser.wait_for_bot_messages(2).await;
    let buttons: Vec<String> = serde_json::from_value(
        browser
            .script("return [...document.querySelectorAll('.quick-reply')].map(b => b.textContent)")
            .await,
    )
    .unwrap_or_default();
    assert_eq!(buttons, ["Tell me a joke", "Opening hours", "Who are you?"]);
    browser.click(".quick-reply").await;
    let bot = browser.wait_for_bot_messages(3).await;
    assert!(bot[2].len() > 20, "a joke: {bot:?}");
    assert_eq!(
        browser.messages("in").await,
        ["hello", "what can you do", "Tell me a joke"]
    );

    // A reload shows the whole conversation again, from the server.
    browser.goto(&format!("{}/", app.base)).await;
    let again = browser.wait_for_bot_messages(3).await;
    assert_eq!(again, bot);
    assert_eq!(browser.messages("in").await.len(), 3);

    // Rich replies: cards side by side and a list; a card's button sends its payload.
    browser.type_text("#input", "what are today's specials").await;
    browser.click("#send").await;
    let rich = "return [document.querySelectorAll('.rich-card .title').length, \
                document.querySelectorAll('.rich-list .list-item').length]";
    eventually(20, "the cards and the list on the page", || async {
        (browser.script(rich).await == json!([2, 3])).then_some(())
    })
    .await;
    let titles = browser
        .script("return [...document.querySelectorAll('.rich-card .title')].map(e => e.textContent)")
        .await;
    assert_eq!(titles, json!(["Lemon tart", "Iced green tea"]));
    browser.screenshot("page-chat").await;
    browser.click(".rich-card .card-button").await;
    eventually(20, "the card's button to be sent", || async {
        let sent = browser.messages("in").await;
        (sent.last().map(String::as_str) == Some("Book a table")).then_some(())
    })
    .await;

    // An agent closes the conversation: the next message starts a new one, shown below the old.
    let admin = crate::tenants::root(&app).await;
    let (_, convs) = crate::api::call(
        &app,
        reqwest::Method::GET,
        "/v1/tenants/demo/conversations",
        Some(&admin),
        None,
    )
    .await;
    let id = convs["data"][0]["id"].as_str().expect("the conversation");
    let (status, _) = crate::api::call(
        &app,
        reqwest::Method::POST,
        &format!("/v1/tenants/demo/conversations/{id}/close"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    browser.type_text("#input", "hello").await;
    browser.click("#send").await;
    let shown = "return [...document.querySelectorAll('#messages > *')].map(c => c.classList.contains('divider') \
                 ? '--' : c.querySelectorAll('.msg-in').length)";
    eventually(20, "the new conversation below the old one", || async {
        let bot = browser.messages("out").await;
        let greeted = bot
            .last()
            .is_some_and(|b| b.contains("Hello") || b.contains("Hi there"));
        (greeted && browser.script(shown).await == json!([5, "--", 1])).then_some(())
    })
    .await;
    browser.screenshot("page-new-conversation").await;
    browser.call(reqwest::Method::DELETE, "", json!({})).await;
}
