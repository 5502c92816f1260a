//! The PostgreSQL side of the copy: the target's columns and their types (read from its own
//! catalog, so the copy follows the schema rather than a second hand-kept list), one upsert
//! statement per table, identity sequences and row counts.

use super::quoted;
use crate::{Result, StoreError};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;
use std::collections::HashMap;

/// What a PostgreSQL column holds, and so which Rust type its values are bound as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Bool,
    Float,
    Text,
    Bytes,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "boolean" => Kind::Bool,
            "double precision" | "real" => Kind::Float,
            "text" | "character varying" | "character" => Kind::Text,
            "bytea" => Kind::Bytes,
            _ => return None,
        })
    }

    /// The array type a page's column is bound as (`UNNEST` turns it back into rows).
    fn array(self) -> &'static str {
        match self {
            Kind::Int => "BIGINT[]",
            Kind::Bool => "BOOLEAN[]",
            Kind::Float => "DOUBLE PRECISION[]",
            Kind::Text => "TEXT[]",
            Kind::Bytes => "BYTEA[]",
        }
    }

    pub(super) fn values(self, capacity: usize) -> Values {
        match self {
            Kind::Int => Values::Int(Vec::with_capacity(capacity)),
            Kind::Bool => Values::Bool(Vec::with_capacity(capacity)),
            Kind::Float => Values::Float(Vec::with_capacity(capacity)),
            Kind::Text => Values::Text(Vec::with_capacity(capacity)),
            Kind::Bytes => Values::Bytes(Vec::with_capacity(capacity)),
        }
    }
}

/// One column of a page, typed for its PostgreSQL column; `None` is NULL.
#[derive(Debug)]
pub(super) enum Values {
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Float(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

#[derive(Clone, Debug)]
pub(super) struct Column {
    pub name: String,
    pub kind: Kind,
}

/// A table as the copy writes it.
#[derive(Clone, Debug)]
pub(super) struct TableSpec {
    pub name: &'static str,
    /// The columns rows are copied into, in the target's order. Identity columns PostgreSQL
    /// always generates itself (`rid`, which pages tables without an integer id) are not among
    /// them: SQLite has no such column, and PostgreSQL refuses values for them.
    pub columns: Vec<Column>,
    /// The integer id whose identity sequence must move past the copied ids.
    pub identity: Option<String>,
    upsert: String,
}

/// The copy's view of each of `tables` in the target, which must have them all.
pub(super) async fn table_specs(pool: &PgPool, tables: &[&'static str]) -> Result<Vec<TableSpec>> {
    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_identity::text, identity_generation::text \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| StoreError::Database(format!("reading the PostgreSQL schema: {e}")))?;
    let mut specs = Vec::with_capacity(tables.len());
    for &name in tables {
        let mut columns = Vec::new();
        let mut identity = None;
        for (_, column, data_type, is_identity, generation) in rows.iter().filter(|r| r.0 == name) {
            let generated = is_identity == "YES";
            match generation.as_deref() {
                Some("ALWAYS") if generated => continue,
                Some("BY DEFAULT") if generated => identity = Some(column.clone()),
                _ => {}
            }
            let kind = Kind::of(data_type).ok_or_else(|| {
                StoreError::Database(format!(
                    "the PostgreSQL column {name}.{column} has the type {data_type}, which the copy cannot fill"
                ))
            })?;
            columns.push(Column {
                name: column.clone(),
                kind,
            });
        }
        if columns.is_empty() {
            return Err(StoreError::Database(format!(
                "the PostgreSQL database has no table {name}: is its schema older than this build?"
            )));
        }
        let upsert = upsert_sql(name, &columns);
        specs.push(TableSpec {
            name,
            columns,
            identity,
            upsert,
        });
    }
    Ok(specs)
}

/// `INSERT … SELECT * FROM UNNEST(one array per column)`: one statement and one bind per
/// column whatever the page's size, far below PostgreSQL's limit of 65535 binds. A row that is
/// already there is updated, and only when it changed, so a re-run rewrites only what differs.
fn upsert_sql(table: &str, columns: &[Column]) -> String {
    let names: Vec<String> = columns.iter().map(|c| quoted(&c.name)).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, c.kind.array()))
        .collect();
    let set: Vec<String> = names.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect();
    let old: Vec<String> = names.iter().map(|n| format!("{}.{n}", quoted(table))).collect();
    let new: Vec<String> = names.iter().map(|n| format!("EXCLUDED.{n}")).collect();
    format!(
        "INSERT INTO {t} ({names}) SELECT * FROM UNNEST({arrays}) \
         ON CONFLICT ON CONSTRAINT {pkey} DO UPDATE SET {set} \
         WHERE ({old}) IS DISTINCT FROM ({new})",
        t = quoted(table),
        names = names.join(", "),
        arrays = arrays.join(", "),
        pkey = quoted(&format!("{table}_pkey")),
        set = set.join(", "),
        old = old.join(", "),
        new = new.join(", "),
    )
}

/// Writes one page (its columns in `spec.columns` order) in one statement.
pub(super) async fn upsert(pool: &PgPool, spec: &TableSpec, columns: Vec<Values>) -> sqlx::Result<()> {
    let mut query = sqlx::query(AssertSqlSafe(spec.upsert.clone()));
    for values in columns {
        query = match values {
            Values::Int(v) => query.bind(v),
            Values::Bool(v) => query.bind(v),
            Values::Float(v) => query.bind(v),
            Values::Text(v) => query.bind(v),
            Values::Bytes(v) => query.bind(v),
        };
    }
    query.execute(pool).await?;
    Ok(())
}

/// Moves each identity sequence past the largest id copied, and past the largest id SQLite ever
/// gave out in that table (`sqlite_sequence`, which AUTOINCREMENT keeps so that ids of deleted
/// rows are never given again), so that rows added after the move never collide.
pub(super) async fn advance_sequences(pool: &PgPool, specs: &[TableSpec], given: &HashMap<String, i64>) -> Result<()> {
    for spec in specs {
        let Some(id) = &spec.identity else { continue };
        let max: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT MAX({}) FROM {}",
            quoted(id),
            quoted(spec.name)
        )))
        .fetch_one(pool)
        .await?;
        let last = max.unwrap_or(0).max(given.get(spec.name).copied().unwrap_or(0));
        // `setval(…, 1, false)`: the next id is 1, as in a table that never had a row.
        sqlx::query("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)")
            .bind(quoted(spec.name))
            .bind(id)
            .bind(last.max(1))
            .bind(last > 0)
            .execute(pool)
            .await
            .map_err(|e| StoreError::Database(format!("moving the id sequence of {}: {e}", spec.name)))?;
    }
    Ok(())
}

pub(super) async fn count(pool: &PgPool, table: &str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", quoted(table))))
        .fetch_one(pool)
        .await
        .map_err(|e| StoreError::Database(format!("counting the rows of {table} in PostgreSQL: {e}")))?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{table} has {n} rows")))
}
