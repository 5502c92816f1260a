//! Records of the people who manage Switchboard, their sessions, API keys and the audit log.

use serde::{Deserialize, Serialize};
use switchboard_core::TenantId;

/// What a person may do. A closed set, ordered by power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of their tenant, changes nothing.
    Viewer,
    /// Conversations and handoffs of their tenant.
    Agent,
    /// Everything of their tenant.
    Admin,
    /// Every tenant.
    SuperAdmin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Agent, Role::Admin, Role::SuperAdmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    /// `None` for a super admin.
    pub tenant: Option<TenantId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// argon2id PHC string; never leaves the server.
    #[serde(skip_serializing)]
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    pub id: String,
    pub tenant: Option<TenantId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

/// What presenting a refresh token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshUse {
    /// Unused and current: it is now used; issue the next one in `family`.
    Valid { user_id: String, family: String },
    /// Used before: someone replays it. The whole family is now revoked.
    Reused { user_id: String, family: String },
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant: TenantId,
    pub name: String,
    /// The key's visible start, shown in lists.
    pub prefix: String,
    #[serde(skip_serializing)]
    pub hash: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub tenant: Option<TenantId>,
    /// `user:<id>`, `key:<id>` or `cli`.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
    pub at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewAudit {
    pub tenant: Option<TenantId>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
}

/// Which conversations a listing returns, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConversationFilter {
    pub status: Option<switchboard_core::ConversationStatus>,
    pub channel: Option<switchboard_core::Channel>,
    /// Only this end user's (their id on the channel).
    pub user: Option<String>,
    /// Only conversations handed to a person.
    pub handed_over: bool,
    /// Created at or after / before (epoch ms).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Continue after this (created_at, id), from the previous page's last row.
    pub before: Option<(i64, String)>,
}

/// One UTC day on one channel of a tenant's traffic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayStats {
    pub day: String,
    pub channel: switchboard_core::Channel,
    pub inbound: u64,
    pub outbound: u64,
    /// Conversations with at least one inbound message that day.
    pub conversations: u64,
    /// Inbound messages the fallback answered.
    pub fallbacks: u64,
    /// Inbound messages that handed the conversation to a person.
    pub handoffs: u64,
    /// From an inbound message to its first reply, in milliseconds.
    pub avg_response_ms: Option<f64>,
    pub max_response_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentCount {
    pub intent: String,
    pub count: u64,
}

/// An end user as the tenant knows them: one channel identity and their conversations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub channel: switchboard_core::Channel,
    pub user: String,
    pub conversations: u64,
    /// The language of their latest conversation.
    pub language: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotVersion {
    pub id: i64,
    pub tenant: TenantId,
    pub source: String,
    /// `user:<id>`, `key:<id>` or `cli`.
    pub created_by: String,
    pub created_at: i64,
    /// When it was last made the running bot.
    pub activated_at: Option<i64>,
}
