//! Records of outbound event webhooks: the endpoints tenants subscribe, and the deliveries of
//! events to them (the sending queue and the delivery log).

use crate::SendOutcome;
use serde::{Deserialize, Serialize};
use switchboard_core::TenantId;

/// A tenant's URL that receives the events it subscribed to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventEndpoint {
    pub id: String,
    pub tenant: TenantId,
    pub url: String,
    /// The signing secret, sealed with the master key. Never shown.
    #[serde(skip)]
    pub secret_sealed: Vec<u8>,
    /// Event type names (`message.received`...).
    pub events: Vec<String>,
    /// False once the endpoint answered 410 Gone.
    pub enabled: bool,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewEventEndpoint {
    pub id: String,
    pub url: String,
    pub secret_sealed: Vec<u8>,
    pub events: Vec<String>,
}

/// One event to fan out to the endpoints subscribed to its type.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub event_type: String,
    /// The envelope sent as the request body.
    pub payload: serde_json::Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "sent" => Some(DeliveryStatus::Sent),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventDelivery {
    pub id: i64,
    pub tenant: TenantId,
    pub endpoint: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub status: DeliveryStatus,
    /// Sending attempts made so far.
    pub attempts: u32,
    /// When a pending delivery may be sent next.
    pub next_attempt_at: Option<i64>,
    /// When the current claim was taken (a sender is on it).
    pub claimed_at: Option<i64>,
    /// The HTTP status of the last answer, if the endpoint answered at all.
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// What one attempt to send a delivery came to.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryAttempt {
    pub outcome: SendOutcome,
    pub status_code: Option<u16>,
    /// The endpoint is gone (410): it is disabled and its other pending deliveries fail, in the
    /// same transaction.
    pub disable_endpoint: bool,
}
