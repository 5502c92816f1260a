//! Signal through signal-cli (github.com/AsamK/signal-cli, `signal-cli-jsonrpc(5)`), usually
//! run as signal-cli-rest-api (github.com/bbernhard/signal-cli-rest-api) in `json-rpc` mode.
//!
//! Verification: Signal has no bot API and signal-cli signs nothing; its `RECEIVE_WEBHOOK_URL`
//! POSTs carry no auth header at all. The only check possible here is a shared secret in
//! `X-Switchboard-Signal-Secret`, compared in constant time. So the signal-cli-rest-api
//! container must sit on a private network (never publish its port), and either be configured
//! to send that header with every webhook or be fronted by a proxy that adds it. Without the
//! secret, anyone who can reach the endpoint can speak as any Signal user.
//!
//! Bodies: the JSON-RPC `receive` notification POSTed to the webhook
//! (`{"jsonrpc":"2.0","method":"receive","params":{"envelope":…,"account":…}}`) and the frame
//! of the REST WebSocket (`{"envelope":…,"account":…}`) are both accepted.
//!
//! Events:
//! * a data message (text, attachments, sticker): `Message`. The sender is `sourceUuid` (the
//!   stable ACI; `sourceNumber` is hidden under number privacy and only a fallback), the
//!   conversation is the group id when there is one, else the sender. Signal's message id is the
//!   sender-assigned `timestamp`, so the event id is `<sender>:<timestamp>`.
//! * an edit (`editMessage`): `Edit`, `message_id` = the edited message's timestamp.
//! * a reaction: `Interactive` with the emoji as payload and text and the reacted-to message's
//!   timestamp as `source_message_id`. A reaction is a one-tap answer to a message, which is what
//!   `Interactive` carries elsewhere (quick replies, buttons); the router can match the
//!   timestamp against the ones `/v2/send` returned for its own messages, and ignore the rest.
//!   Removing a reaction yields no event: the common event has no way to take one back.
//! * a receipt: one `Status` per timestamp in it (`message_id` = that timestamp), delivered,
//!   read, or viewed (as `Played`: Signal sends it when a voice note or video was opened).
//!   Event id `<sender>:<state>:<timestamp>`.
//! * typing indicators, sync messages (our own sends from linked devices), calls, stories, group
//!   updates and expiry timer changes: no event.

use crate::outbound::{self, Auth, Call, Outcome, Reply, Target};
use crate::verify::{VerifyError, equal, header};
use crate::{
    Attachment, AttachmentKind, DeliveryState, DeliveryStatus, EventKind, Fetch, InboundEvent, Interactive, ParseError,
};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::Channel;

pub const SECRET_HEADER: &str = "x-switchboard-signal-secret";

const CHANNEL: &str = "signal";

pub fn verify(headers: &http::HeaderMap, shared_secret: &str) -> Result<(), VerifyError> {
    if shared_secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let sent = header(headers, SECRET_HEADER)?;
    if equal(sent.as_bytes(), shared_secret.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Either a JSON-RPC notification wrapping the frame in `params`, or the bare frame.
#[derive(Deserialize)]
struct Body {
    method: Option<String>,
    params: Option<Frame>,
    envelope: Option<Envelope>,
    account: Option<String>,
}

#[derive(Deserialize)]
struct Frame {
    envelope: Option<Envelope>,
    account: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    source: Option<String>,
    source_number: Option<String>,
    source_uuid: Option<String>,
    source_name: Option<String>,
    #[serde(default)]
    timestamp: i64,
    data_message: Option<DataMessage>,
    edit_message: Option<EditMessage>,
    receipt_message: Option<ReceiptMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataMessage {
    #[serde(default)]
    timestamp: i64,
    message: Option<String>,
    #[serde(default)]
    attachments: Vec<SignalAttachment>,
    group_info: Option<GroupInfo>,
    reaction: Option<Reaction>,
    quote: Option<Quote>,
    sticker: Option<Sticker>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignalAttachment {
    id: Option<String>,
    content_type: Option<String>,
    filename: Option<String>,
    size: Option<u64>,
    caption: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupInfo {
    group_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reaction {
    #[serde(default)]
    emoji: String,
    #[serde(default)]
    target_sent_timestamp: i64,
    #[serde(default)]
    is_remove: bool,
}

#[derive(Deserialize)]
struct Quote {
    id: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sticker {
    pack_id: Option<String>,
    sticker_id: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EditMessage {
    target_sent_timestamp: i64,
    data_message: DataMessage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptMessage {
    when: Option<i64>,
    #[serde(default)]
    is_delivery: bool,
    #[serde(default)]
    is_read: bool,
    #[serde(default)]
    is_viewed: bool,
    #[serde(default)]
    timestamps: Vec<i64>,
}

fn kind_of(mime: Option<&str>) -> AttachmentKind {
    match mime.and_then(|m| m.split('/').next()) {
        Some("image") => AttachmentKind::Image,
        Some("audio") => AttachmentKind::Audio,
        Some("video") => AttachmentKind::Video,
        _ => AttachmentKind::File,
    }
}

/// Parses one webhook body or WebSocket frame.
pub fn parse(body: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let b: Body = serde_json::from_slice(body).map_err(|e| ParseError::new(CHANNEL, e))?;
    let (envelope, account) = match (b.method.as_deref(), b.params) {
        (Some("receive"), Some(p)) => (p.envelope, p.account),
        // Other notifications (and JSON-RPC responses) carry no messages.
        (Some(_), _) => return Ok(Vec::new()),
        (None, _) => (b.envelope, b.account),
    };
    let envelope = envelope.ok_or_else(|| ParseError::new(CHANNEL, "no envelope"))?;
    let account = account
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ParseError::new(CHANNEL, "no account"))?;
    let Some(sender) = envelope
        .source_uuid
        .clone()
        .or_else(|| envelope.source_number.clone())
        .or_else(|| envelope.source.clone())
        .filter(|s| !s.is_empty())
    else {
        // Nothing to attribute it to (sealed sender that could not be opened).
        return Ok(Vec::new());
    };
    let base = |kind: EventKind, event_id: String| {
        let mut e = InboundEvent::new(Channel::Signal, account.as_str(), kind, event_id);
        e.conversation_id = sender.clone();
        e.sender.id = sender.clone();
        e.sender.display_name = envelope.source_name.clone().filter(|n| !n.is_empty());
        e
    };

    let mut out = Vec::new();
    if let Some(d) = &envelope.data_message {
        out.extend(data_event(d, EventKind::Message, &sender, base));
    }
    if let Some(edit) = &envelope.edit_message
        && let Some(mut e) = data_event(&edit.data_message, EventKind::Edit, &sender, base)
    {
        e.message_id = Some(edit.target_sent_timestamp.to_string());
        out.push(e);
    }
    if let Some(r) = &envelope.receipt_message {
        let state = if r.is_viewed {
            DeliveryState::Played
        } else if r.is_read {
            DeliveryState::Read
        } else if r.is_delivery {
            DeliveryState::Delivered
        } else {
            return Ok(out);
        };
        let label = match state {
            DeliveryState::Played => "viewed",
            DeliveryState::Read => "read",
            _ => "delivered",
        };
        for ts in &r.timestamps {
            let mut e = base(EventKind::Status, format!("{sender}:{label}:{ts}"));
            e.timestamp_ms = r.when.unwrap_or(envelope.timestamp);
            e.message_id = Some(ts.to_string());
            e.status = Some(DeliveryStatus {
                message_id: ts.to_string(),
                state,
                error_code: None,
                error_message: None,
            });
            out.push(e);
        }
    }
    Ok(out)
}

fn data_event(
    d: &DataMessage,
    kind: EventKind,
    sender: &str,
    base: impl Fn(EventKind, String) -> InboundEvent,
) -> Option<InboundEvent> {
    let text = d.message.clone().filter(|t| !t.is_empty());
    let reaction = d.reaction.as_ref().filter(|r| !r.is_remove && !r.emoji.is_empty());
    if text.is_none() && d.attachments.is_empty() && d.sticker.is_none() && reaction.is_none() {
        // Group updates, timer changes, profile keys, deletions, reaction removals.
        return None;
    }
    let kind = if reaction.is_some() && kind == EventKind::Message {
        EventKind::Interactive
    } else {
        kind
    };
    let mut e = base(kind, format!("{sender}:{}", d.timestamp));
    if let Some(g) = &d.group_info {
        e.conversation_id = g.group_id.clone();
    }
    e.message_id = Some(d.timestamp.to_string());
    e.timestamp_ms = d.timestamp;
    e.text = text;
    e.reply_to_message_id = d.quote.as_ref().and_then(|q| q.id).map(|id| id.to_string());
    if let Some(r) = reaction {
        e.text = Some(r.emoji.clone());
        e.interactive = Some(Interactive {
            payload: r.emoji.clone(),
            title: None,
            source_message_id: Some(r.target_sent_timestamp.to_string()),
            ack_id: None,
        });
    }
    for a in &d.attachments {
        let fetch = a.id.clone().map_or(Fetch::None, Fetch::FileId);
        let mut att = Attachment::new(kind_of(a.content_type.as_deref()), fetch);
        att.mime = a.content_type.clone();
        att.name = a.filename.clone();
        att.size = a.size;
        att.caption = a.caption.clone();
        e.attachments.push(att);
    }
    if let Some(s) = &d.sticker {
        // Stickers are fetched by pack and id, not through the attachments endpoint.
        let mut att = Attachment::new(AttachmentKind::Sticker, Fetch::None);
        att.name = s.pack_id.as_ref().map(|p| match s.sticker_id {
            Some(id) => format!("{p}:{id}"),
            None => p.clone(),
        });
        e.attachments.push(att);
    }
    Some(e)
}

// Outbound: signal-cli-rest-api `POST /v2/send`.

/// Longer texts travel as an attachment in the Signal apps; keep every message inline.
const TEXT_MAX: usize = 2_000;

/// The reply as `POST v2/send` calls, one per 2,000-character piece, from our number
/// (`to.account_id`) to the conversation: a number or ACI as is, a group id (base64, as
/// inbound events carry it) in the REST API's `group.<base64 of the id>` form. Signal has no
/// buttons, so they become numbered options. `text_mode: styled` reads `**bold**`, `*italic*`
/// and the like as Signal text styles. No auth: the REST API sits on a private network.
pub fn render(reply: &Reply, to: &Target) -> Vec<Call> {
    let recipient = recipient(&to.conversation_id);
    // signal-cli attaches only files it has (base64 in the request), never a URL: a picture
    // stays a link in the text rather than being downloaded here.
    let texts: Vec<String> = match &reply.rich {
        None => vec![outbound::numbered(reply)],
        Some(rich) => crate::rich::text::pieces(rich, reply, false)
            .into_iter()
            .map(|p| p.text)
            .collect(),
    };
    texts
        .iter()
        .flat_map(|t| outbound::split(t, TEXT_MAX))
        .map(|piece| Call {
            method: http::Method::POST,
            path: "v2/send".to_owned(),
            auth: Auth::None,
            body: outbound::Body::Json(json!({
                "number": to.account_id,
                "recipients": [recipient],
                "message": piece,
                "text_mode": "styled",
            })),
        })
        .collect()
}

/// A phone number, a UUID (ACI) or an id already in `group.` form is a recipient as is; any
/// other conversation id is a group id.
fn recipient(conversation_id: &str) -> String {
    if conversation_id.starts_with('+') || conversation_id.starts_with("group.") || is_uuid(conversation_id) {
        conversation_id.to_owned()
    } else {
        format!(
            "group.{}",
            base64::engine::general_purpose::STANDARD.encode(conversation_id.as_bytes())
        )
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[derive(Deserialize)]
struct SendAnswer {
    timestamp: Option<Value>,
    /// A string from the REST API, `{code, message}` from JSON-RPC.
    error: Option<Value>,
    #[serde(default)]
    challenge_tokens: Vec<String>,
    /// JSON-RPC `send` result.
    result: Option<Box<SendAnswer>>,
}

fn timestamp(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Classifies the answer to a send (the REST API's, or a JSON-RPC `send` response): sent with
/// the message's `timestamp`, which is its id (reactions, receipts and quotes name it).
///
/// Signal's rate limit comes back as an error naming a `RateLimitException`, with
/// `challenge_tokens` when Signal wants a captcha solved for the account
/// (`POST /v1/accounts/{number}/rate-limit-challenge`). No wait time is given and waiting alone
/// may not lift it, so it is transient (retried with backoff, reason kept for the operator)
/// rather than a retry after a known delay. Other 4xx errors (unregistered user, untrusted
/// identity, bad group...) are permanent, 429 waits for `Retry-After`, 5xx is retried.
pub fn outcome(status: u16, body: &[u8], retry_after_header: Option<u64>) -> Outcome {
    let answer = serde_json::from_slice::<SendAnswer>(body).ok();
    let error = answer.as_ref().and_then(|a| a.error.as_ref()).map(|e| match e {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
        other => other.to_string(),
    });
    let rate_limited = answer.as_ref().is_some_and(|a| !a.challenge_tokens.is_empty())
        || error.as_deref().is_some_and(|e| e.contains("RateLimit"));
    if status != 429 && rate_limited {
        let error = error.unwrap_or_default();
        return Outcome::Transient(format!("rate limited by Signal: {error}"));
    }
    match outbound::by_status(status, retry_after_header) {
        None => match (answer, error) {
            (_, Some(error)) => Outcome::Permanent(error),
            (Some(a), None) => {
                let ts = a
                    .timestamp
                    .as_ref()
                    .or(a.result.as_ref().and_then(|r| r.timestamp.as_ref()));
                Outcome::Sent(ts.and_then(timestamp))
            }
            (None, None) => Outcome::Sent(None),
        },
        Some(Outcome::Permanent(reason)) => match error {
            Some(error) => Outcome::Permanent(format!("{reason}: {error}")),
            None => Outcome::Permanent(reason),
        },
        Some(other) => other,
    }
}
