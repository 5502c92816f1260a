//! Tenant settings, the monthly message counter, and the whole-tenant operations: export,
//! delete, and re-encrypting every sealed secret.

use super::WriteCtx;
use super::rows::{json, query_opt};
use crate::{ExportTable, Reseal, Result, StoreError, TenantSettings};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use switchboard_core::TenantId;

/// UTC months (`YYYY-MM`), the same for every instance whatever its time zone.
pub(super) fn month(at_ms: i64) -> String {
    switchboard_core::clock::rfc3339(at_ms).chars().take(7).collect()
}

pub(super) fn settings(conn: &Connection, tenant: &TenantId) -> Result<TenantSettings> {
    let row = query_opt(
        conn,
        "SELECT time_zone, languages, consent_required, monthly_message_quota, allowed_origins, suspended_at, \
         updated_at FROM tenant_settings WHERE tenant_id = ?1",
        params![tenant.as_str()],
        |r| {
            let languages: String = r.get(1)?;
            let origins: String = r.get(4)?;
            let quota: Option<i64> = r.get(3)?;
            Ok(TenantSettings {
                time_zone: r.get(0)?,
                languages: serde_json::from_str(&languages)?,
                consent_required: r.get(2)?,
                monthly_message_quota: quota.map(|q| q.max(0) as u64),
                allowed_origins: serde_json::from_str(&origins)?,
                suspended_at: r.get(5)?,
                updated_at: r.get(6)?,
            })
        },
    )?;
    Ok(row.unwrap_or_default())
}

pub(super) fn set_settings(ctx: &mut WriteCtx<'_>, tenant: &TenantId, s: &TenantSettings) -> Result<()> {
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
            "INSERT INTO tenant_settings (tenant_id, time_zone, languages, consent_required, monthly_message_quota, \
             allowed_origins, suspended_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone, languages = excluded.languages, \
             consent_required = excluded.consent_required, monthly_message_quota = excluded.monthly_message_quota, \
             allowed_origins = excluded.allowed_origins, suspended_at = excluded.suspended_at, \
             updated_at = excluded.updated_at",
        )?
        .execute(params![
            tenant.as_str(),
            s.time_zone,
            json(&s.languages)?,
            s.consent_required,
            s.monthly_message_quota.map(|q| q.min(i64::MAX as u64) as i64),
            json(&s.allowed_origins)?,
            s.suspended_at,
            ctx.now
        ])?;
    Ok(())
}

pub(super) fn monthly_messages(conn: &Connection, tenant: &TenantId, at: i64) -> Result<u64> {
    let n: Option<i64> = conn
        .prepare_cached("SELECT messages FROM tenant_message_counts WHERE tenant_id = ?1 AND month = ?2")?
        .query_row(params![tenant.as_str(), month(at)], |r| r.get(0))
        .optional()?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// Counts one inbound message against the month of `now`, refusing it past the quota. Runs in
/// the accept transaction, so two racing messages cannot both take the last unit.
pub(super) fn count_inbound(conn: &Connection, tenant: &TenantId, now: i64) -> Result<()> {
    let quota: Option<i64> = conn
        .prepare_cached("SELECT monthly_message_quota FROM tenant_settings WHERE tenant_id = ?1")?
        .query_row(params![tenant.as_str()], |r| r.get(0))
        .optional()?
        .flatten();
    if let Some(quota) = quota
        && monthly_messages(conn, tenant, now)? >= quota.max(0) as u64
    {
        return Err(StoreError::QuotaExceeded(quota.max(0) as u64));
    }
    conn.prepare_cached(
        "INSERT INTO tenant_message_counts (tenant_id, month, messages) VALUES (?1, ?2, 1) \
         ON CONFLICT (tenant_id, month) DO UPDATE SET messages = messages + 1",
    )?
    .execute(params![tenant.as_str(), month(now)])?;
    Ok(())
}

/// Tables that hold rows of a tenant, found in the schema rather than listed, so a table added
/// by a later migration is covered by delete and by the leftover check without a change here.
/// `tenants` (keyed by `id`) is not among them.
fn tenant_tables(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
         WHERE m.type = 'table' AND c.name = 'tenant_id' ORDER BY m.name",
    )?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

/// Tables other rows point at: emptied last, after the rows that reference them.
const PARENTS: [&str; 2] = ["users", "conversations"];

pub(super) fn delete(ctx: &mut WriteCtx<'_>, tenant: &TenantId) -> Result<bool> {
    let conn = ctx.conn;
    let t = tenant.as_str();
    // Sessions name their person, not the tenant.
    conn.execute(
        "DELETE FROM refresh_tokens WHERE user_id IN (SELECT id FROM users WHERE tenant_id = ?1)",
        params![t],
    )?;
    let tables = tenant_tables(conn)?;
    let (parents, children): (Vec<_>, Vec<_>) = tables.iter().partition(|n| PARENTS.contains(&n.as_str()));
    for table in children
        .into_iter()
        .chain(PARENTS.iter().filter_map(|p| parents.iter().find(|n| n == &p).copied()))
    {
        conn.execute(&format!("DELETE FROM \"{table}\" WHERE tenant_id = ?1"), params![t])?;
    }
    Ok(conn.execute("DELETE FROM tenants WHERE id = ?1", params![t])? > 0)
}

pub(super) fn row_counts(conn: &Connection, tenant: &TenantId) -> Result<Vec<(String, u64)>> {
    let t = tenant.as_str();
    let mut out = Vec::new();
    let mut count = |table: &str, sql: String| -> Result<()> {
        let n: i64 = conn.query_row(&sql, params![t], |r| r.get(0))?;
        if n > 0 {
            out.push((table.to_owned(), n as u64));
        }
        Ok(())
    };
    count("tenants", "SELECT COUNT(*) FROM tenants WHERE id = ?1".into())?;
    count(
        "refresh_tokens",
        "SELECT COUNT(*) FROM refresh_tokens WHERE user_id IN (SELECT id FROM users WHERE tenant_id = ?1)".into(),
    )?;
    for table in tenant_tables(conn)? {
        count(&table, format!("SELECT COUNT(*) FROM \"{table}\" WHERE tenant_id = ?1"))?;
    }
    Ok(out)
}

fn table_name(table: ExportTable) -> &'static str {
    match table {
        ExportTable::Tenant => "tenants",
        ExportTable::Settings => "tenant_settings",
        ExportTable::MessageCounts => "tenant_message_counts",
        ExportTable::Connectors => "connectors",
        ExportTable::Conversations => "conversations",
        ExportTable::Messages => "messages",
        ExportTable::ConsentLedger => "consent_ledger",
        ExportTable::Users => "users",
        ExportTable::ApiKeys => "api_keys",
        ExportTable::Reminders => "reminders",
        ExportTable::Tasks => "tasks",
        ExportTable::AssessmentResults => "assessment_results",
        ExportTable::Feedback => "feedback",
        ExportTable::FormSubmissions => "form_submissions",
        ExportTable::LlmUsage => "llm_usage",
        ExportTable::Jobs => "jobs",
        ExportTable::DeadLetters => "dead_letters",
        ExportTable::Audit => "audit_log",
    }
}

/// Pages by `rowid`: every table has one, and it orders rows without an index of our own.
pub(super) fn export_page(
    conn: &Connection,
    tenant: &TenantId,
    table: ExportTable,
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, Value)>> {
    let key = match table {
        ExportTable::Tenant => "id",
        _ => "tenant_id",
    };
    let sql = format!(
        "SELECT rowid, * FROM {} WHERE {key} = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3",
        table_name(table)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let hidden = table.hidden();
    let mut rows = stmt.query(params![tenant.as_str(), after, limit])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let rowid: i64 = r.get(0)?;
        let mut obj = Map::new();
        for (i, name) in names.iter().enumerate().skip(1) {
            if hidden.contains(&name.as_str()) {
                continue;
            }
            let v = match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Real(f) => Value::from(f),
                ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                // Only sealed secrets are binary, and they are hidden above.
                ValueRef::Blob(_) => continue,
            };
            obj.insert(name.clone(), v);
        }
        out.push((rowid, Value::Object(obj)));
    }
    Ok(out)
}

/// A column of sealed values (see [`SEALED`]).
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// An SQL expression naming a row in errors (never the secret).
    pub row: &'static str,
}

/// Every column that holds values sealed with the master key. A new table of sealed values is
/// one entry here, and `secrets rotate` re-seals it with the rest; the SQLite test
/// `every_binary_column_is_resealed` fails for a binary column missing from this list.
pub const SEALED: &[SealedColumn] = &[
    SealedColumn {
        table: "connectors",
        column: "secrets",
        row: "tenant_id || '/' || id",
    },
    SealedColumn {
        table: "event_endpoints",
        column: "secret_sealed",
        row: "tenant_id || '/' || id",
    },
    SealedColumn {
        table: "tenant_secrets",
        column: "sealed",
        row: "tenant_id || '/' || name",
    },
];

/// Every sealed value of every table in [`SEALED`], in the caller's one transaction: the first
/// value that cannot be re-sealed fails the whole write, and nothing is changed.
pub(super) fn reseal(ctx: &mut WriteCtx<'_>, reseal: &Reseal) -> Result<u64> {
    let conn = ctx.conn;
    let mut n = 0;
    for s in SEALED {
        // Every table has a rowid (see `export_page`): one UPDATE shape fits them all.
        let sealed: Vec<(i64, String, Vec<u8>)> = {
            let mut stmt = conn.prepare(&format!(
                "SELECT rowid, {row}, {column} FROM {table} ORDER BY rowid",
                row = s.row,
                column = s.column,
                table = s.table
            ))?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut update = conn.prepare(&format!(
            "UPDATE {table} SET {column} = ?1 WHERE rowid = ?2",
            table = s.table,
            column = s.column
        ))?;
        for (rowid, row, old) in sealed {
            let new =
                reseal(&old).map_err(|e| StoreError::Corrupt(format!("{}.{} of {row}: {e}", s.table, s.column)))?;
            update.execute(params![new, rowid])?;
            n += 1;
        }
    }
    Ok(n)
}
