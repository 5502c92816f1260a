//! Secrets a tenant sets for itself, stored only sealed (the caller seals and opens them).

use super::WriteCtx;
use super::rows::query_opt;
use crate::{Result, StoreError, TenantSecretInfo};
use rusqlite::{Connection, OptionalExtension, params};
use switchboard_core::TenantId;

pub(super) fn set(ctx: &mut WriteCtx<'_>, tenant: &TenantId, name: &str, sealed: Option<&[u8]>) -> Result<bool> {
    let Some(sealed) = sealed else {
        let n = ctx
            .conn
            .prepare_cached("DELETE FROM tenant_secrets WHERE tenant_id = ?1 AND name = ?2")?
            .execute(params![tenant.as_str(), name])?;
        return Ok(n > 0);
    };
    let exists: Option<i64> = ctx
        .conn
        .prepare_cached("SELECT 1 FROM tenants WHERE id = ?1")?
        .query_row(params![tenant.as_str()], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("tenant {tenant}")));
    }
    ctx.conn
        .prepare_cached(
            "INSERT INTO tenant_secrets (tenant_id, name, sealed, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
        )?
        .execute(params![tenant.as_str(), name, sealed, ctx.now])?;
    Ok(true)
}

pub(super) fn get(conn: &Connection, tenant: &TenantId, name: &str) -> Result<Option<Vec<u8>>> {
    query_opt(
        conn,
        "SELECT sealed FROM tenant_secrets WHERE tenant_id = ?1 AND name = ?2",
        params![tenant.as_str(), name],
        |r| Ok(r.get(0)?),
    )
}

pub(super) fn list(conn: &Connection, tenant: &TenantId) -> Result<Vec<TenantSecretInfo>> {
    let mut stmt = conn
        .prepare_cached("SELECT name, created_at, updated_at FROM tenant_secrets WHERE tenant_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map(params![tenant.as_str()], |r| {
        Ok(TenantSecretInfo {
            name: r.get(0)?,
            created_at: r.get(1)?,
            updated_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
