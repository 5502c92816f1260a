//! The common inbound event every platform payload is normalised into.

use serde::{Deserialize, Serialize};
use switchboard_core::Channel;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A person wrote something (text, media, location, contact...).
    Message,
    /// A person pressed a button, chose from a list, submitted a card.
    Interactive,
    /// A message the person sent earlier was changed.
    Edit,
    /// What became of a message we sent.
    Status,
    /// The person blocked/unblocked the bot, or the bot was added to/removed from a chat.
    Membership,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub id: String,
    pub display_name: Option<String>,
    pub is_bot: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Image,
    Audio,
    Voice,
    Video,
    File,
    Sticker,
    Location,
    Contact,
}

/// How to download an attachment: the platforms hand out URLs or ids to resolve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum Fetch {
    Url(String),
    FileId(String),
    MediaId(String),
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    pub mime: Option<String>,
    pub size: Option<u64>,
    pub name: Option<String>,
    pub caption: Option<String>,
    pub fetch: Fetch,
    pub location: Option<Location>,
}

impl Attachment {
    pub fn new(kind: AttachmentKind, fetch: Fetch) -> Attachment {
        Attachment {
            kind,
            mime: None,
            size: None,
            name: None,
            caption: None,
            fetch,
            location: None,
        }
    }
}

/// A button press, list choice, quick reply, postback, select or card submission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interactive {
    /// What the bot put in the button (callback data, payload, custom id, value...).
    pub payload: String,
    /// What the person saw on the button, when the platform says.
    pub title: Option<String>,
    /// The bot message that carried the button.
    pub source_message_id: Option<String>,
    /// Platform id to acknowledge the press with (Telegram `callback_query.id`, Discord token...).
    pub ack_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Sent,
    Delivered,
    Read,
    Failed,
    Played,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    /// Our outbound message's id on the platform.
    pub message_id: String,
    pub state: DeliveryState,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    /// The person blocked the bot (or removed it from the chat).
    Blocked,
    /// The person unblocked / re-added the bot.
    Unblocked,
    /// The bot was added to a chat, team or conversation.
    BotAdded,
    /// The bot was removed from a chat, team or conversation.
    BotRemoved,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub channel: Channel,
    /// Our bot's identity on the platform (bot id, phone number id, page id, team id, AccountSid...).
    pub account_id: String,
    pub kind: EventKind,
    /// The platform's key for this delivery: a retry of the same event carries the same key.
    pub event_id: String,
    /// The chat, channel or DM the event belongs to.
    pub conversation_id: String,
    /// Thread inside the conversation (Slack `thread_ts`, Telegram forum topic, Teams reply chain).
    pub thread_id: Option<String>,
    pub sender: Sender,
    /// The platform's id of the message (needed to reply to it, edit it, react to it).
    pub message_id: Option<String>,
    /// Platform event time in milliseconds since the epoch, or 0 when the platform gives none.
    pub timestamp_ms: i64,
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    pub interactive: Option<Interactive>,
    pub reply_to_message_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    pub membership: Option<Membership>,
}

impl InboundEvent {
    /// An event with only the identifying fields set; parsers fill in the rest.
    pub fn new(channel: Channel, account_id: impl Into<String>, kind: EventKind, event_id: impl Into<String>) -> Self {
        InboundEvent {
            channel,
            account_id: account_id.into(),
            kind,
            event_id: event_id.into(),
            conversation_id: String::new(),
            thread_id: None,
            sender: Sender::default(),
            message_id: None,
            timestamp_ms: 0,
            text: None,
            attachments: Vec::new(),
            interactive: None,
            reply_to_message_id: None,
            status: None,
            membership: None,
        }
    }
}
