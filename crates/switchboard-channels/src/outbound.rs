//! Outbound: a channel-neutral reply rendered into the platform API calls that send it, and
//! the platform's answer classified. Pure: the server makes the calls (base URL, credentials,
//! rate limits, retries). Each channel module has `render` and `outcome` functions with the
//! shapes below.

use serde_json::Value;
use switchboard_core::{Button, Card, ListItem};

/// What the bot wants to say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// Choices offered with the text; rendered as the richest control the channel has, or as
    /// numbered options in plain text where it has none.
    pub buttons: Vec<Button>,
    /// Rich content, rendered natively where the channel can and as text where it cannot.
    pub rich: Option<Rich>,
}

/// The rich part of a reply. `Reply::text` goes with it: an image's caption, a list's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rich {
    Image {
        url: String,
    },
    /// One card, or a carousel.
    Cards(Vec<Card>),
    /// Choices behind a control labelled `button`.
    List {
        button: String,
        items: Vec<ListItem>,
    },
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            ..Reply::default()
        }
    }
}

/// A rich reply as plain replies (text and buttons) for channels or limits that cannot show it:
/// an image as its caption and link, each card as its own message with its buttons, a list as
/// its text with a button per item. Plain replies come back unchanged.
pub fn degrade(reply: &Reply) -> Vec<Reply> {
    match &reply.rich {
        None => vec![reply.clone()],
        Some(Rich::Image { url }) => vec![Reply::text(join_lines([reply.text.as_str(), url]))],
        Some(Rich::Cards(cards)) => cards
            .iter()
            .map(|c| Reply {
                text: card_text(c),
                buttons: c.buttons.clone(),
                rich: None,
            })
            .collect(),
        // Buttons show titles only (and cut them short): descriptions stay out.
        Some(Rich::List { items, .. }) => vec![Reply {
            text: reply.text.clone(),
            buttons: items
                .iter()
                .map(|i| Button {
                    title: i.title.clone(),
                    payload: i.payload.clone(),
                })
                .collect(),
            rich: None,
        }],
    }
}

/// A card as text: title, subtitle and image link on their own lines.
pub fn card_text(c: &Card) -> String {
    join_lines([
        c.title.as_str(),
        c.subtitle.as_deref().unwrap_or_default(),
        c.image_url.as_deref().unwrap_or_default(),
    ])
}

fn join_lines<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The target for the second and later messages of one reply: only the first answers the
/// platform message or acknowledges the interaction.
pub(crate) fn later(to: &Target) -> Target {
    Target {
        reply_to: None,
        interaction: None,
        ..to.clone()
    }
}

/// Renders a rich reply as plain ones through the channel's own `render`, for the parts a
/// channel shows as text.
pub(crate) fn render_degraded(reply: &Reply, to: &Target, render: fn(&Reply, &Target) -> Vec<Call>) -> Vec<Call> {
    let rest = later(to);
    degrade(reply)
        .iter()
        .enumerate()
        .flat_map(|(i, r)| render(r, if i == 0 { to } else { &rest }))
        .collect()
}

/// Where a reply goes, from the inbound event it answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// Our bot's account on the platform (phone number id, page id, AccountSid, application id...).
    pub account_id: String,
    /// The platform chat/channel/user to send to.
    pub conversation_id: String,
    /// Slack `thread_ts`, Telegram forum topic...
    pub thread_id: Option<String>,
    /// The platform message being answered.
    pub reply_to: Option<String>,
    /// Token or id needed to answer an interaction (Discord interaction token, Telegram callback
    /// query id, Teams activity id).
    pub interaction: Option<String>,
    /// Teams: the conversation's service URL; Twilio: the number we send from.
    pub endpoint: Option<String>,
}

/// How the server authenticates a call, with the connector's secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <secret>`, the named secret.
    Bearer(&'static str),
    /// `Authorization: Bot <secret>` (Discord).
    Bot(&'static str),
    /// HTTP Basic with the account id as user and the named secret as password (Twilio).
    Basic(&'static str),
    /// The named secret is part of the path: `/bot<secret>` before `path` (Telegram).
    PathPrefix(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Json(Value),
    Form(Vec<(String, String)>),
}

/// One HTTP call to the platform.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub method: http::Method,
    /// Appended to the connector's API base URL (or, when absolute, used as is: Teams service
    /// URLs, Discord interaction webhooks).
    pub path: String,
    pub auth: Auth,
    pub body: Body,
}

/// What the platform's answer means for the send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Sent; the platform's id for the message when it gives one.
    Sent(Option<String>),
    /// Rate limited: try again after this many seconds.
    RetryAfter(u64),
    /// Worth retrying with backoff (5xx, timeouts).
    Transient(String),
    /// Will never work (outside the window, bad request): give up.
    Permanent(String),
    /// The person blocked the bot, unsubscribed or is gone: give up, and end the conversation
    /// so that nothing more is sent to them.
    Blocked(String),
}

/// Splits text into pieces of at most `limit` characters, at line breaks or spaces when it can.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > limit {
        let cut = rest.char_indices().nth(limit).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..cut];
        let at = head
            .rfind('\n')
            .or_else(|| head.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(cut);
        out.push(rest[..at].trim_end().to_owned());
        rest = rest[at..].trim_start();
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// At most `max` characters, the last one an ellipsis when something was cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Buttons as numbered options under the text, for channels without controls. The person may
/// answer with the number or the title.
pub fn numbered(reply: &Reply) -> String {
    if reply.buttons.is_empty() {
        return reply.text.clone();
    }
    let options: Vec<String> = reply
        .buttons
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{}. {}", i + 1, b.title))
        .collect();
    format!("{}\n\n{}", reply.text, options.join("\n"))
}

/// Classifies a plain HTTP status: the common part of every platform's `outcome`.
pub fn by_status(status: u16, retry_after: Option<u64>) -> Option<Outcome> {
    match status {
        200..=299 => None,
        429 => Some(Outcome::RetryAfter(retry_after.unwrap_or(1))),
        500..=599 | 408 => Some(Outcome::Transient(format!("HTTP {status}"))),
        _ => Some(Outcome::Permanent(format!("HTTP {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_the_limit_and_word_boundaries() {
        assert_eq!(split("hello", 10), ["hello"]);
        assert_eq!(split("", 10), [""]);
        let parts = split("one two three four five", 9);
        assert!(parts.iter().all(|p| p.chars().count() <= 9), "{parts:?}");
        assert_eq!(parts.join(" "), "one two three four five");
        let long = "é".repeat(25);
        let parts = split(&long, 10);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), [10, 10, 5]);
    }

    #[test]
    fn numbered_options() {
        let r = Reply {
            text: "Pick".into(),
            buttons: vec![
                Button {
                    title: "Yes".into(),
                    payload: "Y".into(),
                },
                Button {
                    title: "No".into(),
                    payload: "N".into(),
                },
            ],
            rich: None,
        };
        assert_eq!(numbered(&r), "Pick\n\n1. Yes\n2. No");
        assert_eq!(by_status(429, Some(7)), Some(Outcome::RetryAfter(7)));
        assert_eq!(by_status(503, None), Some(Outcome::Transient("HTTP 503".into())));
        assert_eq!(by_status(403, None), Some(Outcome::Permanent("HTTP 403".into())));
        assert_eq!(by_status(200, None), None);
    }
}
