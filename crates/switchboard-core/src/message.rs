//! The common message model every channel is normalised into, and the conversation it belongs to.

use crate::context::ConversationContext;
use crate::ids::{ConversationId, MessageId, TenantId};
use crate::rich::{Card, ListItem};
use serde::{Deserialize, Serialize};

/// Closed set of channels. Each maps to one module on the channel side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webchat,
    Api,
    Telegram,
    Whatsapp,
    Messenger,
    Slack,
    Discord,
    Teams,
    Twilio,
    Signal,
}

impl Channel {
    pub const ALL: [Channel; 10] = [
        Channel::Webchat,
        Channel::Api,
        Channel::Telegram,
        Channel::Whatsapp,
        Channel::Messenger,
        Channel::Slack,
        Channel::Discord,
        Channel::Teams,
        Channel::Twilio,
        Channel::Signal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webchat => "webchat",
            Channel::Api => "api",
            Channel::Telegram => "telegram",
            Channel::Whatsapp => "whatsapp",
            Channel::Messenger => "messenger",
            Channel::Slack => "slack",
            Channel::Discord => "discord",
            Channel::Teams => "teams",
            Channel::Twilio => "twilio",
            Channel::Signal => "signal",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[serde(rename = "in")]
    Inbound,
    #[serde(rename = "out")]
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "in",
            Direction::Outbound => "out",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "in" => Some(Direction::Inbound),
            "out" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// Where a message is in its life. Inbound: queued -> processed | failed.
/// Outbound: sent -> delivered -> read, or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Processed,
    Failed,
    Sent,
    Delivered,
    Read,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Processed => "processed",
            MessageStatus::Failed => "failed",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<MessageStatus> {
        [
            MessageStatus::Queued,
            MessageStatus::Processed,
            MessageStatus::Failed,
            MessageStatus::Sent,
            MessageStatus::Delivered,
            MessageStatus::Read,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// A button offered with a reply. Channels render it as quick replies, inline keyboards,
/// Block Kit buttons... or numbered options where they cannot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub title: String,
    pub payload: String,
}

/// What a message carries, independent of the channel. The `type` tag is the message type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Button>,
    },
    /// A button press: the payload of a [`Button`] the user chose.
    Postback {
        payload: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// A picture the platform fetches from `url` (https).
    Image {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// One card, or several shown as a carousel where the channel can.
    Cards { cards: Vec<Card> },
    /// Choices behind a button labelled `button`; choosing one sends its payload.
    List {
        text: String,
        button: String,
        items: Vec<ListItem>,
    },
}

impl Content {
    pub fn text(text: impl Into<String>) -> Content {
        Content::Text {
            text: text.into(),
            buttons: Vec::new(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::Postback { .. } => "postback",
            Content::Image { .. } => "image",
            Content::Cards { .. } => "cards",
            Content::List { .. } => "list",
        }
    }

    /// The text the understanding stage reads: typed text, or the title/payload of a pressed button.
    /// For rich replies, what the conversation history and voice keep of them: an image's
    /// caption (its URL without one), the first card's title, a list's text.
    pub fn understood_text(&self) -> &str {
        match self {
            Content::Text { text, .. } => text,
            Content::Postback { title: Some(t), .. } if !t.is_empty() => t,
            Content::Postback { payload, .. } => payload,
            Content::Image { caption: Some(c), .. } if !c.is_empty() => c,
            Content::Image { url, .. } => url,
            Content::Cards { cards } => cards.first().map_or("", |c| c.title.as_str()),
            Content::List { text, .. } => text,
        }
    }
}

/// Where an entity came from: a built-in recogniser or one of the bot's `[[entity]]` definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntitySource {
    Builtin,
    Regex,
    Lookup,
}

/// A piece of information found in a message: a date, an amount, a size from the bot's list...
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// A built-in name (`number`, `datetime`, `email`...) or the name of a bot's entity.
    pub entity: String,
    /// Byte offsets into the text; `text[start..end] == raw`.
    pub start: usize,
    pub end: usize,
    pub raw: String,
    /// The normalised value: a number, an E.164 number, an RFC 3339 time with its grain...
    pub value: serde_json::Value,
    pub source: EntitySource,
}

/// What the pipeline understood and decided for an inbound message, kept for debugging and analytics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Processed {
    pub language: String,
    pub language_confidence: f32,
    pub intent: Option<String>,
    pub confidence: f32,
    pub handler: String,
    pub route_reason: String,
    /// Rows stored before entities existed have neither field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Entity>,
    /// Required entities of the chosen intent that neither this message nor the turns before gave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_entities: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub tenant: TenantId,
    pub conversation: ConversationId,
    /// Position in the conversation, shared by both directions, starting at 1.
    pub seq: i64,
    pub channel: Channel,
    /// The end user's id on the channel.
    pub user: String,
    pub direction: Direction,
    pub content: Content,
    pub metadata: serde_json::Value,
    pub processed: Option<Processed>,
    pub status: MessageStatus,
    /// Channel-side id (client_msg_id, wamid, Slack event id...) used to drop duplicate deliveries.
    pub external_id: Option<String>,
    pub in_reply_to: Option<MessageId>,
    /// The position of a reply among the replies to one inbound message. With `in_reply_to`
    /// it is unique, which makes a second reply to the same turn impossible to store.
    pub reply_index: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<ConversationStatus> {
        match s {
            "open" => Some(ConversationStatus::Open),
            "closed" => Some(ConversationStatus::Closed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub tenant: TenantId,
    pub channel: Channel,
    pub user: String,
    pub status: ConversationStatus,
    pub last_seq: i64,
    pub context: ConversationContext,
    /// Set while a person owns (or is asked to take) the conversation. Kept beside the context,
    /// not in it: agents change it between turns, and a turn rewrites its context whole.
    pub handoff: Option<Handoff>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    /// Waiting for an agent to take it.
    Pending,
    /// An agent took it.
    Assigned,
}

/// A conversation handed to a person: while it exists the bot never answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub status: HandoffStatus,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// When the bot handed it over (epoch ms).
    pub since: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_wire_shape() {
        let c = Content::text("hi");
        assert_eq!(
            serde_json::to_value(&c).ok(),
            Some(serde_json::json!({"type": "text", "text": "hi"}))
        );
        let p: Content =
            serde_json::from_str(r#"{"type":"postback","payload":"YES","title":"Yes"}"#).expect("postback parses");
        assert_eq!(p.understood_text(), "Yes");
    }

    #[test]
    fn rich_content_round_trips_tagged_by_type() {
        let cases = [
            serde_json::json!({"type": "image", "url": "https://x.test/a.png", "caption": "A"}),
            serde_json::json!({"type": "image", "url": "https://x.test/a.png"}),
            serde_json::json!({"type": "cards", "cards": [
                {"title": "Tea", "subtitle": "Hot", "image_url": "https://x.test/t.png",
                 "buttons": [{"title": "Buy", "payload": "BUY_TEA"}]},
                {"title": "Cake"}
            ]}),
            serde_json::json!({"type": "list", "text": "Pick one", "button": "Menu", "items": [
                {"title": "Hours", "description": "When we are open", "payload": "hours"},
                {"title": "Address", "payload": "address"}
            ]}),
        ];
        let mut kinds = Vec::new();
        for json in cases {
            let c: Content = serde_json::from_value(json.clone()).expect("rich content parses");
            assert_eq!(serde_json::to_value(&c).ok(), Some(json));
            kinds.push((c.kind(), c.understood_text().to_owned()));
        }
        assert_eq!(
            kinds,
            [
                ("image", "A".to_owned()),
                ("image", "https://x.test/a.png".to_owned()),
                ("cards", "Tea".to_owned()),
                ("list", "Pick one".to_owned()),
            ]
        );
    }

    #[test]
    fn enums_round_trip_through_strings() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(MessageStatus::parse("read"), Some(MessageStatus::Read));
        assert_eq!(Direction::parse("out"), Some(Direction::Outbound));
    }

    #[test]
    fn processed_rows_from_before_entities_still_load() {
        let p: Processed = serde_json::from_str(
            r#"{"language":"en","language_confidence":0.9,"intent":null,"confidence":0.1,"handler":"fallback","route_reason":"x"}"#,
        )
        .expect("old row parses");
        assert!(p.entities.is_empty() && p.missing_entities.is_empty());
    }
}
