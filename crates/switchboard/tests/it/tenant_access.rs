//! Tenants over HTTP and the CLI: CORS from the allowed origins, and master key rotation.

use crate::api::{call, token_of};
use crate::helpers::*;
use crate::tenants::{TG_SECRET, UNSIGNED, add_telegram, patch, root, telegram, telegram_update};
use reqwest::Method;
use serde_json::json;
use switchboard_core::{Clock, TenantId};
use switchboard_store::Store as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_follows_the_tenants_allowed_origins() {
    let app = TestApp::spawn().await;
    let root = root(&app).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/v1/chat/demo/messages"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    // Nothing configured: no CORS headers, as before.
    let res = preflight("https://shop.example").await.expect("send");
    assert!(res.headers().get("access-control-allow-origin").is_none());

    let (status, _) = patch(&app, &root, json!({"allowed_origins": ["https://shop.example"]})).await;
    assert_eq!(status, 200);
    let res = preflight("https://shop.example").await.expect("send");
    assert_eq!(res.status().as_u16(), 204);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "https://shop.example");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .expect("text")
            .contains("POST")
    );
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .expect("text")
            .contains("content-type")
    );
    assert!(h.get("access-control-max-age").is_some());
    let res = preflight("https://evil.example").await.expect("send");
    assert!(res.headers().get("access-control-allow-origin").is_none());

    for (origin, allowed) in [("https://shop.example", true), ("https://evil.example", false)] {
        let res = app
            .client
            .post(app.url("/v1/chat/demo/messages"))
            .bearer_auth(app.token("demo", "fay").await)
            .header("origin", origin)
            .json(&json!({"user": "fay", "text": "hello"}))
            .send()
            .await
            .expect("send");
        assert_eq!(
            res.headers().get("access-control-allow-origin").is_some(),
            allowed,
            "{origin}"
        );
    }

    let fay = app.ws_url("demo", "fay", "").await;
    let ws = |origin: &str| {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut req = fay.as_str().into_client_request().expect("request");
        req.headers_mut().insert("origin", origin.parse().expect("header"));
        tokio_tungstenite::connect_async(req)
    };
    let refused = ws("https://evil.example").await;
    assert!(
        matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 403),
        "{refused:?}"
    );
    assert!(ws("https://shop.example").await.is_ok());
    // The page served by this server itself is always fine.
    assert!(ws(&format!("http://{}", app.addr)).await.is_ok());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_master_key_re_encrypts_every_secret() {
    let app = TestApp::spawn().await;
    let root = root(&app).await;
    add_telegram(&app);
    let data = app.dir.path().join("data");
    let old_key = std::fs::read_to_string(data.join("master.key")).expect("key file");
    let dir = app.stop().await;
    let (ok, out, err) = {
        let out = std::process::Command::new(binary())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["secrets", "rotate"])
            .output()
            .expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(ok, "{err}");
    assert!(out.contains("re-encrypted 1 secret"), "{out}");
    let new_key = std::fs::read_to_string(dir.path().join("data/master.key")).expect("key file");
    assert_ne!(new_key, old_key);

    let config = test_config(dir.path());
    {
        let store = switchboard::app::open_store(&config, Clock::System).expect("store");
        let demo = TenantId::parse("demo").expect("id");
        let sealed = store
            .connector(&demo, "tg")
            .await
            .expect("read")
            .expect("connector")
            .secrets;
        let key = |b64: &str| switchboard::secrets::decode_key(b64, "test").expect("key");
        let old = switchboard::secrets::Sealer::from_key(&key(&old_key)).expect("sealer");
        let new = switchboard::secrets::Sealer::from_key(&key(&new_key)).expect("sealer");
        assert!(old.open(&sealed).is_err(), "the old key opens nothing");
        assert!(String::from_utf8_lossy(&new.open(&sealed).expect("the new key opens it")).contains("FAKE"));
        store.close();
    }

    let app = TestApp::spawn_in(dir, |_, _| {}).await;
    // Signed webhooks still verify: the connector's secret survived the rotation.
    assert_eq!(telegram(&app, TG_SECRET, telegram_update(1)).await.0, 200);
    assert_eq!(telegram(&app, UNSIGNED, telegram_update(2)).await.0, 401);
    // Access tokens were signed with a key derived from the old master key.
    assert_eq!(call(&app, Method::GET, "/v1/me", Some(&root), None).await.0, 401);
    let fresh = token_of(&app, "root@example.com").await;
    assert_eq!(
        call(&app, Method::GET, "/v1/me", Some(&fresh), None).await.0,
        200,
        "signing in again works"
    );

    let dir = app.stop().await;

    // A key from the environment: the new one must be given, and is not written anywhere.
    let run = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(binary())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["secrets", "rotate"])
            .envs(env.iter().copied())
            .output()
            .expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let current = ("SWITCHBOARD_MASTER_KEY", new_key.trim());
    let (ok, said) = run(&[current]);
    assert!(!ok && said.contains("SWITCHBOARD_NEW_MASTER_KEY"), "{said}");
    let fresh = "ZnJlc2gga2V5IGZvciB0aGUgcm90YXRpb24gdGVzdCE=";
    let (ok, said) = run(&[current, ("SWITCHBOARD_NEW_MASTER_KEY", fresh)]);
    assert!(ok && said.contains("set SWITCHBOARD_MASTER_KEY"), "{said}");
    let (ok, said) = run(&[current, ("SWITCHBOARD_NEW_MASTER_KEY", fresh)]);
    assert!(!ok, "the old key opens nothing any more: {said}");
}
