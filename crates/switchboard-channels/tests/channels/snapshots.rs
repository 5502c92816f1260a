//! Snapshots of the rendered outbound payloads, per channel: a reply with buttons, a plain
//! reply, and one too long for a single message. A change to what we send shows up as a diff
//! in `tests/channels/snapshots/` to review (`cargo insta review`).

use serde_json::{Value, json};
use switchboard_channels::outbound::{Body, Call, Reply, Target};
use switchboard_channels::{discord, messenger, signal, slack, teams, telegram, twilio, whatsapp};
use switchboard_core::Button;

pub fn view(calls: Vec<Call>) -> Value {
    Value::Array(
        calls
            .into_iter()
            .map(|c| {
                let body = match c.body {
                    Body::Json(v) => v,
                    Body::Form(f) => json!(f),
                };
                json!({ "method": c.method.as_str(), "path": c.path, "auth": format!("{:?}", c.auth), "body": body })
            })
            .collect(),
    )
}

fn replies() -> [(&'static str, Reply); 3] {
    let buttons = vec![
        Button {
            title: "Tell me a joke".into(),
            payload: "tell me a joke".into(),
        },
        Button {
            title: "Opening hours".into(),
            payload: "when are you open".into(),
        },
        Button {
            title: "Who are you?".into(),
            payload: "who are you".into(),
        },
    ];
    [
        (
            "buttons",
            Reply {
                text: "I'm a demo. Pick one:".into(),
                buttons,
                rich: None,
            },
        ),
        (
            "plain",
            Reply {
                text: "We're open Monday to Friday, 9:00 to 18:00.".into(),
                buttons: Vec::new(),
                rich: None,
            },
        ),
        (
            "long",
            Reply {
                text: "word ".repeat(1000).trim().to_owned(),
                buttons: Vec::new(),
                rich: None,
            },
        ),
    ]
}

pub fn target(conversation: &str, account: &str) -> Target {
    Target {
        account_id: account.into(),
        conversation_id: conversation.into(),
        thread_id: None,
        reply_to: Some("101".into()),
        interaction: None,
        endpoint: None,
    }
}

pub type Render = fn(&Reply, &Target) -> Vec<Call>;

/// Every channel with its render function and a target like the ones its inbound events give.
pub fn channels() -> [(&'static str, Render, Target); 8] {
    let twilio_target = Target {
        endpoint: Some("+15550001111".into()),
        ..target("+15557654321", "AC00000000000000000000000000000001")
    };
    let teams_target = Target {
        endpoint: Some("https://smba.trafficmanager.net/teams/".into()),
        ..target("a:1FAKEconversation", "28:00000000-1111-2222-3333-444444444444")
    };
    [
        ("telegram", telegram::render, target("100000001", "7000000001")),
        ("whatsapp", whatsapp::render, target("15557654321", "200000000000002")),
        (
            "messenger",
            messenger::render,
            target("4000000000000004", "300000000000003"),
        ),
        (
            "slack",
            slack::render,
            Target {
                thread_id: Some("1767225600.000100".into()),
                ..target("C0FAKE0001", "T0FAKE0001")
            },
        ),
        (
            "discord",
            discord::render,
            target("1300000000000000020", "1300000000000000001"),
        ),
        ("teams", teams::render, teams_target),
        ("twilio", twilio::render, twilio_target),
        (
            "signal",
            signal::render,
            target("11111111-2222-4333-8444-555555555555", "+15550002222"),
        ),
    ]
}

#[test]
fn rendered_replies_per_channel() {
    for (name, render, to) in channels() {
        for (kind, reply) in replies() {
            insta::assert_json_snapshot!(format!("{name}_{kind}"), view(render(&reply, &to)));
        }
    }
}
