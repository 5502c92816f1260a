//! Requests made on a tenant's behalf stay off the server's own network: a connector's
//! `api_base`, `token_url`, `openid_metadata_url` and `gateway_url` pointing at loopback get no
//! request through when `server.allow_private_targets` is off, the tenant learns only a short
//! reason, and redirects are not followed even when private targets are allowed.

use crate::delivery::post;
use crate::helpers::*;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use switchboard_core::{Channel, Clock, Content, Message, MessageId, MessageStatus, TenantId};
use switchboard_store::Store;
use switchboard_store::{NewInbound, Priority};

/// What a service inside the network would answer, were it reached.
const INTERNAL: &str = "INTERNAL-ONLY-do-not-echo";

/// A raw HTTP server on loopback that counts the connections it accepts and answers each
/// with `answer`.
pub async fn counting_server(answer: String) -> (SocketAddr, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp.write_all(answer.as_bytes()).await;
            });
        }
    });
    (addr, hits)
}

/// An answer a platform client would gladly quote: JSON with an error description.
fn internal_answer() -> String {
    let body = json!({
        "ok": false, "description": INTERNAL, "message": INTERNAL, "error": {"message": INTERNAL},
        "issuer": INTERNAL, "jwks_uri": "http://127.0.0.1:9/keys", "access_token": INTERNAL, "expires_in": 3600,
    })
    .to_string();
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The failed replies of the demo tenant's conversation of `user` on `channel`, once there are.
async fn failed_replies(store: &dyn Store, channel: Channel, user: &str) -> Vec<Message> {
    let demo = TenantId::parse("demo").expect("id");
    eventually(20, &format!("the reply to {user} to fail"), || async {
        let conv = store.open_conversation(&demo, channel, user).await.ok()??;
        let h = store.messages_after(&demo, &conv.id, 0, 20).await.ok()?;
        let failed: Vec<Message> = h
            .into_iter()
            .filter(|m| m.in_reply_to.is_some() && m.status == MessageStatus::Failed)
            .collect();
        (!failed.is_empty()).then_some(failed)
    })
    .await
}

fn error_of(m: &Message) -> String {
    m.metadata["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_urls_cannot_reach_the_servers_own_network() {
    let app = TestApp::spawn_with(|c, _| c.server.allow_private_targets = false).await;
    let (internal, hits) = counting_server(internal_answer()).await;
    let port = internal.port();
    let tg_token = "7000000001:AAFAKEtelegramTOKENnotForLogs";
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &[
            &format!("bot_token={tg_token}"),
            "webhook_secret=fake_Secret-Token_0001",
        ],
        &[&format!("api_base=http://127.0.0.1:{port}")],
    );
    // 2130706433 is 127.0.0.1 written as one number.
    add_connector(
        &app,
        "wa",
        "whatsapp",
        "200000000000002",
        &[
            "access_token=EAAfake",
            &format!("app_secret={META_APP_SECRET}"),
            "verify_token=fake-verify-token-123",
        ],
        &[&format!("api_base=http://2130706433:{port}")],
    );
    let metadata = format!("http://127.0.0.1:{port}/metadata");
    add_connector(
        &app,
        "teams",
        "teams",
        "00000000-1111-2222-3333-444444444444",
        &["app_password=fake"],
        &[&format!("openid_metadata_url={metadata}")],
    );
    add_connector(
        &app,
        "teams-token",
        "teams",
        "00000000-1111-2222-3333-444444444444",
        &["app_password=FAKE-client-secret"],
        &[&format!("token_url=http://[::ffff:127.0.0.1]:{port}/token")],
    );

    // Telegram and WhatsApp messages come in; their replies go to api_base.
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];
    let update = channel_fixture("telegram/text_message.json");
    assert_eq!(post(&app, "/v1/webhooks/demo/tg", &secret, update).await, 200);
    let body = channel_fixture("whatsapp/text_message.json");
    let sig = meta_signature(&body);
    assert_eq!(
        post(&app, "/v1/webhooks/demo/wa", &[("X-Hub-Signature-256", &sig)], body).await,
        200
    );

    // A Teams activity can only be verified with keys from openid_metadata_url: refused
    // before any request, with a 503 that says nothing of what is there.
    let activity = channel_fixture("teams/message_activity.json");
    let service = "https://smba.trafficmanager.net/teams/";
    let auth = format!(
        "Bearer {}",
        crate::webhooks::bot_framework_token("00000000-1111-2222-3333-444444444444", service, 3600)
    );
    let res = app
        .client
        .post(app.url("/v1/webhooks/demo/teams"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(activity.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 503);
    let text = res.text().await.expect("body");
    assert!(!text.contains(INTERNAL) && !text.contains("127.0.0.1"), "{text}");

    // A Teams conversation whose connector's token_url is on loopback, stored as the webhook
    // would have (the activity's own service URL is a public name, never called: the token
    // comes first).
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let event = switchboard_channels::teams::parse(&activity)
        .expect("activity")
        .into_iter()
        .next()
        .expect("event");
    let mut metadata = serde_json::to_value(&event).expect("json");
    metadata["endpoint"] = Value::from(service);
    let teams_user = format!("teams-token:{}", event.conversation_id);
    store
        .accept_inbound(
            &demo,
            NewInbound {
                id: MessageId::generate(),
                channel: Channel::Teams,
                user: teams_user.clone(),
                content: Content::text(event.text.clone().unwrap_or_default()),
                metadata,
                external_id: Some(format!("teams-token:{}", event.event_id)),
                priority: Priority::Interactive,
            },
        )
        .await
        .expect("stored");

    for (channel, user, setting) in [
        (Channel::Telegram, "tg:100000001".to_owned(), "telegram"),
        (Channel::Whatsapp, "wa:15557654321".to_owned(), "whatsapp"),
        (Channel::Teams, teams_user, "token_url"),
    ] {
        let failed = failed_replies(store.as_ref(), channel, &user).await;
        for m in &failed {
            let e = error_of(m);
            assert!(
                e.contains("not a public address") && e.contains(setting),
                "{channel:?}: {e}"
            );
            assert!(!e.contains(INTERNAL), "{e}");
            assert!(!e.contains("AAFAKEtelegram"), "the bot token is redacted: {e}");
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no request reached the internal server");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_gateway_on_the_servers_own_network_is_never_dialled() {
    let (internal, hits) = counting_server(internal_answer()).await;
    let app = TestApp::spawn_with(|c, _| c.server.allow_private_targets = false).await;
    // On the tenant `other`: the metric below is per tenant and process, and other tests run
    // Discord sessions for `demo`.
    let mut cli = switchboard_in(app.dir.path().join("data"));
    cli.args([
        "connector",
        "add",
        "--tenant",
        "other",
        "--id",
        "dc",
        "--channel",
        "discord",
    ])
    .args(["--account-id", "1300000000000000001"])
    .args(["--secret", "bot_token=FAKE.discord.token", "--secret", "public_key=ab"])
    .args([
        "--setting",
        "gateway=on",
        "--setting",
        &format!("gateway_url=ws://{internal}"),
    ]);
    let out = tokio::task::block_in_place(|| cli.output()).expect("run the CLI");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A refused session counts as a reconnect, like any session that ends.
    eventually(30, "the Gateway session to be refused", || async {
        let metrics = app.metrics().await;
        metrics
            .lines()
            .any(|l| l.starts_with("switchboard_discord_gateway_reconnects_total") && l.contains("\"other\""))
            .then_some(())
    })
    .await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the Gateway URL on loopback was dialled"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_apis_redirect_is_not_followed() {
    // Private targets allowed (both servers are on loopback): the redirect alone is refused.
    let app = TestApp::spawn().await;
    let (internal, hits) = counting_server(internal_answer()).await;
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{internal}/latest/meta-data\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let (api, api_hits) = counting_server(redirect).await;
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[&format!("api_base=http://{api}")],
    );
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];
    let update = channel_fixture("telegram/text_message.json");
    assert_eq!(post(&app, "/v1/webhooks/demo/tg", &secret, update).await, 200);
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let failed = failed_replies(store.as_ref(), Channel::Telegram, "tg:100000001").await;
    let e = error_of(&failed[0]);
    assert!(e.contains("307"), "{e}");
    assert!(api_hits.load(Ordering::SeqCst) >= 1, "the API was called");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_settings_naming_a_private_address_are_refused_when_saved() {
    use crate::api::{PASSWORD, call, create_user, token_of};
    use reqwest::Method;
    let app = TestApp::spawn_with(|c, _| c.server.allow_private_targets = false).await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let connector = |setting: &str, url: &str| {
        json!({
            "channel": "telegram", "account_id": "7000000001",
            "secrets": {"bot_token": "7000000001:FAKE", "webhook_secret": "fake_Secret-Token_0001"},
            "settings": {setting: url},
        })
    };
    for (setting, url) in [
        ("api_base", "http://169.254.169.254/latest"),
        ("token_url", "http://0x7f.1:8080/token"),
        ("openid_metadata_url", "https://localhost/metadata"),
        ("gateway_url", "ws://[::ffff:10.0.0.1]/"),
    ] {
        let (status, body) = call(
            &app,
            Method::PUT,
            "/v1/tenants/demo/connectors/tg",
            Some(&root),
            Some(connector(setting, url)),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("bad_setting")),
            "{setting}={url}: {body}"
        );
    }
    let (status, body) = call(
        &app,
        Method::PUT,
        "/v1/tenants/demo/connectors/tg",
        Some(&root),
        Some(connector("api_base", "https://api.telegram.example")),
    )
    .await;
    assert_eq!(status, 200, "a public name is fine: {body}");
    app.stop().await;
}
