//! A tenant's rows as JSON objects, one page at a time, identical to SQLite's export.

use crate::{ExportTable, Result, StoreError};
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};
use switchboard_core::TenantId;

/// The identity column that orders tables without an integer `id`; never exported.
const RID: &str = "rid";

/// The table, and the column that pages it: SQLite pages by `rowid`, which is `id` where the
/// table has an integer key, so those page by `id` here too and the positions match.
fn table_of(table: ExportTable) -> (&'static str, &'static str) {
    match table {
        ExportTable::Tenant => ("tenants", RID),
        ExportTable::Settings => ("tenant_settings", RID),
        ExportTable::MessageCounts => ("tenant_message_counts", RID),
        ExportTable::Connectors => ("connectors", RID),
        ExportTable::Conversations => ("conversations", RID),
        ExportTable::Messages => ("messages", RID),
        ExportTable::ConsentLedger => ("consent_ledger", "id"),
        ExportTable::Users => ("users", RID),
        ExportTable::ApiKeys => ("api_keys", RID),
        ExportTable::Reminders => ("reminders", "id"),
        ExportTable::Tasks => ("tasks", "id"),
        ExportTable::AssessmentResults => ("assessment_results", "id"),
        ExportTable::Feedback => ("feedback", "id"),
        ExportTable::FormSubmissions => ("form_submissions", "id"),
        ExportTable::LlmUsage => ("llm_usage", RID),
        ExportTable::Jobs => ("jobs", "id"),
        ExportTable::DeadLetters => ("dead_letters", "id"),
        ExportTable::Audit => ("audit_log", "id"),
    }
}

pub(super) async fn export_page(
    conn: &mut PgConnection,
    tenant: &TenantId,
    table: ExportTable,
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, Value)>> {
    let (name, position) = table_of(table);
    let key = match table {
        ExportTable::Tenant => "id",
        _ => "tenant_id",
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT * FROM {name} WHERE {key} = $1 AND {position} > $2 ORDER BY {position} LIMIT $3"
    )))
    .bind(tenant.as_str())
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    let hidden = table.hidden();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let at: i64 = r.try_get(position)?;
        let mut obj = Map::new();
        for (i, col) in r.columns().iter().enumerate() {
            let col_name = col.name();
            if col_name == RID || hidden.contains(&col_name) {
                continue;
            }
            if let Some(v) = value(&r, i, col.type_info().name(), name, col_name)? {
                obj.insert(col_name.to_owned(), v);
            }
        }
        out.push((at, Value::Object(obj)));
    }
    Ok(out)
}

/// A column's value as SQLite's export gives it: booleans are SQLite's 0 and 1, and binary
/// columns (only sealed secrets are binary) are left out (`None`).
fn value(r: &PgRow, i: usize, ty: &str, table: &str, column: &str) -> Result<Option<Value>> {
    let v = match ty {
        "INT8" => r.try_get::<Option<i64>, _>(i)?.map(Value::from),
        "INT4" => r.try_get::<Option<i32>, _>(i)?.map(Value::from),
        "INT2" => r.try_get::<Option<i16>, _>(i)?.map(Value::from),
        "BOOL" => r.try_get::<Option<bool>, _>(i)?.map(|b| Value::from(i64::from(b))),
        "FLOAT8" => r.try_get::<Option<f64>, _>(i)?.map(Value::from),
        "FLOAT4" => r.try_get::<Option<f32>, _>(i)?.map(|f| Value::from(f64::from(f))),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => r.try_get::<Option<String>, _>(i)?.map(Value::from),
        // As in SQLite, where a NULL is not a blob and so is exported.
        "BYTEA" if r.try_get_raw(i)?.is_null() => None,
        "BYTEA" => return Ok(None),
        // Leaving a column out would make the export silently incomplete.
        other => {
            return Err(StoreError::Database(format!(
                "{table}.{column}: cannot export values of type {other}"
            )));
        }
    };
    Ok(Some(v.unwrap_or(Value::Null)))
}
