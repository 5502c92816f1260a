//! Slack Events API, interactivity and slash commands (docs.slack.dev/apis/events-api,
//! docs.slack.dev/interactivity).
//!
//! Verification: `X-Slack-Signature: v0=<hex>` is HMAC-SHA256 of `v0:{timestamp}:{raw body}`
//! keyed with the app's signing secret, and `X-Slack-Request-Timestamp` must be within 300 s
//! of now. The same scheme covers JSON events and form-encoded interactivity and commands.
//! Dedup key: the envelope's `event_id` for events, `<trigger_id>:<action_id>` for block
//! actions, `trigger_id` for slash commands.
//!
//! Ignored on purpose (parsed, but no event):
//! * messages carrying a `bot_id`, or written by the bot user the envelope's `authorizations`
//!   name: our own posts come back as events and must not be read as input;
//! * every message `subtype` except `file_share`, `thread_broadcast` and `me_message`, which
//!   are people writing. The rest (`bot_message`, `message_changed`, `message_deleted`,
//!   `message_replied`, `channel_join`, `channel_topic`, `pinned_item`, ...) are bots or
//!   housekeeping; keeping an allow-list means subtypes Slack adds later stay ignored too;
//! * envelope types other than `url_verification` and `event_callback` (`app_rate_limited`),
//!   event types other than `message` and `app_mention`, and interactivity payloads other than
//!   `block_actions` (`view_submission`, `shortcut`, `message_action`, ...).
//!
//! A channel message that mentions the bot arrives twice when the app subscribes to both
//! `message.channels` and `app_mention`, as two events with different `event_id`s.

use crate::outbound::{self, Auth, Body, Call, Outcome, Reply, Target, clip};
use crate::verify::{VerifyError, header, hex_matches, hmac_sha256};
use crate::{Attachment, AttachmentKind, EventKind, Fetch, InboundEvent, Interactive, ParseError, Sender};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::{Button, Channel};

pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// Slack's own SDKs accept a request exactly 300 s old and refuse one 301 s old.
pub const MAX_AGE_S: u64 = 300;

/// Checks a request against the app's signing secret. `now_s` is the current Unix time; the
/// error for an old (or future) request carries `now_s - timestamp`.
pub fn verify(headers: &http::HeaderMap, body: &[u8], signing_secret: &str, now_s: i64) -> Result<(), VerifyError> {
    if signing_secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let ts = header(headers, TIMESTAMP_HEADER)?;
    let sent = header(headers, SIGNATURE_HEADER)?;
    let sent_hex = sent
        .strip_prefix("v0=")
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
    let ts_s: i64 = ts.parse().map_err(|_| VerifyError::MalformedHeader(TIMESTAMP_HEADER))?;
    // Saturating: a forged timestamp near i64::MIN/MAX must read as stale, not overflow.
    let diff = now_s.saturating_sub(ts_s);
    if diff.unsigned_abs() > MAX_AGE_S {
        return Err(VerifyError::StaleTimestamp(diff));
    }
    // The header string as sent is what Slack signed, not our reformatting of the number.
    let expected = hmac_sha256(signing_secret.as_bytes(), &[b"v0:", ts.as_bytes(), b":", body]);
    hex_matches(sent_hex, &expected, SIGNATURE_HEADER)
}

/// What a verified Slack request asks of us.
#[derive(Clone, Debug, PartialEq)]
pub enum Inbound {
    /// The Request URL handshake: answer 200 with this challenge.
    UrlVerification(String),
    /// Zero or more events (zero when the request carries nothing a person said or did).
    Events(Vec<InboundEvent>),
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    team_id: Option<String>,
    event_id: Option<String>,
    event_time: Option<i64>,
    // Kept loose: events we do not handle (`channel_created`, `user_change`...) reuse field
    // names like `channel` and `user` with other types and must not fail the envelope.
    event: Option<serde_json::Value>,
    #[serde(default)]
    authorizations: Vec<Authorization>,
}

#[derive(Deserialize)]
struct Authorization {
    user_id: Option<String>,
    #[serde(default)]
    is_bot: bool,
}

#[derive(Deserialize)]
struct Event {
    subtype: Option<String>,
    channel: Option<String>,
    user: Option<String>,
    bot_id: Option<String>,
    text: Option<String>,
    ts: Option<String>,
    thread_ts: Option<String>,
    user_profile: Option<Profile>,
    #[serde(default)]
    files: Vec<File>,
}

#[derive(Deserialize)]
struct Profile {
    display_name: Option<String>,
    real_name: Option<String>,
}

#[derive(Deserialize)]
struct File {
    id: Option<String>,
    name: Option<String>,
    mimetype: Option<String>,
    size: Option<u64>,
    url_private: Option<String>,
    url_private_download: Option<String>,
}

/// The fields of a form body we read: interactivity sends only `payload`, slash commands the rest.
#[derive(Deserialize)]
struct Form {
    payload: Option<String>,
    command: Option<String>,
    text: Option<String>,
    team_id: Option<String>,
    channel_id: Option<String>,
    user_id: Option<String>,
    user_name: Option<String>,
    trigger_id: Option<String>,
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: Option<User>,
    team: Option<Id>,
    channel: Option<Id>,
    container: Option<Container>,
    message: Option<Message>,
    trigger_id: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct User {
    id: String,
    name: Option<String>,
    username: Option<String>,
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct Container {
    channel_id: Option<String>,
    message_ts: Option<String>,
    thread_ts: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    ts: Option<String>,
    thread_ts: Option<String>,
}

#[derive(Deserialize)]
struct Text {
    text: String,
}

#[derive(Deserialize)]
struct Choice {
    value: Option<String>,
    text: Option<Text>,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    text: Option<Text>,
    value: Option<String>,
    action_ts: Option<String>,
    selected_option: Option<Choice>,
    #[serde(default)]
    selected_options: Vec<Choice>,
    selected_date: Option<String>,
    selected_time: Option<String>,
    selected_user: Option<String>,
    selected_channel: Option<String>,
    selected_conversation: Option<String>,
    #[serde(default)]
    selected_users: Vec<String>,
    #[serde(default)]
    selected_channels: Vec<String>,
    #[serde(default)]
    selected_conversations: Vec<String>,
}

fn error(reason: impl std::fmt::Display) -> ParseError {
    ParseError::new("slack", reason)
}

/// Parses a verified request body. `content_type` is the request's `Content-Type` header:
/// interactivity and slash commands are form-encoded, everything else is JSON.
pub fn parse(body: &[u8], content_type: &str) -> Result<Inbound, ParseError> {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return parse_form(body).map(Inbound::Events);
    }
    let env: Envelope = serde_json::from_slice(body).map_err(error)?;
    match env.kind.as_str() {
        "url_verification" => env
            .challenge
            .map(Inbound::UrlVerification)
            .ok_or_else(|| error("url_verification without a challenge")),
        "event_callback" => callback(env).map(Inbound::Events),
        _ => Ok(Inbound::Events(Vec::new())),
    }
}

/// Slack `ts` values are seconds with a microsecond fraction (`"1767225600.000100"`).
fn ts_ms(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || !digits(frac) {
        return None;
    }
    let ms = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    secs.parse::<i64>().ok()?.checked_mul(1000)?.checked_add(ms)
}

/// Drops a leading `<@BOTID>` (or `<@BOTID|name>`) so the bot reads what was asked, not its
/// own name. When the envelope names no bot user, a mention event still loses its leading
/// mention (the event exists because the bot was named); a plain message keeps it, as it may
/// name someone else.
fn strip_mention(text: &str, bots: &[&str], mentioned: bool) -> String {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix("<@") else {
        return text.to_owned();
    };
    let Some((inner, after)) = rest.split_once('>') else {
        return text.to_owned();
    };
    let id = inner.split('|').next().unwrap_or(inner);
    if bots.contains(&id) || (bots.is_empty() && mentioned) {
        after.trim_start().to_owned()
    } else {
        text.to_owned()
    }
}

fn attachment(f: &File) -> Attachment {
    let mime = f.mimetype.clone();
    let kind = match mime.as_deref().and_then(|m| m.split('/').next()) {
        Some("image") => AttachmentKind::Image,
        Some("audio") => AttachmentKind::Audio,
        Some("video") => AttachmentKind::Video,
        _ => AttachmentKind::File,
    };
    // Slack Connect files can arrive without URLs (`file_access: check_file_info`); their id
    // still resolves through `files.info`.
    let fetch = match (&f.url_private, &f.url_private_download, &f.id) {
        (Some(url), _, _) | (None, Some(url), _) => Fetch::Url(url.clone()),
        (None, None, Some(id)) => Fetch::FileId(id.clone()),
        (None, None, None) => Fetch::None,
    };
    Attachment {
        kind,
        mime,
        size: f.size,
        name: f.name.clone(),
        caption: None,
        fetch,
        location: None,
    }
}

fn callback(env: Envelope) -> Result<Vec<InboundEvent>, ParseError> {
    let event_id = env.event_id.ok_or_else(|| error("event_callback without event_id"))?;
    let team_id = env.team_id.ok_or_else(|| error("event_callback without team_id"))?;
    let raw = env.event.ok_or_else(|| error("event_callback without event"))?;
    let mentioned = match raw.get("type").and_then(|t| t.as_str()) {
        Some("message") => false,
        Some("app_mention") => true,
        _ => return Ok(Vec::new()),
    };
    let ev: Event = serde_json::from_value(raw).map_err(error)?;
    if ev.bot_id.is_some() {
        return Ok(Vec::new());
    }
    if let Some(sub) = ev.subtype.as_deref()
        && !matches!(sub, "file_share" | "thread_broadcast" | "me_message")
    {
        return Ok(Vec::new());
    }
    let bots: Vec<&str> = env
        .authorizations
        .iter()
        .filter(|a| a.is_bot)
        .filter_map(|a| a.user_id.as_deref())
        .collect();
    let Some(user) = ev.user else {
        return Ok(Vec::new());
    };
    if bots.contains(&user.as_str()) {
        return Ok(Vec::new());
    }
    let mut e = InboundEvent::new(Channel::Slack, team_id, EventKind::Message, event_id);
    e.conversation_id = ev.channel.unwrap_or_default();
    e.thread_id = ev.thread_ts;
    let name = ev.user_profile.and_then(|p| {
        let display = p.display_name.filter(|n| !n.is_empty());
        display.or(p.real_name).filter(|n| !n.is_empty())
    });
    e.sender = Sender {
        id: user,
        display_name: name,
        is_bot: false,
    };
    e.timestamp_ms = ev
        .ts
        .as_deref()
        .and_then(ts_ms)
        .or_else(|| env.event_time.and_then(|t| t.checked_mul(1000)))
        .unwrap_or(0);
    e.message_id = ev.ts;
    e.text = ev
        .text
        .map(|t| strip_mention(&t, &bots, mentioned))
        .filter(|t| !t.is_empty());
    e.attachments = ev.files.iter().map(attachment).collect();
    Ok(vec![e])
}

fn parse_form(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let form: Form = serde_urlencoded::from_bytes(body).map_err(error)?;
    if let Some(payload) = form.payload {
        let i: Interaction = serde_json::from_str(&payload).map_err(error)?;
        return interaction(i);
    }
    let command = form
        .command
        .ok_or_else(|| error("form body with neither payload nor command"))?;
    let trigger_id = form
        .trigger_id
        .ok_or_else(|| error("slash command without trigger_id"))?;
    let team_id = form.team_id.ok_or_else(|| error("slash command without team_id"))?;
    let user_id = form.user_id.ok_or_else(|| error("slash command without user_id"))?;
    let mut e = InboundEvent::new(Channel::Slack, team_id, EventKind::Message, trigger_id);
    e.conversation_id = form.channel_id.unwrap_or_default();
    e.sender = Sender {
        id: user_id,
        display_name: form.user_name,
        is_bot: false,
    };
    let text = format!("{command} {}", form.text.unwrap_or_default());
    e.text = Some(text.trim().to_owned());
    Ok(vec![e])
}

/// What the person chose, as one string: the button's value, the picked option's value, or
/// several picks joined by `,`. A control that carries none (a URL button) yields its
/// `action_id`, which the bot chose and can still route on.
fn action_payload(a: &Action) -> String {
    let many = |v: Vec<&str>| Some(v.join(",")).filter(|s| !s.is_empty());
    let options = a.selected_options.iter().filter_map(|o| o.value.as_deref()).collect();
    let lists = [&a.selected_users, &a.selected_channels, &a.selected_conversations];
    let listed = lists.into_iter().find(|l| !l.is_empty());
    a.value
        .clone()
        .or_else(|| a.selected_option.as_ref().and_then(|o| o.value.clone()))
        .or_else(|| many(options))
        .or_else(|| listed.and_then(|l| many(l.iter().map(String::as_str).collect())))
        .or_else(|| a.selected_date.clone())
        .or_else(|| a.selected_time.clone())
        .or_else(|| a.selected_user.clone())
        .or_else(|| a.selected_conversation.clone())
        .or_else(|| a.selected_channel.clone())
        .unwrap_or_else(|| a.action_id.clone())
}

fn action_title(a: &Action) -> Option<String> {
    let picked: Vec<&str> = a
        .selected_option
        .iter()
        .chain(&a.selected_options)
        .filter_map(|o| o.text.as_ref().map(|t| t.text.as_str()))
        .collect();
    // For a select the person saw the option's label, not the placeholder.
    Some(picked.join(", "))
        .filter(|s| !s.is_empty())
        .or_else(|| a.text.as_ref().map(|t| t.text.clone()))
}

fn interaction(i: Interaction) -> Result<Vec<InboundEvent>, ParseError> {
    if i.kind != "block_actions" {
        return Ok(Vec::new());
    }
    let user = i.user.ok_or_else(|| error("block_actions without user"))?;
    let trigger_id = i.trigger_id.ok_or_else(|| error("block_actions without trigger_id"))?;
    let team_id = i
        .team
        .map(|t| t.id)
        .or(user.team_id)
        .ok_or_else(|| error("block_actions without team"))?;
    let container = i.container.as_ref();
    // Actions in a modal or the App Home have no channel; posting to the user id opens the
    // bot's DM with them, so that is where a reply can go.
    let conversation_id = i
        .channel
        .map(|c| c.id)
        .or_else(|| container.and_then(|c| c.channel_id.clone()))
        .unwrap_or_else(|| user.id.clone());
    let source = i
        .message
        .as_ref()
        .and_then(|m| m.ts.clone())
        .or_else(|| container.and_then(|c| c.message_ts.clone()));
    let thread = i
        .message
        .as_ref()
        .and_then(|m| m.thread_ts.clone())
        .or_else(|| container.and_then(|c| c.thread_ts.clone()));
    let sender = Sender {
        id: user.id.clone(),
        display_name: user.name.clone().or(user.username.clone()),
        is_bot: false,
    };
    let events = i
        .actions
        .iter()
        .map(|a| {
            let event_id = format!("{trigger_id}:{}", a.action_id);
            let mut e = InboundEvent::new(Channel::Slack, team_id.clone(), EventKind::Interactive, event_id);
            e.conversation_id = conversation_id.clone();
            e.thread_id = thread.clone();
            e.sender = sender.clone();
            e.timestamp_ms = a.action_ts.as_deref().and_then(ts_ms).unwrap_or(0);
            let payload = action_payload(a);
            let title = action_title(a);
            e.text = title.clone().or_else(|| Some(payload.clone()));
            e.interactive = Some(Interactive {
                payload,
                title,
                source_message_id: source.clone(),
                // `response_url` is a URL, not an id; `trigger_id` is what opens a modal in
                // answer to this press.
                ack_id: Some(trigger_id.clone()),
            });
            e
        })
        .collect();
    Ok(events)
}

// Outbound: `chat.postMessage` (docs.slack.dev/reference/methods/chat.postMessage).

/// `text` is cut by Slack beyond this many characters.
const TEXT_MAX: usize = 40_000;
/// A `section` block's text.
pub(crate) const SECTION_MAX: usize = 3_000;
/// Elements of one `actions` block.
pub(crate) const BUTTONS_MAX: usize = 25;
pub(crate) const BUTTON_TITLE_MAX: usize = 75;
pub(crate) const BUTTON_VALUE_MAX: usize = 2_000;

/// The reply as `chat.postMessage` calls (secret `bot_token`), in the thread when the target
/// has one: one call per 40,000-character piece of text. Buttons go with the last piece as
/// Block Kit: the text as a mrkdwn `section` (so that piece is cut to the section's 3,000
/// characters) and an `actions` block of buttons, `value` = payload, `action_id` = `sb_<n>`;
/// `text` stays as the notification fallback. Titles are clipped to 75 characters. More than 25
/// buttons, or a payload longer than a button value (2,000), become numbered options instead.
pub fn render(reply: &Reply, to: &Target) -> Vec<Call> {
    if let Some(rich) = &reply.rich {
        return crate::rich::slack::render(rich, reply, to);
    }
    let buttons = !reply.buttons.is_empty()
        && reply.buttons.len() <= BUTTONS_MAX
        && reply
            .buttons
            .iter()
            .all(|b| b.payload.chars().count() <= BUTTON_VALUE_MAX);
    let text = if buttons {
        reply.text.clone()
    } else {
        outbound::numbered(reply)
    };
    let mut pieces = outbound::split(&text, TEXT_MAX);
    if buttons {
        let last = pieces.pop().unwrap_or_default();
        pieces.extend(outbound::split(&last, SECTION_MAX));
    }
    let count = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut body = json!({ "channel": to.conversation_id, "text": piece });
            if let Some(ts) = &to.thread_id {
                body["thread_ts"] = json!(ts);
            }
            if buttons && i + 1 == count {
                body["blocks"] = blocks(&piece, &reply.buttons);
            }
            Call {
                method: http::Method::POST,
                path: "chat.postMessage".to_owned(),
                auth: Auth::Bearer("bot_token"),
                body: Body::Json(body),
            }
        })
        .collect()
}

fn blocks(text: &str, buttons: &[Button]) -> Value {
    let elements: Vec<Value> = buttons
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({
                "type": "button",
                "action_id": format!("sb_{i}"),
                "text": { "type": "plain_text", "text": clip(&b.title, BUTTON_TITLE_MAX) },
                "value": b.payload,
            })
        })
        .collect();
    let mut blocks = Vec::new();
    // A section needs text; an empty reply is just the buttons.
    if !text.is_empty() {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
    }
    blocks.push(json!({ "type": "actions", "elements": elements }));
    Value::Array(blocks)
}

#[derive(Deserialize)]
struct PostAnswer {
    ok: bool,
    ts: Option<String>,
    error: Option<String>,
}

/// Classifies the answer to `chat.postMessage`. Slack answers HTTP 200 with `ok` except when it
/// rate limits (429 + `Retry-After`); `ok: false` with `ratelimited` waits too, Slack's own
/// internal errors are retried, and every other error (`not_in_channel`, `channel_not_found`,
/// `is_archived`, `invalid_auth`, `msg_too_long`...) is permanent, named by its code.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> Outcome {
    if let Some(o) = outbound::by_status(status, retry_after_header) {
        return o;
    }
    let Ok(answer) = serde_json::from_slice::<PostAnswer>(body) else {
        return Outcome::Transient("unreadable chat.postMessage answer".to_owned());
    };
    if answer.ok {
        return Outcome::Sent(answer.ts);
    }
    let error = answer.error.unwrap_or_else(|| "unknown_error".to_owned());
    match error.as_str() {
        "ratelimited" | "rate_limited" => Outcome::RetryAfter(retry_after_header.unwrap_or(1)),
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => Outcome::Transient(error),
        _ => Outcome::Permanent(error),
    }
}
