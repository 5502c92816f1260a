//! The embeddable widget and the chat page: their security headers, over plain HTTP.

use crate::helpers::*;
use crate::tenants::{patch, root};
use serde_json::json;

async fn allow(app: &TestApp, origins: &[&str]) {
    let root = root(app).await;
    let (status, body) = patch(app, &root, json!({ "allowed_origins": origins })).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_page_and_the_widget_carry_their_security_headers() {
    let app = TestApp::spawn().await;
    let get = |path: &str| app.client.get(app.url(path)).send();

    let res = get("/widget.js").await.expect("send");
    assert_eq!(res.status().as_u16(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/javascript; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
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
    allow(&app, &["https://shop.example", "http://127.0.0.1:8081"]).await;
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
