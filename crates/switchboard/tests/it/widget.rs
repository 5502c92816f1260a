//! The embeddable widget on a customer's site: a page served from another origin than
//! Switchboard with the one `<script>` line, in headless Chromium.

use crate::api::call;
use crate::browser::Browser;
use crate::helpers::*;
use crate::tenants::{patch, root};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// A customer's site: its own origin (another port of 127.0.0.1), serving fixed pages, with a
/// Content-Security-Policy when given one.
pub(crate) struct Site {
    pub(crate) origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn site(pages: Vec<(&str, String)>) -> Site {
    site_with_policy(pages, None).await
}

async fn site_with_policy(pages: Vec<(&str, String)>, csp: Option<String>) -> Site {
    let pages: Arc<HashMap<String, String>> = Arc::new(pages.into_iter().map(|(p, h)| (p.to_owned(), h)).collect());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let pages = pages.clone();
        let csp = csp.clone();
        async move {
            let Some(html) = pages.get(uri.path()) else {
                return axum::http::StatusCode::NOT_FOUND.into_response();
            };
            let mut res = axum::response::Html(html.clone()).into_response();
            if let Some(v) = csp.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert("content-security-policy", v);
            }
            res
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Site { origin, task }
}

use axum::response::IntoResponse as _;

/// A shop page with the widget's one line (and whatever `attrs` adds to it).
pub(crate) fn shop_page(app: &TestApp, attrs: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Shop</title></head>\
         <body style=\"font-family: serif; background: #fffbe8\"><h1>The tea shop</h1><p>Loose leaf since 1921.</p>\
         <script src=\"{}/widget.js\" data-tenant=\"demo\" data-title=\"Tea shop help\"{attrs}></script></body></html>",
        app.base
    )
}

const HOST: &str = "switchboard-chat";

impl Browser {
    /// Runs `js` with `root` bound to the widget's shadow root (null before it exists).
    pub(crate) async fn in_widget(&self, js: &str) -> Value {
        self.script(&format!(
            "const host = document.querySelector('{HOST}'); const root = host && host.shadowRoot; \
             if (!root) return null; {js}"
        ))
        .await
    }

    pub(crate) async fn widget_click(&self, css: &str) {
        let id = self.shadow_element(HOST, css).await;
        self.click_element(&id).await;
    }

    pub(crate) async fn widget_say(&self, text: &str) {
        let id = self.shadow_element(HOST, "textarea").await;
        self.type_into(&id, text).await;
        self.widget_click(".send").await;
    }

    /// Texts of the bot's (`out`) or the person's (`in`) messages in the widget, in order.
    pub(crate) async fn widget_messages(&self, dir: &str) -> Vec<String> {
        let js = format!("return [...root.querySelectorAll('.msg.{dir} .bubble')].map(e => e.textContent)");
        serde_json::from_value(self.in_widget(&js).await).unwrap_or_default()
    }

    pub(crate) async fn widget_wait_bot(&self, n: usize) -> Vec<String> {
        eventually(20, &format!("{n} bot messages in the widget"), || async {
            let m = self.widget_messages("out").await;
            (m.len() >= n).then_some(m)
        })
        .await
    }

    /// The unread badge's text, or `None` while it is hidden.
    pub(crate) async fn badge(&self) -> Option<String> {
        self.in_widget("const b = root.querySelector('.badge'); return b.hidden ? null : b.textContent")
            .await
            .as_str()
            .map(str::to_owned)
    }

    pub(crate) async fn panel_open(&self) -> bool {
        self.in_widget("return !root.querySelector('.panel').hidden").await == json!(true)
    }

    pub(crate) async fn stored_session(&self) -> Value {
        let raw = self
            .script("return localStorage.getItem('switchboard.demo.session')")
            .await;
        raw.as_str()
            .map(|s| serde_json::from_str(s).expect("a JSON session"))
            .unwrap_or(Value::Null)
    }

    pub(crate) async fn wait_widget(&self) {
        eventually(20, "the widget's launcher", || async {
            (self.in_widget("return !!root.querySelector('.launcher')").await == json!(true)).then_some(())
        })
        .await;
    }
}

pub(crate) async fn allow(app: &TestApp, admin: &str, origins: &[&str]) {
    let (status, body) = patch(app, admin, json!({ "allowed_origins": origins })).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_chats_from_another_site_counts_unread_and_resumes_after_a_reload() {
    let app = TestApp::spawn().await;
    let admin = root(&app).await;
    // A strict site: no inline style or script at all, Switchboard allowed by name. The widget
    // needs nothing more.
    let policy = format!(
        "default-src 'none'; script-src {base}; connect-src {base} ws://{addr}; img-src https:",
        base = app.base,
        addr = app.addr
    );
    let shop = site_with_policy(
        vec![
            ("/", shop_page(&app, "")),
            ("/plain", "<!doctype html><p>No chat here</p>".into()),
        ],
        Some(policy),
    )
    .await;
    allow(&app, &admin, &[&shop.origin]).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", shop.origin)).await;
    browser.wait_widget().await;
    assert!(!browser.panel_open().await);
    let styled = browser
        .in_widget("return getComputedStyle(root.querySelector('.launcher')).position")
        .await;
    assert_eq!(styled, "fixed", "the widget's styles apply under the site's policy");
    assert_eq!(
        browser.stored_session().await,
        Value::Null,
        "a visitor who never opens the chat costs no session"
    );
    browser.screenshot("widget-1-closed").await;

    browser.widget_click(".launcher").await;
    assert!(browser.panel_open().await);
    browser.widget_say("hello").await;
    let bot = browser.widget_wait_bot(1).await;
    assert!(bot[0].contains("Hello") || bot[0].contains("Hi there"), "{bot:?}");
    let title = browser
        .in_widget("return root.querySelector('.title').textContent")
        .await;
    assert_eq!(title, "Tea shop help");
    browser.widget_say("what can you do").await;
    browser.widget_wait_bot(2).await;
    let buttons = browser
        .in_widget("return [...root.querySelectorAll('.quick-reply')].map(b => b.textContent)")
        .await;
    assert_eq!(buttons, json!(["Tell me a joke", "Opening hours", "Who are you?"]));
    browser.screenshot("widget-2-open").await;

    // Closed, a reply arrives (the same visitor writes from another tab): the launcher counts it.
    browser.widget_click(".close").await;
    assert!(!browser.panel_open().await);
    assert_eq!(browser.badge().await, None);
    let session = browser.stored_session().await;
    let token = session["token"].as_str().expect("a stored token").to_owned();
    let res = app
        .client
        .post(app.url("/v1/chat/demo/messages"))
        .bearer_auth(&token)
        .json(&json!({"text": "what are your opening hours"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 200);
    eventually(20, "the unread badge", || async {
        (browser.badge().await.as_deref() == Some("1")).then_some(())
    })
    .await;
    browser.screenshot("widget-3-unread").await;

    // A reload keeps the visitor: still unread, and the whole conversation once opened.
    browser.goto(&format!("{}/", shop.origin)).await;
    browser.wait_widget().await;
    eventually(20, "the unread badge after the reload", || async {
        (browser.badge().await.as_deref() == Some("1")).then_some(())
    })
    .await;
    browser.widget_click(".launcher").await;
    let again = browser.widget_wait_bot(3).await;
    assert_eq!(again.len(), 3, "{again:?}");
    assert_eq!(
        browser.widget_messages("in").await,
        ["hello", "what can you do", "what are your opening hours"]
    );
    assert_eq!(browser.badge().await, None, "opening the panel reads everything");
    assert_eq!(browser.stored_session().await["user"], session["user"]);

    // Quick replies and rich replies work in the widget.
    browser.widget_say("what are today's specials").await;
    eventually(20, "the cards and the list", || async {
        let n = browser
            .in_widget(
                "return [root.querySelectorAll('.card .card-title').length, \
                 root.querySelectorAll('.rich-list .list-item').length]",
            )
            .await;
        (n == json!([2, 3])).then_some(())
    })
    .await;
    browser.screenshot("widget-4-rich").await;
    browser.widget_click(".card .card-button").await;
    eventually(20, "the card's button to be sent", || async {
        let sent = browser.widget_messages("in").await;
        (sent.last().map(String::as_str) == Some("Book a table")).then_some(())
    })
    .await;

    // A token the server no longer takes (the master key was rotated, say): the widget starts
    // over as a new visitor instead of failing. The panel was open, so it opens again. (The token
    // is planted from a page without the widget, which would otherwise write its own back.)
    browser.goto(&format!("{}/plain", shop.origin)).await;
    browser
        .script(
            "localStorage.setItem('switchboard.demo.session', JSON.stringify({user: 'anon_gone', \
             token: 'swc1.e30.AAAA', expires_at: '2999-01-01T00:00:00Z', identified: false, seen: 9}))",
        )
        .await;
    browser.goto(&format!("{}/", shop.origin)).await;
    browser.wait_widget().await;
    assert!(browser.panel_open().await);
    let renewed = eventually(20, "a new session", || async {
        let s = browser.stored_session().await;
        (s["token"].is_string() && s["user"] != "anon_gone").then_some(s)
    })
    .await;
    assert_ne!(renewed["user"], session["user"]);
    browser.widget_say("hello").await;
    browser.widget_wait_bot(1).await;
    assert_eq!(browser.widget_messages("in").await, ["hello"]);

    // On a phone-sized screen the open panel takes the whole width.
    browser
        .call(Method::POST, "/window/rect", json!({"width": 390, "height": 800}))
        .await;
    let fits = browser
        .in_widget("return Math.round(root.querySelector('.panel').getBoundingClientRect().width) === innerWidth")
        .await;
    assert_eq!(fits, true);
    browser.screenshot("widget-7-phone").await;
    browser.call(Method::DELETE, "", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_the_tenant_did_not_allow_gets_no_chat_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let admin = root(&app).await;
    let allowed = site(vec![("/", shop_page(&app, ""))]).await;
    let other = site(vec![("/", shop_page(&app, ""))]).await;
    allow(&app, &admin, &[&allowed.origin]).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", other.origin)).await;
    browser.wait_widget().await;
    browser.widget_click(".launcher").await;
    eventually(20, "the unavailable state", || async {
        (browser
            .in_widget("return !root.querySelector('.unavailable').hidden")
            .await
            == json!(true))
        .then_some(())
    })
    .await;
    let why = browser
        .in_widget("return root.querySelector('.unavailable').textContent")
        .await;
    assert!(why.as_str().unwrap_or_default().contains("not allowed"), "{why}");
    assert_eq!(
        browser
            .in_widget("return root.querySelector('textarea').disabled")
            .await,
        json!(true)
    );
    browser.screenshot("widget-5-not-allowed").await;
    assert_eq!(browser.stored_session().await, Value::Null);

    // Nothing reached the tenant: no conversation was opened.
    let (status, convs) = call(&app, Method::GET, "/v1/tenants/demo/conversations", Some(&admin), None).await;
    assert_eq!(status, 200, "{convs}");
    assert_eq!(convs["data"].as_array().map(Vec::len), Some(0), "{convs}");
    browser.call(Method::DELETE, "", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_closed_by_an_agent_goes_on_in_a_new_one_below_it() {
    let app = TestApp::spawn().await;
    let admin = root(&app).await;
    let shop = site(vec![("/", shop_page(&app, ""))]).await;
    allow(&app, &admin, &[&shop.origin]).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", shop.origin)).await;
    browser.wait_widget().await;
    browser.widget_click(".launcher").await;
    browser.widget_say("hello").await;
    browser.widget_wait_bot(1).await;

    let (status, convs) = call(&app, Method::GET, "/v1/tenants/demo/conversations", Some(&admin), None).await;
    assert_eq!(status, 200, "{convs}");
    let id = convs["data"][0]["id"].as_str().expect("the conversation").to_owned();
    let path = format!("/v1/tenants/demo/conversations/{id}/close");
    let (status, closed) = call(&app, Method::POST, &path, Some(&admin), None).await;
    assert_eq!((status, closed), (200, json!({"closed": true})));

    // Its seq starts again from 1: the new conversation goes below the old one, not into it.
    browser.widget_say("what can you do").await;
    browser.widget_wait_bot(2).await;
    let shown = browser
        .in_widget(
            "return [...root.querySelectorAll('.messages > *')].map(c => c.classList.contains('divider') \
             ? '--' : [...c.querySelectorAll('.msg.in .bubble')].map(b => b.textContent).join('|'))",
        )
        .await;
    assert_eq!(shown, json!(["hello", "--", "what can you do"]));
    browser.screenshot("widget-8-new-conversation").await;

    // A reload shows the open conversation.
    browser.goto(&format!("{}/", shop.origin)).await;
    browser.wait_widget().await;
    eventually(20, "the open conversation after the reload", || async {
        (browser.widget_messages("in").await == ["what can you do"]).then_some(())
    })
    .await;
    browser.call(Method::DELETE, "", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_are_one_visitor_and_what_is_read_in_one_is_read_in_both() {
    let app = TestApp::spawn().await;
    let admin = root(&app).await;
    let shop = site(vec![("/", shop_page(&app, ""))]).await;
    allow(&app, &admin, &[&shop.origin]).await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/", shop.origin)).await;
    browser.wait_widget().await;
    browser.widget_click(".launcher").await;
    browser.widget_say("hello").await;
    browser.widget_wait_bot(1).await;
    browser.widget_click(".close").await;
    let first = browser.call(Method::GET, "/window", json!({})).await;
    let token = browser.stored_session().await["token"]
        .as_str()
        .expect("a token")
        .to_owned();

    let second = browser.call(Method::POST, "/window/new", json!({"type": "tab"})).await;
    let switch = |handle: &Value| browser.call(Method::POST, "/window", json!({"handle": handle}));
    switch(&second["handle"]).await;
    browser.goto(&format!("{}/", shop.origin)).await;
    browser.wait_widget().await;
    // The same visitor: its conversation is there, nothing unread.
    browser.widget_click(".launcher").await;
    browser.widget_wait_bot(1).await;
    assert_eq!(browser.widget_messages("in").await, ["hello"]);
    browser.widget_click(".close").await;

    let res = app
        .client
        .post(app.url("/v1/chat/demo/messages"))
        .bearer_auth(&token)
        .json(&json!({"text": "what can you do"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 200);
    for tab in [&second["handle"], &first] {
        switch(tab).await;
        eventually(20, "the unread badge in each tab", || async {
            (browser.badge().await.as_deref() == Some("1")).then_some(())
        })
        .await;
    }
    // Read in the first tab, so read in the second.
    browser.widget_click(".launcher").await;
    switch(&second["handle"]).await;
    eventually(20, "the badge gone from the other tab", || async {
        browser.badge().await.is_none().then_some(())
    })
    .await;
    browser.call(Method::DELETE, "", json!({})).await;
}
