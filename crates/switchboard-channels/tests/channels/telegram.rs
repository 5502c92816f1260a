use super::*;
use switchboard_channels::telegram::{self, SECRET_HEADER};
use switchboard_channels::{AttachmentKind, EventKind, Fetch, Membership, VerifyError};

const SECRET: &str = "fake_Secret-Token_0001";
const BOT: &str = "7000000001";

fn one(file: &str) -> switchboard_channels::InboundEvent {
    let mut events = telegram::parse(&fixture(&format!("telegram/{file}")), BOT).expect("parses");
    assert_eq!(events.len(), 1, "{file}: {events:?}");
    events.remove(0)
}

#[test]
fn the_secret_token_header_is_checked_in_constant_time_and_fails_closed() {
    for v in vectors("telegram") {
        let sent = v["expected"][SECRET_HEADER_CANONICAL].as_str().expect("header value");
        assert_eq!(
            telegram::verify(
                &headers(&[(SECRET_HEADER, sent)]),
                v["secret"].as_str().expect("secret")
            ),
            Ok(())
        );
    }
    assert_eq!(
        telegram::verify(&headers(&[]), SECRET),
        Err(VerifyError::MissingHeader(SECRET_HEADER))
    );
    assert_eq!(
        telegram::verify(&headers(&[(SECRET_HEADER, "fake_Secret-Token_0002")]), SECRET),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        telegram::verify(&headers(&[(SECRET_HEADER, "fake")]), SECRET),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        telegram::verify(&headers(&[(SECRET_HEADER, "")]), ""),
        Err(VerifyError::NoSecret),
        "no secret, no entry"
    );
}

const SECRET_HEADER_CANONICAL: &str = "X-Telegram-Bot-Api-Secret-Token";

#[test]
fn text_messages_and_commands() {
    let e = one("text_message.json");
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.account_id.as_str()),
        (EventKind::Message, "900000001", BOT)
    );
    assert_eq!(
        (e.conversation_id.as_str(), e.sender.id.as_str()),
        ("100000001", "100000001")
    );
    assert_eq!(e.sender.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(e.text.as_deref(), Some("Hello, what are your opening hours?"));
    assert_eq!(
        (e.message_id.as_deref(), e.timestamp_ms),
        (Some("101"), 1_767_225_600_000)
    );
    let start = one("command_start.json");
    assert!(
        start.text.as_deref().is_some_and(|t| t.starts_with("/start")),
        "{start:?}"
    );
    let topic = one("group_mention.json");
    assert!(topic.thread_id.is_some(), "forum topic thread: {topic:?}");
    assert!(topic.conversation_id.starts_with('-'), "group chats have negative ids");
}

#[test]
fn media_keeps_the_largest_photo_and_file_ids() {
    let photo = one("photo_message.json");
    assert_eq!(photo.attachments.len(), 1);
    let a = &photo.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Image);
    let raw: serde_json::Value = serde_json::from_slice(&fixture("telegram/photo_message.json")).expect("json");
    let sizes = raw["message"]["photo"].as_array().expect("sizes");
    let largest = sizes.last().expect("one size")["file_id"].as_str().expect("id");
    assert_eq!(a.fetch, Fetch::FileId(largest.to_owned()));
    assert_eq!(photo.text, a.caption, "the caption is the text");
    assert_eq!(one("voice_message.json").attachments[0].kind, AttachmentKind::Voice);
    let doc = one("document_message.json");
    assert_eq!(doc.attachments[0].kind, AttachmentKind::File);
    assert!(doc.attachments[0].name.is_some() && doc.attachments[0].mime.is_some());
}

#[test]
fn edits_button_presses_and_blocking() {
    let edit = one("edited_message.json");
    assert_eq!(edit.kind, EventKind::Edit);
    let press = one("callback_query.json");
    assert_eq!(press.kind, EventKind::Interactive);
    let i = press.interactive.expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("dept:support", Some("Support"))
    );
    assert_eq!(
        (i.source_message_id.as_deref(), i.ack_id.as_deref()),
        (Some("103"), Some("4382000000000000001"))
    );
    let blocked = one("my_chat_member_blocked.json");
    assert_eq!(
        (blocked.kind, blocked.membership),
        (EventKind::Membership, Some(Membership::Blocked))
    );
}

#[test]
fn the_bots_own_messages_are_not_input() {
    let body = br#"{"update_id":1,"message":{"message_id":5,"from":{"id":7000000001,"is_bot":true,"first_name":"Bot"},"chat":{"id":1,"type":"private"},"date":1,"text":"echo"}}"#;
    assert!(telegram::parse(body, BOT).expect("parses").is_empty());
    assert!(
        telegram::parse(br#"{"update_id":2,"channel_post":{}}"#, BOT)
            .expect("parses")
            .is_empty(),
        "other updates are ignored"
    );
    assert!(telegram::parse(b"{}", BOT).is_err());
    assert_eq!(telegram::bot_id("7000000001:AAFake"), BOT);
}
