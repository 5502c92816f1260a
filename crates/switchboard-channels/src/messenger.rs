//! Messenger Platform `page` webhooks (developers.facebook.com/documentation/business-messaging/
//! messenger-platform/webhooks).
//!
//! Verification and the GET handshake are Meta's, see [`crate::meta`]. One POST holds
//! `entry[] × messaging[]`; each messaging item carries one of `message`, `postback`, `delivery`,
//! `read` (others, such as reactions, referrals and opt-ins, are not bot input here). Timestamps
//! are already milliseconds. Dedup keys: `message.mid`; `postback.mid` when Meta sends one, else
//! sender and time; for receipts see [`parse`].

use crate::{
    Attachment, AttachmentKind, DeliveryState, DeliveryStatus, EventKind, Fetch, InboundEvent, Interactive, Location,
    ParseError, Sender,
};
use crate::{meta, outbound};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use switchboard_core::Channel;

const OBJECT: &str = "page";

#[derive(Deserialize)]
struct Webhook {
    object: String,
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    time: Option<i64>,
    #[serde(default)]
    messaging: Vec<Messaging>,
}

#[derive(Deserialize)]
struct Party {
    id: Option<String>,
    // Opt-ins from the checkbox plugin name the person by a reference before a PSID exists.
    user_ref: Option<String>,
}

#[derive(Deserialize)]
struct Messaging {
    sender: Option<Party>,
    timestamp: Option<i64>,
    message: Option<Msg>,
    postback: Option<Postback>,
    delivery: Option<Delivery>,
    read: Option<Read>,
}

#[derive(Deserialize)]
struct Msg {
    mid: String,
    text: Option<String>,
    #[serde(default)]
    is_echo: bool,
    quick_reply: Option<QuickReply>,
    #[serde(default)]
    attachments: Vec<Att>,
    reply_to: Option<ReplyTo>,
}

#[derive(Deserialize)]
struct QuickReply {
    #[serde(default)]
    payload: String,
}

#[derive(Deserialize)]
struct ReplyTo {
    mid: Option<String>,
}

#[derive(Deserialize)]
struct Att {
    #[serde(rename = "type", default)]
    kind: String,
    payload: Option<AttPayload>,
}

#[derive(Deserialize)]
struct AttPayload {
    url: Option<String>,
    title: Option<String>,
    coordinates: Option<Coordinates>,
    sticker_id: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Coordinates {
    lat: f64,
    long: f64,
}

#[derive(Deserialize)]
struct Postback {
    mid: Option<String>,
    title: Option<String>,
    #[serde(default)]
    payload: String,
}

#[derive(Deserialize)]
struct Delivery {
    #[serde(default)]
    mids: Vec<String>,
    watermark: Option<i64>,
}

#[derive(Deserialize)]
struct Read {
    watermark: Option<i64>,
}

fn attachment(a: &Att) -> Option<Attachment> {
    let p = a.payload.as_ref();
    let kind = match a.kind.as_str() {
        // Stickers (the thumbs-up too) arrive as images that carry a sticker id.
        "image" if p.is_some_and(|p| p.sticker_id.is_some()) => AttachmentKind::Sticker,
        "image" => AttachmentKind::Image,
        "audio" => AttachmentKind::Audio,
        "video" | "reel" | "ig_reel" => AttachmentKind::Video,
        "file" => AttachmentKind::File,
        "location" => AttachmentKind::Location,
        // A shared link Messenger could not render: the nearest common kind is a file by URL.
        "fallback" => AttachmentKind::File,
        // Templates only appear in echoes of our own sends; anything newer is skipped.
        _ => return None,
    };
    let mut out = Attachment::new(kind, p.and_then(|p| p.url.clone()).map_or(Fetch::None, Fetch::Url));
    out.name = p.and_then(|p| p.title.clone());
    if kind == AttachmentKind::Location {
        out.location = p.and_then(|p| p.coordinates.as_ref()).map(|c| Location {
            latitude: c.lat,
            longitude: c.long,
            name: p.and_then(|p| p.title.clone()),
            address: None,
        });
    }
    Some(out)
}

/// Parses one webhook body (already verified with [`crate::meta::verify`]).
///
/// Receipts: a delivery gives one [`EventKind::Status`] per `delivery.mids` entry (event id
/// `<mid>:delivered`). A read receipt names no message: it carries a watermark, meaning every
/// message we sent up to that time has been read, so its status has an empty `message_id`, the
/// event time is the watermark and the event id is `<sender>:<watermark>:read`. A delivery
/// without mids is reported the same way.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let w: Webhook = serde_json::from_slice(body).map_err(|e| ParseError::new("messenger", e))?;
    if w.object != OBJECT {
        return Err(ParseError::new(
            "messenger",
            format!("object is {:?}, not {OBJECT}", w.object),
        ));
    }
    let mut out = Vec::new();
    for entry in &w.entry {
        for ev in &entry.messaging {
            // Our own sends come back as echoes; they are not input and need no sender.
            if ev.message.as_ref().is_some_and(|m| m.is_echo) {
                continue;
            }
            let psid = ev
                .sender
                .as_ref()
                .and_then(|s| s.id.clone().or_else(|| s.user_ref.clone()))
                .unwrap_or_default();
            let time = ev.timestamp.or(entry.time).unwrap_or(0);
            let event = |kind: EventKind, event_id: String| {
                let mut e = InboundEvent::new(Channel::Messenger, entry.id.clone(), kind, event_id);
                e.conversation_id = psid.clone();
                e.sender = Sender {
                    id: psid.clone(),
                    display_name: None,
                    is_bot: false,
                };
                e.timestamp_ms = time;
                e
            };
            let known = ev.message.is_some() || ev.postback.is_some() || ev.delivery.is_some() || ev.read.is_some();
            if known && psid.is_empty() {
                return Err(ParseError::new("messenger", "a messaging event without a sender"));
            }
            if let Some(m) = &ev.message {
                let mut e = event(EventKind::Message, m.mid.clone());
                e.message_id = Some(m.mid.clone());
                e.text = m.text.clone();
                e.reply_to_message_id = m.reply_to.as_ref().and_then(|r| r.mid.clone());
                e.attachments = m.attachments.iter().filter_map(attachment).collect();
                if let Some(q) = &m.quick_reply {
                    e.kind = EventKind::Interactive;
                    e.interactive = Some(Interactive {
                        payload: q.payload.clone(),
                        title: m.text.clone(),
                        source_message_id: None,
                        ack_id: None,
                    });
                }
                out.push(e);
            }
            if let Some(p) = &ev.postback {
                let id = p.mid.clone().unwrap_or_else(|| format!("{psid}:{time}:postback"));
                let mut e = event(EventKind::Interactive, id);
                e.message_id = p.mid.clone();
                e.text = p.title.clone().or_else(|| Some(p.payload.clone()));
                e.interactive = Some(Interactive {
                    payload: p.payload.clone(),
                    title: p.title.clone(),
                    source_message_id: None,
                    ack_id: None,
                });
                out.push(e);
            }
            if let Some(d) = &ev.delivery {
                for mid in &d.mids {
                    let mut e = event(EventKind::Status, format!("{mid}:delivered"));
                    e.status = Some(receipt(mid, DeliveryState::Delivered));
                    out.push(e);
                }
                if d.mids.is_empty() {
                    let mark = d.watermark.unwrap_or(time);
                    let mut e = event(EventKind::Status, format!("{psid}:{mark}:delivered"));
                    e.timestamp_ms = mark;
                    e.status = Some(receipt("", DeliveryState::Delivered));
                    out.push(e);
                }
            }
            if let Some(r) = &ev.read {
                let mark = r.watermark.unwrap_or(time);
                let mut e = event(EventKind::Status, format!("{psid}:{mark}:read"));
                e.timestamp_ms = mark;
                e.status = Some(receipt("", DeliveryState::Read));
                out.push(e);
            }
        }
    }
    Ok(out)
}

fn receipt(mid: &str, state: DeliveryState) -> DeliveryStatus {
    DeliveryStatus {
        message_id: mid.to_owned(),
        state,
        error_code: None,
        error_message: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound

/// Send API limits: text length, quick replies per message, quick reply title and payload.
pub const TEXT_LIMIT: usize = 2000;
const MAX_QUICK_REPLIES: usize = 13;
pub(crate) const QUICK_REPLY_TITLE_LIMIT: usize = 20;
pub(crate) const QUICK_REPLY_PAYLOAD_LIMIT: usize = 1000;

/// The calls that send `reply` to the person `to.conversation_id` (their page-scoped id) as
/// `POST me/messages` with the page token, `messaging_type: RESPONSE` (a reply within the
/// standard messaging window): the text split at 2000 characters, one message per piece. Up to
/// 13 buttons are quick replies on the last piece (titles cut to 20 characters, the payload as
/// is); more, or a payload over 1000 characters, become numbered options in the text.
pub fn render(reply: &outbound::Reply, to: &outbound::Target) -> Vec<outbound::Call> {
    if let Some(rich) = &reply.rich {
        return crate::rich::messenger::render(rich, reply, to);
    }
    let quick = !reply.buttons.is_empty()
        && reply.buttons.len() <= MAX_QUICK_REPLIES
        && reply
            .buttons
            .iter()
            .all(|b| b.payload.len() <= QUICK_REPLY_PAYLOAD_LIMIT);
    let text = if quick {
        reply.text.clone()
    } else {
        outbound::numbered(reply)
    };
    let pieces = outbound::split(&text, TEXT_LIMIT);
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut message = json!({ "text": piece });
            if quick && i == last {
                let replies: Vec<_> = reply
                    .buttons
                    .iter()
                    .map(|b| {
                        json!({
                            "content_type": "text",
                            "title": b.title.chars().take(QUICK_REPLY_TITLE_LIMIT).collect::<String>(),
                            "payload": b.payload,
                        })
                    })
                    .collect();
                message["quick_replies"] = replies.into();
            }
            outbound::Call {
                method: http::Method::POST,
                path: "me/messages".into(),
                auth: outbound::Auth::Bearer("page_token"),
                body: outbound::Body::Json(json!({
                    "recipient": { "id": to.conversation_id },
                    "messaging_type": "RESPONSE",
                    "message": message,
                })),
            }
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SendAnswer {
    message_id: Option<String>,
}

/// Error 10 with this subcode: the message was sent outside the allowed window.
pub const OUTSIDE_WINDOW_SUBCODE: i64 = 2018278;
/// Error 1545041: the messaging window is closed.
pub const WINDOW_CLOSED: i64 = 1545041;
/// Error 551: the person is not available (blocked the page, deactivated).
pub const UNAVAILABLE: i64 = 551;
/// Error 613: rate limited.
pub const RATE_LIMITED: i64 = 613;

/// Classifies a Send API answer: `message_id` is sent; outside the messaging window (error 10
/// subcode 2018278, or 1545041) and 551 (the person is not available) are permanent; 613 (rate
/// limit) and HTTP 429 wait for the `Retry-After` header, else 1 s; the rest follows the HTTP
/// status, with Meta's message as the reason.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> outbound::Outcome {
    use outbound::Outcome;
    let error = meta::graph_error(body);
    if (200..300).contains(&status) && error.is_none() {
        let answer: SendAnswer = serde_json::from_slice(body).unwrap_or_default();
        return Outcome::Sent(answer.message_id);
    }
    let error = error.unwrap_or_default();
    let reason = if error.message.is_empty() {
        format!("HTTP {status}")
    } else {
        error.message
    };
    match (error.code, error.subcode) {
        (_, Some(OUTSIDE_WINDOW_SUBCODE)) | (Some(WINDOW_CLOSED), _) => Outcome::Permanent(format!(
            "messenger: outside the 24-hour messaging window, only a tagged message can be sent: {reason}"
        )),
        (Some(UNAVAILABLE), _) => Outcome::Blocked(format!(
            "messenger: the person is not available (blocked the page or deactivated): {reason}"
        )),
        (Some(RATE_LIMITED), _) => Outcome::RetryAfter(retry_after_header.unwrap_or(1)),
        _ => match outbound::by_status(status, retry_after_header) {
            Some(Outcome::RetryAfter(s)) => Outcome::RetryAfter(s),
            Some(Outcome::Transient(_)) => Outcome::Transient(format!("messenger: {reason}")),
            _ => Outcome::Permanent(format!("messenger: {reason}")),
        },
    }
}
