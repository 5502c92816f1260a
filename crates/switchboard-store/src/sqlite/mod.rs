//! SQLite backend: one writer thread that commits queued writes in groups, and a few reader
//! connections. WAL lets readers run while the writer commits.
//!
//! Group commit is what makes durable writes fast: under load, dozens of callers' writes share
//! one transaction (and one fsync), each inside its own savepoint so that one caller's failure
//! rolls back only its own changes. Callers get their answer only after the commit.

mod analytics;
mod auth;
mod contacts;
mod delivery;
mod events;
mod feedback;
mod forms;
mod people;
mod reminders;
pub(crate) mod rows;
mod secrets;
mod store_events;
mod store_people;
mod store_records;
mod store_reminders;
mod store_tenants;
mod store_turns;
mod tenants;
mod turns;
mod usage;

pub use tenants::{SEALED, SealedColumn};

use crate::{Job, Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use switchboard_core::Clock;
use tokio::sync::{mpsc, oneshot};

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_connectors.sql"),
    include_str!("../../migrations/sqlite/0003_outbound_status.sql"),
    include_str!("../../migrations/sqlite/0004_reminders.sql"),
    include_str!("../../migrations/sqlite/0005_llm_usage.sql"),
    include_str!("../../migrations/sqlite/0006_assessments_feedback.sql"),
    include_str!("../../migrations/sqlite/0007_forms.sql"),
    include_str!("../../migrations/sqlite/0008_consent_handoff.sql"),
    include_str!("../../migrations/sqlite/0009_auth.sql"),
    include_str!("../../migrations/sqlite/0010_event_webhooks.sql"),
    include_str!("../../migrations/sqlite/0011_tenant_settings.sql"),
    include_str!("../../migrations/sqlite/0012_analytics_index.sql"),
    include_str!("../../migrations/sqlite/0013_bot_versions.sql"),
    include_str!("../../migrations/sqlite/0014_tenant_secrets.sql"),
    include_str!("../../migrations/sqlite/0015_auth_scoping.sql"),
    include_str!("../../migrations/sqlite/0016_delivery_parts.sql"),
];
/// Writes committed together at most; bounds the latency one batch adds.
const MAX_BATCH: usize = 256;
const READERS: usize = 4;
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// fsync on every commit: an accepted message survives a power cut.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a process crash, may lose the last commits on power loss.
    Normal,
}

#[derive(Clone, Debug, Default)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    pub clock: Clock,
}

pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Option<std_mpsc::Sender<WriteOp>>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    feed: Arc<Mutex<Option<mpsc::UnboundedSender<Job>>>>,
    feed_rx: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    path: PathBuf,
}

/// What a write sees: the connection (inside the batch's transaction) and the jobs it enqueued,
/// which are announced on the job feed after the commit.
pub(crate) struct WriteCtx<'a> {
    pub conn: &'a Connection,
    pub jobs: &'a mut Vec<Job>,
    pub now: i64,
}

type Completion = Box<dyn FnOnce(Result<()>) + Send>;
/// Runs the write (or, given `None`, fails it without running) and returns whether it succeeded
/// and how to tell the caller once the batch's fate is known.
type WriteOp = Box<dyn FnOnce(Option<&mut WriteCtx<'_>>) -> (bool, Completion) + Send>;

fn configure(conn: &Connection, sync: Synchronous, cache_kib: i64) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let sync = match sync {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = -{cache_kib}; PRAGMA temp_store = MEMORY; \
         PRAGMA journal_size_limit = 67108864;"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Database(format!("migration {}: {e}", i + 1)))?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    if version as usize > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database schema (version {version}) is newer than this binary knows ({})",
            MIGRATIONS.len()
        )));
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", dir.display())))?;
        }
        let open = |flags| {
            Connection::open_with_flags(path, flags)
                .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))
        };
        let mut writer =
            open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        configure(&writer, opts.synchronous, 16 * 1024)?;
        migrate(&mut writer)?;
        // The writer checkpoints between batches itself (see `writer_loop`), not inside commits.
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = open(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            configure(&r, opts.synchronous, 4 * 1024)?;
            readers.push(Mutex::new(r));
        }
        let (tx, rx) = std_mpsc::channel::<WriteOp>();
        let feed: Arc<Mutex<Option<mpsc::UnboundedSender<Job>>>> = Arc::default();
        let (feed_tx, feed_rx) = mpsc::unbounded_channel();
        if let Ok(mut f) = feed.lock() {
            *f = Some(feed_tx);
        }
        let thread_feed = feed.clone();
        let clock = opts.clock;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer, rx, thread_feed, clock))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        let inner = Arc::new(Inner {
            writer: Mutex::new(Some(tx)),
            readers,
            next_reader: Default::default(),
            feed,
            feed_rx: Mutex::new(Some(feed_rx)),
            path: path.to_owned(),
        });
        Ok(SqliteStore { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the writer's current batch transaction; resolves after the commit.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut WriteCtx<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let op: WriteOp = Box::new(move |ctx| {
            let r = match ctx {
                Some(ctx) => f(ctx),
                None => Err(StoreError::Database("the write transaction could not start".into())),
            };
            let ok = r.is_ok();
            (ok, Box::new(move |commit: Result<()>| drop(tx.send(commit.and(r)))))
        });
        let sent = match self.inner.writer.lock() {
            Ok(w) => w.as_ref().is_some_and(|w| w.send(op).is_ok()),
            Err(_) => false,
        };
        if !sent {
            return Err(StoreError::Closed);
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a reader connection. Reads here are short indexed lookups on a warm page
    /// cache (microseconds), and WAL readers never wait for the writer, so a free connection is
    /// used right on the calling thread: handing every read to a blocking thread cost more in
    /// thread hand-offs than the reads themselves. Only when every connection is busy does the
    /// read wait on a blocking thread.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let n = self.inner.readers.len();
        let start = self
            .inner
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..n {
            if let Ok(conn) = self.inner.readers[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers[start % n].lock().map_err(|_| StoreError::Closed)?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?
    }

    pub(crate) fn take_feed(&self) -> Option<mpsc::UnboundedReceiver<Job>> {
        self.inner.feed_rx.lock().ok()?.take()
    }

    /// Stops accepting writes; the writer thread finishes what it has and exits.
    pub fn close(&self) {
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
        if let Ok(mut f) = self.inner.feed.lock() {
            f.take();
        }
    }
}

fn writer_loop(
    conn: Connection,
    rx: std_mpsc::Receiver<WriteOp>,
    feed: Arc<Mutex<Option<mpsc::UnboundedSender<Job>>>>,
    clock: Clock,
) {
    let mut batch: Vec<WriteOp> = Vec::with_capacity(MAX_BATCH);
    let mut done: Vec<Completion> = Vec::with_capacity(MAX_BATCH);
    let mut jobs: Vec<Job> = Vec::new();
    // Checkpoints (copying the write-ahead log back into the database file) run here, between
    // batches and after the batch's callers have their answers. SQLite's automatic checkpoint
    // would run inside a commit, making whoever waits on that commit pay for it; a checkpoint on
    // another thread never catches up with a writer that never pauses, and the log grows
    // without bound. Here no write can slip in while it runs, so it always completes and the
    // log starts over from the beginning.
    let mut last_checkpoint = std::time::Instant::now();
    let mut dirty = false;
    loop {
        let first = match rx.recv_timeout(CHECKPOINT_EVERY) {
            Ok(op) => op,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                if dirty {
                    checkpoint(&conn);
                    dirty = false;
                    last_checkpoint = std::time::Instant::now();
                }
                continue;
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let result = run_batch(&conn, &mut batch, &mut done, &mut jobs, clock.now_ms());
        if result.is_ok()
            && !jobs.is_empty()
            && let Ok(f) = feed.lock()
            && let Some(tx) = f.as_ref()
        {
            for job in jobs.drain(..) {
                let _ = tx.send(job);
            }
        }
        jobs.clear();
        if let Err(e) = &result {
            tracing::error!(error = %e, "sqlite batch commit failed");
        }
        for d in done.drain(..) {
            d(result.clone());
        }
        dirty = true;
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            checkpoint(&conn);
            dirty = false;
            last_checkpoint = std::time::Instant::now();
        }
    }
    checkpoint(&conn);
}

fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "wal checkpoint failed");
    }
}

fn run_batch(
    conn: &Connection,
    batch: &mut Vec<WriteOp>,
    done: &mut Vec<Completion>,
    jobs: &mut Vec<Job>,
    now: i64,
) -> Result<()> {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        for op in batch.drain(..) {
            done.push(op(None).1);
        }
        return Err(e.into());
    }
    for op in batch.drain(..) {
        if let Err(e) = conn.execute_batch("SAVEPOINT op") {
            tracing::error!(error = %e, "savepoint failed");
            done.push(op(None).1);
            continue;
        }
        let mark = jobs.len();
        let (ok, d) = op(Some(&mut WriteCtx { conn, jobs, now }));
        done.push(d);
        let end = if ok { "RELEASE op" } else { "ROLLBACK TO op; RELEASE op" };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "savepoint release failed");
        }
        if !ok {
            jobs.truncate(mark);
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e.into())
        }
    }
}
