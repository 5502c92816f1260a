//! `PeopleStore` for PostgreSQL.

use super::PgStore;
use super::{auth, keys, people};
use crate::*;
use async_trait::async_trait;
use switchboard_core::{Channel, Conversation, ConversationId, Handoff, TenantId};

#[async_trait]
impl PeopleStore for PgStore {
    async fn latest_consent(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<ConsentRecord>> {
        people::latest_consent(self, tenant, channel, user).await
    }

    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        user: Option<(Channel, &str)>,
        limit: u32,
    ) -> Result<Vec<ConsentRecord>> {
        people::ledger(self, tenant, user, limit).await
    }

    async fn conversations(
        &self,
        tenant: &TenantId,
        filter: ConversationFilter,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        people::conversations(self, tenant, &filter, limit).await
    }

    async fn handoffs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Conversation>> {
        people::handoffs(self, tenant, limit).await
    }

    async fn take_handoff(&self, tenant: &TenantId, conversation: &ConversationId, agent: &str) -> Result<Handoff> {
        people::take_handoff(self, tenant, conversation, agent).await
    }

    async fn release_handoff(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<bool> {
        people::release_handoff(self, tenant, conversation).await
    }

    async fn create_user(&self, user: NewUser) -> Result<UserRecord> {
        auth::create_user(self, user).await
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<UserRecord>> {
        auth::users_by_email(self, &email.trim().to_lowercase()).await
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>> {
        auth::user_by_id(self, id).await
    }

    async fn session_user(&self, user_id: &str, family: &str) -> Result<Option<UserRecord>> {
        auth::session_user(self, user_id, family).await
    }

    async fn users(&self, tenant: Option<&TenantId>) -> Result<Vec<UserRecord>> {
        auth::users(self, tenant).await
    }

    async fn login_lock(&self, name: &str) -> Result<Option<i64>> {
        auth::login_lock(self, name).await
    }

    async fn login_failed(&self, name: &str, max_failures: u32, lock_ms: i64) -> Result<()> {
        auth::login_failed(self, name, max_failures, lock_ms).await
    }

    async fn login_succeeded(&self, name: &str) -> Result<()> {
        auth::login_succeeded(self, name).await
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<bool> {
        auth::set_password(self, user_id, password_hash).await
    }

    async fn delete_user(&self, tenant: Option<&TenantId>, user_id: &str) -> Result<bool> {
        auth::delete_user(self, tenant, user_id).await
    }

    async fn add_refresh_token(&self, hash: &str, user_id: &str, family: &str, expires_at: i64) -> Result<()> {
        auth::add_refresh(self, hash, user_id, family, expires_at).await
    }

    async fn use_refresh_token(&self, hash: &str) -> Result<RefreshUse> {
        auth::use_refresh(self, hash).await
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<bool> {
        auth::revoke_family(self, family).await
    }

    async fn create_api_key(&self, tenant: &TenantId, key: NewApiKey) -> Result<ApiKeyRecord> {
        keys::create_key(self, tenant, key).await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        keys::key_by_prefix(self, prefix).await
    }

    async fn touch_api_key(&self, id: &str) -> Result<()> {
        keys::touch_key(self, id).await
    }

    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        keys::keys(self, tenant).await
    }

    async fn revoke_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        keys::revoke_key(self, tenant, id).await
    }

    async fn add_audit(&self, entry: NewAudit) -> Result<()> {
        keys::add_audit(self, entry).await
    }

    async fn audit_log(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<AuditEntry>> {
        keys::audit_log(self, tenant, limit).await
    }
}
