//! Tenants over HTTP and the CLI: CORS from the allowed origins, and master key rotation.

use crate::api::{call, token_of};
use crate::helpers::*;
use crate::tenants::{TG_SECRET, UNSIGNED, add_telegram, patch, root, telegram, telegram_update};
use reqwest::Method;
use serde_json::json;
use switchboard_core::{Clock, TenantId};

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
        let out = switchboard_in(dir.path().join("data"))
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
        let store = switchboard::app::open_store(&config, Clock::System)
            .await
            .expect("store");
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
        let out = switchboard_in(dir.path().join("data"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_every_kind_of_secret_still_works() {
    use crate::event_receiver::{SECRET, receiver, verify};
    use crate::webhooks::{now_s, slack_signature};
    let tweak = |c: &mut switchboard::config::Config, _: &std::path::Path| c.events.poll_interval_ms = 50;
    let app = TestApp::spawn_with(tweak).await;
    let root = root(&app).await;
    // Replies go to a stand-in API, never out of the machine.
    let (api, _) = crate::delivery::fake_api(vec![(200, json!({"ok": true}))]).await;
    let api_base = format!("api_base={api}");
    let slack_secret = "fake0slack0signing0secret0000001";
    for (id, channel, account, secrets) in [
        (
            "tg",
            "telegram",
            "7000000001",
            vec![
                "bot_token=7000000001:FAKE".to_owned(),
                format!("webhook_secret={}", TG_SECRET.1),
            ],
        ),
        (
            "wa",
            "whatsapp",
            "200000000000002",
            vec![
                "access_token=EAAfake".to_owned(),
                format!("app_secret={META_APP_SECRET}"),
                "verify_token=fake-verify-token-123".to_owned(),
            ],
        ),
        (
            "sl",
            "slack",
            "T0FAKE0001",
            vec![
                "bot_token=xoxb-fake".to_owned(),
                format!("signing_secret={slack_secret}"),
            ],
        ),
        (
            "sig",
            "signal",
            "+15550002222",
            vec!["shared_secret=fake-signal-secret".to_owned()],
        ),
    ] {
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        add_connector(&app, id, channel, account, &secrets, &[&api_base]);
    }
    let (url, received) = receiver(SECRET, vec![200]).await;
    let (status, hook) = call(
        &app,
        Method::POST,
        "/v1/tenants/demo/webhooks",
        Some(&root),
        Some(json!({"url": url, "events": ["message.sent"], "secret": SECRET})),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let hook_id = hook["id"].as_str().expect("id").to_owned();

    let dir = app.stop().await;
    let out = tokio::task::block_in_place(|| {
        switchboard_in(dir.path().join("data"))
            .args(["secrets", "rotate"])
            .output()
    })
    .expect("run");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("re-encrypted 5 secret"),
        "four connectors and the endpoint: {said}"
    );
    assert!(!dir.path().join("data/master.key.new").exists());

    let app = TestApp::spawn_in(dir, tweak).await;
    // Each connector's signed webhook still verifies.
    assert_eq!(telegram(&app, TG_SECRET, telegram_update(1)).await.0, 200);
    let wa = channel_fixture("whatsapp/text_message.json");
    let sig = meta_signature(&wa);
    assert_eq!(
        crate::delivery::post(&app, "/v1/webhooks/demo/wa", &[("X-Hub-Signature-256", &sig)], wa).await,
        200
    );
    let sl = channel_fixture("slack/message_im_event.json");
    let ts = now_s();
    let sig = slack_signature(slack_secret, ts, &sl);
    let ts = ts.to_string();
    let headers = [
        ("X-Slack-Request-Timestamp", ts.as_str()),
        ("X-Slack-Signature", sig.as_str()),
    ];
    assert_eq!(
        crate::delivery::post(&app, "/v1/webhooks/demo/sl", &headers, sl).await,
        200
    );
    let frame = channel_fixture("signal/rest_ws_text_frame.json");
    let headers = [("X-Switchboard-Signal-Secret", "fake-signal-secret")];
    assert_eq!(
        crate::delivery::post(&app, "/v1/webhooks/demo/sig", &headers, frame).await,
        200
    );

    // The endpoint's secret survived: its test ping is signed under the original secret.
    let (status, ping) = call(
        &app,
        Method::POST,
        &format!("/v1/tenants/demo/webhooks/{hook_id}/test"),
        Some(&token_of(&app, "root@example.com").await),
        None,
    )
    .await;
    assert_eq!(status, 202, "{ping}");
    let got = eventually(15, "the signed ping", || async {
        let calls = received.lock().expect("lock").clone();
        calls.into_iter().find(|c| c.event == "ping")
    })
    .await;
    assert!(verify(SECRET, &got.signature, &got.raw), "{got:?}");
    assert!(got.verified);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_interrupted_after_its_commit_is_finished_by_running_it_again() {
    let app = TestApp::spawn().await;
    let (api, _) = crate::delivery::fake_api(vec![(200, json!({"ok": true}))]).await;
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", &format!("webhook_secret={}", TG_SECRET.1)],
        &[&format!("api_base={api}")],
    );
    let dir = app.stop().await;
    let data = dir.path().join("data");
    let key = |b64: &str| switchboard::secrets::decode_key(b64, "test").expect("key");
    let old_key = std::fs::read_to_string(data.join("master.key")).expect("key file");
    let old = switchboard::secrets::Sealer::from_key(&key(&old_key)).expect("sealer");
    // What a rotation killed between its commit and the key file's move leaves behind: the
    // secrets sealed under the key in `master.key.new`, `master.key` still the old one.
    let pending = "ZnJlc2gga2V5IGZvciB0aGUgcm90YXRpb24gdGVzdCE=";
    let new = switchboard::secrets::Sealer::from_key(&key(pending)).expect("sealer");
    {
        let store = switchboard::app::open_store(&test_config(dir.path()), Clock::System)
            .await
            .expect("store");
        let resealed = store
            .reseal_secrets(Box::new(move |s: &[u8]| {
                let plain = old.open(s).map_err(|e| e.to_string())?;
                new.seal(&plain).map_err(|e| e.to_string())
            }))
            .await
            .expect("reseal");
        assert_eq!(resealed, 1);
        store.close();
    }
    std::fs::write(data.join("master.key.new"), pending).expect("write");

    let out = tokio::task::block_in_place(|| switchboard_in(&data).args(["secrets", "rotate"]).output()).expect("run");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.contains("finishing the rotation"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("master.key"))
            .expect("key file")
            .trim(),
        pending
    );
    assert!(!data.join("master.key.new").exists());

    let app = TestApp::spawn_in(dir, |_, _| {}).await;
    assert_eq!(telegram(&app, TG_SECRET, telegram_update(1)).await.0, 200);
    app.stop().await;
}
