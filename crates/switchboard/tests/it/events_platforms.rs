//! Event webhooks for platform channels: a reply is announced once the platform took it and
//! again once the platform reports it delivered; a person who blocked the bot ends the
//! conversation.

use crate::delivery::{fake_api, post};
use crate::event_receiver::{SECRET, receiver};
use crate::events::{calls_until, keys, spawn, subscribe};
use crate::helpers::*;
use serde_json::Value;
use switchboard_core::Clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_reply_is_emitted_once_sent_and_again_once_delivered() {
    let (url, received) = receiver(SECRET, vec![200]).await;
    let app = spawn(Clock::System).await;
    let (admin, _) = keys(&app).await;
    subscribe(&app, &admin, &url, &["message.sent", "message.delivered"]).await;
    let ok: Value = serde_json::from_slice(&channel_fixture("whatsapp/outbound/response_ok.json")).expect("json");
    let (api, _) = fake_api(vec![(200, ok)]).await;
    add_connector(
        &app,
        "wa",
        "whatsapp",
        "200000000000002",
        &[
            "access_token=EAAfake",
            &format!("app_secret={META_APP_SECRET}"),
            "verify_token=v",
        ],
        &[&format!("api_base={api}")],
    );
    let text = channel_fixture("whatsapp/text_message.json");
    let signed = [("X-Hub-Signature-256", meta_signature(&text))];
    let headers: Vec<(&str, &str)> = signed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post(&app, "/v1/webhooks/demo/wa", &headers, text).await, 200);
    let got = calls_until(&received, "the reply sent", |c| c.len() == 1).await;
    let sent = &got[0].body["data"]["message"];
    assert_eq!(
        (got[0].event.as_str(), sent["channel"].as_str(), sent["status"].as_str()),
        ("message.sent", Some("whatsapp"), Some("sent")),
        "emitted once the platform took it, not when it was queued"
    );

    let delivered = channel_fixture("whatsapp/status_delivered.json");
    let signed = meta_signature(&delivered);
    let status = post(
        &app,
        "/v1/webhooks/demo/wa",
        &[("X-Hub-Signature-256", &signed)],
        delivered,
    )
    .await;
    assert_eq!(status, 200);
    let got = calls_until(&received, "the delivered status", |c| c.len() == 2).await;
    assert_eq!(got[1].event, "message.delivered");
    assert_eq!(got[1].body["data"]["message"]["id"], sent["id"]);
    assert_eq!(got[1].body["data"]["message"]["status"], "delivered");
    assert!(got.iter().all(|c| c.verified));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_blocked_the_bot_ends_the_conversation() {
    let (url, received) = receiver(SECRET, vec![200]).await;
    let app = spawn(Clock::System).await;
    let (admin, _) = keys(&app).await;
    subscribe(&app, &admin, &url, &["conversation.started", "conversation.ended"]).await;
    let blocked: Value =
        serde_json::from_slice(&channel_fixture("telegram/outbound/error_403_blocked.json")).expect("json");
    let (api, _) = fake_api(vec![(403, blocked)]).await;
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[&format!("api_base={api}")],
    );
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];
    let text = channel_fixture("telegram/text_message.json");
    assert_eq!(post(&app, "/v1/webhooks/demo/tg", &secret, text).await, 200);
    let got = calls_until(&received, "the conversation to start and end", |c| c.len() == 2).await;
    assert_eq!(
        got.iter().map(|c| c.event.as_str()).collect::<Vec<_>>(),
        ["conversation.started", "conversation.ended"]
    );
    let ended = &got[1].body["data"];
    assert_eq!(ended["reason"], "blocked");
    assert_eq!(ended["conversation"]["user"], "tg:100000001");
    assert_eq!(ended["conversation"]["id"], got[0].body["data"]["conversation"]["id"]);
}
