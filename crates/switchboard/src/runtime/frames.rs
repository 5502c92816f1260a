//! The frames the server sends to a web chat client (protocol `switchboard.webchat.v1`): what the
//! live hub carries to open sockets. Defined here, below the ingress that writes them to the
//! socket and the engine that produces them, so that both depend downward.

use serde::Serialize;
use switchboard_core::clock::rfc3339;
use switchboard_core::{Button, Card, Content, ConversationId, ListItem, Message, MessageId};

/// Frames the server sends on the WebSocket (protocol `switchboard.webchat.v1`).
#[derive(Serialize, Debug, Clone)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame after connecting: the user's open conversation, if any, and its last seq.
    Ready {
        protocol: &'static str,
        conversation_id: Option<ConversationId>,
        last_seq: i64,
    },
    /// The user's message is stored; `seq` is its place in the conversation.
    Ack {
        client_msg_id: Option<String>,
        id: MessageId,
        conversation_id: ConversationId,
        seq: i64,
        duplicate: bool,
    },
    Message {
        id: MessageId,
        conversation_id: ConversationId,
        seq: i64,
        direction: &'static str,
        sent_at: String,
        text: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        quick_replies: Vec<Button>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
        /// A picture (`text` is its caption).
        #[serde(skip_serializing_if = "Option::is_none")]
        image: Option<Box<ImageView>>,
        /// Cards, shown as a carousel when there are several (`text` has their titles, for
        /// clients that show text only).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cards: Vec<Card>,
        /// A list of choices behind a button (`text` introduces it).
        #[serde(skip_serializing_if = "Option::is_none")]
        list: Option<Box<ListView>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<MessageId>,
    },
    Typing {
        on: bool,
    },
    /// A piece of a reply still being written (a language model's tokens), in order. The
    /// `message` frame that follows has the whole reply, which is what is stored.
    Stream {
        in_reply_to: MessageId,
        delta: String,
    },
    /// What became of a user's message: `read` (the bot handled it) or `failed`.
    Receipt {
        id: MessageId,
        status: &'static str,
    },
    Error {
        code: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
}

impl ServerFrame {
    pub fn message(m: &Message) -> ServerFrame {
        let mut image = None;
        let mut cards = Vec::new();
        let mut list = None;
        let (text, quick_replies, payload) = match &m.content {
            Content::Text { text, buttons } => (text.clone(), buttons.clone(), None),
            Content::Postback { payload, title } => (
                title.clone().unwrap_or_else(|| payload.clone()),
                Vec::new(),
                Some(payload.clone()),
            ),
            Content::Image { url, caption } => {
                image = Some(Box::new(ImageView { url: url.clone() }));
                (caption.clone().unwrap_or_default(), Vec::new(), None)
            }
            Content::Cards { cards: c } => {
                cards = c.clone();
                let titles: Vec<&str> = c.iter().map(|c| c.title.as_str()).collect();
                (titles.join("\n"), Vec::new(), None)
            }
            Content::List { text, button, items } => {
                list = Some(Box::new(ListView {
                    button: button.clone(),
                    items: items.clone(),
                }));
                (text.clone(), Vec::new(), None)
            }
        };
        ServerFrame::Message {
            id: m.id.clone(),
            conversation_id: m.conversation.clone(),
            seq: m.seq,
            direction: m.direction.as_str(),
            sent_at: rfc3339(m.created_at),
            text,
            quick_replies,
            payload,
            image,
            cards,
            list,
            in_reply_to: m.in_reply_to.clone(),
        }
    }

    pub(crate) fn seq(&self) -> Option<(&ConversationId, i64)> {
        match self {
            ServerFrame::Message {
                conversation_id, seq, ..
            } => Some((conversation_id, *seq)),
            _ => None,
        }
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct ImageView {
    pub url: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct ListView {
    /// The label of the control that opens the list.
    pub button: String,
    pub items: Vec<ListItem>,
}
