//! PostgreSQL backend: a connection pool, plain SQL (bound with `$1`…), and each write in one
//! transaction of its own. Row locks (`FOR UPDATE`, `SKIP LOCKED`) and unique indexes do what
//! SQLite's single writer does there, so several instances may share one database.
//!
//! The schema is SQLite's, in PostgreSQL's types (`migrations/postgres`): times are Unix
//! milliseconds and JSON is text, so rows copy across unchanged (`switchboard migrate`).

mod analytics;
mod auth;
mod events;
mod export;
mod feedback;
mod forms;
mod keys;
mod people;
mod reminders;
mod rows;
mod store_events;
mod store_people;
mod store_records;
mod store_reminders;
mod store_tenants;
mod store_turns;
mod tally;
mod tenants;
pub mod testing;
mod turn_commit;
mod turn_delivery;
mod turn_queue;
mod turns;
mod write_tx;

use crate::{Job, Result, StoreError, TenantSettings};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_core::{Clock, TenantId};
use tokio::sync::mpsc;

/// How long a tenant's settings read by one instance may miss a change made by another.
const SETTINGS_TTL: Duration = Duration::from_secs(1);

/// Each migration once, in order; `switchboard_migrations` records which ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_turn_functions.sql"),
];

#[derive(Clone, Debug)]
pub struct PgOptions {
    pub clock: Clock,
    /// Connections in the pool: the most statements this instance runs at once.
    pub max_connections: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            clock: Clock::default(),
            max_connections: 16,
        }
    }
}

pub struct PgStore {
    pool: PgPool,
    /// Monthly counts of tenants without a quota, not written yet (see `tally`).
    counts: Arc<tally::Pending>,
    /// Tenant settings read in the last [`SETTINGS_TTL`], by tenant: every message reads them
    /// (suspended, quota, time zone, consent), and they change rarely. Writes through this
    /// store forget the tenant's entry; another instance's change shows within the TTL.
    settings: Mutex<HashMap<String, (Instant, TenantSettings)>>,
    /// The connection holding this server's advisory lock (see [`PgStore::lock_server`]).
    server_lock: tokio::sync::Mutex<Option<sqlx::PgConnection>>,
    clock: Clock,
    feed: Arc<Mutex<Option<mpsc::UnboundedSender<Job>>>>,
    feed_rx: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?options`) and applies
    /// pending migrations. Errors never repeat the URL: it may hold a password.
    pub async fn connect(url: &str, opts: PgOptions) -> Result<PgStore> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("the PostgreSQL URL is not valid: {}", redact_error(&e))))?;
        PgStore::connect_with(connect, opts).await
    }

    pub async fn connect_with(connect: PgConnectOptions, opts: PgOptions) -> Result<PgStore> {
        // Every query names its tenant beside a more selective key. A generic plan, cached after
        // a few runs on statistics from when the tables were small, would combine the two
        // indexes and read every message of the tenant per query; a plan made for each run's
        // values reads only the rows asked for.
        // No wait for another transaction's row locks is longer than `lock_timeout`: a write
        // holding a conversation's lane must not wait for one that waits for the lane (see
        // `write_tx`); such a write runs again.
        let connect = connect.options([("plan_cache_mode", "force_custom_plan"), ("lock_timeout", "5s")]);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL: {}", redact_error(&e))))?;
        migrate(&pool).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(PgStore {
            counts: tally::start(pool.clone()),
            pool,
            settings: Default::default(),
            server_lock: Default::default(),
            clock: opts.clock,
            feed: Arc::new(Mutex::new(Some(tx))),
            feed_rx: Mutex::new(Some(rx)),
        })
    }

    /// The tenant's settings, read at most [`SETTINGS_TTL`] ago.
    async fn cached_settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        if let Ok(cache) = self.settings.lock()
            && let Some((at, s)) = cache.get(tenant.as_str())
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(s.clone());
        }
        let mut conn = self.pool().acquire().await?;
        let read = tenants::settings(&mut conn, tenant).await?;
        if let Ok(mut cache) = self.settings.lock() {
            cache.insert(tenant.as_str().to_owned(), (Instant::now(), read.clone()));
        }
        Ok(read)
    }

    fn forget_settings(&self, tenant: &TenantId) {
        if let Ok(mut cache) = self.settings.lock() {
            cache.remove(tenant.as_str());
        }
    }

    /// Claims the database for this server until it stops: one server processes the queue at a
    /// time (several instances sharing the work need the coordination of the scaled-out mode).
    /// The lock is a session advisory lock, so it goes with the connection when the process
    /// dies, however it dies. Returns false when another server holds it.
    pub async fn lock_server(&self) -> Result<bool> {
        let mut held = self.server_lock.lock().await;
        if held.is_some() {
            return Ok(true);
        }
        let mut conn = self.pool.acquire().await?.detach();
        let got: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('switchboard_server:' || current_schema()))")
                .fetch_one(&mut conn)
                .await?;
        if got {
            *held = Some(conn);
        }
        Ok(got)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Tells this instance's job runner about jobs a committed write queued. Call only after
    /// the commit: a runner must never see a job whose rows it cannot read yet.
    pub(crate) fn announce(&self, jobs: impl IntoIterator<Item = Job>) {
        if let Ok(f) = self.feed.lock()
            && let Some(tx) = f.as_ref()
        {
            for job in jobs {
                let _ = tx.send(job);
            }
        }
    }

    pub(crate) fn take_feed(&self) -> Option<mpsc::UnboundedReceiver<Job>> {
        self.feed_rx.lock().ok()?.take()
    }

    /// Stops announcing jobs; the pool closes when the last handle goes.
    pub(crate) fn shut(&self) {
        if let Ok(mut f) = self.feed.lock() {
            f.take();
        }
    }
}

/// Applies pending migrations, one transaction each, under an advisory lock per schema so that
/// instances starting together apply each migration once.
async fn migrate(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS switchboard_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *conn)
    .await
    .or_else(ignore_concurrent_create)?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // Another instance may be applying a long migration: wait for it, however long it takes.
    sqlx::query("SET LOCAL lock_timeout = 0").execute(&mut *tx).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('switchboard_migrations:' || current_schema()))")
        .execute(&mut *tx)
        .await?;
    let done: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM switchboard_migrations")
        .fetch_one(&mut *tx)
        .await?;
    let done = done.unwrap_or(0);
    if done as usize > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database schema (version {done}) is newer than this binary knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Database(format!("migration {}: {e}", i + 1)))?;
        sqlx::query("INSERT INTO switchboard_migrations (version) VALUES ($1)")
            .bind(i as i64 + 1)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Two instances creating the bookkeeping table at once: one wins, the other sees a unique
/// violation on the catalog, and the table is there either way.
fn ignore_concurrent_create(e: sqlx::Error) -> Result<sqlx::postgres::PgQueryResult> {
    match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") || d.code().as_deref() == Some("42P07") => {
            Ok(Default::default())
        }
        _ => Err(e.into()),
    }
}

/// sqlx's connection errors can quote the URL they were given; keep only the kind of failure.
fn redact_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(_) => "it could not be parsed".into(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(_) => "the TLS handshake failed".into(),
        sqlx::Error::Database(d) => d.message().to_owned(),
        sqlx::Error::PoolTimedOut => "no connection within 10 s".into(),
        other => other.to_string(),
    }
}
