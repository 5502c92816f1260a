//! People, sessions, API keys and the audit log.

use super::rows::{corrupt, json, query_all, query_opt, tenant};
use crate::{ApiKeyRecord, AuditEntry, NewApiKey, NewAudit, NewUser, RefreshUse, Result, Role, StoreError, UserRecord};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_core::TenantId;

const USER_COLS: &str = "id, tenant_id, email, name, role, password_hash, disabled, created_at, updated_at";

fn user_row(r: &Row<'_>) -> Result<UserRecord> {
    let role: String = r.get(4)?;
    Ok(UserRecord {
        id: r.get(0)?,
        tenant: r.get::<_, Option<String>>(1)?.map(tenant).transpose()?,
        email: r.get(2)?,
        name: r.get(3)?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        password_hash: r.get(5)?,
        disabled: r.get::<_, i64>(6)? != 0,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

pub(super) fn create_user(conn: &Connection, u: NewUser, now: i64) -> Result<UserRecord> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (id, tenant_id, email, name, role, password_hash, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute(params![
            u.id,
            u.tenant.as_ref().map(TenantId::as_str),
            u.email.trim().to_lowercase(),
            u.name,
            u.role.as_str(),
            u.password_hash,
            now
        ]);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict(format!(
                "a person with the email {} exists in this tenant, or the tenant does not exist",
                u.email
            )));
        }
        r => r?,
    };
    Ok(UserRecord {
        id: u.id,
        tenant: u.tenant,
        email: u.email.trim().to_lowercase(),
        name: u.name,
        role: u.role,
        password_hash: u.password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    })
}

pub(super) fn user_by_id(conn: &Connection, id: &str) -> Result<Option<UserRecord>> {
    query_opt(
        conn,
        &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
        params![id],
        user_row,
    )
}

/// Every account with this email: at most one per tenant and one super admin.
pub(super) fn users_by_email(conn: &Connection, email: &str) -> Result<Vec<UserRecord>> {
    query_all(
        conn,
        &format!("SELECT {USER_COLS} FROM users WHERE email = ?1 ORDER BY tenant_id IS NOT NULL, tenant_id LIMIT 100"),
        params![email],
        user_row,
    )
}

/// The person of a live session: their session `family` still has a token that is not revoked
/// (logout, a reused refresh token and a new password revoke them all).
pub(super) fn session_user(conn: &Connection, id: &str, family: &str) -> Result<Option<UserRecord>> {
    query_opt(
        conn,
        &format!(
            "SELECT {USER_COLS} FROM users WHERE id = ?1 AND EXISTS \
             (SELECT 1 FROM refresh_tokens WHERE family = ?2 AND revoked_at IS NULL AND user_id = ?1)"
        ),
        params![id, family],
        user_row,
    )
}

pub(super) fn users(conn: &Connection, t: Option<&TenantId>) -> Result<Vec<UserRecord>> {
    match t {
        Some(t) => query_all(
            conn,
            &format!("SELECT {USER_COLS} FROM users WHERE tenant_id = ?1 ORDER BY created_at, id"),
            params![t.as_str()],
            user_row,
        ),
        None => query_all(
            conn,
            &format!("SELECT {USER_COLS} FROM users ORDER BY created_at, id"),
            [],
            user_row,
        ),
    }
}

/// Until when the login name is locked, if it ever was and has not been cleared.
pub(super) fn login_lock(conn: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT locked_until FROM login_failures WHERE name = ?1")?
        .query_row(params![name], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten())
}

pub(super) fn login_failed(conn: &Connection, name: &str, max: u32, lock_ms: i64, now: i64) -> Result<()> {
    // Failures count "in a row" while they come within `lock_ms` of each other; older idle
    // names are forgotten, which also bounds the table.
    conn.prepare_cached(
        "DELETE FROM login_failures WHERE updated_at < ?1 AND (locked_until IS NULL OR locked_until < ?2)",
    )?
    .execute(params![now - lock_ms, now])?;
    conn.prepare_cached(
        "INSERT INTO login_failures (name, failures, locked_until, updated_at) \
         VALUES (?1, CASE WHEN ?2 <= 1 THEN 0 ELSE 1 END, CASE WHEN ?2 <= 1 THEN ?3 END, ?4) \
         ON CONFLICT (name) DO UPDATE SET \
           locked_until = CASE WHEN failures + 1 >= ?2 THEN ?3 ELSE locked_until END, \
           failures = CASE WHEN failures + 1 >= ?2 THEN 0 ELSE failures + 1 END, \
           updated_at = ?4",
    )?
    .execute(params![name, max.max(1), now + lock_ms, now])?;
    Ok(())
}

pub(super) fn login_succeeded(conn: &Connection, name: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM login_failures WHERE name = ?1")?
        .execute(params![name])?;
    Ok(())
}

pub(super) fn set_password(conn: &Connection, id: &str, hash: &str, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, hash, now])?;
    // A new password ends every session.
    conn.prepare_cached("UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL")?
        .execute(params![id, now])?;
    Ok(n == 1)
}

pub(super) fn delete_user(conn: &Connection, t: Option<&TenantId>, id: &str) -> Result<bool> {
    let exists: Option<i64> = match t {
        Some(t) => conn
            .prepare_cached("SELECT 1 FROM users WHERE id = ?1 AND tenant_id = ?2")?
            .query_row(params![id, t.as_str()], |r| r.get(0))
            .optional()?,
        None => conn
            .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
            .query_row(params![id], |r| r.get(0))
            .optional()?,
    };
    if exists.is_none() {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM refresh_tokens WHERE user_id = ?1")?
        .execute(params![id])?;
    conn.prepare_cached("DELETE FROM users WHERE id = ?1")?
        .execute(params![id])?;
    Ok(true)
}

pub(super) fn add_refresh(
    conn: &Connection,
    hash: &str,
    user: &str,
    family: &str,
    expires: i64,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (hash, user_id, family, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![hash, user, family, expires, now])?;
    Ok(())
}

pub(super) fn use_refresh(conn: &Connection, hash: &str, now: i64) -> Result<RefreshUse> {
    type Row = (String, String, i64, Option<i64>, Option<i64>);
    let row: Option<Row> = conn
        .prepare_cached("SELECT user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE hash = ?1")?
        .query_row(params![hash], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((user_id, family, expires_at, used_at, revoked_at)) = row else {
        return Ok(RefreshUse::Invalid);
    };
    if revoked_at.is_some() || expires_at <= now {
        return Ok(RefreshUse::Invalid);
    }
    if used_at.is_some() {
        revoke_family(conn, &family, now)?;
        return Ok(RefreshUse::Reused { user_id, family });
    }
    conn.prepare_cached("UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1")?
        .execute(params![hash, now])?;
    Ok(RefreshUse::Valid { user_id, family })
}

pub(super) fn revoke_family(conn: &Connection, family: &str, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL")?
        .execute(params![family, now])?;
    Ok(n > 0)
}

const KEY_COLS: &str = "id, tenant_id, name, prefix, hash, scopes, created_at, last_used_at, revoked_at";

fn key_row(r: &Row<'_>) -> Result<ApiKeyRecord> {
    let scopes: String = r.get(5)?;
    Ok(ApiKeyRecord {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        hash: r.get(4)?,
        scopes: serde_json::from_str(&scopes)?,
        created_at: r.get(6)?,
        last_used_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

pub(super) fn create_key(conn: &Connection, t: &TenantId, k: NewApiKey, now: i64) -> Result<ApiKeyRecord> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, scopes, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            k.id,
            t.as_str(),
            k.name,
            k.prefix,
            k.hash,
            json(&k.scopes)?,
            now
        ]);
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(StoreError::NotFound(format!("tenant {t}"))),
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

pub(super) fn key_by_prefix(conn: &Connection, prefix: &str) -> Result<Option<ApiKeyRecord>> {
    query_opt(
        conn,
        &format!("SELECT {KEY_COLS} FROM api_keys WHERE prefix = ?1"),
        params![prefix],
        key_row,
    )
}

pub(super) fn touch_key(conn: &Connection, id: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60000)",
    )?
    .execute(params![id, now])?;
    Ok(())
}

pub(super) fn keys(conn: &Connection, t: &TenantId) -> Result<Vec<ApiKeyRecord>> {
    query_all(
        conn,
        &format!("SELECT {KEY_COLS} FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at, id"),
        params![t.as_str()],
        key_row,
    )
}

pub(super) fn revoke_key(conn: &Connection, t: &TenantId, id: &str, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND tenant_id = ?2 AND revoked_at IS NULL")?
        .execute(params![id, t.as_str(), now])?;
    Ok(n == 1)
}

pub(super) fn add_audit(conn: &Connection, e: NewAudit, now: i64) -> Result<()> {
    let opt = |v: &Option<serde_json::Value>| v.as_ref().map(json).transpose();
    conn.prepare_cached(
        "INSERT INTO audit_log (tenant_id, actor, action, target, old_value, new_value, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        e.tenant.as_ref().map(TenantId::as_str),
        e.actor,
        e.action,
        e.target,
        opt(&e.old_value)?,
        opt(&e.new_value)?,
        now
    ])?;
    Ok(())
}

fn audit_row(r: &Row<'_>) -> Result<AuditEntry> {
    let value = |s: Option<String>| s.map(|s| serde_json::from_str(&s)).transpose();
    Ok(AuditEntry {
        id: r.get(0)?,
        tenant: r.get::<_, Option<String>>(1)?.map(tenant).transpose()?,
        actor: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        old_value: value(r.get(5)?)?,
        new_value: value(r.get(6)?)?,
        at: r.get(7)?,
    })
}

pub(super) fn audit_log(conn: &Connection, t: Option<&TenantId>, limit: u32) -> Result<Vec<AuditEntry>> {
    const COLS: &str = "id, tenant_id, actor, action, target, old_value, new_value, at";
    match t {
        Some(t) => query_all(
            conn,
            &format!("SELECT {COLS} FROM audit_log WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2"),
            params![t.as_str(), limit],
            audit_row,
        ),
        None => query_all(
            conn,
            &format!("SELECT {COLS} FROM audit_log ORDER BY id DESC LIMIT ?1"),
            params![limit],
            audit_row,
        ),
    }
}
