//! The chat page and the widget as files: their security headers over plain HTTP, and the
//! page's framing rules in Chromium.

use crate::browser::Browser;
use crate::helpers::*;
use crate::tenants::root;
use crate::widget::{allow, site};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_page_and_the_widget_carry_their_security_headers() {
    let app = TestApp::spawn().await;
    let admin = root(&app).await;
    let get = |path: &str| app.client.get(app.url(path)).send();

    let res = get("/widget.js").await.expect("send");
    assert_eq!(res.status().as_u16(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/javascript; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
    assert_eq!(
        h["access-control-allow-origin"], "*",
        "loadable with crossorigin=anonymous"
    );
    assert!(
        h["cache-control"].to_str().expect("text").contains("max-age="),
        "{:?}",
        h["cache-control"]
    );
    let etag = h["etag"].clone();
    let body = res.text().await.expect("body");
    assert!(body.contains("attachShadow"), "the widget itself");
    let res = app
        .client
        .get(app.url("/widget.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 304);

    let csp = |res: &reqwest::Response| {
        res.headers()["content-security-policy"]
            .to_str()
            .expect("text")
            .to_owned()
    };
    let res = get("/").await.expect("send");
    assert_eq!(res.status().as_u16(), 200);
    let policy = csp(&res);
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'self'",
    ] {
        assert!(policy.contains(part), "{part} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.ends_with("frame-ancestors 'self'"), "{policy}");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let page = res.text().await.expect("body");
    assert!(
        !page.contains("<script>") && !page.contains("<style>"),
        "nothing inline"
    );

    // A tenant's allowed sites may frame its page; an unknown tenant's page frames only itself.
    allow(&app, &admin, &["https://shop.example", "http://127.0.0.1:8081"]).await;
    let res = get("/?tenant=demo").await.expect("send");
    assert!(
        csp(&res).ends_with("frame-ancestors 'self' https://shop.example http://127.0.0.1:8081"),
        "{}",
        csp(&res)
    );
    let res = get("/?tenant=other").await.expect("send");
    assert!(csp(&res).ends_with("frame-ancestors 'self'"), "{}", csp(&res));
    let res = get("/?tenant=%FF%00nope").await.expect("send");
    assert!(csp(&res).ends_with("frame-ancestors 'self'"), "{}", csp(&res));

    for (path, kind) in [("/chat.js", "application/javascript"), ("/chat.css", "text/css")] {
        let res = get(path).await.expect("send");
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert!(
            res.headers()["content-type"].to_str().expect("text").starts_with(kind),
            "{path}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_tenants_allowed_sites_can_frame_its_chat_page() {
    let app = TestApp::spawn().await;
    let admin = root(&app).await;
    let framing = |tenant: &str| {
        format!(
            "<!doctype html><title>Help</title><h1>Help centre</h1>\
             <iframe id=chat src=\"{}/?tenant={tenant}\" width=600 height=500></iframe>",
            app.base
        )
    };
    let allowed = site(vec![("/", framing("demo"))]).await;
    let other = site(vec![("/", framing("demo"))]).await;
    allow(&app, &admin, &[&allowed.origin]).await;
    let browser = Browser::start().await;

    let status_in_frame = || async {
        let frame = browser.element("#chat").await;
        browser
            .call(
                Method::POST,
                "/frame",
                json!({"id": {"element-6066-11e4-a52e-4f735466cecf": frame}}),
            )
            .await;
        let status = browser
            .script("const s = document.querySelector('#status'); return [location.href, s ? s.textContent : null]")
            .await;
        browser.call(Method::POST, "/frame", json!({"id": null})).await;
        status
    };

    browser.goto(&format!("{}/", allowed.origin)).await;
    eventually(20, "the framed chat page to connect", || async {
        (status_in_frame().await[1] == "connected").then_some(())
    })
    .await;
    browser.screenshot("page-framed").await;

    // Another site gets the browser's refusal in the frame: no page, no script.
    browser.goto(&format!("{}/", other.origin)).await;
    eventually(20, "the frame to finish loading", || async {
        (browser.script("return document.readyState").await == "complete").then_some(())
    })
    .await;
    let refused = status_in_frame().await;
    assert!(
        refused[0].as_str().is_some_and(|u| u.starts_with("chrome-error:")) && refused[1].is_null(),
        "{refused}"
    );
    browser.call(Method::DELETE, "", json!({})).await;
}
