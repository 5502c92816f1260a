//! Discord: images and cards as embeds, card buttons as components, lists as a string select
//! menu (discord.com/developers/docs `resources/message#embed-object`,
//! `interactions/message-components`).

use crate::discord::{
    BUTTONS_PER_ROW, CONTENT_MAX, CUSTOM_ID_MAX, ROWS_MAX, destination, render as render_plain, rows,
};
use crate::outbound::{self, Body, Call, Reply, Rich, Target, clip};
use serde_json::{Value, json};
use switchboard_core::{Card, ListItem};

/// The `custom_id` of the list's select menu. A choice arrives as `sb_list:<payload>`.
pub const LIST_ID: &str = "sb_list";
const EMBED_TITLE_MAX: usize = 256;
const EMBED_DESCRIPTION_MAX: usize = 4_096;
/// A select menu's options, and the limits of one option and the placeholder.
const OPTIONS_MAX: usize = 25;
const OPTION_TEXT_MAX: usize = 100;
const PLACEHOLDER_MAX: usize = 150;

pub(crate) fn render(rich: &Rich, reply: &Reply, to: &Target) -> Vec<Call> {
    // Later cards of an interaction's answer are follow-ups of it too.
    let rest = Target {
        reply_to: None,
        ..to.clone()
    };
    match rich {
        Rich::Image { url } => {
            let mut embed = json!({ "image": { "url": url } });
            if !reply.text.trim().is_empty() {
                embed["description"] = clip(&reply.text, EMBED_DESCRIPTION_MAX).into();
            }
            vec![send(to, json!({ "embeds": [embed] }))]
        }
        // One message per card: a button's `custom_id` (its payload) must be unique within a
        // message, and two cards often offer the same payload.
        Rich::Cards(cards) if cards.iter().all(|c| buttons_fit(&c.buttons)) => cards
            .iter()
            .enumerate()
            .map(|(i, c)| send(if i == 0 { to } else { &rest }, card(c)))
            .collect(),
        Rich::Cards(_) => outbound::render_degraded(reply, to, render_plain),
        Rich::List { button, items } if list_fits(&reply.text, items) => {
            let options: Vec<Value> = items.iter().map(option).collect();
            let select = json!({
                "type": 3,
                "custom_id": LIST_ID,
                "placeholder": clip(button, PLACEHOLDER_MAX),
                "options": options,
            });
            vec![send(
                to,
                json!({ "content": reply.text, "components": [{ "type": 1, "components": [select] }] }),
            )]
        }
        Rich::List { .. } => outbound::render_degraded(reply, to, render_plain),
    }
}

fn buttons_fit(buttons: &[switchboard_core::Button]) -> bool {
    buttons.len() <= BUTTONS_PER_ROW * ROWS_MAX
        && buttons
            .iter()
            .all(|b| (1..=CUSTOM_ID_MAX).contains(&b.payload.chars().count()))
}

fn card(c: &Card) -> Value {
    let mut embed = json!({ "title": clip(&c.title, EMBED_TITLE_MAX) });
    if let Some(s) = c.subtitle.as_deref().filter(|s| !s.is_empty()) {
        embed["description"] = clip(s, EMBED_DESCRIPTION_MAX).into();
    }
    if let Some(url) = &c.image_url {
        embed["image"] = json!({ "url": url });
    }
    let mut body = json!({ "embeds": [embed] });
    if !c.buttons.is_empty() {
        body["components"] = rows(&c.buttons);
    }
    body
}

fn list_fits(text: &str, items: &[ListItem]) -> bool {
    !items.is_empty()
        && items.len() <= OPTIONS_MAX
        && text.chars().count() <= CONTENT_MAX
        && items
            .iter()
            .all(|i| (1..=OPTION_TEXT_MAX).contains(&i.payload.chars().count()))
}

fn option(i: &ListItem) -> Value {
    let mut o = json!({ "label": clip(&i.title, OPTION_TEXT_MAX), "value": i.payload });
    if let Some(d) = i.description.as_deref().filter(|d| !d.is_empty()) {
        o["description"] = clip(d, OPTION_TEXT_MAX).into();
    }
    o
}

fn send(to: &Target, mut body: Value) -> Call {
    let (path, auth) = destination(to);
    body["allowed_mentions"] = json!({ "parse": [] });
    if let (None, Some(id)) = (&to.interaction, &to.reply_to) {
        body["message_reference"] = json!({ "message_id": id, "fail_if_not_exists": false });
    }
    Call {
        method: http::Method::POST,
        path,
        auth,
        body: Body::Json(body),
    }
}
