//! Slack Block Kit: an `image` block, cards as a `section` with an image accessory and an
//! `actions` block, lists as a `static_select` (docs.slack.dev/reference/block-kit/blocks,
//! `block-elements/select-menu-element`). `text` is always set: it is the notification and the
//! fallback where blocks cannot show.

use crate::outbound::{self, Body, Call, Reply, Rich, Target, clip};
use crate::slack::{BUTTON_TITLE_MAX, BUTTON_VALUE_MAX, BUTTONS_MAX, SECTION_MAX, render as render_plain};
use serde_json::{Value, json};
use switchboard_core::{Card, ListItem};

/// Blocks in one message.
const BLOCKS_MAX: usize = 50;
/// An image block's alt text and title.
const ALT_MAX: usize = 2_000;
/// A select's options, and the limits of one option.
const OPTIONS_MAX: usize = 100;
const OPTION_TEXT_MAX: usize = 75;
const OPTION_VALUE_MAX: usize = 150;
const PLACEHOLDER_MAX: usize = 150;

pub(crate) fn render(rich: &Rich, reply: &Reply, to: &Target) -> Vec<Call> {
    match rich {
        Rich::Image { url } => {
            let alt = if reply.text.trim().is_empty() {
                "image"
            } else {
                &reply.text
            };
            let mut block = json!({ "type": "image", "image_url": url, "alt_text": clip(alt, ALT_MAX) });
            if !reply.text.trim().is_empty() {
                block["title"] = json!({ "type": "plain_text", "text": clip(&reply.text, ALT_MAX) });
            }
            let text = if reply.text.trim().is_empty() { url } else { &reply.text };
            vec![post(to, text, vec![block])]
        }
        Rich::Cards(cards) if cards.iter().all(fits) => {
            let mut blocks = Vec::new();
            for (n, c) in cards.iter().enumerate() {
                if n > 0 {
                    blocks.push(json!({ "type": "divider" }));
                }
                blocks.extend(card(n, c));
            }
            if blocks.len() > BLOCKS_MAX {
                return outbound::render_degraded(reply, to, render_plain);
            }
            let titles: Vec<&str> = cards.iter().map(|c| c.title.as_str()).collect();
            vec![post(to, &titles.join(" · "), blocks)]
        }
        Rich::Cards(_) => outbound::render_degraded(reply, to, render_plain),
        Rich::List { button, items } if list_fits(&reply.text, items) => {
            let options: Vec<Value> = items.iter().map(option).collect();
            let select = json!({
                "type": "static_select",
                "action_id": "sb_list",
                "placeholder": { "type": "plain_text", "text": clip(button, PLACEHOLDER_MAX) },
                "options": options,
            });
            let block = json!({
                "type": "section",
                "text": { "type": "mrkdwn", "text": reply.text },
                "accessory": select,
            });
            vec![post(to, &reply.text, vec![block])]
        }
        Rich::List { .. } => outbound::render_degraded(reply, to, render_plain),
    }
}

fn fits(c: &Card) -> bool {
    c.buttons.len() <= BUTTONS_MAX
        && c.buttons
            .iter()
            .all(|b| (1..=BUTTON_VALUE_MAX).contains(&b.payload.chars().count()))
        && outbound::card_text(c).chars().count() <= SECTION_MAX
}

/// A card: its title in bold and subtitle as a section, the picture as the section's accessory,
/// its buttons as an `actions` block (`action_id` unique in the message: `sb_<card>_<button>`).
fn card(n: usize, c: &Card) -> Vec<Value> {
    let mut text = format!("*{}*", c.title);
    if let Some(s) = c.subtitle.as_deref().filter(|s| !s.is_empty()) {
        text = format!("{text}\n{s}");
    }
    let mut section = json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } });
    if let Some(url) = &c.image_url {
        section["accessory"] = json!({ "type": "image", "image_url": url, "alt_text": clip(&c.title, ALT_MAX) });
    }
    let mut blocks = vec![section];
    if !c.buttons.is_empty() {
        let elements: Vec<Value> = c
            .buttons
            .iter()
            .enumerate()
            .map(|(i, b)| {
                json!({
                    "type": "button",
                    "action_id": format!("sb_{n}_{i}"),
                    "text": { "type": "plain_text", "text": clip(&b.title, BUTTON_TITLE_MAX) },
                    "value": b.payload,
                })
            })
            .collect();
        blocks.push(json!({ "type": "actions", "elements": elements }));
    }
    blocks
}

fn list_fits(text: &str, items: &[ListItem]) -> bool {
    !items.is_empty()
        && items.len() <= OPTIONS_MAX
        && !text.trim().is_empty()
        && text.chars().count() <= SECTION_MAX
        && items
            .iter()
            .all(|i| (1..=OPTION_VALUE_MAX).contains(&i.payload.chars().count()))
}

fn option(i: &ListItem) -> Value {
    let mut o = json!({
        "text": { "type": "plain_text", "text": clip(&i.title, OPTION_TEXT_MAX) },
        "value": i.payload,
    });
    if let Some(d) = i.description.as_deref().filter(|d| !d.is_empty()) {
        o["description"] = json!({ "type": "plain_text", "text": clip(d, OPTION_TEXT_MAX) });
    }
    o
}

fn post(to: &Target, text: &str, blocks: Vec<Value>) -> Call {
    let mut body = json!({ "channel": to.conversation_id, "text": text, "blocks": blocks });
    if let Some(ts) = &to.thread_id {
        body["thread_ts"] = json!(ts);
    }
    Call {
        method: http::Method::POST,
        path: "chat.postMessage".to_owned(),
        auth: outbound::Auth::Bearer("bot_token"),
        body: Body::Json(body),
    }
}
