use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_channels::teams::{self, ConversationReference};
use switchboard_channels::{AttachmentKind, EventKind, Fetch, InboundEvent, Membership};

const BOT: &str = "28:00000000-1111-2222-3333-444444444444";
const ADA: &str = "29:1FAKEuserId00000000000000000000000000000000000000000000000000000";
const PERSONAL: &str = "a:1FAKEconversationIdForPersonalChat0000000000000000000000000000000000000000";
const NEW_YEAR_MS: i64 = 1_767_225_600_000;

fn one(file: &str) -> InboundEvent {
    let mut events = teams::parse(&fixture(&format!("teams/{file}"))).expect("parses");
    assert_eq!(events.len(), 1, "{file}: {events:?}");
    events.remove(0)
}

/// A fixture with some fields replaced.
fn edited(file: &str, change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture(&format!("teams/{file}"))).expect("json");
    change(&mut v);
    serde_json::to_vec(&v).expect("json")
}

#[test]
fn personal_messages() {
    let e = one("message_activity.json");
    assert_eq!(
        (e.kind, e.event_id.as_str(), e.account_id.as_str()),
        (EventKind::Message, format!("{PERSONAL}:1767225600123").as_str(), BOT)
    );
    assert_eq!((e.conversation_id.as_str(), e.sender.id.as_str()), (PERSONAL, ADA));
    assert_eq!(e.sender.display_name.as_deref(), Some("Ada Lovelace"));
    assert!(!e.sender.is_bot);
    assert_eq!(e.text.as_deref(), Some("Hello, I need help with my laptop"));
    assert_eq!(
        (e.message_id.as_deref(), e.timestamp_ms),
        (Some("1767225600123"), NEW_YEAR_MS + 123)
    );
    assert_eq!((e.thread_id.clone(), e.reply_to_message_id.clone()), (None, None));
}

#[test]
fn channel_mentions_of_the_bot_are_removed() {
    let e = one("channel_mention_activity.json");
    assert_eq!(e.text.as_deref(), Some("status of ticket 42?"));
    assert_eq!(
        e.conversation_id,
        "19:FAKEchannelId00000000000000000000@thread.tacv2;messageid=1767225605000"
    );
    assert_eq!(e.thread_id.as_deref(), Some("1767225605000"), "the reply chain");
    assert_eq!(e.reply_to_message_id.as_deref(), Some("1767225605000"));
    assert_eq!(e.timestamp_ms, NEW_YEAR_MS + 10_000);

    let others = edited("channel_mention_activity.json", |v| {
        v["text"] = json!("<at>Switchboard Test</at> ask <at>Grace Hopper</at> about it ");
    });
    let e = teams::parse(&others).expect("parses").remove(0);
    assert_eq!(
        e.text.as_deref(),
        Some("ask Grace Hopper about it"),
        "other people keep their name"
    );

    let only_mention = edited("channel_mention_activity.json", |v| {
        v["text"] = json!("<at>Switchboard Test</at>");
    });
    assert_eq!(teams::parse(&only_mention).expect("parses")[0].text, None);
}

#[test]
fn teams_files_and_other_attachments() {
    let e = one("message_with_attachment.json");
    assert_eq!((e.kind, e.text.clone()), (EventKind::Message, None));
    assert_eq!(e.attachments.len(), 1);
    let a = &e.attachments[0];
    assert_eq!(
        (a.kind, a.name.as_deref()),
        (AttachmentKind::File, Some("screenshot.png"))
    );
    assert_eq!(
        a.fetch,
        Fetch::Url("https://fake-tenant.sharepoint.com/personal/ada/_layouts/15/download.aspx?UniqueId=FAKE&Translate=false&tempauth=FAKE".into())
    );

    let mixed = edited("message_with_attachment.json", |v| {
        v["attachments"] = json!([
            {"contentType": "text/html", "content": "<p>hi</p>"},
            {"contentType": "image/png", "contentUrl": "https://smba.example/inline/1", "name": "pasted.png"},
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": {}},
            {"contentType": "application/vnd.microsoft.teams.file.download.info", "name": "no-url"}
        ]);
    });
    let e = teams::parse(&mixed).expect("parses").remove(0);
    assert_eq!(e.attachments.len(), 1, "{:?}", e.attachments);
    let a = &e.attachments[0];
    assert_eq!(
        (a.kind, a.mime.as_deref(), a.name.as_deref()),
        (AttachmentKind::Image, Some("image/png"), Some("pasted.png"))
    );
    assert_eq!(a.fetch, Fetch::Url("https://smba.example/inline/1".into()));
}

#[test]
fn card_submits_and_card_actions_are_interactive() {
    let s = one("card_submit_message_activity.json");
    assert_eq!(
        (s.kind, s.event_id.as_str()),
        (
            EventKind::Interactive,
            format!("{}:1767225630000", s.conversation_id).as_str()
        )
    );
    let i = s.interactive.clone().expect("interactive");
    let payload: Value = serde_json::from_str(&i.payload).expect("payload is JSON");
    assert_eq!(payload, json!({"action": "reset_password", "confirm": "yes"}));
    assert!(
        !i.payload.contains(' ') && !i.payload.contains('\n'),
        "compact: {}",
        i.payload
    );
    assert_eq!(
        (i.title.as_deref(), i.source_message_id.as_deref(), i.ack_id.clone()),
        (Some("reset_password"), Some("1767225625000"), None)
    );
    assert_eq!(s.text.as_deref(), Some("reset_password"));

    let x = one("invoke_adaptive_card_action.json");
    assert_eq!(
        (x.kind, x.event_id.as_str()),
        (
            EventKind::Interactive,
            format!("{}:f:FAKEinvoke0000000000000001", x.conversation_id).as_str()
        )
    );
    let i = x.interactive.clone().expect("interactive");
    assert_eq!(i.payload, r#"{"confirm":"yes"}"#);
    assert_eq!(
        (i.title.clone(), i.ack_id.as_deref(), i.source_message_id.as_deref()),
        (None, Some("f:FAKEinvoke0000000000000001"), Some("1767225625000"))
    );
    assert_eq!(x.text.as_deref(), Some("reset_password"), "the verb");
    assert_eq!(x.timestamp_ms, NEW_YEAR_MS + 40_000);

    let titled = edited("invoke_adaptive_card_action.json", |v| {
        v["value"]["action"]["title"] = json!("Yes, reset");
    });
    let i = teams::parse(&titled).expect("parses")[0]
        .interactive
        .clone()
        .expect("interactive");
    assert_eq!(i.title.as_deref(), Some("Yes, reset"));

    let other_invoke = edited("invoke_adaptive_card_action.json", |v| {
        v["name"] = json!("composeExtension/query");
    });
    assert!(teams::parse(&other_invoke).expect("parses").is_empty());
}

#[test]
fn the_bot_being_added_or_removed() {
    let added = one("conversation_update_members_added.json");
    assert_eq!(
        (added.kind, added.membership, added.event_id.as_str()),
        (
            EventKind::Membership,
            Some(Membership::BotAdded),
            format!("{}:f:FAKEconvupdate0000000001", added.conversation_id).as_str()
        )
    );
    assert_eq!(added.conversation_id, PERSONAL);
    assert_eq!(added.timestamp_ms, NEW_YEAR_MS + 1000);

    let removed = edited("conversation_update_members_added.json", |v| {
        v["membersRemoved"] = v["membersAdded"].take();
    });
    assert_eq!(
        teams::parse(&removed).expect("parses")[0].membership,
        Some(Membership::BotRemoved)
    );
    let someone_else = edited("conversation_update_members_added.json", |v| {
        v["membersAdded"] = json!([{"id": "29:someone"}]);
    });
    assert!(teams::parse(&someone_else).expect("parses").is_empty());

    let installed = one("installation_update.json");
    assert_eq!(
        (installed.kind, installed.membership, installed.timestamp_ms),
        (EventKind::Membership, Some(Membership::BotAdded), NEW_YEAR_MS + 500)
    );
    let uninstall = edited("installation_update.json", |v| v["action"] = json!("remove"));
    assert_eq!(
        teams::parse(&uninstall).expect("parses")[0].membership,
        Some(Membership::BotRemoved)
    );
    let upgrade = edited("installation_update.json", |v| v["action"] = json!("add-upgrade"));
    assert!(teams::parse(&upgrade).expect("parses").is_empty());
}

#[test]
fn the_bots_own_activities_and_other_types_are_not_input() {
    let echo = edited("message_activity.json", |v| {
        v["from"] = json!({"id": BOT, "name": "Switchboard Test"})
    });
    assert!(teams::parse(&echo).expect("parses").is_empty());
    for kind in ["typing", "messageReaction", "endOfConversation", "event"] {
        let other = edited("message_activity.json", |v| v["type"] = json!(kind));
        assert!(teams::parse(&other).expect("parses").is_empty(), "{kind}");
    }
    let bad_time = edited("message_activity.json", |v| v["timestamp"] = json!("yesterday"));
    assert_eq!(teams::parse(&bad_time).expect("parses")[0].timestamp_ms, 0);
    assert!(teams::parse(b"{}").is_err());
    assert!(
        teams::parse(br#"{"type":"message"}"#).is_err(),
        "no recipient or conversation"
    );
}

#[test]
fn conversation_references_for_proactive_messages() {
    let want = ConversationReference {
        service_url: "https://smba.trafficmanager.net/teams/".into(),
        conversation_id: PERSONAL.into(),
        bot_id: BOT.into(),
        tenant_id: Some("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".into()),
        channel_id: "msteams".into(),
    };
    assert_eq!(
        teams::conversation_reference(&fixture("teams/message_activity.json")),
        Ok(want.clone())
    );
    let tenant_in_channel_data_only = edited("message_activity.json", |v| {
        if let Some(c) = v["conversation"].as_object_mut() {
            c.remove("tenantId");
        }
    });
    assert_eq!(teams::conversation_reference(&tenant_in_channel_data_only), Ok(want));
    let channel = teams::conversation_reference(&fixture("teams/channel_mention_activity.json")).expect("reference");
    assert!(channel.conversation_id.starts_with("19:"));
    let no_service = edited("message_activity.json", |v| v["serviceUrl"] = json!(""));
    assert!(teams::conversation_reference(&no_service).is_err());
}

const FIXTURES: [&str; 7] = [
    "message_activity.json",
    "channel_mention_activity.json",
    "message_with_attachment.json",
    "card_submit_message_activity.json",
    "invoke_adaptive_card_action.json",
    "conversation_update_members_added.json",
    "installation_update.json",
];

proptest! {
    #[test]
    fn teams_never_panics_on_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = teams::parse(&body);
        let _ = teams::conversation_reference(&body);
    }

    #[test]
    fn teams_survives_truncated_fixtures(i in 0usize..FIXTURES.len(), seed in any::<proptest::sample::Index>()) {
        let body = fixture(&format!("teams/{}", FIXTURES[i]));
        let cut = seed.index(body.len() + 1);
        let _ = teams::parse(&body[..cut]);
        let _ = teams::conversation_reference(&body[..cut]);
    }

    #[test]
    fn teams_survives_byte_edits(mention in mutations(fixture("teams/channel_mention_activity.json")), invoke in mutations(fixture("teams/invoke_adaptive_card_action.json"))) {
        let _ = teams::parse(&mention);
        let _ = teams::parse(&invoke);
    }

    #[test]
    fn any_timestamp_string_is_read_or_refused_without_panicking(ts in "[0-9T:.Zz+ -]{0,40}|.{0,40}") {
        let body = edited("message_activity.json", |v| v["timestamp"] = json!(ts));
        let _ = teams::parse(&body);
    }
}
