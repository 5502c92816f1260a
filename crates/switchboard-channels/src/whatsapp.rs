//! WhatsApp Cloud API webhooks (developers.facebook.com/documentation/business-messaging/whatsapp/
//! webhooks/reference/messages).
//!
//! Verification and the GET handshake are Meta's, see [`crate::meta`]. One POST is a batch:
//! `entry[] × changes[] × messages[]/statuses[]`, so a body gives any number of events. Dedup key:
//! the wamid for messages; for statuses the wamid *and* the status, because sent, delivered and
//! read of one outbound message are separate deliveries that must not collapse into one.

use crate::{
    Attachment, AttachmentKind, DeliveryState, DeliveryStatus, EventKind, Fetch, InboundEvent, Interactive, Location,
    ParseError, Sender,
};
use crate::{meta, outbound};
use serde::Deserialize;
use serde_json::json;
use switchboard_core::Channel;

const OBJECT: &str = "whatsapp_business_account";

#[derive(Deserialize)]
struct Webhook {
    object: String,
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    // Kept loose until `field` says what it holds: template, quality and account updates share
    // the callback URL and have shapes of their own.
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct Value {
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: String,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: Option<String>,
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: Option<String>,
}

/// Meta sends timestamps and error codes as strings or numbers depending on the field and the
/// API version; both are accepted.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Int(i64),
    Text(String),
}

impl Num {
    fn text(&self) -> String {
        match self {
            Num::Int(n) => n.to_string(),
            Num::Text(s) => s.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Message {
    from: String,
    id: String,
    timestamp: Option<Num>,
    #[serde(rename = "type", default)]
    kind: String,
    context: Option<Context>,
    text: Option<Text>,
    image: Option<Media>,
    audio: Option<Media>,
    video: Option<Media>,
    document: Option<Media>,
    sticker: Option<Media>,
    location: Option<WaLocation>,
    #[serde(default)]
    contacts: Vec<SharedContact>,
    interactive: Option<InteractiveReply>,
    button: Option<Button>,
}

#[derive(Deserialize)]
struct Context {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct Media {
    id: Option<String>,
    mime_type: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
    #[serde(default)]
    voice: bool,
}

#[derive(Deserialize)]
struct WaLocation {
    latitude: f64,
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct SharedContact {
    name: Option<ContactName>,
    #[serde(default)]
    phones: Vec<Phone>,
}

#[derive(Deserialize)]
struct ContactName {
    formatted_name: Option<String>,
    first_name: Option<String>,
}

#[derive(Deserialize)]
struct Phone {
    phone: Option<String>,
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct InteractiveReply {
    button_reply: Option<Reply>,
    list_reply: Option<Reply>,
}

#[derive(Deserialize)]
struct Reply {
    id: String,
    title: Option<String>,
}

#[derive(Deserialize)]
struct Button {
    #[serde(default)]
    payload: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    timestamp: Option<Num>,
    #[serde(default)]
    recipient_id: String,
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Deserialize)]
struct WaError {
    code: Option<Num>,
    title: Option<String>,
    message: Option<String>,
}

fn millis(t: &Option<Num>) -> Result<i64, ParseError> {
    let Some(t) = t else { return Ok(0) };
    let secs = match t {
        Num::Int(n) => *n,
        Num::Text(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ParseError::new("whatsapp", format!("timestamp {s:?} is not a number")))?,
    };
    secs.checked_mul(1000)
        .ok_or_else(|| ParseError::new("whatsapp", "timestamp out of range"))
}

fn media(kind: AttachmentKind, m: &Media) -> Attachment {
    let mut a = Attachment::new(kind, m.id.clone().map_or(Fetch::None, Fetch::MediaId));
    a.mime = m.mime_type.clone();
    a.name = m.filename.clone();
    a.caption = m.caption.clone();
    a
}

fn shared_contact(c: &SharedContact) -> Attachment {
    let mut a = Attachment::new(AttachmentKind::Contact, Fetch::None);
    a.name = c
        .name
        .as_ref()
        .and_then(|n| n.formatted_name.clone().or_else(|| n.first_name.clone()));
    // Same place Telegram contacts keep the number, so renderers need one rule.
    a.caption = c
        .phones
        .iter()
        .find_map(|p| p.phone.clone().or_else(|| p.wa_id.clone()));
    a
}

fn message_event(account: &str, contacts: &[Contact], m: &Message) -> Result<Option<InboundEvent>, ParseError> {
    let mut e = InboundEvent::new(Channel::Whatsapp, account, EventKind::Message, m.id.clone());
    e.conversation_id = m.from.clone();
    e.sender = Sender {
        id: m.from.clone(),
        display_name: contacts
            .iter()
            .find(|c| c.wa_id.as_deref() == Some(m.from.as_str()))
            .and_then(|c| c.profile.as_ref()?.name.clone()),
        is_bot: false,
    };
    e.message_id = Some(m.id.clone());
    e.timestamp_ms = millis(&m.timestamp)?;
    let context = m.context.as_ref().and_then(|c| c.id.clone());
    e.reply_to_message_id = context.clone();
    let press = |payload: String, title: Option<String>| Interactive {
        payload,
        title,
        source_message_id: context.clone(),
        ack_id: None,
    };
    match m.kind.as_str() {
        "text" => e.text = m.text.as_ref().map(|t| t.body.clone()),
        "image" | "audio" | "video" | "document" | "sticker" => {
            let found = match m.kind.as_str() {
                "image" => m.image.as_ref().map(|x| (AttachmentKind::Image, x)),
                "audio" => m.audio.as_ref().map(|x| {
                    let kind = if x.voice {
                        AttachmentKind::Voice
                    } else {
                        AttachmentKind::Audio
                    };
                    (kind, x)
                }),
                "video" => m.video.as_ref().map(|x| (AttachmentKind::Video, x)),
                "document" => m.document.as_ref().map(|x| (AttachmentKind::File, x)),
                _ => m.sticker.as_ref().map(|x| (AttachmentKind::Sticker, x)),
            };
            if let Some((kind, x)) = found {
                e.text = x.caption.clone();
                e.attachments.push(media(kind, x));
            }
        }
        "location" => {
            if let Some(l) = &m.location {
                let mut a = Attachment::new(AttachmentKind::Location, Fetch::None);
                a.location = Some(Location {
                    latitude: l.latitude,
                    longitude: l.longitude,
                    name: l.name.clone(),
                    address: l.address.clone(),
                });
                e.attachments.push(a);
            }
        }
        "contacts" => e.attachments.extend(m.contacts.iter().map(shared_contact)),
        "interactive" => {
            let reply = m
                .interactive
                .as_ref()
                .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()));
            // Other interactive replies (flows) stay a content-less message the bot can decline.
            if let Some(r) = reply {
                e.kind = EventKind::Interactive;
                e.text = r.title.clone().or_else(|| Some(r.id.clone()));
                e.interactive = Some(press(r.id.clone(), r.title.clone()));
            }
        }
        "button" => {
            if let Some(b) = &m.button {
                e.kind = EventKind::Interactive;
                e.text = b.text.clone().or_else(|| Some(b.payload.clone()));
                e.interactive = Some(press(b.payload.clone(), b.text.clone()));
            }
        }
        // Nothing here for the bot to answer: a reaction to a message, a number change notice,
        // a chat opened without a word. Answering them would put words in the person's mouth.
        "reaction" | "system" | "request_welcome" => return Ok(None),
        // `unsupported`, `order` and types newer than this code: an event with no content, so the
        // bot can still say it cannot read it instead of staying silent.
        _ => {}
    }
    Ok(Some(e))
}

fn status_event(account: &str, s: &Status) -> Result<Option<InboundEvent>, ParseError> {
    let state = match s.status.as_str() {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        "played" => DeliveryState::Played,
        // A state the common event has no word for says nothing we could act on.
        _ => return Ok(None),
    };
    let mut e = InboundEvent::new(
        Channel::Whatsapp,
        account,
        EventKind::Status,
        format!("{}:{}", s.id, s.status),
    );
    e.conversation_id = s.recipient_id.clone();
    // The person whose phone reported the state; our own message carries no sender of interest.
    e.sender.id = s.recipient_id.clone();
    e.timestamp_ms = millis(&s.timestamp)?;
    let error = s.errors.first();
    e.status = Some(DeliveryStatus {
        message_id: s.id.clone(),
        state,
        error_code: error.and_then(|x| x.code.as_ref()).map(Num::text),
        error_message: error.and_then(|x| x.title.clone().or_else(|| x.message.clone())),
    });
    Ok(Some(e))
}

/// Parses one webhook body (already verified with [`crate::meta::verify`]).
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let w: Webhook = serde_json::from_slice(body).map_err(|e| ParseError::new("whatsapp", e))?;
    if w.object != OBJECT {
        return Err(ParseError::new(
            "whatsapp",
            format!("object is {:?}, not {OBJECT}", w.object),
        ));
    }
    let mut out = Vec::new();
    for change in w.entry.iter().flat_map(|e| &e.changes) {
        if change.field != "messages" {
            continue;
        }
        let v = Value::deserialize(&change.value).map_err(|e| ParseError::new("whatsapp", e))?;
        let account = v.metadata.phone_number_id.as_str();
        for m in &v.messages {
            out.extend(message_event(account, &v.contacts, m)?);
        }
        for s in &v.statuses {
            out.extend(status_event(account, s)?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Outbound

/// Limits of the Cloud API (developers.facebook.com/documentation/business-messaging/whatsapp/
/// messages/interactive-reply-buttons-messages, …/interactive-list-messages).
pub const TEXT_LIMIT: usize = 4096;
pub(crate) const BUTTONS_BODY_LIMIT: usize = 1024;
pub(crate) const MAX_BUTTONS: usize = 3;
pub(crate) const BUTTON_TITLE_LIMIT: usize = 20;
pub(crate) const BUTTON_ID_LIMIT: usize = 256;
pub(crate) const MAX_ROWS: usize = 10;
pub(crate) const ROW_TITLE_LIMIT: usize = 24;
pub(crate) const ROW_ID_LIMIT: usize = 200;
pub(crate) const ROW_DESCRIPTION_LIMIT: usize = 72;
/// The label of the button that opens a list.
pub const LIST_BUTTON: &str = "Options";

pub(crate) fn truncate(s: &str, limit: usize) -> String {
    s.chars().take(limit).collect()
}

/// The calls that send `reply` from our number `to.account_id` (the phone number id) to
/// `to.conversation_id`, one `POST {phone_number_id}/messages` per message:
/// * no buttons: text messages, split at 4096 characters;
/// * 1–3 buttons: reply buttons (`interactive.type = "button"`), titles cut to 20 characters;
/// * 4–10 buttons: a list (`interactive.type = "list"`) with one section opened by an
///   "Options" button, row titles cut to 24 characters (a cut title is given whole, up to 72
///   characters, as the row's description);
/// * more than 10 buttons, or a payload longer than the control's id allows (256 for buttons,
///   200 for rows): the text with numbered options, as plain text.
///
/// An interactive body holds at most 1024 characters (buttons) or 4096 (lists): longer text goes
/// first as plain text messages and the buttons come with its last piece. Only the first message
/// quotes `to.reply_to` (`context.message_id`).
pub fn render(reply: &outbound::Reply, to: &outbound::Target) -> Vec<outbound::Call> {
    if let Some(rich) = &reply.rich {
        return crate::rich::whatsapp::render(rich, reply, to);
    }
    let buttons = &reply.buttons;
    let fits =
        |max: usize, id_limit: usize| buttons.len() <= max && buttons.iter().all(|b| b.payload.len() <= id_limit);
    let control = if buttons.is_empty() {
        None
    } else if fits(MAX_BUTTONS, BUTTON_ID_LIMIT) {
        Some(BUTTONS_BODY_LIMIT)
    } else if fits(MAX_ROWS, ROW_ID_LIMIT) {
        Some(TEXT_LIMIT)
    } else {
        None
    };
    let pieces = match control {
        None => outbound::split(&outbound::numbered(reply), TEXT_LIMIT),
        Some(body_limit) => {
            let mut pieces = outbound::split(&reply.text, TEXT_LIMIT);
            if let Some(last) = pieces.pop() {
                pieces.extend(outbound::split(&last, body_limit));
            }
            pieces
        }
    };
    let interactive = control.is_some();
    let last = pieces.len() - 1;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut body = json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to.conversation_id,
            });
            if i == 0
                && let Some(quoted) = &to.reply_to
            {
                body["context"] = json!({ "message_id": quoted });
            }
            if interactive && i == last {
                body["type"] = "interactive".into();
                body["interactive"] = interactive_body(piece, buttons);
            } else {
                body["type"] = "text".into();
                body["text"] = json!({ "preview_url": false, "body": piece });
            }
            outbound::Call {
                method: http::Method::POST,
                path: format!("{}/messages", to.account_id),
                auth: outbound::Auth::Bearer("access_token"),
                body: outbound::Body::Json(body),
            }
        })
        .collect()
}

/// How long after a person's last message a business may write freely; after it, only an
/// approved template (developers.facebook.com/docs/whatsapp `messages#customer-service-windows`).
pub const SERVICE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A template message: the approved template `name` in `language` whose body has one variable,
/// filled with `text` (template variables cannot hold line breaks or more than four spaces in a
/// row, so those are flattened).
pub fn render_template(name: &str, language: &str, text: &str, to: &outbound::Target) -> outbound::Call {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.conversation_id,
        "type": "template",
        "template": {
            "name": name,
            "language": { "code": language },
            "components": [{ "type": "body", "parameters": [{ "type": "text", "text": flat }] }],
        },
    });
    outbound::Call {
        method: http::Method::POST,
        path: format!("{}/messages", to.account_id),
        auth: outbound::Auth::Bearer("access_token"),
        body: outbound::Body::Json(body),
    }
}

fn interactive_body(text: String, buttons: &[switchboard_core::Button]) -> serde_json::Value {
    if buttons.len() <= MAX_BUTTONS {
        let buttons: Vec<_> = buttons
            .iter()
            .map(|b| json!({ "type": "reply", "reply": { "id": b.payload, "title": truncate(&b.title, BUTTON_TITLE_LIMIT) } }))
            .collect();
        json!({ "type": "button", "body": { "text": text }, "action": { "buttons": buttons } })
    } else {
        let rows: Vec<_> = buttons
            .iter()
            .map(|b| {
                let mut row = json!({ "id": b.payload, "title": truncate(&b.title, ROW_TITLE_LIMIT) });
                if b.title.chars().count() > ROW_TITLE_LIMIT {
                    row["description"] = truncate(&b.title, ROW_DESCRIPTION_LIMIT).into();
                }
                row
            })
            .collect();
        json!({
            "type": "list",
            "body": { "text": text },
            "action": { "button": LIST_BUTTON, "sections": [{ "rows": rows }] },
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SendAnswer {
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

/// Error 131047: more than 24 hours since the person last wrote; only a template can reach them.
pub const OUTSIDE_WINDOW: i64 = 131047;
/// Error 130429: the number's message throughput is reached.
pub const THROUGHPUT: i64 = 130429;
/// Error 131056: too many messages to the same person in a short time.
pub const PAIR_RATE: i64 = 131056;

/// Classifies a Cloud API answer: `messages[0].id` (the wamid) is sent; 131047 is permanent (the
/// 24-hour customer service window is closed: a template is needed); 130429 (throughput),
/// 131056 (pair rate) and HTTP 429 wait for the `Retry-After` header, else 1 s (throughput) or
/// 60 s (pair rate); the rest follows the HTTP status, with Meta's message as the reason.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> outbound::Outcome {
    use outbound::Outcome;
    let error = meta::graph_error(body);
    if (200..300).contains(&status) && error.is_none() {
        let answer: SendAnswer = serde_json::from_slice(body).unwrap_or_default();
        return Outcome::Sent(answer.messages.into_iter().next().map(|m| m.id));
    }
    let error = error.unwrap_or_default();
    let reason = if error.message.is_empty() {
        format!("HTTP {status}")
    } else {
        error.message
    };
    match error.code {
        Some(OUTSIDE_WINDOW) => Outcome::Permanent(format!(
            "whatsapp: outside the 24-hour customer service window, only a template message can be sent ({OUTSIDE_WINDOW}): {reason}"
        )),
        Some(THROUGHPUT) => Outcome::RetryAfter(retry_after_header.unwrap_or(1)),
        Some(PAIR_RATE) => Outcome::RetryAfter(retry_after_header.unwrap_or(60)),
        _ => match outbound::by_status(status, retry_after_header) {
            Some(Outcome::RetryAfter(s)) => Outcome::RetryAfter(s),
            Some(Outcome::Transient(_)) => Outcome::Transient(format!("whatsapp: {reason}")),
            _ => Outcome::Permanent(format!("whatsapp: {reason}")),
        },
    }
}
