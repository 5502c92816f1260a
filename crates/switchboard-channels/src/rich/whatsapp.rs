//! WhatsApp Cloud API: image messages by link, a card as reply buttons under an image header,
//! a list as an interactive `list` message (developers.facebook.com/docs/whatsapp/cloud-api
//! `messages`: image, interactive button and list objects, and their limits).

use crate::outbound::{self, Body, Call, Reply, Rich, Target};
use crate::whatsapp::{
    BUTTON_ID_LIMIT, BUTTON_TITLE_LIMIT, BUTTONS_BODY_LIMIT, MAX_BUTTONS, MAX_ROWS, ROW_DESCRIPTION_LIMIT,
    ROW_ID_LIMIT, ROW_TITLE_LIMIT, TEXT_LIMIT, render as render_plain, truncate,
};
use serde_json::{Value, json};
use switchboard_core::{Card, ListItem};

/// An image's caption and a media header's body hold at most 1,024 characters.
const CAPTION_LIMIT: usize = 1024;
/// The label of the button that opens a list.
const LIST_BUTTON_LIMIT: usize = 20;

pub(crate) fn render(rich: &Rich, reply: &Reply, to: &Target) -> Vec<Call> {
    let rest = outbound::later(to);
    match rich {
        Rich::Image { url } => image(url, &reply.text, to),
        Rich::Cards(cards) => cards
            .iter()
            .enumerate()
            .flat_map(|(i, c)| card(c, if i == 0 { to } else { &rest }))
            .collect(),
        Rich::List { button, items } => {
            list(&reply.text, button, items, to).unwrap_or_else(|| outbound::render_degraded(reply, to, render_plain))
        }
    }
}

/// An image message; a caption too long for it follows as text.
fn image(url: &str, caption: &str, to: &Target) -> Vec<Call> {
    let fits = caption.chars().count() <= CAPTION_LIMIT;
    let mut media = json!({ "link": url });
    if fits && !caption.is_empty() {
        media["caption"] = caption.into();
    }
    let mut calls = vec![message(to, "image", media)];
    if !fits {
        calls.extend(render_plain(&Reply::text(caption), &outbound::later(to)));
    }
    calls
}

/// One card: reply buttons (1 to 3) with the card's image as header and its text as body. A card
/// the control cannot hold (no buttons, more than 3, long ids or text) is its image and then
/// its text with the buttons as WhatsApp renders plain buttons (a list of up to 10, else
/// numbered).
fn card(c: &Card, to: &Target) -> Vec<Call> {
    let text = outbound::card_text(&Card {
        image_url: None,
        ..c.clone()
    });
    let fits = (1..=MAX_BUTTONS).contains(&c.buttons.len())
        && c.buttons.iter().all(|b| b.payload.len() <= BUTTON_ID_LIMIT)
        && text.chars().count() <= BUTTONS_BODY_LIMIT;
    if fits {
        let buttons: Vec<Value> = c
            .buttons
            .iter()
            .map(|b| json!({ "type": "reply", "reply": { "id": b.payload, "title": truncate(&b.title, BUTTON_TITLE_LIMIT) } }))
            .collect();
        let mut interactive = json!({ "type": "button", "body": { "text": text }, "action": { "buttons": buttons } });
        if let Some(url) = &c.image_url {
            interactive["header"] = json!({ "type": "image", "image": { "link": url } });
        }
        return vec![message(to, "interactive", interactive)];
    }
    let mut calls = Vec::new();
    let mut target = to.clone();
    if let Some(url) = &c.image_url {
        calls.extend(image(url, "", &target));
        target = outbound::later(to);
    }
    let plain = Reply {
        text,
        buttons: c.buttons.clone(),
        rich: None,
    };
    calls.extend(render_plain(&plain, &target));
    calls
}

/// An interactive list: one section of at most 10 rows, titles cut to 24 characters and
/// descriptions to 72, the opening button's label to 20. `None` when the items do not fit
/// (more than 10, an id over 200 characters, text over the body's limit).
fn list(text: &str, button: &str, items: &[ListItem], to: &Target) -> Option<Vec<Call>> {
    let fits = !items.is_empty()
        && items.len() <= MAX_ROWS
        && items
            .iter()
            .all(|i| !i.payload.is_empty() && i.payload.len() <= ROW_ID_LIMIT)
        && !text.trim().is_empty()
        && text.chars().count() <= TEXT_LIMIT;
    if !fits {
        return None;
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|i| {
            let mut row = json!({ "id": i.payload, "title": truncate(&i.title, ROW_TITLE_LIMIT) });
            if let Some(d) = i.description.as_deref().filter(|d| !d.is_empty()) {
                row["description"] = truncate(d, ROW_DESCRIPTION_LIMIT).into();
            }
            row
        })
        .collect();
    let interactive = json!({
        "type": "list",
        "body": { "text": text },
        "action": { "button": truncate(button, LIST_BUTTON_LIMIT), "sections": [{ "rows": rows }] },
    });
    Some(vec![message(to, "interactive", interactive)])
}

fn message(to: &Target, kind: &str, content: Value) -> Call {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.conversation_id,
        "type": kind,
    });
    body[kind] = content;
    if let Some(quoted) = &to.reply_to {
        body["context"] = json!({ "message_id": quoted });
    }
    Call {
        method: http::Method::POST,
        path: format!("{}/messages", to.account_id),
        auth: outbound::Auth::Bearer("access_token"),
        body: Body::Json(body),
    }
}
