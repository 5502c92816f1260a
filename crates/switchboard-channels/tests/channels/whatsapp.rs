use super::*;
use proptest::prelude::*;
use switchboard_channels::whatsapp;
use switchboard_channels::{AttachmentKind, DeliveryState, EventKind, Fetch, InboundEvent};
use switchboard_core::Channel;

const PHONE_NUMBER_ID: &str = "200000000000002";
const USER: &str = "15557654321";

const FIXTURES: [&str; 14] = [
    "text_message.json",
    "text_message_unicode_escaped.json",
    "image_message.json",
    "audio_voice_message.json",
    "location_message.json",
    "interactive_button_reply.json",
    "interactive_list_reply.json",
    "template_quick_reply_button.json",
    "unsupported_message.json",
    "status_sent.json",
    "status_delivered.json",
    "status_read.json",
    "status_failed_131047.json",
    "verify_request.http",
];

fn one(file: &str) -> InboundEvent {
    let mut events = whatsapp::parse(&fixture(&format!("whatsapp/{file}"))).expect("parses");
    assert_eq!(events.len(), 1, "{file}: {events:?}");
    let e = events.remove(0);
    assert_eq!((e.channel, e.account_id.as_str()), (Channel::Whatsapp, PHONE_NUMBER_ID));
    e
}

/// The fixture's only message or status, as JSON, to build batches from.
fn item(file: &str, list: &str) -> Value {
    let v: Value = serde_json::from_slice(&fixture(&format!("whatsapp/{file}"))).expect("json");
    v["entry"][0]["changes"][0]["value"][list][0].clone()
}

fn assert_from_grace(e: &InboundEvent) {
    assert_eq!((e.conversation_id.as_str(), e.sender.id.as_str()), (USER, USER));
    assert_eq!(e.sender.display_name.as_deref(), Some("Grace Hopper"));
    assert!(!e.sender.is_bot);
}

#[test]
fn text_messages() {
    let e = one("text_message.json");
    assert_eq!(e.kind, EventKind::Message);
    assert_from_grace(&e);
    let wamid = "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgASGBQwMDAxRkFLRQA=";
    assert_eq!((e.event_id.as_str(), e.message_id.as_deref()), (wamid, Some(wamid)));
    assert_eq!(e.timestamp_ms, 1_767_225_600_000, "seconds as a string become ms");
    assert_eq!(e.text.as_deref(), Some("Hi! Is my order 8812 shipped?"));
    assert!(e.attachments.is_empty() && e.interactive.is_none() && e.status.is_none());
    assert_eq!(e.reply_to_message_id, None);
}

#[test]
fn escaped_unicode_is_decoded_after_verification() {
    let e = one("text_message_unicode_escaped.json");
    assert_eq!(e.text.as_deref(), Some("¿Tienen envío a Málaga? 📦"));
    assert_eq!(e.sender.display_name.as_deref(), Some("José Núñez"));
    assert_eq!(
        (e.conversation_id.as_str(), e.timestamp_ms),
        ("34600000001", 1_767_225_601_000)
    );
}

#[test]
fn media_is_fetched_by_media_id() {
    let image = one("image_message.json");
    assert_from_grace(&image);
    assert_eq!(image.kind, EventKind::Message);
    assert_eq!(image.attachments.len(), 1);
    let a = &image.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Image);
    assert_eq!(a.fetch, Fetch::MediaId("900000000000001".into()));
    assert_eq!(
        (a.mime.as_deref(), a.caption.as_deref()),
        (Some("image/jpeg"), Some("Damaged box"))
    );
    assert_eq!(image.text, a.caption, "the caption is the text");

    let voice = one("audio_voice_message.json");
    assert_eq!(voice.attachments.len(), 1);
    let a = &voice.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Voice, "voice: true is a voice note");
    assert_eq!(a.fetch, Fetch::MediaId("900000000000002".into()));
    assert_eq!(a.mime.as_deref(), Some("audio/ogg; codecs=opus"));
    assert_eq!((voice.text, voice.timestamp_ms), (None, 1_767_225_603_000));
}

#[test]
fn other_media_types_documents_stickers_and_plain_audio() {
    let mut msg = item("image_message.json", "messages");
    msg["type"] = "document".into();
    msg["document"] = serde_json::json!({"id": "9001", "mime_type": "application/pdf", "filename": "invoice.pdf", "caption": "Invoice"});
    let mut audio = item("audio_voice_message.json", "messages");
    audio["id"] = "wamid.audio".into();
    audio["audio"]["voice"] = false.into();
    let mut video = item("image_message.json", "messages");
    video["id"] = "wamid.video".into();
    video["type"] = "video".into();
    video["video"] = serde_json::json!({"id": "9002", "mime_type": "video/mp4"});
    let mut sticker = item("image_message.json", "messages");
    sticker["id"] = "wamid.sticker".into();
    sticker["type"] = "sticker".into();
    sticker["sticker"] = serde_json::json!({"id": "9003", "mime_type": "image/webp", "animated": false});
    let events = whatsapp::parse(&batch(vec![msg, audio, video, sticker], vec![])).expect("parses");
    let kinds: Vec<_> = events.iter().map(|e| e.attachments[0].kind).collect();
    assert_eq!(
        kinds,
        [
            AttachmentKind::File,
            AttachmentKind::Audio,
            AttachmentKind::Video,
            AttachmentKind::Sticker
        ]
    );
    let doc = &events[0].attachments[0];
    assert_eq!(
        (doc.name.as_deref(), doc.mime.as_deref(), doc.caption.as_deref()),
        (Some("invoice.pdf"), Some("application/pdf"), Some("Invoice"))
    );
    assert_eq!(doc.fetch, Fetch::MediaId("9001".into()));
}

#[test]
fn locations_and_shared_contacts() {
    let e = one("location_message.json");
    assert_from_grace(&e);
    assert_eq!(e.attachments.len(), 1);
    let a = &e.attachments[0];
    assert_eq!((a.kind, &a.fetch), (AttachmentKind::Location, &Fetch::None));
    let l = a.location.as_ref().expect("location");
    assert_eq!((l.latitude, l.longitude), (40.4168, -3.7038));
    assert_eq!(
        (l.name.as_deref(), l.address.as_deref()),
        (Some("Puerta del Sol"), Some("Madrid"))
    );

    let mut contacts = item("text_message.json", "messages");
    contacts["type"] = "contacts".into();
    contacts["contacts"] = serde_json::json!([{
        "name": {"formatted_name": "Ada Lovelace", "first_name": "Ada"},
        "phones": [{"phone": "+1 555 000 0001", "wa_id": "15550000001", "type": "CELL"}]
    }]);
    let events = whatsapp::parse(&batch(vec![contacts], vec![])).expect("parses");
    let a = &events[0].attachments[0];
    assert_eq!(a.kind, AttachmentKind::Contact);
    assert_eq!(
        (a.name.as_deref(), a.caption.as_deref()),
        (Some("Ada Lovelace"), Some("+1 555 000 0001"))
    );
}

#[test]
fn reply_buttons_and_list_rows_are_interactive() {
    let e = one("interactive_button_reply.json");
    assert_from_grace(&e);
    assert_eq!(e.kind, EventKind::Interactive);
    let ours = "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgARGBIwMDA2RkFLRU9VVEJPVU5EAA==";
    let i = e.interactive.as_ref().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("order_status", Some("Order status"))
    );
    assert_eq!(i.source_message_id.as_deref(), Some(ours));
    assert_eq!(i.ack_id, None, "nothing to acknowledge on WhatsApp");
    assert_eq!(e.reply_to_message_id.as_deref(), Some(ours));
    assert_eq!(e.text.as_deref(), Some("Order status"));
    assert_eq!(e.event_id, "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgASGBQwMDA2RkFLRQA=");

    let e = one("interactive_list_reply.json");
    assert_eq!(e.kind, EventKind::Interactive);
    let i = e.interactive.as_ref().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("ship_express", Some("Express"))
    );
    assert_eq!(
        i.source_message_id.as_deref(),
        Some("wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgARGBIwMDA3RkFLRU9VVEJPVU5EAA==")
    );
    assert_eq!(
        (e.text.as_deref(), e.timestamp_ms),
        (Some("Express"), 1_767_225_606_000)
    );
}

#[test]
fn template_quick_replies_are_interactive() {
    let e = one("template_quick_reply_button.json");
    assert_from_grace(&e);
    assert_eq!(e.kind, EventKind::Interactive);
    let i = e.interactive.as_ref().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("CONFIRM_APPOINTMENT", Some("Confirm"))
    );
    let ours = "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgARGBIwMDA4RkFLRU9VVEJPVU5EAA==";
    assert_eq!(i.source_message_id.as_deref(), Some(ours));
    assert_eq!(e.reply_to_message_id.as_deref(), Some(ours));
    assert_eq!(e.text.as_deref(), Some("Confirm"));
}

#[test]
fn unsupported_messages_are_empty_messages_the_bot_can_decline() {
    let e = one("unsupported_message.json");
    assert_from_grace(&e);
    assert_eq!(e.kind, EventKind::Message);
    assert_eq!(e.event_id, "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgASGBQwMDA5RkFLRQA=");
    assert_eq!(e.text, None);
    assert!(e.attachments.is_empty() && e.interactive.is_none());
}

#[test]
fn statuses_are_keyed_by_message_and_state() {
    let ours = "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgARGBIwMDEwRkFLRU9VVEJPVU5EAA==";
    let cases = [
        ("status_sent.json", DeliveryState::Sent, "sent", 1_767_225_609_000),
        (
            "status_delivered.json",
            DeliveryState::Delivered,
            "delivered",
            1_767_225_610_000,
        ),
        ("status_read.json", DeliveryState::Read, "read", 1_767_225_611_000),
    ];
    let mut ids = Vec::new();
    for (file, state, word, ms) in cases {
        let e = one(file);
        assert_eq!(e.kind, EventKind::Status, "{file}");
        assert_eq!(e.event_id, format!("{ours}:{word}"));
        assert_eq!((e.conversation_id.as_str(), e.timestamp_ms), (USER, ms));
        let s = e.status.as_ref().expect("status");
        assert_eq!((s.message_id.as_str(), s.state), (ours, state));
        assert_eq!((s.error_code.as_deref(), s.error_message.as_deref()), (None, None));
        assert!(e.text.is_none() && e.message_id.is_none());
        ids.push(e.event_id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "one message, three distinct events");
}

#[test]
fn failed_statuses_carry_the_error() {
    let e = one("status_failed_131047.json");
    assert_eq!(e.kind, EventKind::Status);
    let ours = "wamid.FAKEHBgLMTU1NTc2NTQzMjEVAgARGBIwMDExRkFLRU9VVEJPVU5EAA==";
    assert_eq!(e.event_id, format!("{ours}:failed"));
    let s = e.status.as_ref().expect("status");
    assert_eq!((s.message_id.as_str(), s.state), (ours, DeliveryState::Failed));
    assert_eq!(
        (s.error_code.as_deref(), s.error_message.as_deref()),
        (Some("131047"), Some("Re-engagement message"))
    );
}

#[test]
fn the_handshake_fixture_is_not_a_webhook_body() {
    assert!(whatsapp::parse(&fixture("whatsapp/verify_request.http")).is_err());
}

/// One webhook holding the given messages and statuses, in a change of its own each, across two
/// entries; Grace's contact card is in the first.
fn batch(messages: Vec<Value>, statuses: Vec<Value>) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture("whatsapp/text_message.json")).expect("json");
    v["entry"][0]["changes"][0]["value"]["messages"] = Value::Array(messages);
    let mut status_change = v["entry"][0]["changes"][0].clone();
    status_change["value"]["statuses"] = Value::Array(statuses);
    status_change["value"]["messages"] = Value::Array(vec![]);
    status_change["value"]
        .as_object_mut()
        .expect("value")
        .remove("contacts");
    let other = serde_json::json!({"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 1}});
    v["entry"]
        .as_array_mut()
        .expect("entries")
        .push(serde_json::json!({"id": "100000000000001", "changes": [other, status_change]}));
    serde_json::to_vec(&v).expect("json")
}

#[test]
fn one_webhook_gives_one_event_per_message_and_status() {
    let body = batch(
        vec![
            item("text_message.json", "messages"),
            item("image_message.json", "messages"),
            item("interactive_button_reply.json", "messages"),
        ],
        vec![
            item("status_sent.json", "statuses"),
            item("status_delivered.json", "statuses"),
            item("status_failed_131047.json", "statuses"),
        ],
    );
    let events = whatsapp::parse(&body).expect("parses");
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Message,
            EventKind::Message,
            EventKind::Interactive,
            EventKind::Status,
            EventKind::Status,
            EventKind::Status
        ]
    );
    let mut ids: Vec<_> = events.iter().map(|e| e.event_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "every event has its own key");
    assert!(events.iter().all(|e| e.account_id == PHONE_NUMBER_ID));
    assert!(
        events[..3]
            .iter()
            .all(|e| e.sender.display_name.as_deref() == Some("Grace Hopper"))
    );
}

#[test]
fn noise_is_skipped_and_foreign_payloads_are_refused() {
    let mut reaction = item("text_message.json", "messages");
    reaction["type"] = "reaction".into();
    reaction["reaction"] = serde_json::json!({"message_id": "wamid.ours", "emoji": "👍"});
    let mut order = item("text_message.json", "messages");
    order["id"] = "wamid.order".into();
    order["type"] = "order".into();
    let mut unknown_state = item("status_sent.json", "statuses");
    unknown_state["status"] = "deleted".into();
    let events = whatsapp::parse(&batch(vec![reaction, order], vec![unknown_state])).expect("parses");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].event_id.as_str(), events[0].text.as_deref()),
        ("wamid.order", None),
        "types the bot cannot read still reach it, empty"
    );

    assert!(whatsapp::parse(b"{}").is_err());
    assert!(whatsapp::parse(&fixture("messenger/text_message.json")).is_err());
    let mut bad_time = item("text_message.json", "messages");
    bad_time["timestamp"] = "soon".into();
    assert!(whatsapp::parse(&batch(vec![bad_time], vec![])).is_err());
    let mut huge = item("text_message.json", "messages");
    huge["timestamp"] = i64::MAX.to_string().into();
    assert!(whatsapp::parse(&batch(vec![huge], vec![])).is_err());
    let mut numeric = item("text_message.json", "messages");
    numeric["timestamp"] = 1_767_225_600_i64.into();
    let events = whatsapp::parse(&batch(vec![numeric], vec![])).expect("numeric timestamps too");
    assert_eq!(events[0].timestamp_ms, 1_767_225_600_000);
}

proptest! {
    #[test]
    fn whatsapp_never_panics(
        i in 0usize..FIXTURES.len(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        pick in any::<bool>(),
    ) {
        let input = if pick { body } else { fixture(&format!("whatsapp/{}", FIXTURES[i])) };
        let _ = whatsapp::parse(&input);
    }

    #[test]
    fn whatsapp_survives_mutated_messages(body in mutations(fixture("whatsapp/interactive_button_reply.json"))) {
        let _ = whatsapp::parse(&body);
    }

    #[test]
    fn whatsapp_survives_mutated_statuses(body in mutations(fixture("whatsapp/status_failed_131047.json"))) {
        let _ = whatsapp::parse(&body);
    }
}
