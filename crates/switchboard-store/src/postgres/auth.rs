//! People, their logins and sessions.
//!
//! A write of one statement runs on the pool, a transaction of its own; a write of several
//! opens one.

use super::PgStore;
use super::rows::{corrupt, tenant};
use crate::{NewUser, RefreshUse, Result, Role, StoreError, UserRecord};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};
use switchboard_core::TenantId;

const USER_COLS: &str = "id, tenant_id, email, name, role, password_hash, disabled, created_at, updated_at";

fn user_row(r: &PgRow) -> Result<UserRecord> {
    let role: String = r.try_get(4)?;
    Ok(UserRecord {
        id: r.try_get(0)?,
        tenant: r.try_get::<Option<String>, _>(1)?.map(tenant).transpose()?,
        email: r.try_get(2)?,
        name: r.try_get(3)?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        password_hash: r.try_get(5)?,
        disabled: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

/// A unique (23505) or foreign key (23503) violation: what SQLite reports as one constraint
/// violation, so both map to the error SQLite's code returns.
pub(super) fn violates_constraint(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("23505") | Some("23503")))
}

pub(super) async fn create_user(s: &PgStore, u: NewUser) -> Result<UserRecord> {
    let now = s.now();
    let email = u.email.trim().to_lowercase();
    let inserted = sqlx::query(
        "INSERT INTO users (id, tenant_id, email, name, role, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&u.id)
    .bind(u.tenant.as_ref().map(TenantId::as_str))
    .bind(&email)
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(&u.password_hash)
    .bind(now)
    .execute(s.pool())
    .await;
    match inserted {
        Err(e) if violates_constraint(&e) => {
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
        email,
        name: u.name,
        role: u.role,
        password_hash: u.password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    })
}

pub(super) async fn user_by_id(s: &PgStore, id: &str) -> Result<Option<UserRecord>> {
    sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLS} FROM users WHERE id = $1")))
        .bind(id)
        .fetch_optional(s.pool())
        .await?
        .as_ref()
        .map(user_row)
        .transpose()
}

/// Every account with this email: at most one per tenant and one super admin, who comes first.
pub(super) async fn users_by_email(s: &PgStore, email: &str) -> Result<Vec<UserRecord>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLS} FROM users WHERE email = $1 \
         ORDER BY tenant_id IS NOT NULL, tenant_id COLLATE \"C\" LIMIT 100"
    )))
    .bind(email)
    .fetch_all(s.pool())
    .await?
    .iter()
    .map(user_row)
    .collect()
}

/// The person of a live session: their session `family` still has a token that is not revoked
/// (logout, a reused refresh token and a new password revoke them all).
pub(super) async fn session_user(s: &PgStore, id: &str, family: &str) -> Result<Option<UserRecord>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLS} FROM users WHERE id = $1 AND EXISTS \
         (SELECT 1 FROM refresh_tokens WHERE family = $2 AND revoked_at IS NULL AND user_id = $1)"
    )))
    .bind(id)
    .bind(family)
    .fetch_optional(s.pool())
    .await?
    .as_ref()
    .map(user_row)
    .transpose()
}

pub(super) async fn users(s: &PgStore, t: Option<&TenantId>) -> Result<Vec<UserRecord>> {
    let rows = match t {
        Some(t) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {USER_COLS} FROM users WHERE tenant_id = $1 ORDER BY created_at, id COLLATE \"C\""
            )))
            .bind(t.as_str())
            .fetch_all(s.pool())
            .await?
        }
        None => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {USER_COLS} FROM users ORDER BY created_at, id COLLATE \"C\""
            )))
            .fetch_all(s.pool())
            .await?
        }
    };
    rows.iter().map(user_row).collect()
}

/// Until when the login name is locked, if it ever was and has not been cleared.
pub(super) async fn login_lock(s: &PgStore, name: &str) -> Result<Option<i64>> {
    let until: Option<Option<i64>> = sqlx::query_scalar("SELECT locked_until FROM login_failures WHERE name = $1")
        .bind(name)
        .fetch_optional(s.pool())
        .await?;
    Ok(until.flatten())
}

pub(super) async fn login_failed(s: &PgStore, name: &str, max: u32, lock_ms: i64) -> Result<()> {
    let now = s.now();
    let mut tx = s.begin().await?;
    // Failures count "in a row" while they come within `lock_ms` of each other; older idle
    // names are forgotten, which also bounds the table.
    sqlx::query("DELETE FROM login_failures WHERE updated_at < $1 AND (locked_until IS NULL OR locked_until < $2)")
        .bind(now - lock_ms)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // The upsert counts a failure atomically when instances see failures of one name at once.
    sqlx::query(
        "INSERT INTO login_failures (name, failures, locked_until, updated_at) \
         VALUES ($1, CASE WHEN $2 <= 1 THEN 0 ELSE 1 END, CASE WHEN $2 <= 1 THEN $3 END, $4) \
         ON CONFLICT (name) DO UPDATE SET \
           locked_until = CASE WHEN login_failures.failures + 1 >= $2 THEN $3 ELSE login_failures.locked_until END, \
           failures = CASE WHEN login_failures.failures + 1 >= $2 THEN 0 ELSE login_failures.failures + 1 END, \
           updated_at = $4",
    )
    .bind(name)
    .bind(i64::from(max.max(1)))
    .bind(now + lock_ms)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn login_succeeded(s: &PgStore, name: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE name = $1")
        .bind(name)
        .execute(s.pool())
        .await?;
    Ok(())
}

pub(super) async fn set_password(s: &PgStore, id: &str, hash: &str) -> Result<bool> {
    let now = s.now();
    let mut tx = s.begin().await?;
    let n = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // A new password ends every session.
    sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

pub(super) async fn delete_user(s: &PgStore, t: Option<&TenantId>, id: &str) -> Result<bool> {
    let mut tx = s.begin().await?;
    // Locking the person keeps a session from being added between deleting their tokens and
    // deleting them (that insert waits, then fails on the missing person).
    let exists: Option<i32> = match t {
        Some(t) => {
            sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
                .bind(id)
                .bind(t.as_str())
                .fetch_optional(&mut *tx)
                .await?
        }
        None => {
            sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
        }
    };
    if exists.is_none() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn add_refresh(s: &PgStore, hash: &str, user: &str, family: &str, expires: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (hash, user_id, family, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(user)
    .bind(family)
    .bind(expires)
    .bind(s.now())
    .execute(s.pool())
    .await?;
    Ok(())
}

pub(super) async fn use_refresh(s: &PgStore, hash: &str) -> Result<RefreshUse> {
    let now = s.now();
    let mut tx = s.begin().await?;
    // The use is one conditional UPDATE: of two instances presenting the token at once, the
    // second waits on the row, finds it used and treats its use as a replay.
    let won: Option<(String, String)> = sqlx::query_as(
        "UPDATE refresh_tokens SET used_at = $2 \
         WHERE hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
         RETURNING user_id, family",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((user_id, family)) = won {
        tx.commit().await?;
        return Ok(RefreshUse::Valid { user_id, family });
    }
    type TokenRow = (String, String, i64, Option<i64>, Option<i64>);
    let row: Option<TokenRow> =
        sqlx::query_as("SELECT user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((user_id, family, expires_at, used_at, revoked_at)) = row else {
        return Ok(RefreshUse::Invalid);
    };
    // Unused here means the token was added after the UPDATE looked: it was not there to use.
    if revoked_at.is_some() || expires_at <= now || used_at.is_none() {
        return Ok(RefreshUse::Invalid);
    }
    revoke_family_in(&mut tx, &family, now).await?;
    tx.commit().await?;
    Ok(RefreshUse::Reused { user_id, family })
}

async fn revoke_family_in(tx: &mut Transaction<'static, Postgres>, family: &str, now: i64) -> Result<bool> {
    let n = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL")
        .bind(family)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n > 0)
}

pub(super) async fn revoke_family(s: &PgStore, family: &str) -> Result<bool> {
    let mut tx = s.begin().await?;
    let revoked = revoke_family_in(&mut tx, family, s.now()).await?;
    tx.commit().await?;
    Ok(revoked)
}
