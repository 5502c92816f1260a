//! The messaging platforms, one module each. Every module verifies an inbound request over its
//! raw bytes (fail closed, constant-time comparisons) and parses it into [`InboundEvent`]s, the
//! one shape the rest of Switchboard knows. No I/O happens here: callers pass the request's
//! headers and body and get events or a reason for refusing them.

pub mod discord;
mod event;
pub mod messenger;
pub mod meta;
pub mod outbound;
mod rich;
pub mod signal;
pub mod slack;
pub mod teams;
pub mod teams_auth;
pub mod telegram;
pub mod twilio;
mod verify;
pub mod whatsapp;

pub use event::{
    Attachment, AttachmentKind, DeliveryState, DeliveryStatus, EventKind, Fetch, InboundEvent, Interactive, Location,
    Membership, Sender,
};
pub use rich::discord::LIST_ID as DISCORD_LIST_ID;
pub use verify::VerifyError;

/// A payload that verified but cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot parse the {channel} payload: {reason}")]
pub struct ParseError {
    pub channel: &'static str,
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(channel: &'static str, reason: impl std::fmt::Display) -> ParseError {
        ParseError {
            channel,
            reason: reason.to_string(),
        }
    }
}
