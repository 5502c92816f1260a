use super::*;
use proptest::prelude::*;
use switchboard_channels::messenger;
use switchboard_channels::{AttachmentKind, DeliveryState, EventKind, Fetch, InboundEvent};
use switchboard_core::Channel;

const PAGE: &str = "300000000000003";
const PSID: &str = "4000000000000004";

const FIXTURES: [&str; 9] = [
    "text_message.json",
    "quick_reply.json",
    "postback.json",
    "get_started_postback_with_referral.json",
    "attachment_image.json",
    "reply_to_message.json",
    "message_echo.json",
    "delivery.json",
    "read.json",
];

fn events(file: &str) -> Vec<InboundEvent> {
    messenger::parse(&fixture(&format!("messenger/{file}"))).expect("parses")
}

fn one(file: &str) -> InboundEvent {
    let mut all = events(file);
    assert_eq!(all.len(), 1, "{file}: {all:?}");
    let e = all.remove(0);
    assert_eq!((e.channel, e.account_id.as_str()), (Channel::Messenger, PAGE));
    assert_eq!(
        (e.conversation_id.as_str(), e.sender.id.as_str()),
        (PSID, PSID),
        "{file}"
    );
    assert!(!e.sender.is_bot);
    e
}

/// A page webhook with the given messaging items, in two entries.
fn batch(items: Vec<Value>) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture("messenger/text_message.json")).expect("json");
    let half = items.len() / 2;
    let mut second = v["entry"][0].clone();
    v["entry"][0]["messaging"] = Value::Array(items[..half].to_vec());
    second["messaging"] = Value::Array(items[half..].to_vec());
    v["entry"].as_array_mut().expect("entries").push(second);
    serde_json::to_vec(&v).expect("json")
}

fn item(file: &str) -> Value {
    let v: Value = serde_json::from_slice(&fixture(&format!("messenger/{file}"))).expect("json");
    v["entry"][0]["messaging"][0].clone()
}

#[test]
fn text_messages() {
    let e = one("text_message.json");
    assert_eq!(e.kind, EventKind::Message);
    let mid = "m_FAKEmid0000000000000000000001";
    assert_eq!((e.event_id.as_str(), e.message_id.as_deref()), (mid, Some(mid)));
    assert_eq!(e.text.as_deref(), Some("Do you ship to Canada?"));
    assert_eq!(e.timestamp_ms, 1_767_225_600_100, "already milliseconds");
    assert_eq!(e.sender.display_name, None, "Messenger sends no names");
    assert!(e.attachments.is_empty() && e.interactive.is_none() && e.reply_to_message_id.is_none());
}

#[test]
fn quick_replies_are_interactive_titled_by_the_text() {
    let e = one("quick_reply.json");
    assert_eq!(e.kind, EventKind::Interactive);
    assert_eq!(e.event_id, "m_FAKEmid0000000000000000000002");
    let i = e.interactive.as_ref().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("SHIP_CA_YES", Some("Yes please"))
    );
    assert_eq!(e.text.as_deref(), Some("Yes please"));
    assert_eq!(e.timestamp_ms, 1_767_225_600_200);
}

#[test]
fn postbacks_use_their_mid_when_there_is_one() {
    let e = one("postback.json");
    assert_eq!(e.kind, EventKind::Interactive);
    let mid = "m_FAKEmid0000000000000000000003";
    assert_eq!((e.event_id.as_str(), e.message_id.as_deref()), (mid, Some(mid)));
    let i = e.interactive.as_ref().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("TRACK_ORDER:8812", Some("Track order"))
    );
    assert_eq!(
        (e.text.as_deref(), e.timestamp_ms),
        (Some("Track order"), 1_767_225_600_300)
    );
}

#[test]
fn get_started_postbacks_with_a_referral_are_keyed_by_sender_and_time() {
    let e = one("get_started_postback_with_referral.json");
    assert_eq!(e.kind, EventKind::Interactive);
    assert_eq!(e.event_id, format!("{PSID}:1767225600400:postback"));
    assert_eq!(e.message_id, None);
    let i = e.interactive.as_ref().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("GET_STARTED", Some("Get Started"))
    );
}

#[test]
fn attachments_are_fetched_by_url() {
    let e = one("attachment_image.json");
    assert_eq!(e.kind, EventKind::Message);
    assert_eq!(e.event_id, "m_FAKEmid0000000000000000000005");
    assert_eq!(e.text, None);
    assert_eq!(e.attachments.len(), 1);
    let a = &e.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Image);
    assert_eq!(a.fetch, Fetch::Url("https://example.com/fake-cdn/img-0005.jpg".into()));

    let mut m = item("attachment_image.json");
    m["message"]["attachments"] = serde_json::json!([
        {"type": "audio", "payload": {"url": "https://example.com/a.mp4"}},
        {"type": "video", "payload": {"url": "https://example.com/v.mp4"}},
        {"type": "file", "payload": {"url": "https://example.com/f.pdf"}},
        {"type": "image", "payload": {"url": "https://example.com/s.png", "sticker_id": 369239263222822_u64}},
        {"type": "location", "payload": {"url": "https://example.com/map", "title": "Pinned", "coordinates": {"lat": 45.5, "long": -73.6}}},
        {"type": "fallback", "payload": {"url": "https://example.com/article", "title": "An article"}},
        {"type": "template", "payload": {"template_type": "generic", "elements": []}}
    ]);
    let e = &messenger::parse(&batch(vec![m])).expect("parses")[0];
    let kinds: Vec<_> = e.attachments.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AttachmentKind::Audio,
            AttachmentKind::Video,
            AttachmentKind::File,
            AttachmentKind::Sticker,
            AttachmentKind::Location,
            AttachmentKind::File
        ],
        "templates are skipped"
    );
    assert!(e.attachments.iter().all(|a| matches!(a.fetch, Fetch::Url(_))));
    let l = e.attachments[4].location.as_ref().expect("coordinates");
    assert_eq!(
        (l.latitude, l.longitude, l.name.as_deref()),
        (45.5, -73.6, Some("Pinned"))
    );
    assert_eq!(e.attachments[5].name.as_deref(), Some("An article"));
}

#[test]
fn replies_name_the_quoted_message() {
    let e = one("reply_to_message.json");
    assert_eq!(e.kind, EventKind::Message);
    assert_eq!(e.event_id, "m_FAKEmid0000000000000000000006");
    assert_eq!(e.text.as_deref(), Some("this one"));
    assert_eq!(
        e.reply_to_message_id.as_deref(),
        Some("m_FAKEmid0000000000000000000001")
    );
}

#[test]
fn echoes_of_our_own_messages_are_not_input() {
    assert!(events("message_echo.json").is_empty());
}

#[test]
fn deliveries_give_one_status_per_mid() {
    let e = one("delivery.json");
    assert_eq!(e.kind, EventKind::Status);
    let mid = "m_FAKEmid0000000000000000000007";
    assert_eq!(e.event_id, format!("{mid}:delivered"));
    let s = e.status.as_ref().expect("status");
    assert_eq!((s.message_id.as_str(), s.state), (mid, DeliveryState::Delivered));
    assert_eq!(e.timestamp_ms, 1_767_225_600_800);

    let mut d = item("delivery.json");
    d["delivery"]["mids"] = serde_json::json!(["m_a", "m_b", "m_c"]);
    let all = messenger::parse(&batch(vec![d])).expect("parses");
    let ids: Vec<_> = all.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["m_a:delivered", "m_b:delivered", "m_c:delivered"]);

    let mut d = item("delivery.json");
    d["delivery"].as_object_mut().expect("delivery").remove("mids");
    let all = messenger::parse(&batch(vec![d])).expect("parses");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].event_id, format!("{PSID}:1767225600790:delivered"));
    assert_eq!(all[0].status.as_ref().map(|s| s.message_id.as_str()), Some(""));
}

#[test]
fn read_receipts_carry_a_watermark_not_a_mid() {
    let e = one("read.json");
    assert_eq!(e.kind, EventKind::Status);
    assert_eq!(e.event_id, format!("{PSID}:1767225600890:read"));
    let s = e.status.as_ref().expect("status");
    assert_eq!((s.message_id.as_str(), s.state), ("", DeliveryState::Read));
    assert_eq!(e.timestamp_ms, 1_767_225_600_890, "the watermark");
}

#[test]
fn one_webhook_gives_one_event_per_item_across_entries() {
    let body = batch(
        FIXTURES
            .iter()
            .map(|f| item(f))
            .chain([serde_json::json!({"sender": {"id": PSID}, "timestamp": 1, "reaction": {"mid": "m_x", "action": "react", "emoji": "👍"}})])
            .collect(),
    );
    let all = messenger::parse(&body).expect("parses");
    assert_eq!(all.len(), 8, "echo and reaction give nothing: {all:?}");
    let mut ids: Vec<_> = all.iter().map(|e| e.event_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
    assert!(all.iter().all(|e| e.account_id == PAGE));
}

#[test]
fn foreign_and_broken_payloads_are_refused() {
    assert!(messenger::parse(b"{}").is_err());
    assert!(messenger::parse(&fixture("whatsapp/text_message.json")).is_err());
    let mut no_sender = item("text_message.json");
    no_sender.as_object_mut().expect("item").remove("sender");
    assert!(messenger::parse(&batch(vec![no_sender])).is_err());
    let mut no_mid = item("text_message.json");
    no_mid["message"].as_object_mut().expect("message").remove("mid");
    assert!(messenger::parse(&batch(vec![no_mid])).is_err());
    let optin = serde_json::json!({"sender": {"user_ref": "ref-1"}, "timestamp": 1, "optin": {"ref": "x"}});
    assert!(messenger::parse(&batch(vec![optin])).expect("parses").is_empty());
}

proptest! {
    #[test]
    fn messenger_never_panics(
        i in 0usize..FIXTURES.len(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        pick in any::<bool>(),
    ) {
        let input = if pick { body } else { fixture(&format!("messenger/{}", FIXTURES[i])) };
        let _ = messenger::parse(&input);
    }

    #[test]
    fn messenger_survives_mutated_messages(body in mutations(fixture("messenger/quick_reply.json"))) {
        let _ = messenger::parse(&body);
    }

    #[test]
    fn messenger_survives_mutated_receipts(body in mutations(fixture("messenger/delivery.json"))) {
        let _ = messenger::parse(&body);
    }
}
