//! Discord: the HTTP interactions endpoint (slash commands, buttons, selects, modals) and
//! `MESSAGE_CREATE` dispatches read from a Gateway session (discord.com/developers/docs
//! `interactions/receiving-and-responding`, `events/gateway-events`).
//!
//! Verification: `X-Signature-Ed25519` is the application key's Ed25519 signature over the
//! `X-Signature-Timestamp` header bytes followed by the raw body. Discord sends deliberately
//! bad signatures to check that the endpoint refuses them. A genuine request is also refused
//! when its timestamp is more than [`MAX_AGE_S`] away from now: interaction ids dedupe replays
//! only for as long as the message is kept, while a captured request would otherwise stay
//! valid forever. Dedup key: interaction `id`, or the message `id` for Gateway messages (a
//! resumed session replays them).
//!
//! Interaction mapping:
//! * every interaction event carries the interaction `token` as `interactive.ack_id`: it is
//!   the only way to answer, within 3 s and for 15 minutes after. Slash commands are
//!   `Message`s but get an [`Interactive`] too, for that token, with the command name as
//!   payload;
//! * button: payload = `custom_id`;
//! * select (string, user, role, mentionable, channel): payload = `<custom_id>:<v1>,<v2>...`,
//!   the chosen values joined by `,` after the select's `custom_id` and a `:` (present even
//!   when nothing was chosen, which tells a select from a button). A `custom_id` may itself
//!   hold `:`, so read it by stripping the known `custom_id:` prefix, not by splitting;
//! * modal submit: payload = the modal's `custom_id`, text = one line per answered field in
//!   the modal's order (multi-value fields joined by `,`), blank fields left out;
//! * autocomplete (type 4) and unknown types give no event: autocomplete wants a list of
//!   choices back within 3 s, which is not a conversation turn.

use crate::outbound::{self, Auth, Body, Call, Outcome, Reply, Target, clip};
use crate::verify::VerifyError;
use crate::{Attachment, AttachmentKind, EventKind, Fetch, InboundEvent, Interactive, ParseError, Sender};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use switchboard_core::{Button, Channel};

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// Snowflakes count milliseconds from the first second of 2015.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// How far (seconds, either way) a signed timestamp may be from now. Discord sends an
/// interaction the moment it happens; five minutes covers clock skew and slow networks.
pub const MAX_AGE_S: u64 = 300;

/// Checks an interaction request against the application's public key (hex, as shown in the
/// developer portal) and its timestamp against `now_s` (Unix seconds, from the caller's clock).
/// A key that is missing or cannot be a key fails as [`VerifyError::NoSecret`].
pub fn verify(headers: &http::HeaderMap, body: &[u8], public_key_hex: &str, now_s: i64) -> Result<(), VerifyError> {
    verify_signature(headers, body, public_key_hex)?;
    // Only a genuine request gets this far: a forged one is a bad signature, whatever its time.
    let ts: i64 = crate::verify::header(headers, TIMESTAMP_HEADER)?
        .parse()
        .map_err(|_| VerifyError::MalformedHeader(TIMESTAMP_HEADER))?;
    // Saturating: a timestamp near i64::MIN/MAX must read as stale, not overflow.
    let diff = now_s.saturating_sub(ts);
    if diff.unsigned_abs() > MAX_AGE_S {
        return Err(VerifyError::StaleTimestamp(diff));
    }
    Ok(())
}

/// The Ed25519 check alone, whatever the timestamp says: for the published test vectors,
/// whose timestamps are not Unix times.
pub fn verify_signature(headers: &http::HeaderMap, body: &[u8], public_key_hex: &str) -> Result<(), VerifyError> {
    let key_bytes: [u8; 32] = hex::decode(public_key_hex.trim())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(VerifyError::NoSecret)?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| VerifyError::NoSecret)?;
    let sig_hex = headers
        .get(SIGNATURE_HEADER)
        .ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
    let sig: [u8; 64] = hex::decode(sig_hex.as_bytes())
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
    // The timestamp is signed as the bytes Discord sent, so it is not parsed or re-encoded.
    let ts = headers
        .get(TIMESTAMP_HEADER)
        .ok_or(VerifyError::MissingHeader(TIMESTAMP_HEADER))?
        .as_bytes();
    let mut signed = Vec::with_capacity(ts.len() + body.len());
    signed.extend_from_slice(ts);
    signed.extend_from_slice(body);
    // Strict verification refuses small-order keys and non-canonical signatures, which plain
    // Ed25519 tolerates and which would let one signature stand for several messages.
    key.verify_strict(&signed, &Signature::from_bytes(&sig))
        .map_err(|_| VerifyError::BadSignature)
}

/// What a verified interaction asks of us.
#[derive(Clone, Debug, PartialEq)]
pub enum Inbound {
    /// The endpoint check: answer 200 `{"type":1}`.
    Ping,
    Events(Vec<InboundEvent>),
}

#[derive(Deserialize)]
struct Interaction {
    id: String,
    application_id: String,
    #[serde(rename = "type")]
    kind: i64,
    token: Option<String>,
    channel_id: Option<String>,
    channel: Option<Id>,
    member: Option<Member>,
    user: Option<User>,
    data: Option<Data>,
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Member {
    user: Option<User>,
    nick: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: Option<String>,
    global_name: Option<String>,
    #[serde(default)]
    bot: bool,
}

/// `data` of every interaction type; each type fills its own part.
#[derive(Deserialize)]
struct Data {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<i64>,
    target_id: Option<String>,
    #[serde(default)]
    options: Vec<CommandOption>,
    resolved: Option<Resolved>,
    custom_id: Option<String>,
    component_type: Option<i64>,
    #[serde(default)]
    values: Vec<Value>,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct CommandOption {
    name: String,
    #[serde(rename = "type")]
    kind: i64,
    value: Option<Value>,
    #[serde(default)]
    options: Vec<CommandOption>,
}

#[derive(Deserialize)]
struct Resolved {
    #[serde(default)]
    attachments: HashMap<String, DcAttachment>,
}

/// A component as sent in a message or submitted from a modal; layouts nest them under
/// `components` (action rows, containers), `component` (labels) or `accessory` (sections).
#[derive(Deserialize)]
struct Component {
    custom_id: Option<String>,
    label: Option<String>,
    value: Option<Value>,
    #[serde(default)]
    values: Vec<Value>,
    #[serde(default)]
    options: Vec<SelectOption>,
    #[serde(default)]
    components: Vec<Component>,
    component: Option<Box<Component>>,
    accessory: Option<Box<Component>>,
}

#[derive(Deserialize)]
struct SelectOption {
    label: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    id: String,
    channel_id: Option<String>,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct DcAttachment {
    url: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
    size: Option<u64>,
}

fn error(reason: impl std::fmt::Display) -> ParseError {
    ParseError::new("discord", reason)
}

/// Milliseconds since the epoch encoded in a snowflake id, or 0 for something that is not one.
pub fn snowflake_ms(id: &str) -> i64 {
    id.parse::<u64>()
        .ok()
        .and_then(|n| i64::try_from(n >> 22).ok())
        .map_or(0, |ms| ms + DISCORD_EPOCH_MS)
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn sender(u: &User, nick: Option<&String>) -> Sender {
    let name = nick
        .or(u.global_name.as_ref())
        .or(u.username.as_ref())
        .filter(|n| !n.is_empty());
    Sender {
        id: u.id.clone(),
        display_name: name.cloned(),
        is_bot: u.bot,
    }
}

fn attachment(a: &DcAttachment, voice: bool) -> Attachment {
    let kind = match a.content_type.as_deref().and_then(|m| m.split('/').next()) {
        Some("audio") if voice => AttachmentKind::Voice,
        Some("image") => AttachmentKind::Image,
        Some("audio") => AttachmentKind::Audio,
        Some("video") => AttachmentKind::Video,
        _ => AttachmentKind::File,
    };
    Attachment {
        kind,
        mime: a.content_type.clone(),
        size: a.size,
        name: a.filename.clone(),
        caption: None,
        fetch: a.url.clone().map_or(Fetch::None, Fetch::Url),
        location: None,
    }
}

/// Subcommands and groups are named in the text, like the person typed them; leaf options
/// contribute their values.
fn command_words(options: &[CommandOption], words: &mut Vec<String>) {
    for o in options {
        if o.kind == 1 || o.kind == 2 {
            words.push(o.name.clone());
        }
        words.extend(o.value.as_ref().and_then(value_text));
        command_words(&o.options, words);
    }
}

/// Attachment options (type 11) hold an id resolved in `data.resolved.attachments`.
fn command_attachments(options: &[CommandOption], resolved: Option<&Resolved>, out: &mut Vec<Attachment>) {
    for o in options {
        if o.kind == 11
            && let Some(a) = o
                .value
                .as_ref()
                .and_then(Value::as_str)
                .and_then(|id| resolved?.attachments.get(id))
        {
            out.push(attachment(a, false));
        }
        command_attachments(&o.options, resolved, out);
    }
}

fn children(c: &Component) -> impl Iterator<Item = &Component> {
    c.components
        .iter()
        .chain(c.component.as_deref())
        .chain(c.accessory.as_deref())
}

fn find<'a>(components: &'a [Component], custom_id: &str) -> Option<&'a Component> {
    components.iter().find_map(|c| {
        if c.custom_id.as_deref() == Some(custom_id) {
            Some(c)
        } else {
            find_in(c, custom_id)
        }
    })
}

fn find_in<'a>(c: &'a Component, custom_id: &str) -> Option<&'a Component> {
    children(c).find_map(|child| {
        if child.custom_id.as_deref() == Some(custom_id) {
            Some(child)
        } else {
            find_in(child, custom_id)
        }
    })
}

fn submitted(components: &[Component], lines: &mut Vec<String>) {
    for c in components {
        let many: Vec<String> = c.values.iter().filter_map(value_text).collect();
        let line = c.value.as_ref().and_then(value_text).or(Some(many.join(",")));
        lines.extend(line.filter(|l| !l.is_empty()));
        submitted_in(c, lines);
    }
}

fn submitted_in(c: &Component, lines: &mut Vec<String>) {
    for child in children(c) {
        submitted(std::slice::from_ref(child), lines);
    }
}

fn is_select(component_type: Option<i64>) -> bool {
    matches!(component_type, Some(3 | 5 | 6 | 7 | 8))
}

/// Parses a verified interaction body.
pub fn parse(body: &[u8]) -> Result<Inbound, ParseError> {
    let i: Interaction = serde_json::from_slice(body).map_err(error)?;
    let kind = match i.kind {
        1 => return Ok(Inbound::Ping),
        2 => EventKind::Message,
        3 | 5 => EventKind::Interactive,
        _ => return Ok(Inbound::Events(Vec::new())),
    };
    let data = i.data.ok_or_else(|| error("interaction without data"))?;
    let token = i.token.ok_or_else(|| error("interaction without token"))?;
    // In a guild the person is `member.user` (with a server nickname); in a DM it is `user`.
    let (user, nick) = match (&i.member, &i.user) {
        (Some(Member { user: Some(u), nick }), _) => (u, nick.as_ref()),
        (_, Some(u)) => (u, None),
        _ => return Err(error("interaction without a user")),
    };
    let mut e = InboundEvent::new(Channel::Discord, i.application_id, kind, i.id.clone());
    e.conversation_id = i
        .channel_id
        .or(i.channel.map(|c| c.id))
        .or_else(|| i.message.as_ref().and_then(|m| m.channel_id.clone()))
        .unwrap_or_default();
    e.sender = sender(user, nick);
    e.timestamp_ms = snowflake_ms(&i.id);
    let source_message_id = i.message.as_ref().map(|m| m.id.clone());
    let (payload, title) = match i.kind {
        2 => {
            let name = data.name.ok_or_else(|| error("application command without name"))?;
            let mut words = vec![format!("/{name}")];
            command_words(&data.options, &mut words);
            e.text = Some(words.join(" ").trim().to_owned());
            command_attachments(&data.options, data.resolved.as_ref(), &mut e.attachments);
            // A message context-menu command acts on the message it was opened on.
            if data.kind == Some(3) {
                e.reply_to_message_id = data.target_id;
            }
            (name, None)
        }
        3 => {
            let custom_id = data.custom_id.ok_or_else(|| error("component without custom_id"))?;
            let found = i.message.as_ref().and_then(|m| find(&m.components, &custom_id));
            let values: Vec<String> = data.values.iter().filter_map(value_text).collect();
            let (payload, title) = if is_select(data.component_type) {
                let labels: Vec<&str> = found
                    .iter()
                    .flat_map(|c| &c.options)
                    .filter(|o| o.value.as_ref().is_some_and(|v| values.contains(v)))
                    .filter_map(|o| o.label.as_deref())
                    .collect();
                let title = Some(labels.join(", ")).filter(|t| !t.is_empty());
                (format!("{custom_id}:{}", values.join(",")), title)
            } else {
                (custom_id, found.and_then(|c| c.label.clone()))
            };
            e.text = title.clone().or_else(|| Some(payload.clone()));
            (payload, title)
        }
        _ => {
            let custom_id = data.custom_id.ok_or_else(|| error("modal submit without custom_id"))?;
            let mut lines = Vec::new();
            submitted(&data.components, &mut lines);
            e.text = Some(lines.join("\n")).filter(|t| !t.is_empty());
            (custom_id, None)
        }
    };
    e.interactive = Some(Interactive {
        payload,
        title,
        source_message_id,
        ack_id: Some(token),
    });
    Ok(Inbound::Events(vec![e]))
}

#[derive(Deserialize)]
struct Frame {
    op: i64,
    t: Option<String>,
}

#[derive(Deserialize)]
struct Dispatch {
    d: GatewayMessage,
}

#[derive(Deserialize)]
struct GatewayMessage {
    id: String,
    channel_id: String,
    #[serde(rename = "type", default)]
    kind: i64,
    #[serde(default)]
    content: String,
    author: User,
    member: Option<Member>,
    webhook_id: Option<String>,
    #[serde(default)]
    flags: u64,
    #[serde(default)]
    attachments: Vec<DcAttachment>,
    #[serde(default)]
    sticker_items: Vec<StickerItem>,
    message_reference: Option<Reference>,
}

#[derive(Deserialize)]
struct StickerItem {
    id: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    message_id: Option<String>,
}

/// Message flag marking a voice message.
const IS_VOICE_MESSAGE: u64 = 1 << 13;

/// Reads one Gateway frame. Only an op 0 `MESSAGE_CREATE` dispatch written by a person is a
/// message; every other frame (hello, heartbeat, ack, identify, resume, ready, other
/// dispatches) and messages by bots, webhooks, our own application or the system (joins,
/// pins, boosts: message types other than 0 default and 19 reply) give `Ok(None)`, so a
/// session loop can pass every frame through. Errors are for frames that are not JSON or a
/// `MESSAGE_CREATE` without the fields of a message.
///
/// `application_id` is the bot's id (a bot user shares its application's id).
pub fn parse_gateway_message(dispatch: &[u8], application_id: &str) -> Result<Option<InboundEvent>, ParseError> {
    let frame: Frame = serde_json::from_slice(dispatch).map_err(error)?;
    if frame.op != 0 || frame.t.as_deref() != Some("MESSAGE_CREATE") {
        return Ok(None);
    }
    let m = serde_json::from_slice::<Dispatch>(dispatch).map_err(error)?.d;
    if m.author.bot || m.author.id == application_id || m.webhook_id.is_some() || !matches!(m.kind, 0 | 19) {
        return Ok(None);
    }
    let mut e = InboundEvent::new(Channel::Discord, application_id, EventKind::Message, m.id.clone());
    // A thread is a channel of its own in Discord, and the guild is only the server around it.
    e.conversation_id = m.channel_id;
    let nick = m.member.as_ref().and_then(|mb| mb.nick.as_ref());
    e.sender = sender(&m.author, nick);
    e.timestamp_ms = snowflake_ms(&m.id);
    e.message_id = Some(m.id);
    let text = strip_mention(&m.content, application_id);
    e.text = Some(text).filter(|t| !t.is_empty());
    let voice = m.flags & IS_VOICE_MESSAGE != 0;
    e.attachments = m.attachments.iter().map(|a| attachment(a, voice)).collect();
    for s in &m.sticker_items {
        let mut a = Attachment::new(AttachmentKind::Sticker, Fetch::FileId(s.id.clone()));
        a.name = s.name.clone();
        e.attachments.push(a);
    }
    e.reply_to_message_id = m.message_reference.and_then(|r| r.message_id);
    Ok(Some(e))
}

/// Drops a leading `<@BOTID>` / `<@!BOTID>` so the bot reads what was asked, not its name.
fn strip_mention(content: &str, bot_id: &str) -> String {
    let trimmed = content.trim_start();
    let rest = trimmed.strip_prefix("<@!").or_else(|| trimmed.strip_prefix("<@"));
    match rest
        .and_then(|r| r.strip_prefix(bot_id))
        .and_then(|r| r.strip_prefix('>'))
    {
        Some(after) => after.trim_start().to_owned(),
        None => content.to_owned(),
    }
}

// Outbound: channel messages and interaction follow-ups
// (discord.com/developers/docs `resources/message#create-message`,
// `interactions/receiving-and-responding#create-followup-message`).

pub(crate) const CONTENT_MAX: usize = 2_000;
pub(crate) const BUTTONS_PER_ROW: usize = 5;
pub(crate) const ROWS_MAX: usize = 5;
const LABEL_MAX: usize = 80;
pub(crate) const CUSTOM_ID_MAX: usize = 100;
/// Unknown interaction: the token expired or was never valid.
const UNKNOWN_INTERACTION: i64 = 10_062;
/// Cannot send messages to this user: they block the bot, or allow no messages from it.
const CANNOT_MESSAGE_USER: i64 = 50_007;

/// The reply as Discord calls, one per 2,000-character piece of `content`. With an interaction
/// token in `to.interaction` they are follow-ups, `POST webhooks/{application id}/{token}`
/// (the token is the credential); otherwise `POST channels/{channel}/messages` with the bot
/// token, the first answering `to.reply_to` through `message_reference` (not failing when that
/// message is gone). Mentions in the text never ping (`allowed_mentions` empty).
///
/// Buttons go with the last piece: action rows of at most 5 primary buttons, `custom_id` =
/// payload, labels clipped to 80 characters. More than 25 buttons (5 rows), or a payload that
/// cannot be a `custom_id` (empty or over 100 characters), become numbered options instead.
pub fn render(reply: &Reply, to: &Target) -> Vec<Call> {
    if let Some(rich) = &reply.rich {
        return crate::rich::discord::render(rich, reply, to);
    }
    let buttons = !reply.buttons.is_empty()
        && reply.buttons.len() <= BUTTONS_PER_ROW * ROWS_MAX
        && reply
            .buttons
            .iter()
            .all(|b| (1..=CUSTOM_ID_MAX).contains(&b.payload.chars().count()));
    let text = if buttons {
        reply.text.clone()
    } else {
        outbound::numbered(reply)
    };
    let (path, auth) = destination(to);
    let pieces = outbound::split(&text, CONTENT_MAX);
    let count = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut body = json!({ "content": piece, "allowed_mentions": { "parse": [] } });
            if let (0, None, Some(id)) = (i, &to.interaction, &to.reply_to) {
                body["message_reference"] = json!({ "message_id": id, "fail_if_not_exists": false });
            }
            if buttons && i + 1 == count {
                body["components"] = rows(&reply.buttons);
            }
            Call {
                method: http::Method::POST,
                path: path.clone(),
                auth: auth.clone(),
                body: Body::Json(body),
            }
        })
        .collect()
}

/// Where a message goes: the interaction's follow-up webhook, else the channel.
pub(crate) fn destination(to: &Target) -> (String, Auth) {
    match &to.interaction {
        Some(token) => (format!("webhooks/{}/{token}", to.account_id), Auth::None),
        None => (
            format!("channels/{}/messages", to.conversation_id),
            Auth::Bot("bot_token"),
        ),
    }
}

pub(crate) fn rows(buttons: &[Button]) -> Value {
    buttons
        .chunks(BUTTONS_PER_ROW)
        .map(|row| {
            let row: Vec<Value> = row
                .iter()
                .map(|b| json!({ "type": 2, "style": 1, "label": clip(&b.title, LABEL_MAX), "custom_id": b.payload }))
                .collect();
            json!({ "type": 1, "components": row })
        })
        .collect()
}

#[derive(Deserialize)]
struct SendAnswer {
    id: Option<String>,
    retry_after: Option<f64>,
    code: Option<i64>,
    message: Option<String>,
}

/// Classifies Discord's answer: 2xx is sent (with the message `id` when there is a body); 429
/// waits `retry_after` from the body (float seconds, rounded up), else the `Retry-After`
/// header; 10062 unknown interaction is permanent (the token is dead), and so is every other
/// 4xx, named by its JSON error code and message; 5xx is retried.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> Outcome {
    let answer = serde_json::from_slice::<SendAnswer>(body).ok();
    if (200..300).contains(&status) {
        return Outcome::Sent(answer.and_then(|a| a.id));
    }
    if status == 429 {
        let wait = answer
            .and_then(|a| a.retry_after)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| s.ceil() as u64)
            .or(retry_after_header)
            .unwrap_or(1);
        return Outcome::RetryAfter(wait.max(1));
    }
    let generic =
        outbound::by_status(status, retry_after_header).unwrap_or_else(|| Outcome::Transient(format!("HTTP {status}")));
    match (
        generic,
        answer.and_then(|a| a.code.map(|c| (c, a.message.unwrap_or_default()))),
    ) {
        (_, Some((CANNOT_MESSAGE_USER, message))) => {
            Outcome::Blocked(format!("HTTP {status}: {CANNOT_MESSAGE_USER} {message}"))
        }
        (_, Some((UNKNOWN_INTERACTION, message))) => Outcome::Permanent(format!(
            "{UNKNOWN_INTERACTION} {message} (the interaction token expired)"
        )),
        (Outcome::Permanent(_), Some((code, message))) => {
            Outcome::Permanent(format!("HTTP {status}: {code} {message}"))
        }
        (generic, _) => generic,
    }
}
