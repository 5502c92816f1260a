use crate::helpers::*;
use serde_json::Value;
use switchboard_core::{Channel, Clock, TenantId};

fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = switchboard_in(app.dir.path().join("data"))
        .args(args)
        .output()
        .expect("run the CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) async fn post(app: &TestApp, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
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

/// Posts from another loopback address (Linux routes all of 127/8 to the loopback
/// interface), standing for another machine; the status and whether Retry-After came.
async fn post_from(ip: &str, app: &TestApp, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, bool) {
    let client = reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
        .build()
        .expect("client");
    let mut req = client
        .post(app.url(path))
        .body(body.to_vec())
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("send");
    (res.status().as_u16(), res.headers().contains_key("retry-after"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_limited_per_address_and_tenant_and_junk_is_cut_off_sooner() {
    // Slow refills (one slot per 100 s), so that only the bursts decide what a test sees.
    let app = TestApp::spawn_with(|c, _| {
        c.webhooks.per_ip_per_second = 0.01;
        c.webhooks.per_ip_burst = 5;
        c.webhooks.per_tenant_per_second = 0.01;
        c.webhooks.per_tenant_burst = 7;
        c.webhooks.failures_per_ip_per_minute = 3;
    })
    .await;
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[],
    );
    let path = "/v1/webhooks/demo/tg";
    let update = channel_fixture("telegram/text_message.json");
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(post_from("127.0.0.1", &app, path, &[TG_SECRET], &update).await);
    }
    assert_eq!(
        seen,
        [(200, false); 5].into_iter().chain([(429, true)]).collect::<Vec<_>>(),
        "per address"
    );

    // Another address has its own budget, but the tenant's is nearly spent: 5 of 7.
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(post_from("127.0.0.2", &app, path, &[TG_SECRET], &update).await);
    }
    assert_eq!(seen, [(200, false), (200, false), (429, true)], "per tenant");

    // Failed verifications and unknown connectors count sooner: after three, the address is
    // refused before anything is checked, a good request included.
    let wrong = [("X-Telegram-Bot-Api-Secret-Token", "guess")];
    for (ip, attempt) in [("127.0.0.3", path), ("127.0.0.4", "/v1/webhooks/demo/nope")] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(post_from(ip, &app, attempt, &wrong, &update).await.0);
        }
        seen.push(post_from(ip, &app, path, &[TG_SECRET], &update).await.0);
        let refused = if attempt == path { 401 } else { 404 };
        assert_eq!(seen, [refused, refused, refused, 429], "{ip} {attempt}");
    }
    let metrics = app.metrics().await;
    for scope in ["webhook_ip", "webhook_tenant", "webhook_failures"] {
        assert!(
            metrics.contains(&format!(r#"switchboard_rate_limited_total{{scope="{scope}"}}"#)),
            "{scope}: {metrics}"
        );
    }
}

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
    assert_eq!(
        stored_copies(&app, "fake_Secret-Token_0001").await,
        0,
        "secrets are not stored in clear"
    );

    let path = "/v1/webhooks/demo/tg-bot";
    let update = channel_fixture("telegram/text_message.json");
    for _ in 0..3 {
        // The platform retries: every delivery is acknowledged, only one is kept.
        assert_eq!(post(&app, path, &[TG_SECRET], update.clone()).await.0, 200);
    }
    let config = test_config(app.dir.path());
    let store = switchboard::app::open_store(&config, Clock::System)
        .await
        .expect("store");
    let history = history_of(store.as_ref(), Channel::Telegram, "tg-bot:100000001", 2).await;
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

    // Blocking the bot ends the conversation; nothing more goes to it.
    let blocked = channel_fixture("telegram/my_chat_member_blocked.json");
    assert_eq!(post(&app, path, &[TG_SECRET], blocked).await.0, 200);
    let demo = TenantId::parse("demo").expect("id");
    assert_eq!(
        store
            .open_conversation(&demo, Channel::Telegram, "tg-bot:100000001")
            .await
            .expect("read"),
        None
    );
    let closed = store
        .conversation(&demo, &history[0].conversation)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(closed.status, switchboard_core::ConversationStatus::Closed);

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
    let gone = post(&app, "/v1/webhooks/demo/other-bot", &[TG_SECRET], update.clone()).await;
    assert_eq!(gone.0, 404, "a removed connector takes nothing");
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
        add_connector(
            &app,
            id,
            channel,
            account,
            &[token, META_SECRET, "verify_token=fake-verify-token-123"],
            &[],
        );
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

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    for (channel, user) in [
        (Channel::Whatsapp, "wa:15557654321"),
        (Channel::Messenger, "fb:4000000000000004"),
    ] {
        let history = history_of(store.as_ref(), channel, user, 2).await;
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

pub(crate) fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

pub(crate) fn slack_signature(secret: &str, ts: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_requests_are_signed_fresh_and_answered_once() {
    let app = TestApp::spawn().await;
    let secret = "fake0slack0signing0secret0000001";
    for (id, team) in [("sl", "T0FAKE0001"), ("sl-other", "T0OTHER")] {
        add_connector(
            &app,
            id,
            "slack",
            team,
            &["bot_token=xoxb-fake", &format!("signing_secret={secret}")],
            &[],
        );
    }
    let signed = |body: &[u8], ts: i64| {
        let ts_s = ts.to_string();
        let sig = slack_signature(secret, ts, body);
        (ts_s, sig)
    };
    let challenge = channel_fixture("slack/url_verification.json");
    let (ts, sig) = signed(&challenge, now_s());
    let hs = [
        ("X-Slack-Request-Timestamp", ts.as_str()),
        ("X-Slack-Signature", sig.as_str()),
    ];
    let (status, body) = post(&app, "/v1/webhooks/demo/sl", &hs, challenge).await;
    assert_eq!(
        (status, body["challenge"].as_str()),
        (200, Some("FAKEchallenge3eZbrw1aBm2rZgRNFdxV2595E9CY3gm"))
    );

    let event = channel_fixture("slack/message_im_event.json");
    let (ts, sig) = signed(&event, now_s());
    let hs = [
        ("X-Slack-Request-Timestamp", ts.as_str()),
        ("X-Slack-Signature", sig.as_str()),
    ];
    for _ in 0..2 {
        assert_eq!(
            post(&app, "/v1/webhooks/demo/sl", &hs, event.clone()).await.0,
            200,
            "Slack retries get a 200"
        );
    }
    let (status, err) = post(&app, "/v1/webhooks/demo/sl-other", &hs, event.clone()).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("account_mismatch")));
    let (old_ts, old_sig) = signed(&event, now_s() - 301);
    let stale = [
        ("X-Slack-Request-Timestamp", old_ts.as_str()),
        ("X-Slack-Signature", old_sig.as_str()),
    ];
    let (status, err) = post(&app, "/v1/webhooks/demo/sl", &stale, event.clone()).await;
    assert_eq!(status, 401);
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("stale_timestamp")),
        "{err}"
    );
    let forged = [
        ("X-Slack-Request-Timestamp", ts.as_str()),
        ("X-Slack-Signature", "v0=00"),
    ];
    assert_eq!(post(&app, "/v1/webhooks/demo/sl", &forged, event).await.0, 401);

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let history = history_of(store.as_ref(), Channel::Slack, "sl:D0FAKE0001", 2).await;
    assert_eq!(history.len(), 2, "one message, one answer: {history:?}");
    assert_eq!(history[0].external_id.as_deref(), Some("sl:Ev0FAKE00001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_interactions_are_verified_with_ed25519_and_deferred() {
    use ed25519_dalek::{Signer, SigningKey};
    let app = TestApp::spawn().await;
    let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    let key = SigningKey::from_bytes(&seed);
    let public = hex::encode(key.verifying_key().to_bytes());
    assert_eq!(
        public,
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    );
    for (id, application) in [("dc", "1300000000000000001"), ("dc-other", "42")] {
        add_connector(
            &app,
            id,
            "discord",
            application,
            &["bot_token=fake", &format!("public_key={public}")],
            &[],
        );
    }
    let sign = |body: &[u8]| {
        let ts = now_s().to_string();
        let mut msg = ts.as_bytes().to_vec();
        msg.extend_from_slice(body);
        (ts, hex::encode(key.sign(&msg).to_bytes()))
    };
    let ping = channel_fixture("discord/ping.json");
    let (ts, sig) = sign(&ping);
    let hs = [
        ("X-Signature-Timestamp", ts.as_str()),
        ("X-Signature-Ed25519", sig.as_str()),
    ];
    assert_eq!(
        post(&app, "/v1/webhooks/demo/dc", &hs, ping.clone()).await,
        (200, serde_json::json!({"type": 1}))
    );
    let mut tampered = ping.clone();
    tampered[3] ^= 1;
    assert_eq!(post(&app, "/v1/webhooks/demo/dc", &hs, tampered).await.0, 401);
    assert_eq!(post(&app, "/v1/webhooks/demo/dc", &[], ping).await.0, 401);

    let command = channel_fixture("discord/application_command.json");
    let (ts, sig) = sign(&command);
    let hs = [
        ("X-Signature-Timestamp", ts.as_str()),
        ("X-Signature-Ed25519", sig.as_str()),
    ];
    assert_eq!(
        post(&app, "/v1/webhooks/demo/dc", &hs, command.clone()).await,
        (200, serde_json::json!({"type": 5}))
    );
    assert_eq!(post(&app, "/v1/webhooks/demo/dc-other", &hs, command).await.0, 403);
    let press = channel_fixture("discord/component_interaction.json");
    let (ts, sig) = sign(&press);
    let hs = [
        ("X-Signature-Timestamp", ts.as_str()),
        ("X-Signature-Ed25519", sig.as_str()),
    ];
    assert_eq!(
        post(&app, "/v1/webhooks/demo/dc", &hs, press.clone()).await,
        (200, serde_json::json!({"type": 6}))
    );

    // A genuine interaction replayed six minutes later, or dated ahead of the clock, is refused.
    for shift in [-360, 360] {
        let ts = (now_s() + shift).to_string();
        let mut msg = ts.as_bytes().to_vec();
        msg.extend_from_slice(&press);
        let sig = hex::encode(key.sign(&msg).to_bytes());
        let hs = [
            ("X-Signature-Timestamp", ts.as_str()),
            ("X-Signature-Ed25519", sig.as_str()),
        ];
        let (status, body) = post(&app, "/v1/webhooks/demo/dc", &hs, press.clone()).await;
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (401, Some("the request is not authentic: stale_timestamp")),
            "{shift}: {body}"
        );
    }
}

fn twilio_signature(token: &str, url: &str, body: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut params: Vec<(String, String)> = serde_urlencoded::from_bytes(body).expect("form");
    params.sort();
    let mut signed = url.to_owned();
    for (k, v) in params {
        signed.push_str(&k);
        signed.push_str(&v);
    }
    let mut mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(token.as_bytes()).expect("key");
    mac.update(signed.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_signs_the_public_url_and_signal_uses_a_shared_secret() {
    let app = TestApp::spawn_with(|c, _| c.server.public_base_url = "https://bots.example.com".into()).await;
    let token = "fake0twilio0auth0token0000000001";
    for (id, channel, account, secret) in [
        (
            "tw",
            "twilio",
            "AC00000000000000000000000000000001",
            format!("auth_token={token}"),
        ),
        (
            "tw-other",
            "twilio",
            "AC00000000000000000000000000000009",
            format!("auth_token={token}"),
        ),
        (
            "sig",
            "signal",
            "+15550002222",
            "shared_secret=fake-signal-secret".to_owned(),
        ),
    ] {
        add_connector(&app, id, channel, account, &[&secret], &[]);
    }
    let sms = channel_fixture("twilio/sms.form");
    let sig = twilio_signature(token, "https://bots.example.com/v1/webhooks/demo/tw", &sms);
    let form = "application/x-www-form-urlencoded";
    let send = |path: &'static str, sig: String, body: Vec<u8>| {
        let req = app
            .client
            .post(app.url(path))
            .header("content-type", form)
            .header("X-Twilio-Signature", sig)
            .body(body);
        async move {
            let res = req.send().await.expect("send");
            (res.status().as_u16(), res.text().await.unwrap_or_default())
        }
    };
    for _ in 0..2 {
        let (status, twiml) = send("/v1/webhooks/demo/tw", sig.clone(), sms.clone()).await;
        assert_eq!(status, 200);
        assert!(twiml.contains("<Response/>"), "{twiml}");
    }
    let as_seen_locally = twilio_signature(token, &app.url("/v1/webhooks/demo/tw"), &sms);
    assert_eq!(
        send("/v1/webhooks/demo/tw", as_seen_locally, sms.clone()).await.0,
        401,
        "the public URL is what counts"
    );
    let other_sig = twilio_signature(token, "https://bots.example.com/v1/webhooks/demo/tw-other", &sms);
    assert_eq!(
        send("/v1/webhooks/demo/tw-other", other_sig, sms.clone()).await.0,
        403,
        "another account's payload"
    );
    let tampered = String::from_utf8(sms.clone())
        .expect("utf-8")
        .replace("8812", "9999")
        .into_bytes();
    assert_eq!(send("/v1/webhooks/demo/tw", sig.clone(), tampered).await.0, 401);

    let frame = channel_fixture("signal/rest_ws_text_frame.json");
    let secret = [("X-Switchboard-Signal-Secret", "fake-signal-secret")];
    assert_eq!(post(&app, "/v1/webhooks/demo/sig", &secret, frame.clone()).await.0, 200);
    assert_eq!(post(&app, "/v1/webhooks/demo/sig", &[], frame.clone()).await.0, 401);
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/sig",
            &[("X-Switchboard-Signal-Secret", "nope")],
            frame
        )
        .await
        .0,
        401
    );

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    for (channel, user) in [
        (Channel::Twilio, "tw:+15557654321"),
        (Channel::Signal, "sig:11111111-2222-4333-8444-555555555555"),
    ] {
        let history = history_of(store.as_ref(), channel, user, 2).await;
        assert_eq!(history.len(), 2, "{channel:?}: {history:?}");
    }
}

/// A stand-in for the Bot Framework's OpenID metadata and key endpoints, on loopback.
pub async fn serve_bot_framework_keys() -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let jwks: Value = serde_json::from_slice(&channel_fixture("teams-keys/jwks.json")).expect("jwks");
    let meta = serde_json::json!({ "issuer": "https://api.botframework.com", "jwks_uri": format!("{base}/keys") });
    let router = axum::Router::new()
        .route("/metadata", get(move || async move { axum::Json(meta) }))
        .route("/keys", get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("{base}/metadata")
}

pub fn bot_framework_token(app_id: &str, service_url: &str, exp_in: i64) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let key = EncodingKey::from_rsa_pem(&channel_fixture("teams-keys/test-signing-key.pem")).expect("pem");
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("test-key-1".into());
    let claims = serde_json::json!({
        "iss": "https://api.botframework.com", "aud": app_id, "exp": now_s() + exp_in, "nbf": now_s() - 60,
        "serviceurl": service_url,
    });
    encode(&h, &claims, &key).expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_activities_need_a_bot_framework_token_for_this_bot() {
    let app = TestApp::spawn().await;
    let metadata = serve_bot_framework_keys().await;
    let app_id = "00000000-1111-2222-3333-444444444444";
    add_connector(
        &app,
        "teams",
        "teams",
        app_id,
        &["app_password=fake"],
        &[&format!("openid_metadata_url={metadata}")],
    );
    let activity = channel_fixture("teams/message_activity.json");
    let service = "https://smba.trafficmanager.net/teams/";
    let good = format!("Bearer {}", bot_framework_token(app_id, service, 3600));
    for _ in 0..2 {
        assert_eq!(
            post(
                &app,
                "/v1/webhooks/demo/teams",
                &[("Authorization", &good)],
                activity.clone()
            )
            .await
            .0,
            200
        );
    }
    let cases = [
        (
            format!("Bearer {}", bot_framework_token("another-app", service, 3600)),
            "audience",
        ),
        (
            format!(
                "Bearer {}",
                bot_framework_token(app_id, "https://evil.example.com/", 3600)
            ),
            "serviceurl",
        ),
        (
            format!("Bearer {}", bot_framework_token(app_id, service, -400)),
            "expired",
        ),
        ("Bearer garbage".to_owned(), "unreadable"),
    ];
    for (auth, why) in cases {
        let (status, body) = post(
            &app,
            "/v1/webhooks/demo/teams",
            &[("Authorization", &auth)],
            activity.clone(),
        )
        .await;
        assert_eq!(status, 401, "{why}: {body}");
    }
    assert_eq!(post(&app, "/v1/webhooks/demo/teams", &[], activity).await.0, 401);

    // The token is checked before the body is parsed: without a valid one, a body that is
    // garbage, however large, is a 401 (not a 400) and nothing is parsed or stored.
    let foreign = format!("Bearer {}", bot_framework_token("another-app", service, 3600));
    let large = vec![b'{'; 60_000];
    for (auth, body, why) in [
        (
            foreign.as_str(),
            b"not json at all".to_vec(),
            "garbage, another bot's token",
        ),
        (foreign.as_str(), large.clone(), "large, another bot's token"),
        ("", large, "large, no token"),
        ("BEARER x.y.z", b"{".to_vec(), "garbage, unreadable token"),
    ] {
        let headers: Vec<(&str, &str)> = if auth.is_empty() {
            vec![]
        } else {
            vec![("Authorization", auth)]
        };
        let (status, answer) = post(&app, "/v1/webhooks/demo/teams", &headers, body).await;
        assert_eq!(status, 401, "{why}: {answer}");
    }

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let user = "teams:a:1FAKEconversationIdForPersonalChat0000000000000000000000000000000000000000";
    let history = history_of(store.as_ref(), Channel::Teams, user, 2).await;
    assert_eq!(
        history.len(),
        2,
        "one activity (the retry dropped), one answer: {history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_call_is_a_spoken_conversation_in_twiml() {
    let app = TestApp::spawn_with(|c, _| c.server.public_base_url = "https://bots.example.com".into()).await;
    let token = "fake0twilio0auth0token0000000001";
    add_connector(
        &app,
        "tw",
        "twilio",
        "AC00000000000000000000000000000001",
        &[&format!("auth_token={token}")],
        &[],
    );
    let url = "https://bots.example.com/v1/webhooks/demo/tw";
    let call = |body: Vec<u8>| {
        let sig = twilio_signature(token, url, &body);
        let req = app
            .client
            .post(app.url("/v1/webhooks/demo/tw"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", sig)
            .body(body);
        async move {
            let res = req.send().await.expect("send");
            assert_eq!(res.status(), 200);
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .expect("ct")
                    .starts_with("text/xml")
            );
            res.text().await.expect("twiml")
        }
    };
    let hello = call(channel_fixture("twilio/voice_incoming.form")).await;
    assert!(
        hello.contains(&format!("<Gather input=\"speech dtmf\" action=\"{url}\"")),
        "{hello}"
    );
    assert!(hello.contains("<Say>Hello! How can I help you?</Say>"), "{hello}");

    let spoken = String::from_utf8(channel_fixture("twilio/voice_gather_speech.form"))
        .expect("utf-8")
        .replace("Track+my+order.", "When+are+you+open%3F")
        .into_bytes();
    let answer = call(spoken.clone()).await;
    assert!(
        answer.contains("<Say>We&apos;re open Monday to Friday"),
        "the reply is spoken: {answer}"
    );
    assert!(answer.contains("<Gather"), "and the call goes on: {answer}");
    let again = call(spoken).await;
    assert_eq!(
        again, answer,
        "a retried webhook gets the same answer, from the one turn"
    );

    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let conv = store
        .open_conversation(&demo, Channel::Twilio, "tw:+15557654321")
        .await
        .expect("read")
        .expect("conv");
    let history = store.messages_after(&demo, &conv.id, 0, 10).await.expect("history");
    assert_eq!(history.len(), 2, "one utterance, one spoken reply: {history:?}");
    assert_eq!(
        history[1].status,
        switchboard_core::MessageStatus::Sent,
        "spoken, not queued for SMS"
    );
    assert_eq!(
        store.queue_stats().await.expect("stats").depth,
        0,
        "no delivery job for a call"
    );

    let hang_up = String::from_utf8(channel_fixture("twilio/voice_incoming.form"))
        .expect("utf-8")
        .replace("CallStatus=ringing", "CallStatus=completed")
        .into_bytes();
    let bye = call(hang_up).await;
    assert!(!bye.contains("<Gather") && !bye.contains("<Say>"), "{bye}");
    let ended = store.conversation(&demo, &conv.id).await.expect("read").expect("kept");
    assert_eq!(
        ended.status,
        switchboard_core::ConversationStatus::Closed,
        "hanging up ends the conversation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadtest_sends_signed_webhooks() {
    // The platforms are unreachable here: deliveries keep retrying instead of dead-lettering.
    let app = TestApp::spawn_with(|c, _| c.queue.max_attempts = 1000).await;
    let add = [
        [
            "connector",
            "add",
            "--tenant",
            "demo",
            "--id",
            "tg",
            "--channel",
            "telegram",
            "--account-id",
            "1",
            "--secret",
            "bot_token=1:x",
            "--secret",
            "webhook_secret=s3cret",
            "--setting",
            "api_base=http://127.0.0.1:9",
        ],
        [
            "connector",
            "add",
            "--tenant",
            "demo",
            "--id",
            "wa",
            "--channel",
            "whatsapp",
            "--account-id",
            "555",
            "--secret",
            "access_token=x",
            "--secret",
            "app_secret=s3cret",
            "--secret",
            "verify_token=v",
        ],
        [
            "connector",
            "add",
            "--tenant",
            "demo",
            "--id",
            "sl",
            "--channel",
            "slack",
            "--account-id",
            "T1",
            "--secret",
            "bot_token=x",
            "--secret",
            "signing_secret=s3cret",
            "--setting",
            "api_base=http://127.0.0.1:9",
        ],
    ];
    for args in add {
        let (ok, _, err) = tokio::task::block_in_place(|| cli(&app, &args));
        assert!(ok, "{err}");
    }
    // RFC 8032 test 1: the load generator signs with the seed, the connector holds the public key.
    const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    let more: [&[&str]; 4] = [
        &[
            "discord",
            "dc",
            "1300000000000000001",
            "bot_token=x",
            "public_key=d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        ],
        &[
            "messenger",
            "ms",
            "4000000001",
            "page_token=x",
            "app_secret=s3cret",
            "verify_token=v",
        ],
        &["twilio", "tw", "AC1", "auth_token=s3cret"],
        &["signal", "sg", "+15550002222", "shared_secret=s3cret"],
    ];
    for spec in more {
        let mut args = vec![
            "connector",
            "add",
            "--tenant",
            "demo",
            "--id",
            spec[1],
            "--channel",
            spec[0],
            "--account-id",
            spec[2],
        ];
        for secret in &spec[3..] {
            args.extend(["--secret", secret]);
        }
        args.extend(["--setting", "api_base=http://127.0.0.1:9"]);
        let (ok, _, err) = tokio::task::block_in_place(|| cli(&app, &args));
        assert!(ok, "{err}");
    }
    for (kind, connector, account, secret) in [
        ("telegram", "tg", "1", "s3cret"),
        ("whatsapp", "wa", "555", "s3cret"),
        ("slack", "sl", "T1", "s3cret"),
        ("messenger", "ms", "4000000001", "s3cret"),
        ("twilio", "tw", "AC1", "s3cret"),
        ("signal", "sg", "+15550002222", "s3cret"),
        ("discord", "dc", "1300000000000000001", DISCORD_SEED),
    ] {
        let out = tokio::task::block_in_place(|| {
            std::process::Command::new(binary())
                .args([
                    "loadtest",
                    "--url",
                    &app.base,
                    "--conversations",
                    "5",
                    "--messages",
                    "4",
                    "--json",
                ])
                .args([
                    "--webhook",
                    kind,
                    "--connector",
                    connector,
                    "--secret",
                    secret,
                    "--account-id",
                    account,
                ])
                .output()
                .expect("loadtest")
        });
        let report: Value = serde_json::from_slice(&out.stdout).expect("report");
        assert_eq!(
            (report["messages_sent"].as_u64(), report["errors"].as_u64()),
            (Some(20), Some(0)),
            "{kind}: {report}"
        );
    }
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    // Every webhook became a turn (none left), and every turn's reply waits for its platform.
    eventually(20, "every webhook's turn to be done", || async {
        let jobs = store.pending_jobs(0, 1000).await.ok()?;
        let turns = jobs
            .iter()
            .filter(|j| j.kind == switchboard_store::JobKind::Turn)
            .count();
        let deliveries = jobs
            .iter()
            .filter(|j| j.kind == switchboard_store::JobKind::Deliver)
            .count();
        (turns == 0 && deliveries == 140).then_some(())
    })
    .await;
}

/// How many times `needle` is stored as is: in the SQLite file (read from another process:
/// closing a descriptor on the database file in this process would drop SQLite's POSIX locks on
/// it, sqlite.org/howtocorrupt.html 2.2), or in any connector's columns on PostgreSQL.
async fn stored_copies(app: &TestApp, needle: &str) -> u64 {
    if !on_postgres() {
        let grep = std::process::Command::new("grep")
            .args(["-c", needle])
            .arg(app.dir.path().join("data/switchboard.db"))
            .output()
            .expect("grep");
        return String::from_utf8_lossy(&grep.stdout).trim().parse().expect("a count");
    }
    let url = store_url_for(&app.dir.path().join("data"));
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM connectors WHERE position(convert_to($1, 'UTF8') IN secrets) > 0 \
         OR position($1 IN settings) > 0 OR position($1 IN account_id) > 0",
    )
    .bind(needle)
    .fetch_one(&pool)
    .await
    .expect("count");
    u64::try_from(n).expect("count")
}
