//! Tenants and what belongs to a tenant as a whole: connectors, settings, quota counters, secrets, bot versions, export, deletion, re-sealing.

use crate::*;
use async_trait::async_trait;
use switchboard_core::TenantId;

/// Tenants and what belongs to a tenant as a whole: connectors, settings, quota counters, secrets, bot versions, export, deletion, re-sealing.
#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn upsert_tenant(&self, tenant: &TenantRecord) -> Result<()>;
    async fn tenant(&self, tenant: &TenantId) -> Result<Option<TenantRecord>>;
    /// System-wide: every tenant.
    async fn list_tenants(&self) -> Result<Vec<TenantRecord>>;
    async fn upsert_connector(&self, connector: &ConnectorRecord) -> Result<()>;
    async fn connector(&self, tenant: &TenantId, id: &str) -> Result<Option<ConnectorRecord>>;
    async fn connectors(&self, tenant: &TenantId) -> Result<Vec<ConnectorRecord>>;
    /// Returns whether there was such a connector.
    async fn delete_connector(&self, tenant: &TenantId, id: &str) -> Result<bool>;
    /// The tenant's settings; the defaults when none were ever set.
    async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings>;
    /// Replaces the tenant's settings. `NotFound` when there is no such tenant.
    async fn set_tenant_settings(&self, tenant: &TenantId, settings: TenantSettings) -> Result<()>;
    /// Inbound messages accepted for the tenant in the UTC calendar month of `at` (epoch ms).
    async fn monthly_messages(&self, tenant: &TenantId, at: i64) -> Result<u64>;
    /// Deletes every row of the tenant (the tenant, its settings, conversations, messages, people,
    /// keys, audit entries...) in one transaction. Returns whether the tenant existed.
    async fn delete_tenant(&self, tenant: &TenantId) -> Result<bool>;
    /// How many rows of each table belong to the tenant (only tables that have some).
    async fn tenant_row_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>>;
    /// One page of a tenant's rows of `table` as JSON objects (column name to value), with
    /// the position to pass as `after` for the next page; rows after `after`, `limit` at most.
    async fn export_page(
        &self,
        tenant: &TenantId,
        table: ExportTable,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>>;
    /// System-wide: re-encrypts every sealed secret of every table (connector secrets, event
    /// endpoint secrets...) with `reseal` (old ciphertext in, new out) in one transaction; any
    /// failure changes nothing. Returns how many were re-encrypted.
    async fn reseal_secrets(&self, reseal: Reseal) -> Result<u64>;
    /// Stores (`Some`, replacing any earlier value) or removes (`None`) a tenant's sealed secret
    /// `name`. Returns whether a secret is now stored (set) or was removed (delete).
    /// `NotFound` when setting one for a tenant that does not exist.
    async fn set_tenant_secret(&self, tenant: &TenantId, name: &str, sealed: Option<Vec<u8>>) -> Result<bool>;
    /// The sealed value of the tenant's secret `name`.
    async fn tenant_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Vec<u8>>>;
    /// The names of the tenant's secrets, never their values.
    async fn tenant_secrets(&self, tenant: &TenantId) -> Result<Vec<TenantSecretInfo>>;
    /// Keeps an uploaded bot definition (not yet running).
    async fn add_bot_version(&self, tenant: &TenantId, source: &str, created_by: &str) -> Result<BotVersion>;
    /// Newest first.
    async fn bot_versions(&self, tenant: &TenantId, limit: u32) -> Result<Vec<BotVersion>>;
    async fn bot_version(&self, tenant: &TenantId, id: i64) -> Result<Option<BotVersion>>;
    /// Records that the version became the running bot.
    async fn mark_bot_version_active(&self, tenant: &TenantId, id: i64) -> Result<bool>;
}
