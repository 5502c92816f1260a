use super::*;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use switchboard_channels::discord::{self, Inbound, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use switchboard_channels::{AttachmentKind, EventKind, Fetch, InboundEvent, Interactive, VerifyError};

const PUBLIC_KEY: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const APP: &str = "1300000000000000001";
/// All fixture ids share the same upper bits, hence the same instant.
const FIXTURE_MS: i64 = 1_730_014_552_832;

/// Every inbound fixture; a new file fails `every_fixture_is_covered` until a test reads it.
const INTERACTIONS: [&str; 6] = [
    "ping.json",
    "application_command.json",
    "component_interaction.json",
    "string_select_interaction.json",
    "modal_submit.json",
    "dm_component_interaction.json",
];
const GATEWAY: [&str; 6] = [
    "hello.json",
    "identify.json",
    "heartbeat.json",
    "resume.json",
    "message_create.json",
    "message_create_dm_attachment.json",
];

fn events_of(body: &[u8]) -> Vec<InboundEvent> {
    match discord::parse(body) {
        Ok(Inbound::Events(events)) => events,
        other => panic!("{other:?}"),
    }
}

fn one(file: &str) -> InboundEvent {
    let mut events = events_of(&fixture(&format!("discord/{file}")));
    assert_eq!(events.len(), 1, "{file}: {events:?}");
    events.remove(0)
}

fn interactive(e: &InboundEvent) -> &Interactive {
    e.interactive.as_ref().expect("interactive")
}

fn gateway(file: &str) -> Option<InboundEvent> {
    discord::parse_gateway_message(&fixture(&format!("discord/gateway/{file}")), APP).expect("parses")
}

fn signed(sig: &str, ts: &str) -> http::HeaderMap {
    headers(&[(SIGNATURE_HEADER, sig), (TIMESTAMP_HEADER, ts)])
}

/// The moment a vector was signed, as the clock of a server receiving it at once would read.
fn at(ts: &str) -> i64 {
    ts.parse().expect("a Unix timestamp")
}

#[test]
fn a_genuine_interaction_is_refused_outside_five_minutes_of_now() {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let body = fixture("discord/application_command.json");
    let sent = 1_767_225_600_i64;
    let sign = |ts: &str| {
        let mut msg = ts.as_bytes().to_vec();
        msg.extend_from_slice(&body);
        signed(&hex::encode(key.sign(&msg).to_bytes()), ts)
    };
    let h = sign(&sent.to_string());
    for now in [sent, sent + 300, sent - 300] {
        assert_eq!(discord::verify(&h, &body, &public, now), Ok(()), "now {now}");
    }
    assert_eq!(
        discord::verify(&h, &body, &public, sent + 301),
        Err(VerifyError::StaleTimestamp(301)),
        "a replay six minutes later"
    );
    assert_eq!(
        discord::verify(&h, &body, &public, sent - 301),
        Err(VerifyError::StaleTimestamp(-301)),
        "from the future"
    );
    // Signed, but not a number: nothing to compare with the clock.
    for ts in ["", "soon", "1767225600.5", " 1767225600"] {
        assert_eq!(
            discord::verify(&sign(ts), &body, &public, sent),
            Err(VerifyError::MalformedHeader(TIMESTAMP_HEADER)),
            "{ts:?}"
        );
    }
    // A forged request is a bad signature whatever its time says.
    assert_eq!(
        discord::verify(&sign("1"), b"{}", &public, sent),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        discord::verify(&h, &body, &public, i64::MIN),
        Err(VerifyError::StaleTimestamp(i64::MIN)),
        "no overflow"
    );
}

#[test]
fn rfc_8032_test_1_through_the_verify_path() {
    let v = vectors("discord")
        .into_iter()
        .find(|v| v["id"] == "ed25519-rfc8032-test1")
        .expect("rfc vector");
    let public = v["expected"]["public_key_hex"].as_str().expect("public key");
    let sig = v["expected"]["signature_hex"].as_str().expect("signature");
    assert_eq!(v["message_hex"], "");
    // An empty timestamp and an empty body sign the empty message.
    assert_eq!(discord::verify_signature(&signed(sig, ""), b"", public), Ok(()));
    assert_eq!(
        discord::verify_signature(&signed(sig, ""), b"x", public),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        discord::verify_signature(&signed(sig, "0"), b"", public),
        Err(VerifyError::BadSignature)
    );
    // And the primitive itself: the secret gives the published key and signature.
    let secret: [u8; 32] = hex::decode(v["secret"].as_str().expect("secret"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let key = SigningKey::from_bytes(&secret);
    assert_eq!(hex::encode(key.verifying_key().to_bytes()), public);
    assert_eq!(hex::encode(key.sign(b"").to_bytes()), sig);
}

#[test]
fn the_research_vector_and_every_fixture_vector_verify() {
    // CHANNELS.md section 11, checked with PyNaCl and both official interaction libraries.
    let body = br#"{"id":"1100000000000000001","application_id":"1100000000000000002","type":1,"token":"fake-interaction-token-ping","version":1}"#;
    let sig = "897a0782260490cf17c71f33652363ca957dbe72fe079d993ede4e31c9a0f96a25a6cefe2ce55124888e5ff7c27b42092d9e24f8f76d1a556c36cf3782b4cc06";
    assert_eq!(
        discord::verify(&signed(sig, "1700000000"), body, PUBLIC_KEY, 1_700_000_000),
        Ok(())
    );
    assert_eq!(discord::parse(body), Ok(Inbound::Ping));

    let fixtures: Vec<_> = vectors("discord")
        .into_iter()
        .filter(|v| v["body_file"].is_string())
        .collect();
    assert_eq!(fixtures.len(), 4);
    for v in fixtures {
        let body = vector_body(&v);
        let key = v["public_key_hex"].as_str().expect("key");
        let sig = v["expected"]["X-Signature-Ed25519"].as_str().expect("signature");
        let ts = v["expected"]["X-Signature-Timestamp"].as_str().expect("timestamp");
        assert_eq!(
            discord::verify(&signed(sig, ts), &body, key, at(ts)),
            Ok(()),
            "{}",
            v["id"]
        );
        assert_eq!(
            discord::verify(&signed(&sig.to_uppercase(), ts), &body, key, at(ts)),
            Ok(()),
            "hex in any case"
        );
        let mut tampered = body.clone();
        tampered[0] ^= 1;
        assert_eq!(
            discord::verify(&signed(sig, ts), &tampered, key, at(ts)),
            Err(VerifyError::BadSignature),
            "tampered body {}",
            v["id"]
        );
        assert_eq!(
            discord::verify(&signed(sig, "1767225601"), &body, key, at(ts)),
            Err(VerifyError::BadSignature),
            "tampered timestamp {}",
            v["id"]
        );
        // Discord signs the plain concatenation, with no separator: moving the split
        // between header and body leaves the signed bytes, and the verdict, unchanged.
        let mut moved = ts.as_bytes()[1..].to_vec();
        moved.extend_from_slice(&body);
        assert_eq!(
            discord::verify_signature(&signed(sig, &ts[..1]), &moved, key),
            Ok(()),
            "timestamp ‖ body"
        );
    }
}

#[test]
fn verification_fails_closed() {
    let v = vectors("discord")
        .into_iter()
        .find(|v| v["id"] == "discord-fixture-ping.json")
        .expect("vector");
    let body = vector_body(&v);
    let sig = v["expected"]["X-Signature-Ed25519"].as_str().expect("signature");
    let ts = v["expected"]["X-Signature-Timestamp"].as_str().expect("timestamp");
    let rfc_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    assert_eq!(
        discord::verify(&signed(sig, ts), &body, rfc_key, at(ts)),
        Err(VerifyError::BadSignature),
        "wrong key"
    );
    for key in ["", "  ", "not hex", &PUBLIC_KEY[..62], &format!("{PUBLIC_KEY}00")] {
        assert_eq!(
            discord::verify(&signed(sig, ts), &body, key, at(ts)),
            Err(VerifyError::NoSecret),
            "key {key:?}"
        );
    }
    // The identity point is a valid encoding but a small-order key: strict verification
    // refuses it whatever the signature.
    let identity = format!("01{}", "00".repeat(31));
    assert_eq!(
        discord::verify(&signed(sig, ts), &body, &identity, at(ts)),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        discord::verify(&headers(&[(TIMESTAMP_HEADER, ts)]), &body, PUBLIC_KEY, at(ts)),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
    );
    assert_eq!(
        discord::verify(&headers(&[(SIGNATURE_HEADER, sig)]), &body, PUBLIC_KEY, at(ts)),
        Err(VerifyError::MissingHeader(TIMESTAMP_HEADER))
    );
    assert_eq!(
        discord::verify(&headers(&[]), &body, PUBLIC_KEY, at(ts)),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
    );
    for bad in ["", "zz", &sig[..126], &format!("{sig}00"), &format!(" {sig}")] {
        assert_eq!(
            discord::verify(&signed(bad, ts), &body, PUBLIC_KEY, at(ts)),
            Err(VerifyError::MalformedHeader(SIGNATURE_HEADER)),
            "signature {bad:?}"
        );
    }
}

#[test]
fn ping() {
    assert_eq!(discord::parse(&fixture("discord/ping.json")), Ok(Inbound::Ping));
}

#[test]
fn a_slash_command_is_a_message_that_keeps_its_token() {
    let e = one("application_command.json");
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.account_id.as_str()),
        (EventKind::Message, "1300000000000000101", APP)
    );
    assert_eq!(
        (e.conversation_id.as_str(), e.sender.id.as_str()),
        ("1300000000000000020", "1300000000000000030")
    );
    assert_eq!(
        (e.sender.display_name.as_deref(), e.sender.is_bot),
        (Some("Ada"), false)
    );
    assert_eq!(e.text.as_deref(), Some("/ticket printer on fire"));
    assert_eq!((e.timestamp_ms, e.message_id.as_deref()), (FIXTURE_MS, None));
    let i = interactive(&e);
    assert_eq!(
        (i.payload.as_str(), i.ack_id.as_deref()),
        ("ticket", Some("FAKE-interaction-token-cmd"))
    );
}

#[test]
fn subcommands_number_options_and_attachments() {
    let body = serde_json::json!({
        "id": "175928847299117063", "application_id": APP, "type": 2, "token": "tok",
        "channel": {"id": "C9"},
        "user": {"id": "U1", "username": "ada_fake"},
        "data": {
            "name": "order", "type": 1,
            "options": [{"name": "track", "type": 1, "options": [
                {"name": "number", "type": 4, "value": 8812},
                {"name": "express", "type": 5, "value": true},
                {"name": "photo", "type": 11, "value": "900"}
            ]}],
            "resolved": {"attachments": {"900": {
                "id": "900", "filename": "box.jpg", "size": 10, "content_type": "image/jpeg",
                "url": "https://cdn.discordapp.com/attachments/1/900/box.jpg"
            }}}
        }
    });
    let e = events_of(body.to_string().as_bytes()).remove(0);
    assert_eq!(e.text.as_deref(), Some("/order track 8812 true 900"));
    assert_eq!(e.conversation_id, "C9", "channel.id when channel_id is absent");
    assert_eq!(e.sender.display_name.as_deref(), Some("ada_fake"));
    assert_eq!(e.timestamp_ms, 1_462_015_105_796, "the snowflake documented by Discord");
    assert_eq!(e.attachments.len(), 1);
    assert_eq!(e.attachments[0].kind, AttachmentKind::Image);
    assert_eq!(
        e.attachments[0].fetch,
        Fetch::Url("https://cdn.discordapp.com/attachments/1/900/box.jpg".into())
    );
    assert_eq!(discord::snowflake_ms("175928847299117063"), 1_462_015_105_796);
    assert_eq!(discord::snowflake_ms("not a snowflake"), 0);
}

#[test]
fn a_button_press_in_a_guild_and_in_a_dm() {
    let e = one("component_interaction.json");
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.account_id.as_str()),
        (EventKind::Interactive, "1300000000000000102", APP)
    );
    assert_eq!(e.conversation_id, "1300000000000000020");
    assert_eq!(e.timestamp_ms, FIXTURE_MS);
    assert_eq!(
        interactive(&e),
        &Interactive {
            payload: "reset:yes".into(),
            title: Some("Yes".into()),
            source_message_id: Some("1300000000000000200".into()),
            ack_id: Some("FAKE-interaction-token-btn".into()),
        }
    );
    assert_eq!(e.text.as_deref(), Some("Yes"));

    let dm = one("dm_component_interaction.json");
    assert_eq!(
        (dm.conversation_id.as_str(), dm.sender.id.as_str()),
        ("1300000000000000021", "1300000000000000030"),
        "in a DM the person is `user`"
    );
    assert_eq!(dm.sender.display_name.as_deref(), Some("Ada"));
    let i = interactive(&dm);
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref(), i.ack_id.as_deref()),
        ("reset:no", Some("No"), Some("FAKE-interaction-token-dm"))
    );
}

#[test]
fn a_select_names_its_values_after_its_custom_id() {
    let e = one("string_select_interaction.json");
    assert_eq!(
        (e.kind, e.event_id.as_str()),
        (EventKind::Interactive, "1300000000000000103")
    );
    let i = interactive(&e);
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("dept_select:support", None),
        "the message carries no components to find labels in"
    );
    assert_eq!(
        (i.source_message_id.as_deref(), i.ack_id.as_deref()),
        (Some("1300000000000000200"), Some("FAKE-interaction-token-sel"))
    );
    assert_eq!(e.text.as_deref(), Some("dept_select:support"));

    // Labels are found however deep the select sits (a Components V2 container here).
    let body = serde_json::json!({
        "id": "1300000000000000106", "application_id": APP, "type": 3, "token": "tok",
        "channel_id": "C1", "user": {"id": "U1"},
        "message": {"id": "M1", "components": [{"type": 17, "components": [
            {"type": 9, "components": [{"type": 10, "content": "Pick"}],
             "accessory": {"type": 2, "custom_id": "more", "label": "More"}},
            {"type": 1, "components": [{"type": 3, "custom_id": "dept:pick", "options": [
                {"label": "Support", "value": "support"},
                {"label": "Sales", "value": "sales"},
                {"label": "Billing", "value": "billing"}
            ]}]}
        ]}]},
        "data": {"component_type": 3, "custom_id": "dept:pick", "values": ["support", "billing"]}
    });
    let i = events_of(body.to_string().as_bytes())
        .remove(0)
        .interactive
        .expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("dept:pick:support,billing", Some("Support, Billing"))
    );
    let none = body
        .to_string()
        .replace(r#""values":["support","billing"]"#, r#""values":[]"#);
    assert_eq!(
        events_of(none.as_bytes())[0]
            .interactive
            .as_ref()
            .map(|i| i.payload.as_str()),
        Some("dept:pick:")
    );
    let accessory = body.to_string().replace(
        r#""component_type":3,"custom_id":"dept:pick""#,
        r#""component_type":2,"custom_id":"more""#,
    );
    let i = events_of(accessory.as_bytes())
        .remove(0)
        .interactive
        .expect("interactive");
    assert_eq!((i.payload.as_str(), i.title.as_deref()), ("more", Some("More")));
}

#[test]
fn a_modal_submit_reads_the_fields_inside_labels() {
    let e = one("modal_submit.json");
    assert_eq!(
        (e.kind, e.event_id.as_str()),
        (EventKind::Interactive, "1300000000000000104")
    );
    assert_eq!(e.text.as_deref(), Some("Great bot"));
    let i = interactive(&e);
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref(), i.source_message_id.as_deref()),
        ("feedback_modal", None, None)
    );
    assert_eq!(i.ack_id.as_deref(), Some("FAKE-interaction-token-modal"));

    let body = serde_json::json!({
        "id": "1300000000000000107", "application_id": APP, "type": 5, "token": "tok",
        "channel_id": "C1", "member": {"user": {"id": "U1", "global_name": "Ada"}, "nick": "ada-support"},
        "message": {"id": "M9", "components": []},
        "data": {"custom_id": "order_form", "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "old_style", "value": "row input"}]},
            {"type": 18, "component": {"type": 4, "custom_id": "blank", "value": ""}},
            {"type": 18, "component": {"type": 3, "custom_id": "size", "values": ["m", "l"]}},
            {"type": 18, "component": {"type": 23, "custom_id": "gift", "value": true}}
        ]}
    });
    let e = events_of(body.to_string().as_bytes()).remove(0);
    assert_eq!(e.text.as_deref(), Some("row input\nm,l\ntrue"));
    assert_eq!(
        e.sender.display_name.as_deref(),
        Some("ada-support"),
        "the server nickname first"
    );
    let i = interactive(&e);
    assert_eq!(
        (i.payload.as_str(), i.source_message_id.as_deref()),
        ("order_form", Some("M9"))
    );
}

#[test]
fn autocomplete_unknown_types_and_broken_interactions() {
    let autocomplete = br#"{"id":"1","application_id":"2","type":4,"token":"t","user":{"id":"3"},"data":{"name":"x"}}"#;
    assert_eq!(discord::parse(autocomplete), Ok(Inbound::Events(Vec::new())));
    let future = br#"{"id":"1","application_id":"2","type":99}"#;
    assert_eq!(discord::parse(future), Ok(Inbound::Events(Vec::new())));
    assert!(
        discord::parse(br#"{"id":"1","application_id":"2","type":3,"token":"t","data":{"custom_id":"a"}}"#).is_err(),
        "no user"
    );
    assert!(
        discord::parse(br#"{"id":"1","application_id":"2","type":3,"user":{"id":"3"},"data":{"custom_id":"a"}}"#)
            .is_err(),
        "no token"
    );
    assert!(discord::parse(b"{}").is_err());
    assert!(discord::parse(b"").is_err());
}

#[test]
fn a_gateway_message_in_a_guild() {
    let e = gateway("message_create.json").expect("a message");
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.account_id.as_str()),
        (EventKind::Message, "1300000000000000201", APP)
    );
    assert_eq!(e.conversation_id, "1300000000000000020", "the channel, not the guild");
    assert_eq!(e.message_id.as_deref(), Some("1300000000000000201"));
    assert_eq!(
        (e.sender.id.as_str(), e.sender.display_name.as_deref()),
        ("1300000000000000030", Some("Ada"))
    );
    assert_eq!(e.text.as_deref(), Some("@Switchboard Test where is my order?"));
    assert_eq!((e.timestamp_ms, e.thread_id.as_deref()), (FIXTURE_MS, None));
    assert!(e.attachments.is_empty() && e.interactive.is_none());
}

#[test]
fn a_gateway_dm_with_an_attachment() {
    let e = gateway("message_create_dm_attachment.json").expect("a message");
    assert_eq!(
        (e.event_id.as_str(), e.conversation_id.as_str()),
        ("1300000000000000202", "1300000000000000021")
    );
    assert_eq!(e.text.as_deref(), Some("label attached"));
    assert_eq!(e.attachments.len(), 1);
    let a = &e.attachments[0];
    assert_eq!(a.kind, AttachmentKind::Image);
    assert_eq!(
        a.fetch,
        Fetch::Url(
            "https://cdn.discordapp.com/attachments/1300000000000000021/1300000000000000300/label.png?ex=FAKE&is=FAKE&hm=FAKE"
                .into()
        )
    );
    assert_eq!(
        (a.mime.as_deref(), a.name.as_deref(), a.size),
        (Some("image/png"), Some("label.png"), Some(48211))
    );
}

#[test]
fn gateway_frames_that_are_not_messages_give_none() {
    for f in ["hello.json", "identify.json", "heartbeat.json", "resume.json"] {
        assert_eq!(gateway(f), None, "{f}");
    }
    let other = br#"{"op":0,"s":2,"t":"MESSAGE_UPDATE","d":{"id":"1"}}"#;
    assert_eq!(discord::parse_gateway_message(other, APP), Ok(None));
    assert!(discord::parse_gateway_message(b"not json", APP).is_err());
    assert!(
        discord::parse_gateway_message(br#"{"op":0,"t":"MESSAGE_CREATE","d":{"id":"1"}}"#, APP).is_err(),
        "a MESSAGE_CREATE without a message"
    );
}

#[test]
fn bots_ourselves_webhooks_and_system_messages_are_not_input() {
    let base = String::from_utf8(fixture("discord/gateway/message_create.json")).expect("utf-8");
    let with = |from: &str, to: &str| {
        let body = base.replacen(from, to, 1);
        assert_ne!(body, base, "{from}");
        discord::parse_gateway_message(body.as_bytes(), APP).expect("parses")
    };
    assert_eq!(with(r#""public_flags": 0"#, r#""public_flags": 0, "bot": true"#), None);
    assert_eq!(
        with(r#""id": "1300000000000000030""#, &format!(r#""id": "{APP}""#)),
        None
    );
    assert_eq!(with(r#""type": 0,"#, r#""type": 0, "webhook_id": "77","#), None);
    assert_eq!(with(r#""type": 0,"#, r#""type": 7,"#), None, "member join");
    let reply = with(
        r#""type": 0,"#,
        r#""type": 19, "message_reference": {"message_id": "1300000000000000200"},"#,
    )
    .expect("a reply is a message");
    assert_eq!(reply.reply_to_message_id.as_deref(), Some("1300000000000000200"));
    let mention = with("@Switchboard Test where", &format!("<@{APP}> where")).expect("message");
    assert_eq!(mention.text.as_deref(), Some("where is my order?"));
    let nick = with(r#""nick": null"#, r#""nick": "Ada (support)""#).expect("message");
    assert_eq!(nick.sender.display_name.as_deref(), Some("Ada (support)"));
}

#[test]
fn every_fixture_is_covered() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/discord");
    let files = |dir: PathBuf| {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .expect("fixture folder")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        found
    };
    let sorted = |list: &[&str]| {
        let mut v: Vec<String> = list.iter().map(|f| f.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(files(root.clone()), sorted(&INTERACTIONS));
    assert_eq!(files(root.join("gateway")), sorted(&GATEWAY));
    for f in INTERACTIONS {
        assert!(discord::parse(&fixture(&format!("discord/{f}"))).is_ok(), "{f}");
    }
    let messages: Vec<&str> = GATEWAY.iter().copied().filter(|f| gateway(f).is_some()).collect();
    assert_eq!(messages, ["message_create.json", "message_create_dm_attachment.json"]);
    for entry in std::fs::read_dir(root.join("outbound"))
        .expect("outbound")
        .filter_map(|e| e.ok())
    {
        let body = std::fs::read(entry.path()).expect("read");
        assert!(discord::parse(&body).is_err(), "{}", entry.path().display());
        let frame = discord::parse_gateway_message(&body, APP);
        assert!(!matches!(frame, Ok(Some(_))), "{}: {frame:?}", entry.path().display());
    }
}

fn any_interaction() -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::select(INTERACTIONS.to_vec()).prop_flat_map(|f| mutations(fixture(&format!("discord/{f}"))))
}

fn any_gateway_frame() -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::select(GATEWAY.to_vec()).prop_flat_map(|f| mutations(fixture(&format!("discord/gateway/{f}"))))
}

proptest! {
    #[test]
    fn discord_never_panics_on_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = discord::parse(&body);
        let _ = discord::parse_gateway_message(&body, APP);
    }

    #[test]
    fn discord_survives_mutated_interactions(body in any_interaction()) {
        let _ = discord::parse(&body);
    }

    #[test]
    fn discord_survives_mutated_gateway_frames(body in any_gateway_frame()) {
        let _ = discord::parse_gateway_message(&body, APP);
    }

    #[test]
    fn discord_verify_never_panics_and_refuses_garbage(
        sig in "[ -~]{0,140}",
        ts in "[ -~]{0,24}",
        key in "[0-9a-f]{0,70}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
    ) {
        prop_assert!(discord::verify(&signed(&sig, &ts), &body, &key, now).is_err());
        prop_assert!(discord::verify(&signed(&sig, &ts), &body, PUBLIC_KEY, now).is_err());
    }

    #[test]
    fn discord_refuses_any_mutated_signed_body(body in mutations(fixture("discord/application_command.json"))) {
        let v = vectors("discord")
            .into_iter()
            .find(|v| v["id"] == "discord-fixture-application_command.json")
            .expect("vector");
        let sig = v["expected"]["X-Signature-Ed25519"].as_str().expect("signature");
        let ts = v["expected"]["X-Signature-Timestamp"].as_str().expect("timestamp");
        let verdict = discord::verify(&signed(sig, ts), &body, PUBLIC_KEY, at(ts));
        prop_assert_eq!(verdict.is_ok(), body == vector_body(&v));
    }
}
