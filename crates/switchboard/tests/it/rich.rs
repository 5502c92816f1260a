//! Rich replies end to end: an intent's cards and list reach the web chat (POST answer,
//! history, WebSocket frames) and a platform's API as the platform's own rich messages.

use crate::delivery::{fake_api, post};
use crate::helpers::*;
use crate::websocket::{connect, frames_until};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const SHOP_BOT: &str = r#"
name = "Shop"
fallback = ["Sorry?"]

[[intent]]
name = "catalogue"
examples = ["show me the catalogue", "what do you sell", "catalogue please"]
responses = ["Here is what we have."]
image = { url = "https://example.com/shop.png", caption = "Our shop" }
list = { text = "Anything else?", button = "Options", items = [
  { title = "Delivery", description = "Where we deliver", payload = "delivery" },
  { title = "Returns", payload = "returns" },
] }

[[intent.card]]
title = "Green tea"
subtitle = "Loose leaf, 100 g"
image_url = "https://example.com/tea.png"
buttons = [{ title = "Order", payload = "order green tea" }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bots_specials_reach_the_web_chat_as_cards_and_a_list() {
    let app = TestApp::spawn().await;
    let answer = app.say("rich-web", "what are today's specials?").await;
    let replies = answer["replies"].as_array().expect("replies");
    let kinds: Vec<&str> = replies.iter().filter_map(|r| r["type"].as_str()).collect();
    assert_eq!(kinds, ["text", "cards", "list"], "{answer}");
    assert_eq!(replies[1]["cards"][0]["title"], "Lemon tart");
    assert_eq!(
        replies[1]["cards"][0]["buttons"][0],
        json!({"title": "Book a table", "payload": "book a table"})
    );
    assert_eq!(replies[2]["button"], "More options");
    assert_eq!(replies[2]["items"][0]["description"], "When we are open");

    let conversation = answer["conversation_id"].as_str().expect("conversation");
    let history = app.history("demo", conversation).await;
    let cards = history
        .iter()
        .find(|m| m["type"] == "cards")
        .expect("cards in the history");
    assert_eq!(cards["cards"][1]["title"], "Iced green tea");
    assert_eq!(cards["direction"], "out");

    // A list item pressed sends its payload, like a button.
    let (status, joke) = app
        .post("demo", json!({"user": "rich-web", "payload": "tell me a joke"}))
        .await;
    assert_eq!(status, 200, "{joke}");
    assert!(
        joke["replies"][0]["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{joke}"
    );

    // The WebSocket frames carry the same, as additive fields of the message frame.
    let mut ws = connect(&app, "user=rich-ws").await;
    ws.send(Message::Text(json!({"type": "hello"}).to_string().into()))
        .await
        .expect("hello");
    ws.send(Message::Text(
        json!({"type": "message", "client_msg_id": "rich-1", "text": "what are today's specials?"})
            .to_string()
            .into(),
    ))
    .await
    .expect("message");
    let frames = frames_until(&mut ws, |f| f["type"] == "message" && f.get("list").is_some()).await;
    let card_frame = frames
        .iter()
        .find(|f| f["type"] == "message" && f.get("cards").is_some())
        .expect("a cards frame");
    assert_eq!(card_frame["cards"][0]["title"], "Lemon tart");
    assert_eq!(
        card_frame["text"], "Lemon tart\nIced green tea",
        "titles for text-only clients"
    );
    let list_frame = frames.last().expect("list frame");
    assert_eq!(list_frame["text"], "Anything else?");
    assert_eq!(list_frame["list"]["button"], "More options");
    assert_eq!(list_frame["list"]["items"][1]["payload"], "book a table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_gets_a_photo_a_card_with_its_keyboard_and_a_list() {
    let app = TestApp::spawn_with(|config, dir| {
        config.demo.bot_dir = write_bot(dir, "shop", SHOP_BOT);
    })
    .await;
    let ok = json!({"ok": true, "result": {"message_id": 778, "chat": {"id": 100000001}, "date": 1767225601}});
    let (api, calls) = fake_api(vec![(200, ok)]).await;
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[&format!("api_base={api}")],
    );
    let fixture = String::from_utf8(channel_fixture("telegram/text_message.json")).expect("utf-8");
    let body = fixture.replace("Hello, what are your opening hours?", "what do you sell");
    assert_ne!(body, fixture, "the fixture's text was replaced");
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];
    assert_eq!(
        post(&app, "/v1/webhooks/demo/tg", &secret, body.into_bytes()).await,
        200
    );

    let seen: Vec<(String, Value)> = eventually(15, "the rich replies to be sent", || async {
        let seen = calls.lock().expect("lock").clone();
        (seen.len() >= 4).then_some(seen)
    })
    .await;
    let methods: Vec<&str> = seen
        .iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        methods,
        ["sendMessage", "sendPhoto", "sendPhoto", "sendMessage"],
        "{seen:?}"
    );
    assert_eq!(seen[0].1["text"], "Here is what we have.");
    assert_eq!(seen[1].1["photo"], "https://example.com/shop.png");
    assert_eq!(seen[1].1["caption"], "Our shop");
    assert_eq!(seen[2].1["caption"], "Green tea\nLoose leaf, 100 g");
    assert_eq!(
        seen[2].1["reply_markup"],
        json!({"inline_keyboard": [[{"text": "Order", "callback_data": "order green tea"}]]})
    );
    assert_eq!(seen[3].1["text"], "Anything else?");
    assert_eq!(
        seen[3].1["reply_markup"]["inline_keyboard"][0],
        json!([{"text": "Delivery", "callback_data": "delivery"}])
    );
}
