//! Tenant settings, the monthly message counter, and the whole-tenant operations: delete, row
//! counts, and re-encrypting every sealed secret.

use super::rows::json;
use crate::sqlite::SEALED;
use crate::{Reseal, Result, StoreError, TenantSettings};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::TenantId;

/// UTC months (`YYYY-MM`), the same for every instance whatever its time zone, and SQLite's.
pub(super) fn month(at_ms: i64) -> String {
    switchboard_core::clock::rfc3339(at_ms).chars().take(7).collect()
}

/// An insert whose foreign key names no tenant: the tenant does not exist (or was deleted by
/// another instance meanwhile), which callers learn as `NotFound`, as from SQLite.
pub(super) fn no_tenant(tenant: &TenantId) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound(format!("tenant {tenant}")),
        _ => e.into(),
    }
}

/// A double-quoted identifier: table names here come from the catalog, not from callers.
pub(super) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) async fn settings(conn: &mut PgConnection, tenant: &TenantId) -> Result<TenantSettings> {
    let row = sqlx::query(
        "SELECT time_zone, languages, consent_required, monthly_message_quota, allowed_origins, suspended_at, \
         updated_at FROM tenant_settings WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else {
        return Ok(TenantSettings::default());
    };
    let languages: String = r.try_get(1)?;
    let origins: String = r.try_get(4)?;
    let quota: Option<i64> = r.try_get(3)?;
    Ok(TenantSettings {
        time_zone: r.try_get(0)?,
        languages: serde_json::from_str(&languages)?,
        consent_required: r.try_get(2)?,
        monthly_message_quota: quota.map(|q| q.max(0) as u64),
        allowed_origins: serde_json::from_str(&origins)?,
        suspended_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

pub(super) async fn set_settings(
    conn: &mut PgConnection,
    tenant: &TenantId,
    s: &TenantSettings,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenant_settings (tenant_id, time_zone, languages, consent_required, monthly_message_quota, \
         allowed_origins, suspended_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone, languages = excluded.languages, \
         consent_required = excluded.consent_required, monthly_message_quota = excluded.monthly_message_quota, \
         allowed_origins = excluded.allowed_origins, suspended_at = excluded.suspended_at, \
         updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(s.time_zone.as_deref())
    .bind(json(&s.languages)?)
    .bind(s.consent_required)
    .bind(s.monthly_message_quota.map(|q| q.min(i64::MAX as u64) as i64))
    .bind(json(&s.allowed_origins)?)
    .bind(s.suspended_at)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(no_tenant(tenant))?;
    Ok(())
}

pub(super) async fn monthly_messages(conn: &mut PgConnection, tenant: &TenantId, at: i64) -> Result<u64> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT messages FROM tenant_message_counts WHERE tenant_id = $1 AND month = $2")
            .bind(tenant.as_str())
            .bind(month(at))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// Tables that hold rows of a tenant, found in the schema rather than listed, so a table added
/// by a later migration is covered by delete and by the leftover check without a change here.
/// `tenants` (keyed by `id`) is not among them. Byte order, as SQLite sorts names.
async fn tenant_tables(conn: &mut PgConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
         WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) \
         AND c.relkind IN ('r', 'p') AND a.attname = 'tenant_id' AND NOT a.attisdropped \
         ORDER BY c.relname::text COLLATE \"C\"",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Tables other rows point at: emptied last, after the rows that reference them.
const PARENTS: [&str; 2] = ["users", "conversations"];

/// Runs in the caller's transaction.
pub(super) async fn delete(conn: &mut PgConnection, tenant: &TenantId) -> Result<bool> {
    let t = tenant.as_str();
    // Inserts that point at the tenant take a key-share lock on its row through their foreign
    // key: holding the row from the start makes them wait and then fail, rather than add rows
    // behind the deletes below.
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(t)
        .execute(&mut *conn)
        .await?;
    // Sessions name their person, not the tenant.
    sqlx::query("DELETE FROM refresh_tokens WHERE user_id IN (SELECT id FROM users WHERE tenant_id = $1)")
        .bind(t)
        .execute(&mut *conn)
        .await?;
    let tables = tenant_tables(conn).await?;
    let (parents, children): (Vec<_>, Vec<_>) = tables.iter().partition(|n| PARENTS.contains(&n.as_str()));
    for table in children
        .into_iter()
        .chain(PARENTS.iter().filter_map(|p| parents.iter().find(|n| n == &p).copied()))
    {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {} WHERE tenant_id = $1",
            ident(table)
        )))
        .bind(t)
        .execute(&mut *conn)
        .await?;
    }
    let gone = sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(t)
        .execute(&mut *conn)
        .await?;
    Ok(gone.rows_affected() > 0)
}

pub(super) async fn row_counts(conn: &mut PgConnection, tenant: &TenantId) -> Result<Vec<(String, u64)>> {
    let mut queries = vec![
        (
            "tenants".to_owned(),
            "SELECT COUNT(*) FROM tenants WHERE id = $1".to_owned(),
        ),
        (
            "refresh_tokens".to_owned(),
            "SELECT COUNT(*) FROM refresh_tokens WHERE user_id IN (SELECT id FROM users WHERE tenant_id = $1)"
                .to_owned(),
        ),
    ];
    for table in tenant_tables(conn).await? {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE tenant_id = $1", ident(&table));
        queries.push((table, sql));
    }
    let mut out = Vec::new();
    for (table, sql) in queries {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_one(&mut *conn)
            .await?;
        if n > 0 {
            out.push((table, n as u64));
        }
    }
    Ok(out)
}

/// One sealed value: where it is (`ctid`, stable while we hold the row lock), the row it
/// belongs to for errors, and the ciphertext.
type Sealed = (String, String, Vec<u8>);

/// Every sealed value of every table in [`SEALED`], in the caller's one transaction: the first
/// value that cannot be re-sealed fails the whole write, and nothing is changed.
pub(super) async fn reseal(conn: &mut PgConnection, reseal: Reseal) -> Result<u64> {
    let mut n = 0;
    for s in SEALED {
        // Row locks, not a table lock: a write to a locked value waits and lands after ours, as
        // behind SQLite's single writer, while other rows stay writable. (A whole-table lock
        // also deadlocked with `delete` and an insert waiting on the tenant row.) One order for
        // every caller, so two re-seals queue instead of deadlocking.
        let rows: Vec<Sealed> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT ctid::text, {row}, {column} FROM {table} ORDER BY ({row}) COLLATE \"C\" FOR UPDATE",
            row = s.row,
            column = s.column,
            table = s.table
        )))
        .fetch_all(&mut *conn)
        .await?;
        let (places, new) = resealed(&reseal, rows, s.table, s.column)?;
        let count = places.len() as u64;
        let updated = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET {column} = v.new FROM UNNEST($1::text[], $2::bytea[]) AS v(place, new) \
             WHERE {table}.ctid = v.place::tid",
            table = s.table,
            column = s.column
        )))
        .bind(places)
        .bind(new)
        .execute(&mut *conn)
        .await?;
        if updated.rows_affected() != count {
            return Err(StoreError::Database(format!(
                "{}.{}: {} of {count} values re-sealed",
                s.table,
                s.column,
                updated.rows_affected()
            )));
        }
        n += count;
    }
    Ok(n)
}

/// Not async on purpose: `Reseal` is not `Sync`, so no borrow of it may live across an await.
fn resealed(reseal: &Reseal, rows: Vec<Sealed>, table: &str, column: &str) -> Result<(Vec<String>, Vec<Vec<u8>>)> {
    let mut places = Vec::with_capacity(rows.len());
    let mut new = Vec::with_capacity(rows.len());
    for (place, row, old) in rows {
        new.push(reseal(&old).map_err(|e| StoreError::Corrupt(format!("{table}.{column} of {row}: {e}")))?);
        places.push(place);
    }
    Ok((places, new))
}
