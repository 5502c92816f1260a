//! `TenantStore` for PostgreSQL.
//!
//! Lists sort text with `COLLATE "C"`: byte order, as SQLite sorts, whatever the database's
//! collation.

use super::PgStore;
use super::rows::{CONNECTOR_COLS, TENANT_COLS, connector_row, json, tenant, tenant_row};
use super::tenants::no_tenant;
use super::{export, tenants};
use crate::*;
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::TenantId;

const VERSION_COLS: &str = "id, tenant_id, source, created_by, created_at, activated_at";

fn version_row(r: &PgRow) -> Result<BotVersion> {
    Ok(BotVersion {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        source: r.try_get(2)?,
        created_by: r.try_get(3)?,
        created_at: r.try_get(4)?,
        activated_at: r.try_get(5)?,
    })
}

#[async_trait]
impl TenantStore for PgStore {
    async fn upsert_tenant(&self, t: &TenantRecord) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, bot_source, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, bot_source = excluded.bot_source, \
             updated_at = excluded.updated_at",
        )
        .bind(t.id.as_str())
        .bind(&t.name)
        .bind(&t.bot_source)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tenant(&self, tenant: &TenantId) -> Result<Option<TenantRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TENANT_COLS} FROM tenants WHERE id = $1"
        )))
        .bind(tenant.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(tenant_row).transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TENANT_COLS} FROM tenants ORDER BY id COLLATE \"C\""
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(tenant_row).collect()
    }

    async fn upsert_connector(&self, c: &ConnectorRecord) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO connectors (tenant_id, id, channel, account_id, secrets, settings, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (tenant_id, id) DO UPDATE SET \
             channel = excluded.channel, account_id = excluded.account_id, secrets = excluded.secrets, \
             settings = excluded.settings, enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(c.tenant.as_str())
        .bind(&c.id)
        .bind(c.channel.as_str())
        .bind(&c.account_id)
        .bind(&c.secrets)
        .bind(json(&c.settings)?)
        .bind(c.enabled)
        .bind(self.now())
        .execute(&mut *tx)
        .await
        .map_err(no_tenant(&c.tenant))?;
        tx.commit().await?;
        Ok(())
    }

    async fn connector(&self, tenant: &TenantId, id: &str) -> Result<Option<ConnectorRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CONNECTOR_COLS} FROM connectors WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(connector_row).transpose()
    }

    async fn connectors(&self, tenant: &TenantId) -> Result<Vec<ConnectorRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CONNECTOR_COLS} FROM connectors WHERE tenant_id = $1 ORDER BY id COLLATE \"C\""
        )))
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(connector_row).collect()
    }

    async fn delete_connector(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM connectors WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        self.cached_settings(tenant).await
    }

    async fn set_tenant_settings(&self, tenant: &TenantId, settings: TenantSettings) -> Result<()> {
        let mut tx = self.begin().await?;
        tenants::set_settings(&mut tx, tenant, &settings, self.now()).await?;
        tx.commit().await?;
        self.forget_settings(tenant);
        Ok(())
    }

    async fn monthly_messages(&self, tenant: &TenantId, at: i64) -> Result<u64> {
        self.flush_counts().await?;
        let mut conn = self.pool().acquire().await?;
        tenants::monthly_messages(&mut conn, tenant, at).await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<bool> {
        self.flush_counts().await?;
        let mut tx = self.begin().await?;
        let existed = tenants::delete(&mut tx, tenant).await?;
        tx.commit().await?;
        self.forget_settings(tenant);
        Ok(existed)
    }

    async fn tenant_row_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>> {
        self.flush_counts().await?;
        // One snapshot for all the counts, as SQLite's reader gets.
        let mut tx = self
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let counts = tenants::row_counts(&mut tx, tenant).await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn export_page(
        &self,
        tenant: &TenantId,
        table: ExportTable,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>> {
        self.flush_counts().await?;
        let mut conn = self.pool().acquire().await?;
        export::export_page(&mut conn, tenant, table, after, limit).await
    }

    async fn reseal_secrets(&self, reseal: Reseal) -> Result<u64> {
        let mut tx = self.begin().await?;
        let n = tenants::reseal(&mut tx, reseal).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn set_tenant_secret(&self, tenant: &TenantId, name: &str, sealed: Option<Vec<u8>>) -> Result<bool> {
        let mut tx = self.begin().await?;
        let stored = match sealed {
            None => {
                sqlx::query("DELETE FROM tenant_secrets WHERE tenant_id = $1 AND name = $2")
                    .bind(tenant.as_str())
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0
            }
            Some(sealed) => {
                sqlx::query(
                    "INSERT INTO tenant_secrets (tenant_id, name, sealed, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id, name) DO UPDATE SET \
                     sealed = excluded.sealed, updated_at = excluded.updated_at",
                )
                .bind(tenant.as_str())
                .bind(name)
                .bind(sealed)
                .bind(self.now())
                .execute(&mut *tx)
                .await
                .map_err(no_tenant(tenant))?;
                true
            }
        };
        tx.commit().await?;
        Ok(stored)
    }

    async fn tenant_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT sealed FROM tenant_secrets WHERE tenant_id = $1 AND name = $2")
                .bind(tenant.as_str())
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    async fn tenant_secrets(&self, tenant: &TenantId) -> Result<Vec<TenantSecretInfo>> {
        let rows = sqlx::query(
            "SELECT name, created_at, updated_at FROM tenant_secrets WHERE tenant_id = $1 ORDER BY name COLLATE \"C\"",
        )
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TenantSecretInfo {
                    name: r.try_get(0)?,
                    created_at: r.try_get(1)?,
                    updated_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn add_bot_version(&self, tenant: &TenantId, source: &str, created_by: &str) -> Result<BotVersion> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bot_versions (tenant_id, source, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(tenant.as_str())
        .bind(source)
        .bind(created_by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(no_tenant(tenant))?;
        tx.commit().await?;
        Ok(BotVersion {
            id,
            tenant: tenant.clone(),
            source: source.to_owned(),
            created_by: created_by.to_owned(),
            created_at: now,
            activated_at: None,
        })
    }

    async fn bot_versions(&self, tenant: &TenantId, limit: u32) -> Result<Vec<BotVersion>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM bot_versions WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
        )))
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(version_row).collect()
    }

    async fn bot_version(&self, tenant: &TenantId, id: i64) -> Result<Option<BotVersion>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM bot_versions WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(version_row).transpose()
    }

    async fn mark_bot_version_active(&self, tenant: &TenantId, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE bot_versions SET activated_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .bind(self.now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }
}
