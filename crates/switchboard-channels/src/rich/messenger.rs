//! Messenger Send API: image attachments, cards as the generic template, lists as quick
//! replies (developers.facebook.com/docs/messenger-platform `send-messages`, `reference/templates/generic`,
//! `send-messages/quick-replies`).

use crate::messenger::{QUICK_REPLY_PAYLOAD_LIMIT, render as render_plain};
use crate::outbound::{self, Body, Call, Reply, Rich, Target, clip};
use serde_json::{Value, json};
use switchboard_core::Card;

/// Elements of one generic template (a carousel).
const MAX_ELEMENTS: usize = 10;
/// Buttons of one element.
const MAX_ELEMENT_BUTTONS: usize = 3;
/// An element's title and subtitle.
const ELEMENT_TEXT_LIMIT: usize = 80;
/// A postback button's title.
const BUTTON_TITLE_LIMIT: usize = 20;

pub(crate) fn render(rich: &Rich, reply: &Reply, to: &Target) -> Vec<Call> {
    match rich {
        // Attachments have no caption: the picture, then its text.
        Rich::Image { url } => {
            let mut calls = vec![send(
                to,
                json!({ "attachment": attachment("image", json!({ "url": url, "is_reusable": true })) }),
            )];
            if !reply.text.trim().is_empty() {
                calls.extend(render_plain(&Reply::text(reply.text.clone()), to));
            }
            calls
        }
        Rich::Cards(cards) => cards
            .chunks(MAX_ELEMENTS)
            .flat_map(|chunk| generic(chunk, to))
            .collect(),
        // Quick replies (at most 13, titles cut to 20 characters), else numbered options.
        Rich::List { .. } => outbound::render_degraded(reply, to, render_plain),
    }
}

/// A generic template of up to 10 elements. An element holds 3 postback buttons: a card with
/// more keeps none on the template and offers them all after it, as quick replies under its
/// title, so no choice is lost. An element needs something besides its title, so a card that
/// would be a bare title is sent as that text (with its buttons) instead.
fn generic(cards: &[Card], to: &Target) -> Vec<Call> {
    let elements: Vec<Value> = cards.iter().filter_map(element).collect();
    let mut calls = Vec::new();
    if !elements.is_empty() {
        let payload = json!({ "template_type": "generic", "elements": elements });
        calls.push(send(to, json!({ "attachment": attachment("template", payload) })));
    }
    for c in cards.iter().filter(|c| !fits_element(c) || element(c).is_none()) {
        let more = Reply {
            text: c.title.clone(),
            buttons: c.buttons.clone(),
            rich: None,
        };
        calls.extend(render_plain(&more, to));
    }
    calls
}

fn fits_element(c: &Card) -> bool {
    c.buttons.len() <= MAX_ELEMENT_BUTTONS && c.buttons.iter().all(|b| b.payload.len() <= QUICK_REPLY_PAYLOAD_LIMIT)
}

fn element(c: &Card) -> Option<Value> {
    let mut e = json!({ "title": clip(&c.title, ELEMENT_TEXT_LIMIT) });
    let mut more = false;
    if let Some(s) = c.subtitle.as_deref().filter(|s| !s.is_empty()) {
        e["subtitle"] = clip(s, ELEMENT_TEXT_LIMIT).into();
        more = true;
    }
    if let Some(url) = &c.image_url {
        e["image_url"] = url.as_str().into();
        more = true;
    }
    if !c.buttons.is_empty() && fits_element(c) {
        let buttons: Vec<Value> = c
            .buttons
            .iter()
            .map(|b| json!({ "type": "postback", "title": clip(&b.title, BUTTON_TITLE_LIMIT), "payload": b.payload }))
            .collect();
        e["buttons"] = buttons.into();
        more = true;
    }
    more.then_some(e)
}

fn attachment(kind: &str, payload: Value) -> Value {
    json!({ "type": kind, "payload": payload })
}

fn send(to: &Target, message: Value) -> Call {
    Call {
        method: http::Method::POST,
        path: "me/messages".into(),
        auth: outbound::Auth::Bearer("page_token"),
        body: Body::Json(json!({
            "recipient": { "id": to.conversation_id },
            "messaging_type": "RESPONSE",
            "message": message,
        })),
    }
}
