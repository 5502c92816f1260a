//! The SQLite side of the copy: one read transaction over the whole file, so that every table
//! comes from the same moment even while a server keeps writing, read in pages by rowid and
//! converted to the target's column types on the way.

use super::quoted;
use super::target::{Kind, TableSpec, Values};
use crate::{Result, StoreError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, params};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the reader hands the writer: first the row counts, then every table's pages in order.
pub(super) enum Batch {
    Totals(Vec<u64>),
    Page(Page),
}

pub(super) struct Page {
    /// Index into the specs (and [`super::TABLES`]).
    pub table: usize,
    pub rows: usize,
    /// In the spec's column order.
    pub columns: Vec<Values>,
    /// The table's last page (possibly empty).
    pub last: bool,
}

/// What the snapshot held, for the checks after the copy.
pub(super) struct Snapshot {
    /// Rows per table, in spec order.
    pub counts: Vec<u64>,
    /// `sqlite_sequence`: the largest id each AUTOINCREMENT table ever gave out.
    pub sequences: HashMap<String, i64>,
}

/// Reads the database at `path` and sends it down `tx`. Returns [`StoreError::Closed`] when
/// the writer stopped taking pages (it failed, and its error is the one to report).
pub(super) fn read(path: &Path, specs: &[TableSpec], page_rows: usize, tx: &mpsc::Sender<Batch>) -> Result<Snapshot> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // The snapshot starts with the transaction's first read, and every later read sees the
    // database as it was then.
    conn.execute_batch("PRAGMA query_only = ON; BEGIN")?;
    check_schema(&conn, specs)?;
    let mut counts = Vec::with_capacity(specs.len());
    for spec in specs {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {}", quoted(spec.name)), [], |r| r.get(0))?;
        counts.push(u64::try_from(n).unwrap_or(0));
    }
    let mut sequences = HashMap::new();
    let mut stmt = conn.prepare("SELECT name, seq FROM sqlite_sequence")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (name, seq) = row?;
        sequences.insert(name, seq);
    }
    drop(stmt);
    send(tx, Batch::Totals(counts.clone()))?;
    for (i, spec) in specs.iter().enumerate() {
        read_table(&conn, i, spec, page_rows, tx)?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(Snapshot { counts, sequences })
}

fn send(tx: &mpsc::Sender<Batch>, batch: Batch) -> Result<()> {
    tx.blocking_send(batch).map_err(|_| StoreError::Closed)
}

/// The file must have exactly the tables and columns the target has: a table or column the
/// copy does not know would otherwise be left behind without a word.
fn check_schema(conn: &Connection, specs: &[TableSpec]) -> Result<()> {
    // `sqlite_sequence` and `sqlite_stat*` are SQLite's own bookkeeping.
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let tables = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let unknown: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| !specs.iter().any(|s| s.name == *t))
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::Database(format!(
            "the SQLite database has tables this build cannot copy: {}; nothing was copied, since their rows \
             would be lost (is the database newer than this binary? a new table must be added to \
             switchboard_store::migrate::TABLES)",
            unknown.join(", ")
        )));
    }
    for spec in specs {
        if !tables.iter().any(|t| t == spec.name) {
            return Err(StoreError::Database(format!(
                "the SQLite database has no table {}",
                spec.name
            )));
        }
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
        let columns = stmt
            .query_map([spec.name], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for c in &columns {
            if !spec.columns.iter().any(|s| &s.name == c) {
                return Err(StoreError::Database(format!(
                    "the column {}.{c} is in SQLite but not in PostgreSQL: the two schemas differ",
                    spec.name
                )));
            }
        }
        for c in &spec.columns {
            if !columns.contains(&c.name) {
                return Err(StoreError::Database(format!(
                    "the column {}.{} is in PostgreSQL but not in SQLite: the two schemas differ",
                    spec.name, c.name
                )));
            }
        }
    }
    Ok(())
}

/// Sends the table's rows in pages of `page_rows`, by rowid (every table has one; for an
/// INTEGER PRIMARY KEY it is the id itself).
fn read_table(
    conn: &Connection,
    index: usize,
    spec: &TableSpec,
    page_rows: usize,
    tx: &mpsc::Sender<Batch>,
) -> Result<()> {
    let names: Vec<String> = spec.columns.iter().map(|c| quoted(&c.name)).collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        names.join(", "),
        quoted(spec.name)
    ))?;
    let mut after = i64::MIN;
    loop {
        let mut columns: Vec<Values> = spec.columns.iter().map(|c| c.kind.values(page_rows)).collect();
        let mut rows = stmt.query(params![after, page_rows as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let rowid: i64 = row.get(0)?;
            for (i, (column, values)) in spec.columns.iter().zip(columns.iter_mut()).enumerate() {
                push(values, row.get_ref(i + 1)?).map_err(|what| {
                    // Which row and column, never the value: it may be a secret.
                    StoreError::Corrupt(format!(
                        "{}.{} of the row with rowid {rowid} holds {what}",
                        spec.name, column.name
                    ))
                })?;
            }
            after = rowid;
            n += 1;
        }
        let last = n < page_rows;
        send(
            tx,
            Batch::Page(Page {
                table: index,
                rows: n,
                columns,
                last,
            }),
        )?;
        if last {
            return Ok(());
        }
    }
}

/// Adds one SQLite value to a page's column, as the PostgreSQL column's type; SQLite's types
/// are per value, so each one is checked.
fn push(values: &mut Values, value: ValueRef<'_>) -> std::result::Result<(), String> {
    match (values, value) {
        (Values::Int(v), ValueRef::Null) => v.push(None),
        (Values::Int(v), ValueRef::Integer(i)) => v.push(Some(i)),
        (Values::Bool(v), ValueRef::Null) => v.push(None),
        (Values::Bool(v), ValueRef::Integer(i @ (0 | 1))) => v.push(Some(i == 1)),
        (Values::Bool(_), ValueRef::Integer(i)) => return Err(format!("{i}, which is not a boolean (0 or 1)")),
        (Values::Float(v), ValueRef::Null) => v.push(None),
        (Values::Float(v), ValueRef::Real(f)) => v.push(Some(f)),
        (Values::Float(v), ValueRef::Integer(i)) => v.push(Some(i as f64)),
        (Values::Text(v), ValueRef::Null) => v.push(None),
        (Values::Text(v), ValueRef::Text(bytes)) => {
            let text = std::str::from_utf8(bytes).map_err(|_| "text that is not UTF-8".to_owned())?;
            if text.contains('\0') {
                return Err("text with a NUL character, which PostgreSQL cannot store".into());
            }
            v.push(Some(text.to_owned()));
        }
        (Values::Bytes(v), ValueRef::Null) => v.push(None),
        (Values::Bytes(v), ValueRef::Blob(bytes)) => v.push(Some(bytes.to_vec())),
        (values, value) => {
            let expected = match values {
                Values::Int(_) => Kind::Int,
                Values::Bool(_) => Kind::Bool,
                Values::Float(_) => Kind::Float,
                Values::Text(_) => Kind::Text,
                Values::Bytes(_) => Kind::Bytes,
            };
            return Err(format!(
                "a value of type {} where PostgreSQL expects {expected:?}",
                value.data_type()
            ));
        }
    }
    Ok(())
}
