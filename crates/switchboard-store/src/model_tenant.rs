//! A tenant's settings, and the tables a tenant export walks through.

use serde::{Deserialize, Serialize};

/// What a tenant's administrators configure. Every field has a default, so a tenant without a
/// stored row behaves exactly as before settings existed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// IANA time zone name; `None`: the bot's own.
    pub time_zone: Option<String>,
    pub languages: Vec<String>,
    /// Overrides the bot's `[consent] required` when set.
    pub consent_required: Option<bool>,
    /// Inbound messages per UTC calendar month; `None`: unlimited.
    pub monthly_message_quota: Option<u64>,
    /// Web chat page origins allowed to call the public chat API from a browser.
    pub allowed_origins: Vec<String>,
    /// Set while the tenant is suspended (epoch ms).
    pub suspended_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// A secret a tenant set, without its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantSecretInfo {
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Every table a tenant's data lives in, in export order. Secrets and password or key hashes
/// are never exported (see [`ExportTable::hidden`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportTable {
    Tenant,
    Settings,
    MessageCounts,
    Connectors,
    Conversations,
    Messages,
    ConsentLedger,
    Users,
    ApiKeys,
    Reminders,
    Tasks,
    AssessmentResults,
    Feedback,
    FormSubmissions,
    LlmUsage,
    Jobs,
    DeadLetters,
    Audit,
}

impl ExportTable {
    pub const ALL: [ExportTable; 18] = [
        ExportTable::Tenant,
        ExportTable::Settings,
        ExportTable::MessageCounts,
        ExportTable::Connectors,
        ExportTable::Conversations,
        ExportTable::Messages,
        ExportTable::ConsentLedger,
        ExportTable::Users,
        ExportTable::ApiKeys,
        ExportTable::Reminders,
        ExportTable::Tasks,
        ExportTable::AssessmentResults,
        ExportTable::Feedback,
        ExportTable::FormSubmissions,
        ExportTable::LlmUsage,
        ExportTable::Jobs,
        ExportTable::DeadLetters,
        ExportTable::Audit,
    ];

    /// The record type an export line names.
    pub fn label(self) -> &'static str {
        match self {
            ExportTable::Tenant => "tenant",
            ExportTable::Settings => "settings",
            ExportTable::MessageCounts => "message_count",
            ExportTable::Connectors => "connector",
            ExportTable::Conversations => "conversation",
            ExportTable::Messages => "message",
            ExportTable::ConsentLedger => "consent",
            ExportTable::Users => "user",
            ExportTable::ApiKeys => "api_key",
            ExportTable::Reminders => "reminder",
            ExportTable::Tasks => "task",
            ExportTable::AssessmentResults => "assessment_result",
            ExportTable::Feedback => "feedback",
            ExportTable::FormSubmissions => "form_submission",
            ExportTable::LlmUsage => "llm_usage",
            ExportTable::Jobs => "job",
            ExportTable::DeadLetters => "dead_letter",
            ExportTable::Audit => "audit",
        }
    }

    /// Columns left out: credentials, even sealed or hashed, do not leave the server.
    pub fn hidden(self) -> &'static [&'static str] {
        match self {
            ExportTable::Connectors => &["secrets"],
            ExportTable::Users => &["password_hash"],
            ExportTable::ApiKeys => &["hash"],
            _ => &[],
        }
    }
}
