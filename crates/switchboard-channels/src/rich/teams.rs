//! Teams: rich content as Adaptive Card attachments (adaptivecards.io/explorer; Teams renders
//! schema 1.4 on every client), several cards side by side as a `carousel`
//! (learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference).
//!
//! Buttons are `Action.Submit` with `data.action` = the payload: the inbound side reads
//! `value.action` as what the person chose, so pressing one is understood like a typed payload.

use crate::outbound::{self, Body, Call, Reply, Rich, Target};
use crate::teams::{activities_path, render as render_plain};
use serde_json::{Value, json};
use switchboard_core::{Button, Card, ListItem};

const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";
const SCHEMA_VERSION: &str = "1.4";
/// Actions Teams shows on one card; more are cut off by the client.
const ACTIONS_MAX: usize = 6;

pub(crate) fn render(rich: &Rich, reply: &Reply, to: &Target) -> Vec<Call> {
    match rich {
        Rich::Image { url } => {
            let mut body = vec![json!({ "type": "Image", "url": url, "size": "Stretch" })];
            if !reply.text.trim().is_empty() {
                body.push(json!({ "type": "TextBlock", "text": reply.text, "wrap": true }));
            }
            vec![send(to, &[adaptive(body, &[])], None)]
        }
        Rich::Cards(cards) if cards.iter().all(|c| c.buttons.len() <= ACTIONS_MAX) => {
            let attachments: Vec<Value> = cards.iter().map(card).collect();
            let layout = (cards.len() > 1).then_some("carousel");
            vec![send(to, &attachments, layout)]
        }
        Rich::Cards(_) => outbound::render_degraded(reply, to, render_plain),
        Rich::List { button, items } => vec![send(to, &[list(&reply.text, button, items)], None)],
    }
}

fn card(c: &Card) -> Value {
    let mut body =
        vec![json!({ "type": "TextBlock", "text": c.title, "weight": "Bolder", "size": "Medium", "wrap": true })];
    if let Some(s) = c.subtitle.as_deref().filter(|s| !s.is_empty()) {
        body.push(json!({ "type": "TextBlock", "text": s, "isSubtle": true, "wrap": true }));
    }
    if let Some(url) = &c.image_url {
        body.push(json!({ "type": "Image", "url": url, "size": "Stretch", "altText": c.title }));
    }
    adaptive(body, &c.buttons)
}

/// A compact choice set (a drop-down) whose input id is `action`, so the submitted `value` is
/// `{ "action": <payload> }` like a button's; the submit button carries the list's label.
fn list(text: &str, button: &str, items: &[ListItem]) -> Value {
    let choices: Vec<Value> = items
        .iter()
        .map(|i| {
            let title = match i.description.as_deref().filter(|d| !d.is_empty()) {
                Some(d) => format!("{} – {d}", i.title),
                None => i.title.clone(),
            };
            json!({ "title": title, "value": i.payload })
        })
        .collect();
    let body = vec![
        json!({ "type": "TextBlock", "text": text, "wrap": true }),
        json!({ "type": "Input.ChoiceSet", "id": "action", "style": "compact", "isRequired": true,
                "placeholder": button, "choices": choices }),
    ];
    let mut card = adaptive(body, &[]);
    card["content"]["actions"] = json!([{ "type": "Action.Submit", "title": button }]);
    card
}

/// An Adaptive Card attachment with `Action.Submit` buttons.
fn adaptive(body: Vec<Value>, buttons: &[Button]) -> Value {
    let actions: Vec<Value> = buttons
        .iter()
        .map(|b| json!({ "type": "Action.Submit", "title": b.title, "data": { "action": b.payload } }))
        .collect();
    let mut content = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": SCHEMA_VERSION,
        "body": body,
    });
    if !actions.is_empty() {
        content["actions"] = actions.into();
    }
    json!({ "contentType": ADAPTIVE_CARD, "content": content })
}

fn send(to: &Target, attachments: &[Value], layout: Option<&str>) -> Call {
    let mut body = json!({
        "type": "message",
        "conversation": { "id": to.conversation_id },
        "attachments": attachments,
    });
    if let Some(layout) = layout {
        body["attachmentLayout"] = layout.into();
    }
    if !to.account_id.is_empty() {
        body["from"] = json!({ "id": to.account_id });
    }
    if let Some(id) = &to.reply_to {
        body["replyToId"] = json!(id);
    }
    Call {
        method: http::Method::POST,
        path: activities_path(to),
        auth: outbound::Auth::Bearer("access_token"),
        body: Body::Json(body),
    }
}
