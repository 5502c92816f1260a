//! Rich content as plain text, for channels without controls (SMS, Signal): numbered options
//! the person answers with a number or a title, links where a picture cannot travel.

use crate::outbound::{self, Reply, Rich};
use switchboard_core::Card;

/// One text message of a rich reply, with the picture that goes with it where the channel can
/// attach one by URL (MMS).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub text: String,
    pub media: Option<String>,
}

/// The reply as text pieces. With `attach`, pictures are attachments; without, links in the text.
pub(crate) fn pieces(rich: &Rich, reply: &Reply, attach: bool) -> Vec<Piece> {
    match rich {
        Rich::Image { url } if attach => vec![Piece {
            text: reply.text.clone(),
            media: Some(url.clone()),
        }],
        Rich::Image { .. } => outbound::degrade(reply)
            .into_iter()
            .map(|r| Piece {
                text: r.text,
                media: None,
            })
            .collect(),
        Rich::Cards(cards) => cards.iter().map(|c| card(c, attach)).collect(),
        Rich::List { items, .. } => {
            let options: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(n, i)| match i.description.as_deref().filter(|d| !d.is_empty()) {
                    Some(d) => format!("{}. {} – {d}", n + 1, i.title),
                    None => format!("{}. {}", n + 1, i.title),
                })
                .collect();
            vec![Piece {
                text: format!("{}\n\n{}", reply.text, options.join("\n")),
                media: None,
            }]
        }
    }
}

fn card(c: &Card, attach: bool) -> Piece {
    let shown = if attach {
        Card {
            image_url: None,
            ..c.clone()
        }
    } else {
        c.clone()
    };
    let text = outbound::numbered(&Reply {
        text: outbound::card_text(&shown),
        buttons: c.buttons.clone(),
        rich: None,
    });
    Piece {
        text,
        media: if attach { c.image_url.clone() } else { None },
    }
}
