//! API keys and the audit log.
//!
//! A write of one statement runs on the pool, a transaction of its own.

use super::PgStore;
use super::auth::violates_constraint;
use super::rows::{json, tenant};
use crate::{ApiKeyRecord, AuditEntry, NewApiKey, NewAudit, Result, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::TenantId;

const KEY_COLS: &str = "id, tenant_id, name, prefix, hash, scopes, created_at, last_used_at, revoked_at";

fn key_row(r: &PgRow) -> Result<ApiKeyRecord> {
    let scopes: String = r.try_get(5)?;
    Ok(ApiKeyRecord {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        name: r.try_get(2)?,
        prefix: r.try_get(3)?,
        hash: r.try_get(4)?,
        scopes: serde_json::from_str(&scopes)?,
        created_at: r.try_get(6)?,
        last_used_at: r.try_get(7)?,
        revoked_at: r.try_get(8)?,
    })
}

pub(super) async fn create_key(s: &PgStore, t: &TenantId, k: NewApiKey) -> Result<ApiKeyRecord> {
    let now = s.now();
    let inserted = sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&k.id)
    .bind(t.as_str())
    .bind(&k.name)
    .bind(&k.prefix)
    .bind(&k.hash)
    .bind(json(&k.scopes)?)
    .bind(now)
    .execute(s.pool())
    .await;
    match inserted {
        Err(e) if violates_constraint(&e) => return Err(StoreError::NotFound(format!("tenant {t}"))),
        r => r?,
    };
    Ok(ApiKeyRecord {
        id: k.id,
        tenant: t.clone(),
        name: k.name,
        prefix: k.prefix,
        hash: k.hash,
        scopes: k.scopes,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    })
}

pub(super) async fn key_by_prefix(s: &PgStore, prefix: &str) -> Result<Option<ApiKeyRecord>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE prefix = $1"
    )))
    .bind(prefix)
    .fetch_optional(s.pool())
    .await?
    .as_ref()
    .map(key_row)
    .transpose()
}

pub(super) async fn touch_key(s: &PgStore, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - 60000)",
    )
    .bind(id)
    .bind(s.now())
    .execute(s.pool())
    .await?;
    Ok(())
}

pub(super) async fn keys(s: &PgStore, t: &TenantId) -> Result<Vec<ApiKeyRecord>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id COLLATE \"C\""
    )))
    .bind(t.as_str())
    .fetch_all(s.pool())
    .await?
    .iter()
    .map(key_row)
    .collect()
}

pub(super) async fn revoke_key(s: &PgStore, t: &TenantId, id: &str) -> Result<bool> {
    let n = sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL")
        .bind(id)
        .bind(t.as_str())
        .bind(s.now())
        .execute(s.pool())
        .await?
        .rows_affected();
    Ok(n == 1)
}

pub(super) async fn add_audit(s: &PgStore, e: NewAudit) -> Result<()> {
    let opt = |v: &Option<serde_json::Value>| v.as_ref().map(json).transpose();
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target, old_value, new_value, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.tenant.as_ref().map(TenantId::as_str))
    .bind(&e.actor)
    .bind(&e.action)
    .bind(&e.target)
    .bind(opt(&e.old_value)?)
    .bind(opt(&e.new_value)?)
    .bind(s.now())
    .execute(s.pool())
    .await?;
    Ok(())
}

fn audit_row(r: &PgRow) -> Result<AuditEntry> {
    let value = |s: Option<String>| s.map(|s| serde_json::from_str(&s)).transpose();
    Ok(AuditEntry {
        id: r.try_get(0)?,
        tenant: r.try_get::<Option<String>, _>(1)?.map(tenant).transpose()?,
        actor: r.try_get(2)?,
        action: r.try_get(3)?,
        target: r.try_get(4)?,
        old_value: value(r.try_get(5)?)?,
        new_value: value(r.try_get(6)?)?,
        at: r.try_get(7)?,
    })
}

pub(super) async fn audit_log(s: &PgStore, t: Option<&TenantId>, limit: u32) -> Result<Vec<AuditEntry>> {
    const COLS: &str = "id, tenant_id, actor, action, target, old_value, new_value, at";
    let rows = match t {
        Some(t) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLS} FROM audit_log WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
            )))
            .bind(t.as_str())
            .bind(i64::from(limit))
            .fetch_all(s.pool())
            .await?
        }
        None => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLS} FROM audit_log ORDER BY id DESC LIMIT $1"
            )))
            .bind(i64::from(limit))
            .fetch_all(s.pool())
            .await?
        }
    };
    rows.iter().map(audit_row).collect()
}
