//! `TenantStore` for SQLite: plain SQL, one function per operation.

use super::SqliteStore;
use super::rows::*;
use crate::{
    ConnectorRecord, ExportTable, Reseal, Result, StoreError, TenantRecord, TenantSecretInfo, TenantSettings,
    TenantStore,
};
use async_trait::async_trait;
use rusqlite::params;
use switchboard_core::TenantId;

use super::contacts;

use super::secrets;
use super::tenants;

#[async_trait]
impl TenantStore for SqliteStore {
    async fn upsert_tenant(&self, t: &TenantRecord) -> Result<()> {
        let t = t.clone();
        self.write(move |ctx| {
            ctx.conn
                .prepare_cached(
                    "INSERT INTO tenants (id, name, bot_source, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, bot_source = excluded.bot_source, \
                     updated_at = excluded.updated_at",
                )?
                .execute(params![t.id.as_str(), t.name, t.bot_source, ctx.now])?;
            Ok(())
        })
        .await
    }

    async fn tenant(&self, tenant: &TenantId) -> Result<Option<TenantRecord>> {
        let t = tenant.clone();
        self.read(move |c| {
            query_opt(
                c,
                &format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1"),
                [t.as_str()],
                tenant_row,
            )
        })
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>> {
        self.read(|c| {
            query_all(
                c,
                &format!("SELECT {TENANT_COLS} FROM tenants ORDER BY id"),
                [],
                tenant_row,
            )
        })
        .await
    }

    async fn upsert_connector(&self, c: &ConnectorRecord) -> Result<()> {
        let c = c.clone();
        self.write(move |ctx| {
            ctx.conn
                .prepare_cached(
                    "INSERT INTO connectors (tenant_id, id, channel, account_id, secrets, settings, enabled, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (tenant_id, id) DO UPDATE SET \
                     channel = excluded.channel, account_id = excluded.account_id, secrets = excluded.secrets, \
                     settings = excluded.settings, enabled = excluded.enabled, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    c.tenant.as_str(),
                    c.id,
                    c.channel.as_str(),
                    c.account_id,
                    c.secrets,
                    json(&c.settings)?,
                    c.enabled,
                    ctx.now
                ])
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::NotFound(format!("tenant {}", c.tenant))
                    }
                    other => other.into(),
                })?;
            Ok(())
        })
        .await
    }

    async fn connector(&self, tenant: &TenantId, id: &str) -> Result<Option<ConnectorRecord>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.read(move |c| {
            query_opt(
                c,
                &format!("SELECT {CONNECTOR_COLS} FROM connectors WHERE tenant_id = ?1 AND id = ?2"),
                [t.as_str(), id.as_str()],
                connector_row,
            )
        })
        .await
    }

    async fn connectors(&self, tenant: &TenantId) -> Result<Vec<ConnectorRecord>> {
        let t = tenant.clone();
        self.read(move |c| {
            query_all(
                c,
                &format!("SELECT {CONNECTOR_COLS} FROM connectors WHERE tenant_id = ?1 ORDER BY id"),
                [t.as_str()],
                connector_row,
            )
        })
        .await
    }

    async fn delete_connector(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.write(move |ctx| {
            let n = ctx
                .conn
                .prepare_cached("DELETE FROM connectors WHERE tenant_id = ?1 AND id = ?2")?
                .execute(params![t.as_str(), id])?;
            Ok(n > 0)
        })
        .await
    }

    async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        let t = tenant.clone();
        self.read(move |c| tenants::settings(c, &t)).await
    }

    async fn set_tenant_settings(&self, tenant: &TenantId, settings: TenantSettings) -> Result<()> {
        let t = tenant.clone();
        self.write(move |ctx| tenants::set_settings(ctx, &t, &settings)).await
    }

    async fn monthly_messages(&self, tenant: &TenantId, at: i64) -> Result<u64> {
        let t = tenant.clone();
        self.read(move |c| tenants::monthly_messages(c, &t, at)).await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| tenants::delete(ctx, &t)).await
    }

    async fn tenant_row_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>> {
        let t = tenant.clone();
        self.read(move |c| tenants::row_counts(c, &t)).await
    }

    async fn export_page(
        &self,
        tenant: &TenantId,
        table: ExportTable,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>> {
        let t = tenant.clone();
        self.read(move |c| tenants::export_page(c, &t, table, after, limit))
            .await
    }

    async fn reseal_secrets(&self, reseal: Reseal) -> Result<u64> {
        self.write(move |ctx| tenants::reseal(ctx, &reseal)).await
    }

    async fn set_tenant_secret(&self, tenant: &TenantId, name: &str, sealed: Option<Vec<u8>>) -> Result<bool> {
        let (t, name) = (tenant.clone(), name.to_owned());
        self.write(move |ctx| secrets::set(ctx, &t, &name, sealed.as_deref()))
            .await
    }

    async fn tenant_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Vec<u8>>> {
        let (t, name) = (tenant.clone(), name.to_owned());
        self.read(move |c| secrets::get(c, &t, &name)).await
    }

    async fn tenant_secrets(&self, tenant: &TenantId) -> Result<Vec<TenantSecretInfo>> {
        let t = tenant.clone();
        self.read(move |c| secrets::list(c, &t)).await
    }

    async fn add_bot_version(&self, tenant: &TenantId, source: &str, created_by: &str) -> Result<crate::BotVersion> {
        let (t, src, by) = (tenant.clone(), source.to_owned(), created_by.to_owned());
        self.write(move |ctx| contacts::add_version(ctx.conn, &t, &src, &by, ctx.now))
            .await
    }

    async fn bot_versions(&self, tenant: &TenantId, limit: u32) -> Result<Vec<crate::BotVersion>> {
        let t = tenant.clone();
        self.read(move |c| contacts::versions(c, &t, limit)).await
    }

    async fn bot_version(&self, tenant: &TenantId, id: i64) -> Result<Option<crate::BotVersion>> {
        let t = tenant.clone();
        self.read(move |c| contacts::version(c, &t, id)).await
    }

    async fn mark_bot_version_active(&self, tenant: &TenantId, id: i64) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| contacts::mark_activated(ctx.conn, &t, id, ctx.now))
            .await
    }
}
