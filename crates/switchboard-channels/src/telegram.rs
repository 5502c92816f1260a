//! Telegram Bot API webhooks (core.telegram.org/bots/api#update).
//!
//! Verification: the `X-Telegram-Bot-Api-Secret-Token` header must equal the `secret_token`
//! given to `setWebhook`. Nothing is signed, so the secret is per bot and random, and the
//! tenant and connector are in the URL. Updates do not name the bot they are for, so the
//! per-bot secret is also what binds an update to its connector. Dedup key: `update_id`.

use crate::outbound;
use crate::verify::{VerifyError, equal, header};
use crate::{
    Attachment, AttachmentKind, EventKind, Fetch, InboundEvent, Interactive, Location, Membership, ParseError,
};
use serde::Deserialize;
use serde_json::json;
use switchboard_core::Channel;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub fn verify(headers: &http::HeaderMap, secret: &str) -> Result<(), VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let sent = header(headers, SECRET_HEADER)?;
    if equal(sent.as_bytes(), secret.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// The bot's id is the part of its token before the colon.
pub fn bot_id(token: &str) -> &str {
    token.split(':').next().unwrap_or(token)
}

#[derive(Deserialize)]
struct Update {
    update_id: i64,
    message: Option<Msg>,
    edited_message: Option<Msg>,
    callback_query: Option<CallbackQuery>,
    my_chat_member: Option<ChatMemberUpdated>,
}

#[derive(Deserialize)]
struct User {
    id: i64,
    #[serde(default)]
    is_bot: bool,
    #[serde(default)]
    first_name: String,
    last_name: Option<String>,
    username: Option<String>,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct Sized {
    file_id: String,
    file_size: Option<u64>,
    mime_type: Option<String>,
    file_name: Option<String>,
}

#[derive(Deserialize)]
struct TgLocation {
    latitude: f64,
    longitude: f64,
}

#[derive(Deserialize)]
struct Venue {
    location: TgLocation,
    title: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct Contact {
    phone_number: String,
    #[serde(default)]
    first_name: String,
}

#[derive(Deserialize)]
struct Button {
    text: String,
    callback_data: Option<String>,
}

#[derive(Deserialize)]
struct Markup {
    #[serde(default)]
    inline_keyboard: Vec<Vec<Button>>,
}

#[derive(Deserialize)]
struct Msg {
    message_id: i64,
    from: Option<User>,
    chat: Chat,
    date: i64,
    message_thread_id: Option<i64>,
    text: Option<String>,
    caption: Option<String>,
    #[serde(default)]
    photo: Vec<Sized>,
    document: Option<Sized>,
    voice: Option<Sized>,
    audio: Option<Sized>,
    video: Option<Sized>,
    sticker: Option<Sized>,
    location: Option<TgLocation>,
    venue: Option<Venue>,
    contact: Option<Contact>,
    reply_to_message: Option<Box<Msg>>,
    reply_markup: Option<Markup>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    id: String,
    from: User,
    message: Option<Msg>,
    data: Option<String>,
}

#[derive(Deserialize)]
struct Member {
    status: String,
}

#[derive(Deserialize)]
struct ChatMemberUpdated {
    chat: Chat,
    from: User,
    date: i64,
    old_chat_member: Member,
    new_chat_member: Member,
}

fn sender(u: &User) -> crate::Sender {
    let name = match &u.last_name {
        Some(last) => format!("{} {last}", u.first_name),
        None => u.first_name.clone(),
    };
    crate::Sender {
        id: u.id.to_string(),
        display_name: Some(name).filter(|n| !n.is_empty()).or_else(|| u.username.clone()),
        is_bot: u.is_bot,
    }
}

fn file(kind: AttachmentKind, f: &Sized, caption: &Option<String>) -> Attachment {
    Attachment {
        kind,
        mime: f.mime_type.clone(),
        size: f.file_size,
        name: f.file_name.clone(),
        caption: caption.clone(),
        fetch: Fetch::FileId(f.file_id.clone()),
        location: None,
    }
}

fn message_event(bot_id: &str, update_id: i64, m: &Msg, kind: EventKind) -> Option<InboundEvent> {
    let from = m.from.as_ref()?;
    if from.is_bot {
        // Our own messages (and other bots') are not input.
        return None;
    }
    let mut e = InboundEvent::new(Channel::Telegram, bot_id, kind, update_id.to_string());
    e.conversation_id = m.chat.id.to_string();
    e.thread_id = m.message_thread_id.map(|t| t.to_string());
    e.sender = sender(from);
    e.message_id = Some(m.message_id.to_string());
    e.timestamp_ms = m.date.saturating_mul(1000);
    e.text = m.text.clone().or_else(|| m.caption.clone());
    e.reply_to_message_id = m.reply_to_message.as_ref().map(|r| r.message_id.to_string());
    // Photos come in several sizes, smallest first: keep the largest.
    if let Some(p) = m.photo.last() {
        e.attachments.push(file(AttachmentKind::Image, p, &m.caption));
    }
    let files = [
        (AttachmentKind::File, &m.document),
        (AttachmentKind::Voice, &m.voice),
        (AttachmentKind::Audio, &m.audio),
        (AttachmentKind::Video, &m.video),
        (AttachmentKind::Sticker, &m.sticker),
    ];
    for (kind, f) in files {
        if let Some(f) = f {
            e.attachments.push(file(kind, f, &m.caption));
        }
    }
    let place = m
        .venue
        .as_ref()
        .map(|v| (&v.location, v.title.clone(), v.address.clone()));
    if let Some((loc, name, address)) = place.or(m.location.as_ref().map(|l| (l, None, None))) {
        let mut a = Attachment::new(AttachmentKind::Location, Fetch::None);
        a.location = Some(Location {
            latitude: loc.latitude,
            longitude: loc.longitude,
            name,
            address,
        });
        e.attachments.push(a);
    }
    if let Some(c) = &m.contact {
        let mut a = Attachment::new(AttachmentKind::Contact, Fetch::None);
        a.name = Some(c.first_name.clone());
        a.caption = Some(c.phone_number.clone());
        e.attachments.push(a);
    }
    Some(e)
}

/// Parses one webhook body. `bot_id` is the connector's bot (see [`bot_id`]).
pub fn parse(body: &[u8], bot_id: &str) -> Result<Vec<InboundEvent>, ParseError> {
    let u: Update = serde_json::from_slice(body).map_err(|e| ParseError::new("telegram", e))?;
    let mut out = Vec::new();
    if let Some(m) = &u.message {
        out.extend(message_event(bot_id, u.update_id, m, EventKind::Message));
    }
    if let Some(m) = &u.edited_message {
        out.extend(message_event(bot_id, u.update_id, m, EventKind::Edit));
    }
    if let Some(q) = &u.callback_query
        && !q.from.is_bot
    {
        let mut e = InboundEvent::new(
            Channel::Telegram,
            bot_id,
            EventKind::Interactive,
            u.update_id.to_string(),
        );
        let payload = q.data.clone().unwrap_or_default();
        let title = q.message.as_ref().and_then(|m| {
            let rows = &m.reply_markup.as_ref()?.inline_keyboard;
            rows.iter()
                .flatten()
                .find(|b| b.callback_data.as_deref() == Some(payload.as_str()))
                .map(|b| b.text.clone())
        });
        if let Some(m) = &q.message {
            e.conversation_id = m.chat.id.to_string();
            e.thread_id = m.message_thread_id.map(|t| t.to_string());
            e.timestamp_ms = m.date.saturating_mul(1000);
        } else {
            e.conversation_id = q.from.id.to_string();
        }
        e.sender = sender(&q.from);
        e.text = title.clone().or_else(|| Some(payload.clone()));
        e.interactive = Some(Interactive {
            payload,
            title,
            source_message_id: q.message.as_ref().map(|m| m.message_id.to_string()),
            ack_id: Some(q.id.clone()),
        });
        out.push(e);
    }
    if let Some(c) = &u.my_chat_member {
        let private = c.chat.kind == "private";
        let gone = |s: &str| matches!(s, "kicked" | "left");
        let (old, new) = (c.old_chat_member.status.as_str(), c.new_chat_member.status.as_str());
        let membership = match (gone(old), gone(new), private) {
            (false, true, true) => Some(Membership::Blocked),
            (true, false, true) => Some(Membership::Unblocked),
            (false, true, false) => Some(Membership::BotRemoved),
            (true, false, false) => Some(Membership::BotAdded),
            _ => None,
        };
        if let Some(m) = membership {
            let mut e = InboundEvent::new(
                Channel::Telegram,
                bot_id,
                EventKind::Membership,
                u.update_id.to_string(),
            );
            e.conversation_id = c.chat.id.to_string();
            e.sender = sender(&c.from);
            e.timestamp_ms = c.date.saturating_mul(1000);
            e.membership = Some(m);
            out.push(e);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Outbound

/// Telegram's limit for one message's text.
pub const TEXT_LIMIT: usize = 4096;
/// Telegram's limit for an inline button's `callback_data`, in bytes.
pub const CALLBACK_DATA_LIMIT: usize = 64;

/// Telegram ids are integers; send them as numbers when they are, as given otherwise
/// (`@channelusername`).
pub(crate) fn id_value(id: &str) -> serde_json::Value {
    id.parse::<i64>().map_or_else(|_| id.into(), Into::into)
}

/// The calls that send `reply`: first `answerCallbackQuery` when the reply answers a button
/// press (`to.interaction` is the callback query id), so the client stops its spinner; then one
/// `sendMessage` per piece of text (split at 4096 characters). Only the first piece quotes
/// `to.reply_to`, only the last carries the buttons.
///
/// Buttons are an inline keyboard, one button per row, with the payload as `callback_data`.
/// `callback_data` holds at most 64 bytes: when any payload is longer, the whole set becomes a
/// one-time reply keyboard of titles instead. Pressing one of those sends its title as an
/// ordinary text message, which the router matches against the titles it offered.
pub fn render(reply: &outbound::Reply, to: &outbound::Target) -> Vec<outbound::Call> {
    if let Some(rich) = &reply.rich {
        return crate::rich::telegram::render(rich, reply, to);
    }
    let mut calls = Vec::new();
    if let Some(query) = &to.interaction {
        calls.push(call("answerCallbackQuery", json!({ "callback_query_id": query })));
    }
    let pieces = outbound::split(&reply.text, TEXT_LIMIT);
    let last = pieces.len() - 1;
    for (i, text) in pieces.into_iter().enumerate() {
        let mut body = json!({ "chat_id": id_value(&to.conversation_id), "text": text });
        if let Some(thread) = &to.thread_id {
            body["message_thread_id"] = id_value(thread);
        }
        if i == 0
            && let Some(message) = &to.reply_to
        {
            body["reply_parameters"] = json!({ "message_id": id_value(message) });
        }
        if i == last && !reply.buttons.is_empty() {
            body["reply_markup"] = keyboard(&reply.buttons);
        }
        calls.push(call("sendMessage", body));
    }
    calls
}

pub(crate) fn keyboard(buttons: &[switchboard_core::Button]) -> serde_json::Value {
    if buttons.iter().all(|b| b.payload.len() <= CALLBACK_DATA_LIMIT) {
        let rows: Vec<_> = buttons
            .iter()
            .map(|b| json!([{ "text": b.title, "callback_data": b.payload }]))
            .collect();
        json!({ "inline_keyboard": rows })
    } else {
        let rows: Vec<_> = buttons.iter().map(|b| json!([{ "text": b.title }])).collect();
        json!({ "keyboard": rows, "resize_keyboard": true, "one_time_keyboard": true })
    }
}

pub(crate) fn call(method: &str, body: serde_json::Value) -> outbound::Call {
    outbound::Call {
        method: http::Method::POST,
        path: method.to_owned(),
        auth: outbound::Auth::PathPrefix("bot_token"),
        body: outbound::Body::Json(body),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiAnswer {
    ok: bool,
    result: Option<serde_json::Value>,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResponseParameters {
    retry_after: Option<u64>,
    migrate_to_chat_id: Option<i64>,
}

/// Classifies a Bot API answer: `{"ok":true,"result":Message}` is sent with the message id
/// (`answerCallbackQuery` answers `"result":true`, sent without an id); 429 waits for
/// `parameters.retry_after` (the header, then 1 s, when it is missing); a group upgraded to a
/// supergroup (`migrate_to_chat_id`) and 403 (bot blocked or kicked, user deactivated) are
/// permanent; the rest follows the HTTP status, with Telegram's description as the reason.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> outbound::Outcome {
    use outbound::Outcome;
    let answer: ApiAnswer = serde_json::from_slice(body).unwrap_or_default();
    if (200..300).contains(&status) && answer.ok {
        let id = answer
            .result
            .as_ref()
            .and_then(|r| r.get("message_id"))
            .and_then(serde_json::Value::as_i64)
            .map(|id| id.to_string());
        return Outcome::Sent(id);
    }
    let params = answer.parameters.unwrap_or_default();
    let reason = answer.description.unwrap_or_else(|| format!("HTTP {status}"));
    if status == 429 {
        return Outcome::RetryAfter(params.retry_after.or(retry_after_header).unwrap_or(1));
    }
    if status == 403 {
        return Outcome::Blocked(format!("telegram: {reason}"));
    }
    if let Some(chat) = params.migrate_to_chat_id {
        return Outcome::Permanent(format!("telegram: group moved to chat {chat}: {reason}"));
    }
    match outbound::by_status(status, retry_after_header) {
        Some(Outcome::Transient(_)) => Outcome::Transient(format!("telegram: {reason}")),
        // Any other refusal, and a 2xx without `"ok":true`, will not send by being repeated.
        _ => Outcome::Permanent(format!("telegram: {reason}")),
    }
}
