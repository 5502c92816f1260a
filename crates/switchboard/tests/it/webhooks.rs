use crate::helpers::*;
use serde_json::Value;
use switchboard_core::{Channel, Clock, TenantId};
use switchboard_store::Store;

fn channel_fixture(path: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../switchboard-channels/tests/fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(binary())
        .arg("--data-dir")
        .arg(app.dir.path().join("data"))
        .args(args)
        .output()
        .expect("run the CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn post(app: &TestApp, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(path))
        .body(body)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

const TG_SECRET: (&str, &str) = ("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_updates_are_verified_deduplicated_and_answered() {
    let app = TestApp::spawn().await;
    let (ok, out, err) = tokio::task::block_in_place(|| {
        cli(
            &app,
            &[
                "connector",
                "add",
                "--tenant",
                "demo",
                "--id",
                "tg-bot",
                "--channel",
                "telegram",
                "--account-id",
                "7000000001",
                "--secret",
                "bot_token=7000000001:FAKE",
                "--secret",
                "webhook_secret=fake_Secret-Token_0001",
            ],
        )
    });
    assert!(ok, "{err}");
    assert!(out.contains("/v1/webhooks/demo/tg-bot"), "{out}");
    let (_, listed, _) = tokio::task::block_in_place(|| cli(&app, &["connector", "list", "--tenant", "demo"]));
    assert!(
        listed.contains("tg-bot") && listed.contains("webhook_secret") && !listed.contains("fake_Secret"),
        "{listed}"
    );
    let db = std::fs::read(app.dir.path().join("data/switchboard.db")).expect("db");
    assert!(
        !db.windows(22).any(|w| w == b"fake_Secret-Token_0001"),
        "secrets are not stored in clear"
    );

    let path = "/v1/webhooks/demo/tg-bot";
    let update = channel_fixture("telegram/text_message.json");
    for _ in 0..3 {
        // The platform retries: every delivery is acknowledged, only one is kept.
        assert_eq!(post(&app, path, &[TG_SECRET], update.clone()).await.0, 200);
    }
    let config = test_config(app.dir.path());
    let store = switchboard::app::open_store(&config, Clock::System).expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let history = eventually(10, "the bot's answer", || async {
        let conv = store
            .open_conversation(&demo, Channel::Telegram, "tg-bot:100000001")
            .await
            .ok()??;
        let h = store.messages_after(&demo, &conv.id, 0, 10).await.ok()?;
        (h.len() >= 2).then_some(h)
    })
    .await;
    assert_eq!(history.len(), 2, "one message in, one answer: {history:?}");
    assert_eq!(history[0].external_id.as_deref(), Some("tg-bot:900000001"));
    assert_eq!(
        history[0].content.understood_text(),
        "Hello, what are your opening hours?"
    );
    assert_eq!(history[0].metadata["sender"]["display_name"], "Ada Lovelace");
    assert!(
        history[1].content.understood_text().contains("Monday"),
        "{:?}",
        history[1]
    );

    let press = channel_fixture("telegram/callback_query.json");
    assert_eq!(post(&app, path, &[TG_SECRET], press).await.0, 200);

    for (headers, why) in [
        (vec![], "missing_header"),
        (vec![("X-Telegram-Bot-Api-Secret-Token", "wrong")], "bad_signature"),
    ] {
        let (status, body) = post(&app, path, &headers, update.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{why}"
        );
        assert!(
            body["error"]["message"].as_str().is_some_and(|m| m.contains(why)),
            "{body}"
        );
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_webhook_rejected_total{channel="telegram",reason="bad_signature"} 1"#),
        "{metrics}"
    );
    assert_eq!(
        post(&app, "/v1/webhooks/demo/nope", &[TG_SECRET], update.clone())
            .await
            .0,
        404
    );
    assert_eq!(
        post(&app, "/v1/webhooks/nope/tg-bot", &[TG_SECRET], update.clone())
            .await
            .0,
        404
    );
    let (status, body) = post(&app, path, &[TG_SECRET], b"{not json".to_vec()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_payload")));

    // Telegram updates do not name the bot: each bot's own secret is what binds an update to
    // its connector, so another bot's secret is refused.
    let add_other = [
        "connector",
        "add",
        "--tenant",
        "demo",
        "--id",
        "other-bot",
        "--channel",
        "telegram",
        "--account-id",
        "123",
        "--secret",
        "bot_token=123:FAKE",
        "--secret",
        "webhook_secret=another-secret",
    ];
    let (ok, _, err) = tokio::task::block_in_place(|| cli(&app, &add_other));
    assert!(ok, "{err}");
    let voice = channel_fixture("telegram/voice_message.json");
    assert_eq!(
        post(&app, "/v1/webhooks/demo/other-bot", &[TG_SECRET], voice).await.0,
        401
    );
    let (ok, _, err) = tokio::task::block_in_place(|| {
        cli(
            &app,
            &[
                "connector",
                "add",
                "--tenant",
                "demo",
                "--id",
                "x",
                "--channel",
                "telegram",
                "--account-id",
                "1",
            ],
        )
    });
    assert!(
        !ok && err.contains("webhook_secret"),
        "missing secrets are refused: {err}"
    );
    let (ok, _, _) =
        tokio::task::block_in_place(|| cli(&app, &["connector", "remove", "--tenant", "demo", "--id", "other-bot"]));
    assert!(ok);
    eventually(5, "the removed connector to be gone", || async {
        (post(&app, "/v1/webhooks/demo/other-bot", &[TG_SECRET], update.clone())
            .await
            .0
            == 404)
            .then_some(())
    })
    .await
}

/// The signature a vector in the channel fixtures gives for a fixture file.
fn signature_for(file: &str) -> String {
    let all: Value = serde_json::from_slice(&channel_fixture("signature-vectors.json")).expect("vectors");
    let v = all["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["body_file"].as_str().is_some_and(|f| f.ends_with(file)))
        .unwrap_or_else(|| panic!("no vector for {file}"));
    v["expected"]["X-Hub-Signature-256"]
        .as_str()
        .expect("signature")
        .to_owned()
}

const META_SECRET: &str = "app_secret=fake0meta0app0secret000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_and_messenger_handshake_signatures_accounts_and_dedup() {
    let app = TestApp::spawn().await;
    for (id, channel, account) in [
        ("wa", "whatsapp", "200000000000002"),
        ("wa-other", "whatsapp", "999"),
        ("fb", "messenger", "300000000000003"),
    ] {
        let token = if channel == "whatsapp" {
            "access_token=EAAfake"
        } else {
            "page_token=EAAfake"
        };
        let args = [
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
            "--secret",
            token,
            "--secret",
            META_SECRET,
            "--secret",
            "verify_token=fake-verify-token-123",
        ];
        let (ok, _, err) = tokio::task::block_in_place(|| cli(&app, &args));
        assert!(ok, "{err}");
    }

    let query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=fake-verify-token-123";
    let res = app
        .client
        .get(app.url(&format!("/v1/webhooks/demo/wa?{query}")))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.expect("body"),
        "1158201444",
        "the challenge is echoed exactly"
    );
    let wrong = query.replace("fake-verify-token-123", "guess");
    let res = app
        .client
        .get(app.url(&format!("/v1/webhooks/demo/wa?{wrong}")))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 403);

    let body = channel_fixture("whatsapp/text_message.json");
    let sig = signature_for("whatsapp/text_message.json");
    for _ in 0..2 {
        assert_eq!(
            post(
                &app,
                "/v1/webhooks/demo/wa",
                &[("X-Hub-Signature-256", &sig)],
                body.clone()
            )
            .await
            .0,
            200
        );
    }
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(
        post(&app, "/v1/webhooks/demo/wa", &[("X-Hub-Signature-256", &sig)], tampered)
            .await
            .0,
        401
    );
    assert_eq!(post(&app, "/v1/webhooks/demo/wa", &[], body.clone()).await.0, 401);
    let (status, err) = post(
        &app,
        "/v1/webhooks/demo/wa-other",
        &[("X-Hub-Signature-256", &sig)],
        body,
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("account_mismatch")),
        "the payload names another number"
    );
    let status_body = channel_fixture("whatsapp/status_delivered.json");
    let sig = signature_for("whatsapp/status_delivered.json");
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/wa",
            &[("X-Hub-Signature-256", &sig)],
            status_body
        )
        .await
        .0,
        200
    );

    let postback = channel_fixture("messenger/postback.json");
    let sig = signature_for("messenger/postback.json");
    assert_eq!(
        post(&app, "/v1/webhooks/demo/fb", &[("X-Hub-Signature-256", &sig)], postback)
            .await
            .0,
        200
    );

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System).expect("store");
    let demo = TenantId::parse("demo").expect("id");
    for (channel, user) in [
        (Channel::Whatsapp, "wa:15557654321"),
        (Channel::Messenger, "fb:4000000000000004"),
    ] {
        let history = eventually(10, "the answer", || async {
            let conv = store.open_conversation(&demo, channel, user).await.ok()??;
            let h = store.messages_after(&demo, &conv.id, 0, 10).await.ok()?;
            (h.len() >= 2).then_some(h)
        })
        .await;
        assert_eq!(
            history.len(),
            2,
            "{channel:?}: one message (retries dropped), one answer: {history:?}"
        );
    }
    let conv = store
        .open_conversation(&demo, Channel::Messenger, "fb:4000000000000004")
        .await
        .expect("read")
        .expect("conv");
    let first = &store.messages_after(&demo, &conv.id, 0, 1).await.expect("read")[0];
    assert!(
        matches!(first.content, switchboard_core::Content::Postback { .. }),
        "{:?}",
        first.content
    );
}
