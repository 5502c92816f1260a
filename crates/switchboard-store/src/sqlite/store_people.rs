//! `PeopleStore` for SQLite: plain SQL, one function per operation.

use super::SqliteStore;
use crate::{ConsentRecord, PeopleStore, Result};
use async_trait::async_trait;
use switchboard_core::{Channel, Conversation, ConversationId, Handoff, TenantId};

use super::auth;
use super::people;

#[async_trait]
impl PeopleStore for SqliteStore {
    async fn latest_consent(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<ConsentRecord>> {
        let (t, u) = (tenant.clone(), user.to_owned());
        self.read(move |c| people::latest_consent(c, &t, channel, &u)).await
    }

    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        user: Option<(Channel, &str)>,
        limit: u32,
    ) -> Result<Vec<ConsentRecord>> {
        let (t, u) = (tenant.clone(), user.map(|(ch, u)| (ch, u.to_owned())));
        self.read(move |c| people::ledger(c, &t, u.as_ref().map(|(ch, u)| (*ch, u.as_str())), limit))
            .await
    }

    async fn conversations(
        &self,
        tenant: &TenantId,
        filter: crate::ConversationFilter,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        let t = tenant.clone();
        self.read(move |c| people::conversations(c, &t, &filter, limit)).await
    }

    async fn handoffs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Conversation>> {
        let t = tenant.clone();
        self.read(move |c| people::handoffs(c, &t, limit)).await
    }

    async fn take_handoff(&self, tenant: &TenantId, conversation: &ConversationId, agent: &str) -> Result<Handoff> {
        let (t, conv, agent) = (tenant.clone(), conversation.clone(), agent.to_owned());
        self.write(move |ctx| people::take_handoff(ctx.conn, &t, &conv, &agent, ctx.now))
            .await
    }

    async fn release_handoff(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<bool> {
        let (t, conv) = (tenant.clone(), conversation.clone());
        self.write(move |ctx| people::release_handoff(ctx.conn, &t, &conv, ctx.now))
            .await
    }

    async fn create_user(&self, user: crate::NewUser) -> Result<crate::UserRecord> {
        self.write(move |ctx| auth::create_user(ctx.conn, user, ctx.now)).await
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<crate::UserRecord>> {
        let e = email.trim().to_lowercase();
        self.read(move |c| auth::users_by_email(c, &e)).await
    }

    async fn user(&self, id: &str) -> Result<Option<crate::UserRecord>> {
        let id = id.to_owned();
        self.read(move |c| auth::user_by_id(c, &id)).await
    }

    async fn session_user(&self, user_id: &str, family: &str) -> Result<Option<crate::UserRecord>> {
        let (id, f) = (user_id.to_owned(), family.to_owned());
        self.read(move |c| auth::session_user(c, &id, &f)).await
    }

    async fn users(&self, tenant: Option<&TenantId>) -> Result<Vec<crate::UserRecord>> {
        let t = tenant.cloned();
        self.read(move |c| auth::users(c, t.as_ref())).await
    }

    async fn login_lock(&self, name: &str) -> Result<Option<i64>> {
        let n = name.to_owned();
        self.read(move |c| auth::login_lock(c, &n)).await
    }

    async fn login_failed(&self, name: &str, max_failures: u32, lock_ms: i64) -> Result<()> {
        let n = name.to_owned();
        self.write(move |ctx| auth::login_failed(ctx.conn, &n, max_failures, lock_ms, ctx.now))
            .await
    }

    async fn login_succeeded(&self, name: &str) -> Result<()> {
        let n = name.to_owned();
        self.write(move |ctx| auth::login_succeeded(ctx.conn, &n)).await
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<bool> {
        let (id, h) = (user_id.to_owned(), password_hash.to_owned());
        self.write(move |ctx| auth::set_password(ctx.conn, &id, &h, ctx.now))
            .await
    }

    async fn delete_user(&self, tenant: Option<&TenantId>, user_id: &str) -> Result<bool> {
        let (t, id) = (tenant.cloned(), user_id.to_owned());
        self.write(move |ctx| auth::delete_user(ctx.conn, t.as_ref(), &id))
            .await
    }

    async fn add_refresh_token(&self, hash: &str, user_id: &str, family: &str, expires_at: i64) -> Result<()> {
        let (h, u, f) = (hash.to_owned(), user_id.to_owned(), family.to_owned());
        self.write(move |ctx| auth::add_refresh(ctx.conn, &h, &u, &f, expires_at, ctx.now))
            .await
    }

    async fn use_refresh_token(&self, hash: &str) -> Result<crate::RefreshUse> {
        let h = hash.to_owned();
        self.write(move |ctx| auth::use_refresh(ctx.conn, &h, ctx.now)).await
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<bool> {
        let f = family.to_owned();
        self.write(move |ctx| auth::revoke_family(ctx.conn, &f, ctx.now)).await
    }

    async fn create_api_key(&self, tenant: &TenantId, key: crate::NewApiKey) -> Result<crate::ApiKeyRecord> {
        let t = tenant.clone();
        self.write(move |ctx| auth::create_key(ctx.conn, &t, key, ctx.now))
            .await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<crate::ApiKeyRecord>> {
        let p = prefix.to_owned();
        self.read(move |c| auth::key_by_prefix(c, &p)).await
    }

    async fn touch_api_key(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write(move |ctx| auth::touch_key(ctx.conn, &id, ctx.now)).await
    }

    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<crate::ApiKeyRecord>> {
        let t = tenant.clone();
        self.read(move |c| auth::keys(c, &t)).await
    }

    async fn revoke_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.write(move |ctx| auth::revoke_key(ctx.conn, &t, &id, ctx.now))
            .await
    }

    async fn add_audit(&self, entry: crate::NewAudit) -> Result<()> {
        self.write(move |ctx| auth::add_audit(ctx.conn, entry, ctx.now)).await
    }

    async fn audit_log(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<crate::AuditEntry>> {
        let t = tenant.cloned();
        self.read(move |c| auth::audit_log(c, t.as_ref(), limit)).await
    }
}
