//! `switchboard migrate`: copies a whole SQLite installation into PostgreSQL.
//!
//! The copy reads one consistent snapshot of the SQLite file (a single read transaction, so a
//! server still writing to it does not tear the copy) and upserts it into PostgreSQL page by
//! page. Every row is written with `ON CONFLICT ... DO UPDATE`, so running the copy again
//! finishes an interrupted one and refreshes rows changed since, without doubling anything.
//! Rows deleted from SQLite after an earlier run stay in PostgreSQL; the count check at the end
//! reports them.
//!
//! The SQLite reader runs on a blocking thread and hands pages to the PostgreSQL writer
//! through a short channel, so reading the next page overlaps with writing the last.

mod source;
mod target;

use crate::{PgStore, Result, SqliteOptions, SqliteStore, StoreError};
use source::Batch;
use std::path::{Path, PathBuf};
use target::TableSpec;
use tokio::sync::mpsc;

/// Every table of the schema, each after the tables its foreign keys point to. A table the
/// SQLite file has but this list lacks stops the copy (see [`copy_sqlite_to_postgres`]): a
/// table added to the schema must be added here, or it would be left behind silently.
pub const TABLES: &[&str] = &[
    "tenants",
    "conversations",
    "messages",
    "jobs",
    "dead_letters",
    "connectors",
    "reminders",
    "tasks",
    "llm_usage",
    "assessment_results",
    "feedback",
    "form_submissions",
    "consent_ledger",
    "users",
    "refresh_tokens",
    "api_keys",
    "audit_log",
    "event_endpoints",
    "event_deliveries",
    "tenant_settings",
    "tenant_message_counts",
    "bot_versions",
    "tenant_secrets",
    "login_failures",
];

/// Rows per page read from SQLite and written to PostgreSQL in one statement: big enough that
/// round trips do not dominate, small enough that a page of long messages stays a few MB.
const PAGE_ROWS: usize = 500;

/// Pages read ahead of the writer.
const PAGES_IN_FLIGHT: usize = 4;

/// One table's rows on both sides once the copy is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    /// Rows in the SQLite snapshot that was copied.
    pub source: u64,
    /// Rows in PostgreSQL after the copy.
    pub target: u64,
}

/// Copies every table of the SQLite database at `source` into `target` and checks that each
/// table then has as many rows in PostgreSQL as in the snapshot that was read.
///
/// `progress(table, rows done, rows total)` is called when a table with rows starts (done = 0),
/// after each page, and once when the table is done (done = total; an empty table gets only
/// that call).
///
/// Fails, naming what is wrong, when the SQLite file is missing, has a table or column this
/// build does not know, holds a value that does not fit its PostgreSQL column, when a server is
/// running on the target, or when the counts differ at the end. Nothing in an error repeats a
/// row's values.
pub async fn copy_sqlite_to_postgres(
    source: &Path,
    target: &PgStore,
    mut progress: impl FnMut(&str, u64, u64),
) -> Result<Vec<TableCount>> {
    if !source.is_file() {
        return Err(StoreError::Database(format!(
            "there is no SQLite database at {}",
            source.display()
        )));
    }
    // Opening the store applies its pending migrations, so that the file has the schema this
    // build (and the PostgreSQL schema) expects; the copy itself reads on a connection of its own.
    SqliteStore::open(source, SqliteOptions::default())?.close();
    // A server writing to the target while rows arrive would take ids the copy is about to
    // insert; the server lock also keeps one from starting until the copy is done.
    if !target.lock_server().await? {
        return Err(StoreError::Conflict(
            "a Switchboard server is running on the PostgreSQL database; stop it before migrating into it".into(),
        ));
    }
    let specs = target::table_specs(target.pool(), TABLES).await?;

    let (tx, mut rx) = mpsc::channel(PAGES_IN_FLIGHT);
    let reader = {
        let (path, specs) = (PathBuf::from(source), specs.clone());
        tokio::task::spawn_blocking(move || source::read(&path, &specs, PAGE_ROWS, &tx))
    };
    let copied = write_all(target, &specs, &mut rx, &mut progress).await;
    // Dropping the receiver makes a reader still sending give up.
    drop(rx);
    let read = reader
        .await
        .map_err(|e| StoreError::Database(format!("the SQLite reader stopped: {e}")))?;
    let snapshot = match (read, copied) {
        (Ok(snapshot), Ok(())) => snapshot,
        // The reader stopped because the writer failed: the writer's error says why.
        (Err(StoreError::Closed), Err(e)) => return Err(e),
        // A writer that ran out of pages did so because the reader failed.
        (Err(e), _) | (Ok(_), Err(e)) => return Err(e),
    };

    target::advance_sequences(target.pool(), &specs, &snapshot.sequences).await?;
    let mut counts = Vec::with_capacity(specs.len());
    for (spec, &source) in specs.iter().zip(&snapshot.counts) {
        counts.push(TableCount {
            table: spec.name,
            source,
            target: target::count(target.pool(), spec.name).await?,
        });
    }
    let wrong: Vec<String> = counts
        .iter()
        .filter(|c| c.source != c.target)
        .map(|c| format!("{}: {} in SQLite, {} in PostgreSQL", c.table, c.source, c.target))
        .collect();
    if !wrong.is_empty() {
        return Err(StoreError::Conflict(format!(
            "the row counts differ after the copy ({}); the PostgreSQL database holds rows the SQLite one does not \
             (another installation's data, or rows deleted from SQLite since an earlier run): migrate into an empty \
             database",
            wrong.join("; ")
        )));
    }
    Ok(counts)
}

/// Writes the reader's pages table by table, in [`TABLES`] order.
async fn write_all(
    target: &PgStore,
    specs: &[TableSpec],
    rx: &mut mpsc::Receiver<Batch>,
    progress: &mut impl FnMut(&str, u64, u64),
) -> Result<()> {
    let totals = match rx.recv().await {
        Some(Batch::Totals(totals)) => totals,
        // The reader failed before it counted; its error says why.
        None => return Ok(()),
        Some(Batch::Page(_)) => return Err(StoreError::Database("the SQLite reader sent rows before counts".into())),
    };
    for (i, spec) in specs.iter().enumerate() {
        let total = totals.get(i).copied().unwrap_or(0);
        let mut done = 0;
        if total > 0 {
            progress(spec.name, 0, total);
        }
        loop {
            let page = match rx.recv().await {
                Some(Batch::Page(page)) if page.table == i => page,
                // A reader that stopped early has an error of its own, which is reported first.
                _ => {
                    return Err(StoreError::Database(format!(
                        "the SQLite reader stopped in the middle of {}",
                        spec.name
                    )));
                }
            };
            if page.rows > 0 {
                target::upsert(target.pool(), spec, page.columns)
                    .await
                    .map_err(|e| StoreError::Database(format!("writing {} to PostgreSQL: {e}", spec.name)))?;
                done += page.rows as u64;
            }
            if page.last {
                break;
            }
            if done < total {
                progress(spec.name, done, total);
            }
        }
        progress(spec.name, done, total.max(done));
    }
    Ok(())
}

/// `name` as a quoted SQL identifier (`"values"` is a keyword), the same in both dialects.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
