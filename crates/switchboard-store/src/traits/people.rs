//! People and their access (accounts, sessions, API keys, the audit log), and the people side of conversations: consent, listing, handoffs.

use crate::*;
use async_trait::async_trait;
use switchboard_core::{Channel, Conversation, ConversationId, Handoff, TenantId};

/// People and their access (accounts, sessions, API keys, the audit log), and the people side of conversations: consent, listing, handoffs.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// A channel user's latest consent decision: their state.
    async fn latest_consent(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<ConsentRecord>>;
    /// The consent ledger, newest first: one channel user's entries, or the tenant's.
    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        user: Option<(Channel, &str)>,
        limit: u32,
    ) -> Result<Vec<ConsentRecord>>;
    /// A tenant's conversations, newest first, filtered; `limit` at most.
    async fn conversations(
        &self,
        tenant: &TenantId,
        filter: ConversationFilter,
        limit: u32,
    ) -> Result<Vec<Conversation>>;
    /// Conversations handed to a person, the longest waiting first.
    async fn handoffs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Conversation>>;
    /// An agent takes a handed-over conversation (from the queue or from another agent).
    /// `Conflict` when it is not handed over, `NotFound` when there is no such conversation.
    async fn take_handoff(&self, tenant: &TenantId, conversation: &ConversationId, agent: &str) -> Result<Handoff>;
    /// The bot answers the conversation again. Returns whether it was handed over.
    async fn release_handoff(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<bool>;
    /// Adds a person. `Conflict` when their tenant (or, for a super admin, the super admins)
    /// already has someone with the email; other tenants' people do not count.
    async fn create_user(&self, user: NewUser) -> Result<UserRecord>;
    /// System-wide (logging in need not name a tenant): every account with this email, the
    /// super admin's first, then one per tenant.
    async fn users_by_email(&self, email: &str) -> Result<Vec<UserRecord>>;
    /// System-wide: the person an access token names.
    async fn user(&self, id: &str) -> Result<Option<UserRecord>>;
    /// The person an access token names, only while its session (refresh family) is live.
    async fn session_user(&self, user_id: &str, family: &str) -> Result<Option<UserRecord>>;
    /// The people of a tenant; every person when `None` (super admins only).
    async fn users(&self, tenant: Option<&TenantId>) -> Result<Vec<UserRecord>>;
    /// Until when the login name (an opaque key the caller derives from what a login names,
    /// account or not) is locked, if it has been.
    async fn login_lock(&self, name: &str) -> Result<Option<i64>>;
    /// A failed login under `name`: after `max_failures` in a row (each within `lock_ms` of the
    /// last) the name is locked until `now + lock_ms`.
    async fn login_failed(&self, name: &str, max_failures: u32, lock_ms: i64) -> Result<()>;
    /// A successful login clears the name's failures.
    async fn login_succeeded(&self, name: &str) -> Result<()>;
    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<bool>;
    /// Removes a person of `tenant` (or any, for `None`) and their sessions.
    async fn delete_user(&self, tenant: Option<&TenantId>, user_id: &str) -> Result<bool>;
    async fn add_refresh_token(&self, hash: &str, user_id: &str, family: &str, expires_at: i64) -> Result<()>;
    /// Uses a refresh token once, in one transaction (two racing uses: one wins, the other is a reuse).
    async fn use_refresh_token(&self, hash: &str) -> Result<RefreshUse>;
    /// Revokes a session family (logout); returns whether it had live tokens.
    async fn revoke_refresh_family(&self, family: &str) -> Result<bool>;
    async fn create_api_key(&self, tenant: &TenantId, key: NewApiKey) -> Result<ApiKeyRecord>;
    /// System-wide (a request names its key, not its tenant): the key with this prefix.
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>>;
    /// Records a use; written at most once a minute per key.
    async fn touch_api_key(&self, id: &str) -> Result<()>;
    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>>;
    async fn revoke_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool>;
    async fn add_audit(&self, entry: NewAudit) -> Result<()>;
    /// Newest first: a tenant's entries, or all for `None`.
    async fn audit_log(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<AuditEntry>>;
}
