//! Outbound rendering and answer classification for Telegram, WhatsApp, Messenger and Twilio,
//! against the shapes in `tests/fixtures/<channel>/outbound/`.

use super::*;
use serde_json::json;
use switchboard_channels::outbound::{Auth, Body, Call, Outcome, Reply, Target};
use switchboard_channels::{messenger, telegram, twilio, whatsapp};
use switchboard_core::Button;

fn fx(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_of(call: &Call) -> &Value {
    match &call.body {
        Body::Json(v) => v,
        Body::Form(f) => panic!("expected JSON, got a form: {f:?}"),
    }
}

fn form_of(call: &Call) -> &[(String, String)] {
    match &call.body {
        Body::Form(f) => f,
        Body::Json(v) => panic!("expected a form, got JSON: {v}"),
    }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn buttons(pairs: &[(&str, &str)]) -> Vec<Button> {
    pairs
        .iter()
        .map(|(title, payload)| Button {
            title: (*title).into(),
            payload: (*payload).into(),
        })
        .collect()
}

fn many(n: usize) -> Vec<Button> {
    (1..=n)
        .map(|i| Button {
            title: format!("Option {i}"),
            payload: format!("opt_{i}"),
        })
        .collect()
}

fn reply(text: &str, buttons: Vec<Button>) -> Reply {
    Reply {
        text: text.into(),
        buttons,
        rich: None,
    }
}

/// Words of `n` characters in all, so splitting has spaces to cut at.
fn long_text(n: usize) -> String {
    "word ".repeat(n / 5)
}

fn without(mut v: Value, pointer: &str, keys: &[&str]) -> Value {
    let obj = v.pointer_mut(pointer).and_then(Value::as_object_mut).expect("object");
    for k in keys {
        obj.remove(*k);
    }
    v
}

fn is_permanent_with(o: &Outcome, needle: &str) -> bool {
    matches!(o, Outcome::Permanent(m) if m.contains(needle))
}

// ---------------------------------------------------------------------------------------------
// Telegram

fn tg_target() -> Target {
    Target {
        account_id: "7000000001".into(),
        conversation_id: "100000001".into(),
        ..Target::default()
    }
}

#[test]
fn telegram_plain_text_is_the_send_message_of_the_webhook_reply_fixture() {
    let calls = telegram::render(&reply("Got it!", vec![]), &tg_target());
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, http::Method::POST);
    assert_eq!(calls[0].path, "sendMessage");
    assert_eq!(calls[0].auth, Auth::PathPrefix("bot_token"));
    let expected = without(fx("telegram/outbound/webhook_reply_method.json"), "", &["method"]);
    assert_eq!(json_of(&calls[0]), &expected);
}

#[test]
fn telegram_answers_the_callback_query_first_then_sends_an_inline_keyboard() {
    let fixture = fx("telegram/outbound/sendMessage_inline_keyboard.json");
    let ack = fx("telegram/outbound/answerCallbackQuery.json");
    let to = Target {
        reply_to: Some("101".into()),
        interaction: Some(ack["callback_query_id"].as_str().expect("id").into()),
        ..tg_target()
    };
    let r = reply(
        "Which department?",
        buttons(&[("Sales", "dept:sales"), ("Support", "dept:support")]),
    );
    let calls = telegram::render(&r, &to);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].path, "answerCallbackQuery");
    assert_eq!(calls[0].auth, Auth::PathPrefix("bot_token"));
    assert_eq!(
        json_of(&calls[0]),
        &json!({ "callback_query_id": ack["callback_query_id"] })
    );

    assert_eq!(calls[1].path, "sendMessage");
    let body = json_of(&calls[1]);
    for key in ["chat_id", "text", "reply_parameters"] {
        assert_eq!(body[key], fixture[key], "{key}");
    }
    assert!(body.get("message_thread_id").is_none());
    // One button per row, with the fixture's button shape.
    let fixture_row = &fixture["reply_markup"]["inline_keyboard"][0];
    assert_eq!(
        body["reply_markup"]["inline_keyboard"],
        json!([[fixture_row[0]], [fixture_row[1]]])
    );
}

#[test]
fn telegram_falls_back_to_a_reply_keyboard_when_a_payload_exceeds_64_bytes() {
    let fixture = fx("telegram/outbound/sendMessage_reply_keyboard.json");
    let long = "x".repeat(65);
    let r = reply(
        "Share your location or pick an option",
        buttons(&[("Track order", "track"), ("Talk to a human", &long)]),
    );
    let calls = telegram::render(&r, &tg_target());
    assert_eq!(calls.len(), 1);
    let markup = &json_of(&calls[0])["reply_markup"];
    assert!(markup.get("inline_keyboard").is_none());
    assert_eq!(
        markup["keyboard"],
        json!([[{ "text": "Track order" }], [{ "text": "Talk to a human" }]])
    );
    for key in ["resize_keyboard", "one_time_keyboard"] {
        assert_eq!(markup[key], fixture["reply_markup"][key], "{key}");
    }
    // Exactly 64 bytes still fits callback_data.
    let r = reply("Pick", buttons(&[("A", &"y".repeat(64))]));
    let calls = telegram::render(&r, &tg_target());
    assert!(json_of(&calls[0])["reply_markup"].get("inline_keyboard").is_some());
}

#[test]
fn telegram_splits_long_text_with_buttons_on_the_last_piece_and_keeps_the_topic() {
    let to = Target {
        thread_id: Some("42".into()),
        reply_to: Some("101".into()),
        ..tg_target()
    };
    let r = reply(&long_text(9000), buttons(&[("Yes", "Y")]));
    let calls = telegram::render(&r, &to);
    assert_eq!(calls.len(), 3);
    for (i, c) in calls.iter().enumerate() {
        let b = json_of(c);
        assert_eq!(c.path, "sendMessage");
        assert!(b["text"].as_str().expect("text").chars().count() <= telegram::TEXT_LIMIT);
        assert_eq!(b["chat_id"], json!(100000001));
        assert_eq!(b["message_thread_id"], json!(42));
        assert_eq!(b.get("reply_parameters").is_some(), i == 0, "piece {i}");
        assert_eq!(b.get("reply_markup").is_some(), i == 2, "piece {i}");
    }
}

#[test]
fn telegram_outcomes() {
    assert_eq!(
        telegram::outcome(200, &fixture("telegram/outbound/response_ok.json"), None),
        Outcome::Sent(Some("107".into()))
    );
    assert_eq!(
        telegram::outcome(200, br#"{"ok":true,"result":true}"#, None),
        Outcome::Sent(None)
    );
    // The body's retry_after wins over the header.
    assert_eq!(
        telegram::outcome(429, &fixture("telegram/outbound/error_429.json"), Some(3)),
        Outcome::RetryAfter(7)
    );
    assert_eq!(telegram::outcome(429, b"", Some(3)), Outcome::RetryAfter(3));
    let blocked = telegram::outcome(403, &fixture("telegram/outbound/error_403_blocked.json"), None);
    assert!(
        matches!(&blocked, Outcome::Blocked(m) if m.contains("bot was blocked by the user")),
        "{blocked:?}"
    );
    let migrated = br#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}"#;
    assert!(is_permanent_with(&telegram::outcome(400, migrated, None), "-1001234"));
    assert!(matches!(
        telegram::outcome(502, b"Bad Gateway", None),
        Outcome::Transient(_)
    ));
    assert!(matches!(
        telegram::outcome(200, br#"{"ok":false,"description":"odd"}"#, None),
        Outcome::Permanent(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// WhatsApp

const WAMID: &str = "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgASGBQwMDAxRkFLRQA=";

fn wa_target() -> Target {
    Target {
        account_id: "106540352242922".into(),
        conversation_id: "15557654321".into(),
        ..Target::default()
    }
}

#[test]
fn whatsapp_text_reply_is_exactly_the_text_fixture() {
    let to = Target {
        reply_to: Some(WAMID.into()),
        ..wa_target()
    };
    let calls = whatsapp::render(&reply("Yes - order 8812 shipped today.", vec![]), &to);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, http::Method::POST);
    assert_eq!(calls[0].path, "106540352242922/messages");
    assert_eq!(calls[0].auth, Auth::Bearer("access_token"));
    assert_eq!(json_of(&calls[0]), &fx("whatsapp/outbound/text.json"));
}

#[test]
fn whatsapp_up_to_three_buttons_are_reply_buttons() {
    let expected = without(
        fx("whatsapp/outbound/interactive_buttons.json"),
        "/interactive",
        &["header", "footer"],
    );
    let r = reply(
        "What would you like to do?",
        buttons(&[("Order status", "order_status"), ("Talk to a human", "talk_human")]),
    );
    let calls = whatsapp::render(&r, &wa_target());
    assert_eq!(calls.len(), 1);
    assert_eq!(json_of(&calls[0]), &expected);

    // Titles are cut to 20 characters; three buttons are still buttons.
    let r = reply(
        "Pick",
        buttons(&[("A title that is far too long", "a"), ("B", "b"), ("C", "c")]),
    );
    let body = json_of(&whatsapp::render(&r, &wa_target())[0]).clone();
    assert_eq!(body["interactive"]["type"], "button");
    let sent = body["interactive"]["action"]["buttons"]
        .as_array()
        .expect("buttons")
        .clone();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0]["reply"]["title"], "A title that is far ");
    assert_eq!(sent[0]["reply"]["id"], "a");
}

#[test]
fn whatsapp_four_to_ten_buttons_are_a_list_with_one_section() {
    let fixture = fx("whatsapp/outbound/interactive_list.json");
    for n in [4, 10] {
        let r = reply("Pick a shipping speed", many(n));
        let calls = whatsapp::render(&r, &wa_target());
        assert_eq!(calls.len(), 1);
        let body = json_of(&calls[0]);
        for key in ["messaging_product", "recipient_type", "to", "type"] {
            assert_eq!(body[key], fixture[key], "{key}");
        }
        let list = &body["interactive"];
        assert_eq!(list["type"], fixture["interactive"]["type"]);
        assert_eq!(list["body"], fixture["interactive"]["body"]);
        assert_eq!(list["action"]["button"], fixture["interactive"]["action"]["button"]);
        let sections = list["action"]["sections"].as_array().expect("sections");
        assert_eq!(sections.len(), 1);
        let rows = sections[0]["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), n);
        assert_eq!(rows[0], json!({ "id": "opt_1", "title": "Option 1" }));
    }
    // A row title over 24 characters is cut, and given whole as the description.
    let mut b = many(4);
    b[0].title = "Express delivery, tomorrow morning".into();
    let body = json_of(&whatsapp::render(&reply("Pick", b), &wa_target())[0]).clone();
    let row = &body["interactive"]["action"]["sections"][0]["rows"][0];
    assert_eq!(row["title"], "Express delivery, tomorr");
    assert_eq!(row["title"].as_str().expect("title").chars().count(), 24);
    assert_eq!(row["description"], "Express delivery, tomorrow morning");
}

#[test]
fn whatsapp_more_than_ten_buttons_or_oversized_ids_are_numbered_text() {
    let r = reply("Pick", many(11));
    let calls = whatsapp::render(&r, &wa_target());
    assert_eq!(calls.len(), 1);
    let body = json_of(&calls[0]);
    assert_eq!(body["type"], "text");
    let text = body["text"]["body"].as_str().expect("body");
    assert!(text.starts_with("Pick\n\n1. Option 1\n"), "{text}");
    assert!(text.ends_with("11. Option 11"), "{text}");

    let r = reply("Pick", buttons(&[("Yes", &"y".repeat(257)), ("No", "n")]));
    let body = json_of(&whatsapp::render(&r, &wa_target())[0]).clone();
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "Pick\n\n1. Yes\n2. No");
}

#[test]
fn whatsapp_long_text_is_split_and_only_the_first_message_quotes() {
    let to = Target {
        reply_to: Some(WAMID.into()),
        ..wa_target()
    };
    let calls = whatsapp::render(&reply(&long_text(9000), vec![]), &to);
    assert_eq!(calls.len(), 3);
    for (i, c) in calls.iter().enumerate() {
        let b = json_of(c);
        assert_eq!(b["type"], "text");
        assert!(b["text"]["body"].as_str().expect("body").chars().count() <= whatsapp::TEXT_LIMIT);
        assert_eq!(b.get("context").is_some(), i == 0, "piece {i}");
    }

    // Reply buttons take a body of at most 1024 characters: the text before goes as text.
    let calls = whatsapp::render(&reply(&long_text(3000), buttons(&[("Yes", "Y")])), &to);
    assert!(calls.len() >= 2, "{calls:?}");
    let last = json_of(calls.last().expect("last"));
    assert_eq!(last["type"], "interactive");
    assert!(last.get("context").is_none());
    assert!(
        last["interactive"]["body"]["text"]
            .as_str()
            .expect("body")
            .chars()
            .count()
            <= 1024
    );
    for c in &calls[..calls.len() - 1] {
        assert_eq!(json_of(c)["type"], "text");
    }
    assert!(json_of(&calls[0]).get("context").is_some());
}

#[test]
fn whatsapp_outcomes() {
    assert_eq!(
        whatsapp::outcome(200, &fixture("whatsapp/outbound/response_ok.json"), None),
        Outcome::Sent(Some(
            "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgARGBIwMDEwRkFLRU9VVEJPVU5EAA==".into()
        ))
    );
    let window = whatsapp::outcome(400, &fixture("whatsapp/outbound/error_131047.json"), None);
    assert!(is_permanent_with(&window, "24-hour"), "{window:?}");
    assert!(is_permanent_with(&window, "template"), "{window:?}");
    let throughput = fixture("whatsapp/outbound/error_130429_throughput.json");
    assert_eq!(whatsapp::outcome(400, &throughput, None), Outcome::RetryAfter(1));
    assert_eq!(whatsapp::outcome(429, &throughput, Some(9)), Outcome::RetryAfter(9));
    assert_eq!(whatsapp::outcome(429, b"", Some(4)), Outcome::RetryAfter(4));
    assert!(matches!(whatsapp::outcome(503, b"", None), Outcome::Transient(_)));
    let bad = br#"{"error":{"message":"(#100) Invalid parameter","code":100}}"#;
    assert!(is_permanent_with(
        &whatsapp::outcome(400, bad, None),
        "Invalid parameter"
    ));
}

// ---------------------------------------------------------------------------------------------
// Messenger

fn fb_target() -> Target {
    Target {
        account_id: "100000000000001".into(),
        conversation_id: "4000000000000004".into(),
        ..Target::default()
    }
}

#[test]
fn messenger_quick_replies_follow_the_fixture() {
    // The fixture's second quick reply has an icon, which a reply's buttons never carry.
    let mut expected = fx("messenger/outbound/text_quick_replies.json");
    expected["message"]["quick_replies"][1]
        .as_object_mut()
        .expect("quick reply")
        .remove("image_url");
    let r = reply(
        "Ship to Canada?",
        buttons(&[("Yes", "SHIP_CA_YES"), ("No", "SHIP_CA_NO")]),
    );
    let calls = messenger::render(&r, &fb_target());
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, http::Method::POST);
    assert_eq!(calls[0].path, "me/messages");
    assert_eq!(calls[0].auth, Auth::Bearer("page_token"));
    assert_eq!(json_of(&calls[0]), &expected);
}

#[test]
fn messenger_plain_text_and_button_fallbacks() {
    let tagged = fx("messenger/outbound/human_agent_tag.json");
    let calls = messenger::render(&reply("An agent replied to your case #771.", vec![]), &fb_target());
    let body = json_of(&calls[0]);
    assert_eq!(body["recipient"], tagged["recipient"]);
    assert_eq!(body["message"], tagged["message"]);
    assert_eq!(body["messaging_type"], "RESPONSE");
    assert!(body.get("tag").is_none());

    // 13 quick replies at most; titles cut to 20 characters.
    let mut b = many(13);
    b[0].title = "A title that is far too long".into();
    let body = json_of(&messenger::render(&reply("Pick", b), &fb_target())[0]).clone();
    let quick = body["message"]["quick_replies"].as_array().expect("quick replies");
    assert_eq!(quick.len(), 13);
    assert_eq!(quick[0]["title"], "A title that is far ");
    assert_eq!(quick[0]["content_type"], "text");
    assert_eq!(body["message"]["text"], "Pick");

    let body = json_of(&messenger::render(&reply("Pick", many(14)), &fb_target())[0]).clone();
    assert!(body["message"].get("quick_replies").is_none());
    assert!(
        body["message"]["text"]
            .as_str()
            .expect("text")
            .ends_with("14. Option 14")
    );
}

#[test]
fn messenger_splits_at_2000_with_quick_replies_on_the_last_piece() {
    let calls = messenger::render(&reply(&long_text(4500), many(2)), &fb_target());
    assert_eq!(calls.len(), 3);
    for (i, c) in calls.iter().enumerate() {
        let m = &json_of(c)["message"];
        assert!(m["text"].as_str().expect("text").chars().count() <= messenger::TEXT_LIMIT);
        assert_eq!(m.get("quick_replies").is_some(), i == 2, "piece {i}");
    }
}

#[test]
fn messenger_outcomes() {
    assert_eq!(
        messenger::outcome(200, &fixture("messenger/outbound/response_ok.json"), None),
        Outcome::Sent(Some("m_FAKEmid0000000000000000000008".into()))
    );
    let window = messenger::outcome(400, &fixture("messenger/outbound/error_outside_window.json"), None);
    assert!(is_permanent_with(&window, "window"), "{window:?}");
    let gone = messenger::outcome(400, &fixture("messenger/outbound/error_551_unavailable.json"), None);
    assert!(
        matches!(&gone, Outcome::Blocked(m) if m.contains("not available")),
        "{gone:?}"
    );
    let limited = br#"{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","code":613}}"#;
    assert_eq!(messenger::outcome(400, limited, Some(30)), Outcome::RetryAfter(30));
    assert_eq!(messenger::outcome(429, b"", None), Outcome::RetryAfter(1));
    assert!(matches!(messenger::outcome(500, b"", None), Outcome::Transient(_)));
}

// ---------------------------------------------------------------------------------------------
// Twilio

const SID: &str = "AC00000000000000000000000000000001";

fn fixture_form(path: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&fixture(path)).expect("form")
}

#[test]
fn twilio_whatsapp_message_keeps_the_prefix_on_both_numbers() {
    let expected = fixture_form("twilio/outbound/create_whatsapp_content_message.form");
    let to = Target {
        account_id: SID.into(),
        conversation_id: "whatsapp:+15557654321".into(),
        endpoint: Some("+15550001111".into()),
        ..Target::default()
    };
    let calls = twilio::render(&reply("Order 8812 shipped today.", vec![]), &to);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, http::Method::POST);
    assert_eq!(calls[0].path, format!("Accounts/{SID}/Messages.json"));
    assert_eq!(calls[0].auth, Auth::Basic("auth_token"));
    let form = form_of(&calls[0]);
    for name in ["To", "From"] {
        assert_eq!(field(form, name), field(&expected, name), "{name}");
    }
    assert_eq!(field(form, "Body"), Some("Order 8812 shipped today."));
}

#[test]
fn twilio_sms_form_follows_the_fixture() {
    let expected = fixture_form("twilio/outbound/create_message.form");
    let mut to = Target {
        account_id: SID.into(),
        conversation_id: "+15557654321".into(),
        endpoint: Some("MG00000000000000000000000000000001".into()),
        ..Target::default()
    };
    let calls = twilio::render(&reply("Order 8812 shipped today.", vec![]), &to);
    let form = form_of(&calls[0]);
    let without_callback: Vec<_> = expected
        .iter()
        .filter(|(k, _)| k != "StatusCallback")
        .cloned()
        .collect();
    assert_eq!(form, without_callback.as_slice());

    to.endpoint = Some("+15550001111".into());
    let calls = twilio::render(&reply("Pick", buttons(&[("Sales", "S"), ("Support", "T")])), &to);
    assert_eq!(
        form_of(&calls[0]),
        [
            ("To".to_owned(), "+15557654321".to_owned()),
            ("From".to_owned(), "+15550001111".to_owned()),
            ("Body".to_owned(), "Pick\n\n1. Sales\n2. Support".to_owned()),
        ]
    );
}

#[test]
fn twilio_splits_at_1600() {
    let to = Target {
        account_id: SID.into(),
        conversation_id: "+15557654321".into(),
        endpoint: Some("+15550001111".into()),
        ..Target::default()
    };
    let calls = twilio::render(&reply(&long_text(4000), many(3)), &to);
    assert_eq!(calls.len(), 3);
    for c in &calls {
        assert!(field(form_of(c), "Body").expect("Body").chars().count() <= twilio::TEXT_LIMIT);
    }
    assert!(
        field(form_of(&calls[2]), "Body")
            .expect("Body")
            .ends_with("3. Option 3")
    );
}

#[test]
fn twilio_outcomes() {
    assert_eq!(
        twilio::outcome(201, &fixture("twilio/outbound/create_message_response.json"), None),
        Outcome::Sent(Some("SM00000000000000000000000000000008".into()))
    );
    let stop = twilio::outcome(400, &fixture("twilio/outbound/error_21610_unsubscribed.json"), None);
    assert!(
        matches!(&stop, Outcome::Blocked(m) if m.contains("unsubscribed")),
        "{stop:?}"
    );
    let window = twilio::outcome(400, &fixture("twilio/outbound/error_63016_outside_window.json"), None);
    assert!(is_permanent_with(&window, "24-hour window"), "{window:?}");
    let busy = br#"{"code":20429,"message":"Too Many Requests","status":429}"#;
    assert_eq!(twilio::outcome(429, busy, Some(2)), Outcome::RetryAfter(2));
    assert_eq!(twilio::outcome(429, b"", None), Outcome::RetryAfter(1));
    assert!(matches!(twilio::outcome(503, b"", None), Outcome::Transient(_)));
    let invalid = br#"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#;
    assert!(is_permanent_with(&twilio::outcome(400, invalid, None), "Invalid 'To'"));
}

#[test]
fn whatsapp_template_messages_carry_the_text_as_the_body_variable() {
    let call = whatsapp::render_template("reminder_notice", "en_US", "Reminder:\n  call   mom", &wa_target());
    assert_eq!(call.path, "106540352242922/messages");
    let Body::Json(body) = &call.body else {
        panic!("json body")
    };
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "reminder_notice");
    assert_eq!(body["template"]["language"]["code"], "en_US");
    // Template variables may not hold line breaks or runs of spaces.
    assert_eq!(
        body["template"]["components"][0]["parameters"][0]["text"],
        "Reminder: call mom"
    );
}
