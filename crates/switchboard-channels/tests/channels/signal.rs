use super::*;
use proptest::prelude::*;
use switchboard_channels::signal::{self, SECRET_HEADER};
use switchboard_channels::{AttachmentKind, DeliveryState, EventKind, Fetch, InboundEvent, VerifyError};

const ACCOUNT: &str = "+15550002222";
const ALAN: &str = "11111111-2222-4333-8444-555555555555";
const SECRET: &str = "fake-signal-shared-secret-0001";

fn one(file: &str) -> InboundEvent {
    let mut events = signal::parse(&fixture(&format!("signal/{file}"))).expect("parses");
    assert_eq!(events.len(), 1, "{file}: {events:?}");
    events.remove(0)
}

#[test]
fn the_shared_secret_header_is_checked_in_constant_time_and_fails_closed() {
    let with = |v: &str| headers(&[("X-Switchboard-Signal-Secret", v)]);
    assert_eq!(signal::verify(&with(SECRET), SECRET), Ok(()));
    assert_eq!(
        signal::verify(&headers(&[]), SECRET),
        Err(VerifyError::MissingHeader(SECRET_HEADER))
    );
    assert_eq!(
        signal::verify(&with("fake-signal-shared-secret-0002"), SECRET),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(signal::verify(&with("fake"), SECRET), Err(VerifyError::BadSignature));
    assert_eq!(signal::verify(&with(""), SECRET), Err(VerifyError::BadSignature));
    assert_eq!(
        signal::verify(&with(""), ""),
        Err(VerifyError::NoSecret),
        "no secret, no entry"
    );
}

#[test]
fn webhook_notifications_and_websocket_frames_read_the_same() {
    let rpc = one("jsonrpc_receive_notification.json");
    let ws = one("rest_ws_text_frame.json");
    assert_eq!(rpc, ws);
    assert_eq!(
        (rpc.kind, rpc.event_id.as_str(), rpc.account_id.as_str()),
        (
            EventKind::Message,
            "11111111-2222-4333-8444-555555555555:1767225600111",
            ACCOUNT
        )
    );
    assert_eq!((rpc.conversation_id.as_str(), rpc.sender.id.as_str()), (ALAN, ALAN));
    assert_eq!(rpc.sender.display_name.as_deref(), Some("Alan Turing"));
    assert_eq!(rpc.text.as_deref(), Some("Hi, is the shop open today?"));
    assert_eq!(
        (rpc.message_id.as_deref(), rpc.timestamp_ms),
        (Some("1767225600111"), 1_767_225_600_111)
    );
}

#[test]
fn group_messages_belong_to_the_group() {
    let g = one("rest_ws_group_frame.json");
    assert_eq!(g.conversation_id, "FAKEgroupIdBase64AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(g.sender.id, ALAN);
    assert_eq!(g.text.as_deref(), Some("@bot opening hours?"));
}

#[test]
fn attachments_are_fetched_by_id() {
    let m = one("rest_ws_attachment_frame.json");
    assert_eq!(m.text.as_deref(), Some("receipt"));
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Image);
    assert_eq!(a.fetch, Fetch::FileId("FAKEattachmentId0001.jpg".into()));
    assert_eq!(
        (a.mime.as_deref(), a.name.as_deref(), a.size, a.caption.clone()),
        (Some("image/jpeg"), Some("receipt.jpg"), Some(48211), None)
    );
}

#[test]
fn reactions_are_interactive_answers_to_a_message() {
    let r = one("rest_ws_reaction_frame.json");
    assert_eq!(r.kind, EventKind::Interactive);
    assert_eq!(r.event_id, "11111111-2222-4333-8444-555555555555:1767225600444");
    let i = r.interactive.clone().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.source_message_id.as_deref()),
        ("\u{1f44d}", Some("1767225600050"))
    );
    assert_eq!(r.text.as_deref(), Some("\u{1f44d}"));
    let removed = String::from_utf8(fixture("signal/rest_ws_reaction_frame.json"))
        .expect("utf8")
        .replace(r#""isRemove":false"#, r#""isRemove":true"#);
    assert!(signal::parse(removed.as_bytes()).expect("parses").is_empty());
}

#[test]
fn receipts_give_one_status_per_timestamp() {
    let d = one("rest_ws_receipt_frame.json");
    assert_eq!(d.kind, EventKind::Status);
    assert_eq!(
        d.event_id,
        "11111111-2222-4333-8444-555555555555:delivered:1767225600050"
    );
    assert_eq!(
        (d.message_id.as_deref(), d.timestamp_ms),
        (Some("1767225600050"), 1_767_225_600_555)
    );
    let s = d.status.expect("status");
    assert_eq!(
        (s.message_id.as_str(), s.state),
        ("1767225600050", DeliveryState::Delivered)
    );

    let read = String::from_utf8(fixture("signal/rest_ws_receipt_frame.json"))
        .expect("utf8")
        .replace(
            r#""isDelivery":true,"isRead":false"#,
            r#""isDelivery":false,"isRead":true"#,
        )
        .replace("[1767225600050]", "[1767225600050,1767225600060]");
    let events = signal::parse(read.as_bytes()).expect("parses");
    let got: Vec<(String, Option<DeliveryState>)> = events
        .iter()
        .map(|e| (e.event_id.clone(), e.status.as_ref().map(|s| s.state)))
        .collect();
    assert_eq!(
        got,
        [
            (format!("{ALAN}:read:1767225600050"), Some(DeliveryState::Read)),
            (format!("{ALAN}:read:1767225600060"), Some(DeliveryState::Read)),
        ]
    );
}

#[test]
fn typing_sync_and_other_frames_are_not_input() {
    let frame = |envelope: &str| {
        format!(r#"{{"envelope":{{"sourceUuid":"{ALAN}","timestamp":1,{envelope}}},"account":"{ACCOUNT}"}}"#)
    };
    for quiet in [
        r#""typingMessage":{"action":"STARTED","timestamp":1}"#,
        r#""syncMessage":{"sentMessage":{"timestamp":1,"message":"our own"}}"#,
        r#""dataMessage":{"timestamp":1,"message":null,"groupInfo":{"groupId":"g","type":"UPDATE"}}"#,
        r#""dataMessage":{"timestamp":1,"expiresInSeconds":3600,"isExpirationUpdate":true}"#,
        r#""receiptMessage":{"when":1,"isDelivery":false,"isRead":false,"timestamps":[5]}"#,
    ] {
        let body = frame(quiet);
        assert!(signal::parse(body.as_bytes()).expect("parses").is_empty(), "{body}");
    }
    let other_method = br#"{"jsonrpc":"2.0","method":"receiveError","params":{}}"#;
    assert!(signal::parse(other_method).expect("parses").is_empty());
    assert!(signal::parse(b"{}").is_err(), "no envelope");
    let no_account =
        format!(r#"{{"envelope":{{"sourceUuid":"{ALAN}","dataMessage":{{"timestamp":1,"message":"hi"}}}}}}"#);
    assert!(signal::parse(no_account.as_bytes()).is_err(), "no account");
}

#[test]
fn number_only_senders_edits_quotes_and_stickers() {
    let body = format!(
        r#"{{"envelope":{{"sourceNumber":"+15553334444","sourceUuid":null,"timestamp":9,"dataMessage":{{"timestamp":9,"message":"yes","quote":{{"id":1767225600050,"author":"{ACCOUNT}"}},"sticker":{{"packId":"pack","stickerId":3}}}}}},"account":"{ACCOUNT}"}}"#
    );
    let e = signal::parse(body.as_bytes()).expect("parses").remove(0);
    assert_eq!(
        (e.sender.id.as_str(), e.event_id.as_str()),
        ("+15553334444", "+15553334444:9")
    );
    assert_eq!(e.reply_to_message_id.as_deref(), Some("1767225600050"));
    assert_eq!(e.attachments[0].kind, AttachmentKind::Sticker);
    assert_eq!(e.attachments[0].name.as_deref(), Some("pack:3"));

    let edit = format!(
        r#"{{"envelope":{{"sourceUuid":"{ALAN}","timestamp":20,"editMessage":{{"targetSentTimestamp":10,"dataMessage":{{"timestamp":20,"message":"fixed"}}}}}},"account":"{ACCOUNT}"}}"#
    );
    let e = signal::parse(edit.as_bytes()).expect("parses").remove(0);
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.message_id.as_deref(), e.text.as_deref()),
        (
            EventKind::Edit,
            format!("{ALAN}:20").as_str(),
            Some("10"),
            Some("fixed")
        )
    );
}

const FIXTURES: [&str; 6] = [
    "jsonrpc_receive_notification.json",
    "rest_ws_text_frame.json",
    "rest_ws_attachment_frame.json",
    "rest_ws_group_frame.json",
    "rest_ws_reaction_frame.json",
    "rest_ws_receipt_frame.json",
];

proptest! {
    #[test]
    fn signal_never_panics_on_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..512), secret in ".{0,16}") {
        let _ = signal::parse(&body);
        let _ = signal::verify(&headers(&[("X-Switchboard-Signal-Secret", "x")]), &secret);
    }

    #[test]
    fn signal_survives_mutated_fixtures(i in 0usize..FIXTURES.len(), seed in any::<proptest::sample::Index>()) {
        let body = fixture(&format!("signal/{}", FIXTURES[i]));
        let cut = seed.index(body.len() + 1);
        let _ = signal::parse(&body[..cut]);
    }

    #[test]
    fn signal_survives_byte_edits(reaction in mutations(fixture("signal/rest_ws_reaction_frame.json")), receipt in mutations(fixture("signal/rest_ws_receipt_frame.json")), attachment in mutations(fixture("signal/rest_ws_attachment_frame.json"))) {
        let _ = signal::parse(&reaction);
        let _ = signal::parse(&receipt);
        let _ = signal::parse(&attachment);
    }
}
