//! Telegram: `sendPhoto` for images and cards with a picture (the caption holds the text, the
//! inline keyboard the buttons), inline keyboard rows for lists
//! (core.telegram.org/bots/api `sendPhoto`, `InlineKeyboardMarkup`).

use crate::outbound::{self, Call, Reply, Rich, Target};
use crate::telegram::{call, id_value, keyboard, render as render_plain};
use serde_json::json;
use switchboard_core::Button;

/// A photo's caption holds at most 1,024 characters; longer text follows as a message.
const CAPTION_LIMIT: usize = 1024;

pub(crate) fn render(rich: &Rich, reply: &Reply, to: &Target) -> Vec<Call> {
    let mut calls = Vec::new();
    if let Some(query) = &to.interaction {
        calls.push(call("answerCallbackQuery", json!({ "callback_query_id": query })));
    }
    let first = Target {
        interaction: None,
        ..to.clone()
    };
    let rest = outbound::later(to);
    match rich {
        Rich::Image { url } => calls.extend(photo(url, &reply.text, &reply.buttons, &first)),
        Rich::Cards(cards) => {
            for (i, card) in cards.iter().enumerate() {
                let target = if i == 0 { &first } else { &rest };
                let text = outbound::card_text(&switchboard_core::Card {
                    image_url: None,
                    ..card.clone()
                });
                match &card.image_url {
                    Some(url) => calls.extend(photo(url, &text, &card.buttons, target)),
                    None => calls.extend(render_plain(
                        &Reply {
                            text,
                            buttons: card.buttons.clone(),
                            rich: None,
                        },
                        target,
                    )),
                }
            }
        }
        // An inline keyboard, one item per row: Telegram has no separate list control.
        Rich::List { .. } => calls.extend(outbound::render_degraded(reply, &first, render_plain)),
    }
    calls
}

/// `sendPhoto` by URL (Telegram fetches it), the text as caption when it fits, else after it.
fn photo(url: &str, text: &str, buttons: &[Button], to: &Target) -> Vec<Call> {
    let fits = text.chars().count() <= CAPTION_LIMIT;
    let mut body = json!({ "chat_id": id_value(&to.conversation_id), "photo": url });
    if fits && !text.is_empty() {
        body["caption"] = text.into();
    }
    if let Some(thread) = &to.thread_id {
        body["message_thread_id"] = id_value(thread);
    }
    if let Some(message) = &to.reply_to {
        body["reply_parameters"] = json!({ "message_id": id_value(message) });
    }
    if fits && !buttons.is_empty() {
        body["reply_markup"] = keyboard(buttons);
    }
    let mut calls = vec![call("sendPhoto", body)];
    if !fits {
        let rest = Reply {
            text: text.to_owned(),
            buttons: buttons.to_vec(),
            rich: None,
        };
        calls.extend(render_plain(&rest, &outbound::later(to)));
    }
    calls
}
