//! Outbound rendering and answer classification for Slack, Discord, Teams and Signal, against
//! the shapes in `tests/fixtures/<channel>/outbound/`.

use super::*;
use switchboard_channels::outbound::{Auth, Body, Call, Outcome, Reply, Target};
use switchboard_channels::{discord, signal, slack, teams};
use switchboard_core::Button;

fn json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixture json")
}

fn body(call: &Call) -> &Value {
    match &call.body {
        Body::Json(v) => v,
        Body::Form(f) => panic!("form body: {f:?}"),
    }
}

fn button(title: &str, payload: &str) -> Button {
    Button {
        title: title.into(),
        payload: payload.into(),
    }
}

fn reply(text: &str, buttons: Vec<Button>) -> Reply {
    Reply {
        text: text.into(),
        buttons,
        rich: None,
    }
}

fn many(n: usize) -> Vec<Button> {
    (1..=n)
        .map(|i| button(&format!("Option {i}"), &format!("opt{i}")))
        .collect()
}

fn long_text(chars: usize) -> String {
    "word ".repeat(chars / 5 + 1)
}

fn chars(v: &Value) -> usize {
    v.as_str().expect("string").chars().count()
}

// ------------------------------------------------------------------------------------------
// Slack

fn slack_target() -> Target {
    Target {
        account_id: "B0FAKEBOT1".into(),
        conversation_id: "D0FAKE0001".into(),
        thread_id: Some("1767225600.000100".into()),
        ..Target::default()
    }
}

#[test]
fn slack_text_reply() {
    let calls = slack::render(&reply("Hello", vec![]), &slack_target());
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.method, http::Method::POST);
    assert_eq!(c.path, "chat.postMessage");
    assert_eq!(c.auth, Auth::Bearer("bot_token"));
    assert_eq!(
        body(c),
        &serde_json::json!({"channel": "D0FAKE0001", "text": "Hello", "thread_ts": "1767225600.000100"})
    );
    let no_thread = Target {
        thread_id: None,
        ..slack_target()
    };
    let calls = slack::render(&reply("Hello", vec![]), &no_thread);
    assert!(body(&calls[0]).get("thread_ts").is_none());
}

#[test]
fn slack_buttons_as_block_kit() {
    let want = json("slack/outbound/chat_postMessage_blocks.json");
    let r = reply("Reset password?", vec![button("Yes", "yes"), button("No", "no")]);
    let calls = slack::render(&r, &slack_target());
    assert_eq!(calls.len(), 1);
    let got = body(&calls[0]);
    for field in ["channel", "text", "thread_ts"] {
        assert_eq!(got[field], want[field], "{field}");
    }
    let blocks = got["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0]["type"], "section");
    assert_eq!(blocks[0]["text"]["type"], want["blocks"][0]["text"]["type"]);
    assert_eq!(blocks[0]["text"]["text"], "Reset password?");
    assert_eq!(blocks[1]["type"], want["blocks"][1]["type"]);
    let elements = blocks[1]["elements"].as_array().expect("elements");
    let wanted = want["blocks"][1]["elements"].as_array().expect("elements");
    assert_eq!(elements.len(), wanted.len());
    for (i, (e, w)) in elements.iter().zip(wanted).enumerate() {
        assert_eq!(e["type"], w["type"]);
        assert_eq!(e["text"], w["text"]);
        assert_eq!(e["value"], w["value"]);
        assert_eq!(e["action_id"], format!("sb_{i}"));
    }
}

#[test]
fn slack_button_limits_fall_back_to_numbered_text() {
    let target = slack_target();
    let calls = slack::render(&reply("Pick", many(25)), &target);
    let elements = body(&calls[0])["blocks"][1]["elements"].as_array().expect("elements");
    assert_eq!(elements.len(), 25);
    assert_eq!(elements[24]["action_id"], "sb_24");

    let r = reply("Pick", many(26));
    let calls = slack::render(&r, &target);
    assert_eq!(calls.len(), 1);
    assert!(body(&calls[0]).get("blocks").is_none());
    assert_eq!(body(&calls[0])["text"], switchboard_channels::outbound::numbered(&r));
    assert!(
        body(&calls[0])["text"]
            .as_str()
            .expect("text")
            .ends_with("26. Option 26")
    );

    let r = reply("Pick", vec![button("Yes", "yes"), button("Big", &"x".repeat(2001))]);
    let calls = slack::render(&r, &target);
    assert!(body(&calls[0]).get("blocks").is_none());
    assert_eq!(body(&calls[0])["text"], "Pick\n\n1. Yes\n2. Big");

    let calls = slack::render(&reply("Pick", vec![button(&"t".repeat(100), "p")]), &target);
    let title = &body(&calls[0])["blocks"][1]["elements"][0]["text"]["text"];
    assert_eq!(chars(title), 75);
    assert!(title.as_str().expect("title").ends_with('…'));
}

#[test]
fn slack_splits_long_text() {
    let text = long_text(90_000);
    let calls = slack::render(&reply(&text, vec![]), &slack_target());
    assert_eq!(calls.len(), 3);
    for c in &calls {
        assert!(chars(&body(c)["text"]) <= 40_000);
        assert_eq!(body(c)["thread_ts"], "1767225600.000100");
    }
    // With buttons the last piece is a section: 3,000 characters at most.
    let calls = slack::render(&reply(&long_text(5_000), vec![button("OK", "ok")]), &slack_target());
    assert_eq!(calls.len(), 2);
    assert!(body(&calls[0]).get("blocks").is_none());
    let section = &body(&calls[1])["blocks"][0]["text"]["text"];
    assert!(chars(section) <= 3_000);
    assert_eq!(section, &body(&calls[1])["text"]);
}

#[test]
fn slack_outcomes() {
    assert_eq!(
        slack::outcome(200, &fixture("slack/outbound/chat_postMessage_ok.json"), None),
        Outcome::Sent(Some("1767225650.000600".into()))
    );
    let limited = fixture("slack/outbound/error_ratelimited.json");
    assert_eq!(slack::outcome(200, &limited, Some(30)), Outcome::RetryAfter(30));
    assert_eq!(slack::outcome(429, &limited, Some(12)), Outcome::RetryAfter(12));
    assert_eq!(slack::outcome(429, b"", None), Outcome::RetryAfter(1));
    assert_eq!(
        slack::outcome(200, &fixture("slack/outbound/error_not_in_channel.json"), None),
        Outcome::Permanent("not_in_channel".into())
    );
    for error in ["channel_not_found", "is_archived", "invalid_auth", "msg_too_long"] {
        let b = format!(r#"{{"ok":false,"error":"{error}"}}"#);
        assert_eq!(
            slack::outcome(200, b.as_bytes(), None),
            Outcome::Permanent(error.into())
        );
    }
    assert_eq!(
        slack::outcome(200, br#"{"ok":false,"error":"internal_error"}"#, None),
        Outcome::Transient("internal_error".into())
    );
    assert!(matches!(slack::outcome(503, b"", None), Outcome::Transient(_)));
    assert!(matches!(slack::outcome(200, b"<html>", None), Outcome::Transient(_)));
}

// ------------------------------------------------------------------------------------------
// Discord

const APP_ID: &str = "1300000000000000001";
const CHANNEL_ID: &str = "1300000000000000100";

fn discord_channel_target() -> Target {
    Target {
        account_id: APP_ID.into(),
        conversation_id: CHANNEL_ID.into(),
        reply_to: Some("1300000000000000201".into()),
        ..Target::default()
    }
}

fn discord_followup_target() -> Target {
    Target {
        interaction: Some("FAKE-interaction-token".into()),
        ..discord_channel_target()
    }
}

#[test]
fn discord_channel_message_answers_the_message() {
    let want = json("discord/outbound/create_message_with_embed_and_components.json");
    let calls = discord::render(&reply("Here is your order", vec![]), &discord_channel_target());
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.method, http::Method::POST);
    assert_eq!(c.path, format!("channels/{CHANNEL_ID}/messages"));
    assert_eq!(c.auth, Auth::Bot("bot_token"));
    let got = body(c);
    for field in ["content", "message_reference", "allowed_mentions"] {
        assert_eq!(got[field], want[field], "{field}");
    }
    assert!(got.get("components").is_none());

    let plain = Target {
        reply_to: None,
        ..discord_channel_target()
    };
    let calls = discord::render(&reply("Hi", vec![]), &plain);
    assert!(body(&calls[0]).get("message_reference").is_none());
}

#[test]
fn discord_interaction_reply_is_a_followup() {
    let calls = discord::render(&reply("Done", vec![]), &discord_followup_target());
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.path, format!("webhooks/{APP_ID}/FAKE-interaction-token"));
    assert_eq!(c.auth, Auth::None);
    assert_eq!(body(c)["content"], "Done");
    // A follow-up is not a channel message: no reference.
    assert!(body(c).get("message_reference").is_none());
}

#[test]
fn discord_buttons_as_action_rows() {
    let want = json("discord/outbound/interaction_response_with_buttons.json");
    let r = reply(
        "Reset password?",
        vec![button("Yes", "reset:yes"), button("No", "reset:no")],
    );
    for target in [discord_channel_target(), discord_followup_target()] {
        let calls = discord::render(&r, &target);
        assert_eq!(calls.len(), 1);
        let got = body(&calls[0]);
        assert_eq!(got["content"], want["data"]["content"]);
        assert_eq!(got["allowed_mentions"], want["data"]["allowed_mentions"]);
        let rows = got["components"].as_array().expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["type"], 1);
        let buttons = rows[0]["components"].as_array().expect("buttons");
        let wanted = &want["data"]["components"][0]["components"];
        assert_eq!(buttons.len(), 2);
        for (i, b) in buttons.iter().enumerate() {
            assert_eq!(b["type"], wanted[i]["type"]);
            assert_eq!(b["label"], wanted[i]["label"]);
            assert_eq!(b["custom_id"], wanted[i]["custom_id"]);
            assert_eq!(b["style"], 1);
        }
    }
}

#[test]
fn discord_button_limits() {
    let target = discord_channel_target();
    let rows_of = |n: usize| -> Vec<usize> {
        let calls = discord::render(&reply("Pick", many(n)), &target);
        body(&calls[0])["components"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| r["components"].as_array().expect("row").len())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(rows_of(5), [5]);
    assert_eq!(rows_of(12), [5, 5, 2]);
    assert_eq!(rows_of(25), [5, 5, 5, 5, 5]);
    assert_eq!(rows_of(26), Vec::<usize>::new());

    let r = reply("Pick", many(26));
    let calls = discord::render(&r, &target);
    assert_eq!(body(&calls[0])["content"], switchboard_channels::outbound::numbered(&r));

    // A payload that cannot be a custom_id (over 100 characters): numbered text.
    let r = reply("Pick", vec![button("Yes", "yes"), button("Long", &"p".repeat(101))]);
    let calls = discord::render(&r, &target);
    assert!(body(&calls[0]).get("components").is_none());
    assert_eq!(body(&calls[0])["content"], "Pick\n\n1. Yes\n2. Long");
    let r = reply("Pick", vec![button("Max", &"p".repeat(100))]);
    assert!(body(&discord::render(&r, &target)[0]).get("components").is_some());

    let r = reply("Pick", vec![button(&"l".repeat(81), "p")]);
    let calls = discord::render(&r, &target);
    assert_eq!(chars(&body(&calls[0])["components"][0]["components"][0]["label"]), 80);
}

#[test]
fn discord_splits_content() {
    let text = long_text(4_500);
    let calls = discord::render(&reply(&text, vec![button("OK", "ok")]), &discord_channel_target());
    assert_eq!(calls.len(), 3);
    for (i, c) in calls.iter().enumerate() {
        let b = body(c);
        assert!(chars(&b["content"]) <= 2_000);
        assert_eq!(
            b.get("message_reference").is_some(),
            i == 0,
            "reference on the first only"
        );
        assert_eq!(b.get("components").is_some(), i == 2, "buttons on the last only");
    }
}

#[test]
fn discord_outcomes() {
    assert_eq!(
        discord::outcome(200, br#"{"id":"1300000000000000999","channel_id":"1"}"#, None),
        Outcome::Sent(Some("1300000000000000999".into()))
    );
    assert_eq!(discord::outcome(204, b"", None), Outcome::Sent(None));
    let limited = fixture("discord/outbound/error_rate_limited.json");
    // retry_after 1.337 s, rounded up; the body's value wins over the header's.
    assert_eq!(discord::outcome(429, &limited, None), Outcome::RetryAfter(2));
    assert_eq!(discord::outcome(429, &limited, Some(1)), Outcome::RetryAfter(2));
    assert_eq!(discord::outcome(429, b"", Some(4)), Outcome::RetryAfter(4));
    match discord::outcome(404, &fixture("discord/outbound/error_unknown_interaction.json"), None) {
        Outcome::Permanent(reason) => assert!(reason.contains("10062"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match discord::outcome(403, br#"{"message":"Missing Permissions","code":50013}"#, None) {
        Outcome::Permanent(reason) => assert!(reason.contains("50013"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match discord::outcome(
        403,
        br#"{"message":"Cannot send messages to this user","code":50007}"#,
        None,
    ) {
        Outcome::Blocked(reason) => assert!(reason.contains("50007"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(discord::outcome(502, b"", None), Outcome::Transient(_)));
}

// ------------------------------------------------------------------------------------------
// Teams

const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const PERSONAL: &str = "a:1FAKEconversationIdForPersonalChat0000000000000000000000000000000000000000";
const BOT: &str = "28:00000000-1111-2222-3333-444444444444";

fn teams_target() -> Target {
    Target {
        account_id: BOT.into(),
        conversation_id: PERSONAL.into(),
        reply_to: Some("1767225600123".into()),
        endpoint: Some(SERVICE_URL.into()),
        ..Target::default()
    }
}

#[test]
fn teams_text_reply() {
    let want = json("teams/outbound/reply_text.json");
    let calls = teams::render(&reply("Sure - which laptop model?", vec![]), &teams_target());
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.method, http::Method::POST);
    assert_eq!(
        c.path,
        format!(
            "https://smba.trafficmanager.net/amer/v3/conversations/{}/activities/1767225600123",
            PERSONAL.replace(':', "%3A")
        )
    );
    assert_eq!(c.auth, Auth::Bearer("access_token"));
    let got = body(c);
    for field in ["type", "text", "textFormat", "replyToId", "conversation"] {
        assert_eq!(got[field], want[field], "{field}");
    }
    assert_eq!(got["from"]["id"], want["from"]["id"]);
    assert!(got.get("suggestedActions").is_none() && got.get("attachments").is_none());
}

#[test]
fn teams_paths() {
    let no_slash = Target {
        endpoint: Some("https://smba.trafficmanager.net/amer".into()),
        reply_to: None,
        conversation_id: "19:abc@thread.tacv2;messageid=17".into(),
        ..teams_target()
    };
    let calls = teams::render(&reply("Hi", vec![]), &no_slash);
    assert_eq!(
        calls[0].path,
        "https://smba.trafficmanager.net/amer/v3/conversations/19%3Aabc%40thread.tacv2%3Bmessageid%3D17/activities"
    );
    assert!(body(&calls[0]).get("replyToId").is_none());
    let slashes = Target {
        endpoint: Some("https://smba.trafficmanager.net/amer//".into()),
        ..teams_target()
    };
    assert_eq!(
        teams::render(&reply("Hi", vec![]), &slashes)[0].path,
        teams::render(&reply("Hi", vec![]), &teams_target())[0].path
    );
}

#[test]
fn teams_personal_chat_gets_suggested_actions() {
    let want = json("teams/outbound/suggested_actions.json");
    let r = reply(
        "Pick one",
        vec![
            button("Order status", "Order status"),
            button("Talk to a human", "Talk to a human"),
        ],
    );
    let target = Target {
        reply_to: None,
        ..teams_target()
    };
    let calls = teams::render(&r, &target);
    assert_eq!(calls.len(), 1);
    let got = body(&calls[0]);
    assert_eq!(got["type"], want["type"]);
    assert_eq!(got["text"], want["text"]);
    assert_eq!(got["conversation"], want["conversation"]);
    assert_eq!(got["suggestedActions"]["actions"], want["suggestedActions"]["actions"]);
    assert!(got.get("attachments").is_none());
}

#[test]
fn teams_channel_gets_a_hero_card() {
    let card = json("teams/outbound/reply_adaptive_card.json");
    let target = Target {
        conversation_id: "19:abc@thread.tacv2;messageid=17".into(),
        ..teams_target()
    };
    let r = reply(
        "Reset your password?",
        vec![button("Yes", "Yes"), button("No", "reset:no")],
    );
    let calls = teams::render(&r, &target);
    assert_eq!(calls.len(), 1);
    let got = body(&calls[0]);
    assert_eq!(got["text"], "Reset your password?");
    assert!(got.get("suggestedActions").is_none());
    let attachments = got["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1);
    // Same attachment shape as the Adaptive Card reply, with a hero card.
    assert!(card["attachments"][0].get("contentType").is_some());
    assert_eq!(attachments[0]["contentType"], "application/vnd.microsoft.card.hero");
    assert_eq!(
        attachments[0]["content"]["buttons"],
        serde_json::json!([
            {"type": "imBack", "title": "Yes", "value": "Yes"},
            {"type": "messageBack", "title": "No", "text": "reset:no", "displayText": "No"},
        ])
    );
}

#[test]
fn teams_button_limit_and_splitting() {
    let r = reply("Pick", many(7));
    let calls = teams::render(&r, &teams_target());
    assert_eq!(calls.len(), 1);
    let got = body(&calls[0]);
    assert!(got.get("suggestedActions").is_none() && got.get("attachments").is_none());
    assert_eq!(got["text"], switchboard_channels::outbound::numbered(&r));
    assert!(
        body(&teams::render(&reply("Pick", many(6)), &teams_target())[0])
            .get("suggestedActions")
            .is_some()
    );

    let calls = teams::render(&reply(&long_text(60_000), many(2)), &teams_target());
    assert_eq!(calls.len(), 3);
    for (i, c) in calls.iter().enumerate() {
        assert!(chars(&body(c)["text"]) <= 28_000);
        assert_eq!(body(c).get("suggestedActions").is_some(), i == 2);
    }
}

#[test]
fn teams_outcomes() {
    assert_eq!(
        teams::outcome(201, &fixture("teams/outbound/resource_response.json"), None),
        Outcome::Sent(Some("1767225601456".into()))
    );
    assert_eq!(teams::outcome(200, b"", None), Outcome::Sent(None));
    assert_eq!(teams::outcome(429, b"", Some(3)), Outcome::RetryAfter(3));
    for status in [401, 403, 404] {
        assert!(
            matches!(teams::outcome(status, b"", None), Outcome::Permanent(_)),
            "{status}"
        );
    }
    let blocked =
        br#"{"error":{"code":"ConversationBlockedByUser","message":"User blocked the conversation with the bot."}}"#;
    assert_eq!(
        teams::outcome(403, blocked, None),
        Outcome::Blocked("HTTP 403: ConversationBlockedByUser".into())
    );
    for status in [412, 502, 504] {
        assert!(
            matches!(teams::outcome(status, b"", None), Outcome::Transient(_)),
            "{status}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Signal

fn signal_target(conversation: &str) -> Target {
    Target {
        account_id: "+15550002222".into(),
        conversation_id: conversation.into(),
        ..Target::default()
    }
}

#[test]
fn signal_send_is_the_fixture() {
    let calls = signal::render(
        &reply("Yes, open until 18:00. **Welcome!**", vec![]),
        &signal_target("+15553334444"),
    );
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, http::Method::POST);
    assert_eq!(calls[0].path, "v2/send");
    assert_eq!(calls[0].auth, Auth::None);
    assert_eq!(body(&calls[0]), &json("signal/outbound/v2_send.json"));
}

#[test]
fn signal_recipients() {
    let want = json("signal/outbound/v2_send_group_with_attachment.json");
    let recipients = |conversation: &str| {
        let calls = signal::render(&reply("Hi", vec![]), &signal_target(conversation));
        body(&calls[0])["recipients"].clone()
    };
    // Inbound events name a group by its base64 id.
    assert_eq!(
        recipients("FAKEgroupIdBase64AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        want["recipients"]
    );
    assert_eq!(
        recipients(want["recipients"][0].as_str().expect("group")),
        want["recipients"]
    );
    let aci = "11111111-2222-4333-8444-555555555555";
    assert_eq!(recipients(aci), serde_json::json!([aci]));
    assert_eq!(
        body(&signal::render(&reply("Hi", vec![]), &signal_target(aci))[0])["number"],
        want["number"]
    );
}

#[test]
fn signal_buttons_are_numbered_and_text_split() {
    let r = reply("Pick", vec![button("Yes", "Y"), button("No", "N")]);
    let calls = signal::render(&r, &signal_target("+15553334444"));
    assert_eq!(calls.len(), 1);
    assert_eq!(body(&calls[0])["message"], "Pick\n\n1. Yes\n2. No");

    let calls = signal::render(&reply(&long_text(4_500), many(3)), &signal_target("+15553334444"));
    assert_eq!(calls.len(), 3);
    for c in &calls {
        assert!(chars(&body(c)["message"]) <= 2_000);
    }
    assert!(
        body(&calls[2])["message"]
            .as_str()
            .expect("text")
            .ends_with("3. Option 3")
    );
}

#[test]
fn signal_outcomes() {
    assert_eq!(
        signal::outcome(201, &fixture("signal/outbound/v2_send_response.json"), None),
        Outcome::Sent(Some("1767225600999".into()))
    );
    assert_eq!(
        signal::outcome(200, &fixture("signal/outbound/jsonrpc_send_response.json"), None),
        Outcome::Sent(Some("1767225600999".into()))
    );
    assert_eq!(
        signal::outcome(201, br#"{"timestamp":1767225600999}"#, None),
        Outcome::Sent(Some("1767225600999".into()))
    );
    // A captcha challenge: no delay is given, retry with backoff while someone solves it.
    match signal::outcome(400, &fixture("signal/outbound/v2_send_error_rate_limit.json"), None) {
        Outcome::Transient(reason) => assert!(reason.contains("RateLimitException"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(signal::outcome(429, b"", Some(9)), Outcome::RetryAfter(9));
    assert_eq!(
        signal::outcome(400, br#"{"error":"Failed to send message: Unregistered user"}"#, None),
        Outcome::Permanent("HTTP 400: Failed to send message: Unregistered user".into())
    );
    assert!(matches!(signal::outcome(500, b"", None), Outcome::Transient(_)));
    assert!(matches!(
        signal::outcome(
            200,
            br#"{"jsonrpc":"2.0","id":"1","error":{"code":-1,"message":"Invalid group id"}}"#,
            None
        ),
        Outcome::Permanent(_)
    ));
}
