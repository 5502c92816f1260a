use super::*;
use proptest::prelude::*;
use switchboard_channels::slack::{self, Inbound, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use switchboard_channels::{AttachmentKind, EventKind, Fetch, InboundEvent, VerifyError};

const SECRET: &str = "fake0slack0signing0secret0000001";
const TEAM: &str = "T0FAKE0001";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// Every inbound fixture of the folder; a new file fails `every_fixture_is_covered` until a
/// test reads it.
const FIXTURES: [&str; 9] = [
    "url_verification.json",
    "message_im_event.json",
    "app_mention_event.json",
    "message_channels_thread_reply.json",
    "message_file_share_event.json",
    "message_bot_echo_event.json",
    "block_actions.form",
    "block_actions.payload.json",
    "slash_command.form",
];

fn events(file: &str) -> Vec<InboundEvent> {
    let content_type = if file.ends_with(".form") { FORM } else { JSON };
    match slack::parse(&fixture(&format!("slack/{file}")), content_type) {
        Ok(Inbound::Events(events)) => events,
        other => panic!("{file}: {other:?}"),
    }
}

fn one(file: &str) -> InboundEvent {
    let mut events = events(file);
    assert_eq!(events.len(), 1, "{file}: {events:?}");
    events.remove(0)
}

fn signed(v: &serde_json::Value) -> http::HeaderMap {
    headers(&[
        (TIMESTAMP_HEADER, v["timestamp"].as_str().expect("timestamp")),
        (
            SIGNATURE_HEADER,
            v["expected"]["X-Slack-Signature"].as_str().expect("signature"),
        ),
    ])
}

fn ts(v: &serde_json::Value) -> i64 {
    v["timestamp"].as_str().expect("timestamp").parse().expect("number")
}

#[test]
fn the_documented_vector_holds_for_300_seconds_either_way() {
    let v = vectors("slack")
        .into_iter()
        .find(|v| v["id"] == "slack-doc-example")
        .expect("doc vector");
    let (h, body, secret, t) = (
        signed(&v),
        vector_body(&v),
        v["secret"].as_str().expect("secret"),
        ts(&v),
    );
    for now in [t, t + 300, t - 300] {
        assert_eq!(slack::verify(&h, &body, secret, now), Ok(()), "now = ts{:+}", now - t);
    }
    assert_eq!(
        slack::verify(&h, &body, secret, t + 301),
        Err(VerifyError::StaleTimestamp(301))
    );
    assert_eq!(
        slack::verify(&h, &body, secret, t - 301),
        Err(VerifyError::StaleTimestamp(-301))
    );
}

#[test]
fn every_fixture_vector_verifies_over_the_exact_file_bytes() {
    let all = vectors("slack");
    assert_eq!(all.len(), 6, "the doc example and five fixtures");
    for v in all {
        let body = vector_body(&v);
        let secret = v["secret"].as_str().expect("secret");
        assert_eq!(slack::verify(&signed(&v), &body, secret, ts(&v)), Ok(()), "{}", v["id"]);
        let mut tampered = body.clone();
        tampered.push(b' ');
        assert_eq!(
            slack::verify(&signed(&v), &tampered, secret, ts(&v)),
            Err(VerifyError::BadSignature),
            "{}",
            v["id"]
        );
    }
}

#[test]
fn verification_fails_closed() {
    let v = vectors("slack")
        .into_iter()
        .find(|v| v["id"] == "slack-fixture-message_im_event.json")
        .expect("vector");
    let (body, t) = (vector_body(&v), ts(&v));
    let sig = v["expected"]["X-Slack-Signature"].as_str().expect("signature");
    let stamp = v["timestamp"].as_str().expect("timestamp");
    let ok = signed(&v);
    assert_eq!(
        slack::verify(&ok, &body, "fake0slack0signing0secret0000002", t),
        Err(VerifyError::BadSignature),
        "wrong secret"
    );
    assert_eq!(slack::verify(&ok, &body, "", t), Err(VerifyError::NoSecret));
    assert_eq!(
        slack::verify(&headers(&[(SIGNATURE_HEADER, sig)]), &body, SECRET, t),
        Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
    );
    assert_eq!(
        slack::verify(&headers(&[(TIMESTAMP_HEADER, stamp)]), &body, SECRET, t),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
    );
    assert_eq!(
        slack::verify(&headers(&[]), &body, SECRET, t),
        Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
    );
    let next = (t + 1).to_string();
    assert_eq!(
        slack::verify(
            &headers(&[(TIMESTAMP_HEADER, &next), (SIGNATURE_HEADER, sig)]),
            &body,
            SECRET,
            t
        ),
        Err(VerifyError::BadSignature),
        "the timestamp is signed"
    );
    let malformed = [
        (stamp, sig.trim_start_matches("v0="), SIGNATURE_HEADER),
        (stamp, "v1=00", SIGNATURE_HEADER),
        (stamp, "v0=not-hex", SIGNATURE_HEADER),
        ("yesterday", sig, TIMESTAMP_HEADER),
        ("", sig, TIMESTAMP_HEADER),
    ];
    for (stamp, sig, bad) in malformed {
        assert_eq!(
            slack::verify(
                &headers(&[(TIMESTAMP_HEADER, stamp), (SIGNATURE_HEADER, sig)]),
                &body,
                SECRET,
                t
            ),
            Err(VerifyError::MalformedHeader(bad)),
            "{stamp} {sig}"
        );
    }
    assert_eq!(
        slack::verify(
            &headers(&[(TIMESTAMP_HEADER, stamp), (SIGNATURE_HEADER, "v0=00")]),
            &body,
            SECRET,
            t
        ),
        Err(VerifyError::BadSignature),
        "a short signature is a wrong one"
    );
    let far = i64::MIN.to_string();
    assert!(matches!(
        slack::verify(
            &headers(&[(TIMESTAMP_HEADER, &far), (SIGNATURE_HEADER, sig)]),
            &body,
            SECRET,
            t
        ),
        Err(VerifyError::StaleTimestamp(_))
    ));
}

#[test]
fn url_verification_returns_the_challenge() {
    assert_eq!(
        slack::parse(&fixture("slack/url_verification.json"), JSON),
        Ok(Inbound::UrlVerification(
            "FAKEchallenge3eZbrw1aBm2rZgRNFdxV2595E9CY3gm".into()
        ))
    );
    assert!(slack::parse(br#"{"type":"url_verification"}"#, JSON).is_err());
}

#[test]
fn a_direct_message() {
    let e = one("message_im_event.json");
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.account_id.as_str()),
        (EventKind::Message, "Ev0FAKE00001", TEAM)
    );
    assert_eq!(
        (e.conversation_id.as_str(), e.sender.id.as_str(), e.sender.is_bot),
        ("D0FAKE0001", "U0FAKE0001", false)
    );
    assert_eq!(e.text.as_deref(), Some("hi, can you reset my password?"));
    assert_eq!(
        (e.message_id.as_deref(), e.timestamp_ms, e.thread_id.as_deref()),
        (Some("1767225600.000100"), 1_767_225_600_000, None)
    );
    assert!(e.attachments.is_empty() && e.interactive.is_none());
}

#[test]
fn a_mention_loses_the_bots_name_and_keeps_its_thread() {
    let e = one("app_mention_event.json");
    assert_eq!((e.kind, e.event_id.as_str()), (EventKind::Message, "Ev0FAKE00002"));
    assert_eq!(e.text.as_deref(), Some("status of ticket 42?"));
    assert_eq!(
        (e.conversation_id.as_str(), e.thread_id.as_deref()),
        ("C0FAKE0001", Some("1767225605.000150"))
    );
    assert_eq!(
        (e.message_id.as_deref(), e.timestamp_ms),
        (Some("1767225610.000200"), 1_767_225_610_000)
    );
    // Someone else's leading mention is part of what was said.
    let other = String::from_utf8(fixture("slack/app_mention_event.json"))
        .expect("utf-8")
        .replace("<@U0FAKEBOT1> status", "<@U0FAKE0002> status");
    let Ok(Inbound::Events(events)) = slack::parse(other.as_bytes(), JSON) else {
        panic!("parses");
    };
    assert_eq!(events[0].text.as_deref(), Some("<@U0FAKE0002> status of ticket 42?"));
    // Without `authorizations` a mention event still loses its leading mention; a message
    // does not, since it may name anyone.
    let text_of = |body: String| match slack::parse(body.as_bytes(), JSON) {
        Ok(Inbound::Events(events)) => events[0].text.clone(),
        other => panic!("{other:?}"),
    };
    let bare = String::from_utf8(fixture("slack/app_mention_event.json"))
        .expect("utf-8")
        .replace(
            r#""user_id":"U0FAKEBOT1","is_bot":true"#,
            r#""user_id":"U0FAKEBOT1","is_bot":false"#,
        );
    assert_eq!(text_of(bare.clone()).as_deref(), Some("status of ticket 42?"));
    let plain = bare.replace(r#""type":"app_mention""#, r#""type":"message""#);
    assert_eq!(text_of(plain).as_deref(), Some("<@U0FAKEBOT1> status of ticket 42?"));
    let to_us = String::from_utf8(fixture("slack/message_im_event.json"))
        .expect("utf-8")
        .replace(r#""text":"hi,"#, r#""text":"<@U0FAKEBOT1|switchboard> hi,"#);
    assert_eq!(text_of(to_us).as_deref(), Some("hi, can you reset my password?"));
}

#[test]
fn a_thread_reply_in_a_channel() {
    let e = one("message_channels_thread_reply.json");
    assert_eq!(
        (e.event_id.as_str(), e.conversation_id.as_str()),
        ("Ev0FAKE00003", "C0FAKE0001")
    );
    assert_eq!(
        (e.thread_id.as_deref(), e.message_id.as_deref()),
        (Some("1767225605.000150"), Some("1767225620.000300"))
    );
    assert_eq!(
        (e.text.as_deref(), e.timestamp_ms),
        (Some("following up"), 1_767_225_620_000)
    );
}

#[test]
fn a_file_share_keeps_the_text_and_the_private_url() {
    let e = one("message_file_share_event.json");
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.text.as_deref()),
        (EventKind::Message, "Ev0FAKE00004", Some("screenshot attached"))
    );
    assert_eq!(e.attachments.len(), 1);
    let a = &e.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Image);
    assert_eq!(
        a.fetch,
        Fetch::Url("https://files.slack.com/files-pri/T0FAKE0001-F0FAKE0001/screenshot.png".into())
    );
    assert_eq!(
        (a.mime.as_deref(), a.name.as_deref(), a.size),
        (Some("image/png"), Some("screenshot.png"), Some(48211))
    );
}

#[test]
fn bots_edits_deletions_and_housekeeping_are_not_input() {
    assert!(events("message_bot_echo_event.json").is_empty());
    let base = String::from_utf8(fixture("slack/message_im_event.json")).expect("utf-8");
    let with = |from: &str, to: &str| {
        let body = base.replace(from, to);
        match slack::parse(body.as_bytes(), JSON) {
            Ok(Inbound::Events(events)) => events,
            other => panic!("{other:?}"),
        }
    };
    let subtype = |s: &str| with(r#""type":"message","#, &format!(r#""type":"message","subtype":"{s}","#));
    for ignored in [
        "bot_message",
        "message_changed",
        "message_deleted",
        "message_replied",
        "channel_join",
        "channel_topic",
        "something_new",
    ] {
        assert!(subtype(ignored).is_empty(), "{ignored}");
    }
    for kept in ["thread_broadcast", "me_message", "file_share"] {
        assert_eq!(subtype(kept).len(), 1, "{kept}");
    }
    assert!(
        with(r#""user":"U0FAKE0001""#, r#""user":"U0FAKEBOT1""#).is_empty(),
        "our bot user"
    );
    assert!(
        with(r#""user":"U0FAKE0001""#, r#""user":"U0FAKE0001","bot_id":"B0OTHER""#).is_empty(),
        "another bot"
    );
    assert!(
        with(r#""type":"message","#, r#""type":"reaction_added","#).is_empty(),
        "unhandled event types"
    );
    assert!(
        with(r#""user":"U0FAKE0001","#, "").is_empty(),
        "no user: not something a person said"
    );
    let retyped = base.replace(
        r#""event":{"type":"message","#,
        r#""event":{"type":"channel_created","channel":{"id":"C1"},"#,
    );
    assert_eq!(slack::parse(retyped.as_bytes(), JSON), Ok(Inbound::Events(Vec::new())));
    assert_eq!(
        slack::parse(
            br#"{"type":"app_rate_limited","team_id":"T1","minute_rate_limited":1}"#,
            JSON
        ),
        Ok(Inbound::Events(Vec::new()))
    );
    assert!(slack::parse(br#"{"type":"event_callback"}"#, JSON).is_err());
    assert!(slack::parse(b"{}", JSON).is_err());
}

#[test]
fn a_button_press_is_one_interactive_event_per_action() {
    let e = one("block_actions.form");
    assert_eq!(e.kind, EventKind::Interactive);
    assert_eq!(
        e.event_id,
        "1111111111111.2222222222222.FAKEtrigger0000000000000000000001:reset_yes"
    );
    assert_eq!(
        (e.account_id.as_str(), e.conversation_id.as_str(), e.sender.id.as_str()),
        (TEAM, "D0FAKE0001", "U0FAKE0001")
    );
    assert_eq!(e.sender.display_name.as_deref(), Some("ada"));
    assert_eq!((e.timestamp_ms, e.thread_id.as_deref()), (1_767_225_655_123, None));
    let i = e.interactive.expect("interactive");
    assert_eq!((i.payload.as_str(), i.title.as_deref()), ("yes", Some("Yes")));
    assert_eq!(i.source_message_id.as_deref(), Some("1767225650.000600"));
    assert_eq!(
        i.ack_id.as_deref(),
        Some("1111111111111.2222222222222.FAKEtrigger0000000000000000000001")
    );
    assert_eq!(e.text.as_deref(), Some("Yes"));
}

#[test]
fn the_decoded_payload_fixture_is_what_the_form_carries() {
    let form = fixture("slack/block_actions.form");
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&form).expect("form");
    let carried: serde_json::Value = serde_json::from_str(&fields[0].1).expect("json");
    let readable: serde_json::Value =
        serde_json::from_slice(&fixture("slack/block_actions.payload.json")).expect("json");
    assert_eq!(carried, readable);
    // Sent as a form, the readable copy gives the same event.
    let pretty = std::str::from_utf8(&fixture("slack/block_actions.payload.json"))
        .expect("utf-8")
        .to_owned();
    let body = serde_urlencoded::to_string([("payload", pretty)]).expect("form");
    assert_eq!(
        slack::parse(body.as_bytes(), "application/x-www-form-urlencoded; charset=utf-8"),
        Ok(Inbound::Events(events("block_actions.form")))
    );
    // The bare JSON is not something Slack posts.
    assert!(events("block_actions.payload.json").is_empty());
}

#[test]
fn selects_threads_and_several_actions() {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": "U1", "username": "ada", "team_id": "T1"},
        "container": {"type": "message", "message_ts": "2.000000", "channel_id": "C1", "thread_ts": "1.000000"},
        "trigger_id": "TRG",
        "message": {"ts": "2.000000", "thread_ts": "1.000000"},
        "actions": [
            {"action_id": "dept", "type": "static_select", "action_ts": "3.5",
             "selected_option": {"text": {"type": "plain_text", "text": "Support"}, "value": "support"}},
            {"action_id": "tags", "type": "multi_static_select",
             "selected_options": [{"value": "a", "text": {"text": "A"}}, {"value": "b", "text": {"text": "B"}}]},
            {"action_id": "when", "type": "datepicker", "selected_date": "2026-01-02"},
            {"action_id": "docs", "type": "button", "url": "https://example.invalid", "text": {"text": "Docs"}}
        ]
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
    let Ok(Inbound::Events(events)) = slack::parse(body.as_bytes(), FORM) else {
        panic!("parses");
    };
    let got: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|e| {
            let i = e.interactive.as_ref().expect("interactive");
            (e.event_id.as_str(), i.payload.as_str(), i.title.as_deref())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("TRG:dept", "support", Some("Support")),
            ("TRG:tags", "a,b", Some("A, B")),
            ("TRG:when", "2026-01-02", None),
            ("TRG:docs", "docs", Some("Docs")),
        ]
    );
    assert!(events.iter().all(|e| e.thread_id.as_deref() == Some("1.000000")));
    assert!(events.iter().all(|e| e.account_id == "T1" && e.conversation_id == "C1"));
    assert_eq!(events[0].timestamp_ms, 3_500);
    let other =
        serde_urlencoded::to_string([("payload", r#"{"type":"view_submission","user":{"id":"U1"}}"#)]).expect("form");
    assert_eq!(slack::parse(other.as_bytes(), FORM), Ok(Inbound::Events(Vec::new())));
}

#[test]
fn a_slash_command_is_a_message() {
    let e = one("slash_command.form");
    assert_eq!(
        (e.kind, e.event_id.as_str()),
        (
            EventKind::Message,
            "1111111111111.2222222222222.FAKEtrigger0000000000000000000002"
        )
    );
    assert_eq!(
        (e.account_id.as_str(), e.conversation_id.as_str()),
        (TEAM, "C0FAKE0001")
    );
    assert_eq!(
        (e.sender.id.as_str(), e.sender.display_name.as_deref()),
        ("U0FAKE0001", Some("ada"))
    );
    assert_eq!(e.text.as_deref(), Some("/ticket open printer on fire"));
    let doc = vectors("slack")
        .into_iter()
        .find(|v| v["id"] == "slack-doc-example")
        .expect("doc vector");
    let Ok(Inbound::Events(events)) = slack::parse(&vector_body(&doc), FORM) else {
        panic!("parses");
    };
    assert_eq!(
        events[0].text.as_deref(),
        Some("/webhook-collect"),
        "an empty text leaves the command alone"
    );
    assert!(slack::parse(b"team_id=T1", FORM).is_err());
    assert!(
        slack::parse(b"command=%2Fx&team_id=T1&user_id=U1", FORM).is_err(),
        "no trigger_id"
    );
}

#[test]
fn every_fixture_is_covered() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slack");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut known: Vec<String> = FIXTURES.iter().map(|f| f.to_string()).collect();
    known.sort();
    assert_eq!(found, known);
    for f in FIXTURES {
        let content_type = if f.ends_with(".form") { FORM } else { JSON };
        assert!(
            slack::parse(&fixture(&format!("slack/{f}")), content_type).is_ok(),
            "{f}"
        );
    }
}

#[test]
fn our_own_outbound_bodies_are_not_inbound_events() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slack/outbound");
    for entry in std::fs::read_dir(&dir).expect("outbound folder").filter_map(|e| e.ok()) {
        let body = std::fs::read(entry.path()).expect("read");
        let parsed = slack::parse(&body, JSON);
        assert!(
            parsed.is_err() || parsed == Ok(Inbound::Events(Vec::new())),
            "{}: {parsed:?}",
            entry.path().display()
        );
    }
}

fn any_fixture() -> impl Strategy<Value = (Vec<u8>, &'static str)> {
    proptest::sample::select(FIXTURES.to_vec()).prop_flat_map(|f| {
        let content_type = if f.ends_with(".form") { FORM } else { JSON };
        (mutations(fixture(&format!("slack/{f}"))), Just(content_type))
    })
}

proptest! {
    #[test]
    fn slack_never_panics_on_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..512), form in any::<bool>()) {
        let _ = slack::parse(&body, if form { FORM } else { JSON });
    }

    #[test]
    fn slack_survives_mutated_fixtures((body, content_type) in any_fixture()) {
        let _ = slack::parse(&body, content_type);
    }

    #[test]
    fn slack_verify_never_panics_and_refuses_garbage(
        stamp in "[ -~]{0,24}",
        sig in "[ -~]{0,80}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
    ) {
        let h = headers(&[(TIMESTAMP_HEADER, &stamp), (SIGNATURE_HEADER, &sig)]);
        prop_assert!(slack::verify(&h, &body, SECRET, now).is_err());
    }
}
