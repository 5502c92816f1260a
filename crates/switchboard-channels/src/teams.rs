//! Microsoft Teams through the Bot Framework: the Activities the Bot Connector POSTs
//! (learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference).
//! Verifying the connector's bearer token happens elsewhere; this module only reads Activities.
//!
//! Events (event id = activity `id`, account = `recipient.id`, i.e. `28:<app id>`):
//! * `message`: `Message`. Mentions of the bot (`<at>Bot</at>`) are removed, other mentions keep
//!   the name without the tags, and the text is trimmed: the bot is addressed, not part of what
//!   was said. Teams files (`application/vnd.microsoft.teams.file.download.info`) carry a
//!   pre-authenticated `downloadUrl`; other attachments count only when they have a
//!   `contentUrl` (inline images; it needs the bot token), since the rest are the message's
//!   own HTML rendering or cards.
//! * `message` with a `value`: an Adaptive Card `Action.Submit`, so `Interactive`. The payload
//!   is the compact JSON of `value`; `value.action`, when it is a string, is the title and the
//!   text (cards name the submitted action there by convention, as the fixture does).
//!   `source_message_id` is `replyToId`, the card's message.
//! * `invoke` `adaptiveCard/action` (`Action.Execute`): `Interactive`, payload = compact JSON of
//!   `value.action.data`, title = `value.action.title`, text = `value.action.verb` (what the
//!   card asked to do; the common event has no other place for it) else the title, ack id = the
//!   activity id, since the invoke is answered in the HTTP response. Other invokes: no event.
//! * `conversationUpdate` adding / removing the bot, `installationUpdate` `add` / `remove`:
//!   `Membership` `BotAdded` / `BotRemoved`. Upgrades and other members coming and going: none.
//! * anything the bot sent itself, and every other type: no event.
//!
//! Channel replies: `replyToId` is the reply chain, so it is the thread in channels and the
//! replied-to message everywhere.

use crate::outbound::{self, Auth, Body, Call, Outcome, Reply, Target};
use crate::{Attachment, AttachmentKind, EventKind, Fetch, InboundEvent, Interactive, Membership, ParseError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_core::{Button, Channel};

const CHANNEL: &str = "teams";
const FILE_DOWNLOAD: &str = "application/vnd.microsoft.teams.file.download.info";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
    timestamp: Option<String>,
    #[serde(default)]
    service_url: String,
    #[serde(default)]
    channel_id: String,
    from: Option<Account>,
    recipient: Account,
    conversation: Conversation,
    text: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    attachments: Vec<TeamsAttachment>,
    #[serde(default, deserialize_with = "null_as_empty")]
    entities: Vec<Entity>,
    value: Option<Value>,
    name: Option<String>,
    action: Option<String>,
    reply_to_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    members_added: Vec<Account>,
    #[serde(default, deserialize_with = "null_as_empty")]
    members_removed: Vec<Account>,
    channel_data: Option<ChannelData>,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conversation {
    id: String,
    conversation_type: Option<String>,
    tenant_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamsAttachment {
    content_type: Option<String>,
    content_url: Option<String>,
    name: Option<String>,
    content: Option<Value>,
}

#[derive(Deserialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: Option<String>,
    mentioned: Option<Account>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct ChannelData {
    tenant: Option<Tenant>,
}

#[derive(Deserialize)]
struct Tenant {
    id: Option<String>,
}

/// Some serializers write empty lists as `null`.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Where to send proactive messages into the conversation an Activity came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationReference {
    /// Replies must go to this URL, stored per conversation: it differs by region and cloud.
    pub service_url: String,
    pub conversation_id: String,
    /// The bot's id in the conversation, `28:<app id>`.
    pub bot_id: String,
    /// The Entra ID tenant, needed to create 1:1 conversations.
    pub tenant_id: Option<String>,
    /// `msteams` for Teams.
    pub channel_id: String,
}

fn read(body: &[u8]) -> Result<Activity, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::new(CHANNEL, e))
}

pub fn conversation_reference(body: &[u8]) -> Result<ConversationReference, ParseError> {
    let a = read(body)?;
    if a.service_url.is_empty() {
        return Err(ParseError::new(CHANNEL, "no serviceUrl"));
    }
    let tenant_id = a
        .conversation
        .tenant_id
        .or_else(|| a.channel_data.and_then(|c| c.tenant).and_then(|t| t.id))
        .filter(|t| !t.is_empty());
    Ok(ConversationReference {
        service_url: a.service_url,
        conversation_id: a.conversation.id,
        bot_id: a.recipient.id,
        tenant_id,
        channel_id: a.channel_id,
    })
}

/// Parses one Activity.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let a = read(body)?;
    let bot = a.recipient.id.as_str();
    let Some(from) = &a.from else {
        return Ok(Vec::new());
    };
    if from.id == bot {
        return Ok(Vec::new());
    }
    let event = match a.kind.as_str() {
        "message" => Some(message(&a)),
        "invoke" if a.name.as_deref() == Some("adaptiveCard/action") => Some(card_action(&a)),
        "conversationUpdate" => {
            let has_bot = |members: &[Account]| members.iter().any(|m| m.id == bot);
            if has_bot(&a.members_added) {
                Some(membership(&a, Membership::BotAdded))
            } else if has_bot(&a.members_removed) {
                Some(membership(&a, Membership::BotRemoved))
            } else {
                None
            }
        }
        "installationUpdate" => match a.action.as_deref() {
            Some("add") => Some(membership(&a, Membership::BotAdded)),
            Some("remove") => Some(membership(&a, Membership::BotRemoved)),
            _ => None,
        },
        _ => None,
    };
    Ok(event.into_iter().collect())
}

fn base(a: &Activity, kind: EventKind) -> InboundEvent {
    // Activity ids are unique within a conversation only (personal-chat ids are millisecond
    // timestamps), so the dedup key carries the conversation.
    let event_id = format!("{}:{}", a.conversation.id, a.id);
    let mut e = InboundEvent::new(Channel::Teams, a.recipient.id.as_str(), kind, event_id);
    e.conversation_id = a.conversation.id.clone();
    if let Some(from) = &a.from {
        e.sender.id = from.id.clone();
        e.sender.display_name = from.name.clone().filter(|n| !n.is_empty());
        // Users are `29:…`, bots `28:…`.
        e.sender.is_bot = from.id.starts_with("28:");
    }
    e.message_id = Some(a.id.clone()).filter(|id| !id.is_empty());
    e.timestamp_ms = a.timestamp.as_deref().and_then(rfc3339_ms).unwrap_or(0);
    e.reply_to_message_id = a.reply_to_id.clone();
    if a.conversation.conversation_type.as_deref() == Some("channel") {
        e.thread_id = a.reply_to_id.clone();
    }
    e
}

fn membership(a: &Activity, m: Membership) -> InboundEvent {
    let mut e = base(a, EventKind::Membership);
    e.membership = Some(m);
    e
}

fn message(a: &Activity) -> InboundEvent {
    let submit = a.value.as_ref().filter(|v| !v.is_null());
    let kind = if submit.is_some() {
        EventKind::Interactive
    } else {
        EventKind::Message
    };
    let mut e = base(a, kind);
    e.text = a
        .text
        .as_deref()
        .map(|t| strip_mentions(t, a))
        .filter(|t| !t.is_empty());
    if let Some(v) = submit {
        let title = v.get("action").and_then(Value::as_str).map(str::to_owned);
        e.text = e.text.or_else(|| title.clone());
        e.interactive = Some(Interactive {
            payload: v.to_string(),
            title,
            source_message_id: a.reply_to_id.clone(),
            ack_id: None,
        });
    }
    for att in &a.attachments {
        let content_type = att.content_type.as_deref();
        if content_type == Some(FILE_DOWNLOAD) {
            let url = att
                .content
                .as_ref()
                .and_then(|c| c.get("downloadUrl"))
                .and_then(Value::as_str);
            if let Some(url) = url {
                let mut f = Attachment::new(AttachmentKind::File, Fetch::Url(url.to_owned()));
                f.name = att.name.clone();
                e.attachments.push(f);
            }
        } else if let Some(url) = att.content_url.as_ref().filter(|u| !u.is_empty()) {
            let kind = match content_type.and_then(|m| m.split('/').next()) {
                Some("image") => AttachmentKind::Image,
                Some("audio") => AttachmentKind::Audio,
                Some("video") => AttachmentKind::Video,
                _ => AttachmentKind::File,
            };
            let mut f = Attachment::new(kind, Fetch::Url(url.clone()));
            f.name = att.name.clone();
            f.mime = att.content_type.clone();
            e.attachments.push(f);
        }
    }
    e
}

fn card_action(a: &Activity) -> InboundEvent {
    let mut e = base(a, EventKind::Interactive);
    let action = a.value.as_ref().and_then(|v| v.get("action"));
    let field = |name: &str| {
        action
            .and_then(|act| act.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let data = action.and_then(|act| act.get("data")).cloned().unwrap_or(Value::Null);
    let title = field("title");
    e.text = field("verb").or_else(|| title.clone());
    e.interactive = Some(Interactive {
        payload: data.to_string(),
        title,
        source_message_id: a.reply_to_id.clone(),
        ack_id: Some(a.id.clone()),
    });
    e
}

/// Removes the bot's `<at>…</at>` mentions and unwraps the others to the plain name.
fn strip_mentions(text: &str, a: &Activity) -> String {
    let mut out = text.to_owned();
    let bot_mentions = a
        .entities
        .iter()
        .filter(|en| en.kind.as_deref() == Some("mention"))
        .filter(|en| en.mentioned.as_ref().is_some_and(|m| m.id == a.recipient.id))
        .filter_map(|en| en.text.clone());
    // Teams sends the entity, but its markup is all that matters; the name covers clients that
    // leave the entity out.
    let by_name = a.recipient.name.as_ref().map(|n| format!("<at>{n}</at>"));
    for mention in bot_mentions.chain(by_name) {
        if !mention.is_empty() {
            out = out.replace(&mention, "");
        }
    }
    out.replace("<at>", "").replace("</at>", "").trim().to_owned()
}

/// Milliseconds since the epoch of an RFC 3339 date-time (`2026-01-01T00:00:00.1230000Z`,
/// `…+01:00`). Digits past the millisecond are dropped; `None` for anything malformed.
fn rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let max_day = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    // 60 is a leap second; it is counted as the next second's start.
    if day < 1 || day > max_day || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if sep(at, b".") {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        let frac = &s[start..at.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10_i64.pow(3 - frac.len() as u32);
    }
    let offset_s = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(c @ (b'+' | b'-')) if at + 6 == b.len() && sep(at + 3, b":") => {
            let (oh, om) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *c == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) - offset_s) * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// Outbound: Bot Connector activities (learn.microsoft.com/azure/bot-service/rest-api/
// bot-framework-rest-connector-send-and-receive-messages).

/// Teams refuses messages over about 28 KB.
const TEXT_MAX: usize = 28_000;
/// Buttons Teams shows on a hero card or as suggested actions.
const BUTTONS_MAX: usize = 6;
const HERO_CARD: &str = "application/vnd.microsoft.card.hero";

/// The reply as Bot Connector calls to the conversation's service URL (`to.endpoint`):
/// `POST {serviceUrl}/v3/conversations/{id}/activities`, or `.../activities/{replyToId}` when
/// it answers `to.reply_to`; ids are percent-encoded as the Bot Framework SDKs do. The secret
/// `access_token` is the OAuth token the server gets with the app password. One markdown
/// message per 28,000-character piece.
///
/// Buttons go with the last piece. Personal chats (conversation ids `a:...`) get
/// `suggestedActions` (`imBack`, the payload sent as the person's message); other
/// conversations, which have no suggested actions, a hero card under the text whose buttons
/// send the payload too: `imBack` when the payload is the title, else `messageBack` showing the
/// title in the chat. More than 6 buttons become numbered options instead.
pub fn render(reply: &Reply, to: &Target) -> Vec<Call> {
    if let Some(rich) = &reply.rich {
        return crate::rich::teams::render(rich, reply, to);
    }
    let buttons = !reply.buttons.is_empty() && reply.buttons.len() <= BUTTONS_MAX;
    let text = if buttons {
        reply.text.clone()
    } else {
        outbound::numbered(reply)
    };
    let path = activities_path(to);
    let personal = to.conversation_id.starts_with("a:");
    let pieces = outbound::split(&text, TEXT_MAX);
    let count = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut body = json!({
                "type": "message",
                "conversation": { "id": to.conversation_id },
                "text": piece,
                "textFormat": "markdown",
            });
            if !to.account_id.is_empty() {
                body["from"] = json!({ "id": to.account_id });
            }
            if let Some(id) = &to.reply_to {
                body["replyToId"] = json!(id);
            }
            if buttons && i + 1 == count {
                if personal {
                    body["suggestedActions"] = suggested_actions(&reply.buttons);
                } else {
                    body["attachments"] = json!([{ "contentType": HERO_CARD, "content": hero_card(&reply.buttons) }]);
                }
            }
            Call {
                method: http::Method::POST,
                path: path.clone(),
                auth: Auth::Bearer("access_token"),
                body: Body::Json(body),
            }
        })
        .collect()
}

/// `{serviceUrl}/v3/conversations/{id}/activities[/{replyToId}]`.
pub(crate) fn activities_path(to: &Target) -> String {
    let service = to.endpoint.as_deref().unwrap_or_default().trim_end_matches('/');
    let path = format!("{service}/v3/conversations/{}/activities", escape(&to.conversation_id));
    match &to.reply_to {
        Some(id) => format!("{path}/{}", escape(id)),
        None => path,
    }
}

fn suggested_actions(buttons: &[Button]) -> Value {
    let actions: Vec<Value> = buttons
        .iter()
        .map(|b| json!({ "type": "imBack", "title": b.title, "value": b.payload }))
        .collect();
    json!({ "actions": actions })
}

fn hero_card(buttons: &[Button]) -> Value {
    let buttons: Vec<Value> = buttons
        .iter()
        .map(|b| {
            if b.title == b.payload {
                json!({ "type": "imBack", "title": b.title, "value": b.payload })
            } else {
                // No `value`: the activity then carries just `text`, like an imBack.
                json!({ "type": "messageBack", "title": b.title, "text": b.payload, "displayText": b.title })
            }
        })
        .collect();
    json!({ "buttons": buttons })
}

/// Percent-encodes everything but unreserved characters (conversation ids hold `:`, `@`, `;`).
fn escape(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct SendAnswer {
    id: Option<String>,
    error: Option<SendError>,
}

#[derive(Deserialize)]
struct SendError {
    code: Option<String>,
    message: Option<String>,
}

/// Classifies the Bot Connector's answer: 2xx is sent, with the ResourceResponse `id`; 429
/// waits for `Retry-After`; 412, 502 and 504, which Microsoft says to retry, and other 5xx are
/// retried; 401 (token or app id), 403 (blocked, uninstalled, disabled), 404 (conversation
/// gone) and other 4xx are permanent, named by the error's `code` when the body has one.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> Outcome {
    let answer = serde_json::from_slice::<SendAnswer>(body).ok();
    if status == 412 {
        return Outcome::Transient("HTTP 412".to_owned());
    }
    match outbound::by_status(status, retry_after_header) {
        None => Outcome::Sent(answer.and_then(|a| a.id)),
        Some(Outcome::Permanent(reason)) => {
            let detail = answer
                .and_then(|a| a.error)
                .and_then(|e| e.code.or(e.message))
                .filter(|d| !d.is_empty());
            match detail {
                Some(detail) if detail == "ConversationBlockedByUser" => {
                    Outcome::Blocked(format!("{reason}: {detail}"))
                }
                Some(detail) => Outcome::Permanent(format!("{reason}: {detail}")),
                None => Outcome::Permanent(reason),
            }
        }
        Some(other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339_ms;

    #[test]
    fn rfc3339_timestamps() {
        let new_year = 1_767_225_600_000;
        assert_eq!(rfc3339_ms("2026-01-01T00:00:00Z"), Some(new_year));
        assert_eq!(rfc3339_ms("2026-01-01T00:00:00.1230000Z"), Some(new_year + 123));
        assert_eq!(rfc3339_ms("2026-01-01T00:00:00.5Z"), Some(new_year + 500));
        assert_eq!(rfc3339_ms("2026-01-01t00:00:00.12z"), Some(new_year + 120));
        assert_eq!(rfc3339_ms("2026-01-01T01:00:00.1230000+01:00"), Some(new_year + 123));
        assert_eq!(rfc3339_ms("2025-12-31T19:30:00-04:30"), Some(new_year));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(rfc3339_ms("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(rfc3339_ms("2024-03-01T00:00:00Z"), Some(1_709_251_200_000));
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00.Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00Zjunk",
            "2026-01-01T00:00:00+25:00",
            "+026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.12\u{e9}Z",
        ] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
    }
}
