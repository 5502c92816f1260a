//! One write, one transaction. Several instances share the database, so a transaction may lose
//! to another (a deadlock, a lock wait that times out): it is rolled back and run again from the
//! start, and only an answer that committed is returned. Jobs it queued are announced after the
//! commit. Concurrent writes commit in any order, so a job may become visible after one with a
//! higher id: the runtime's scheduler takes such late jobs (it remembers the ids it skipped).
//! One conversation's jobs, though, must reach the scheduler in order, or a later message could
//! run first: see `LANES`.

use super::PgStore;
use crate::{Job, JobKind, Priority, Result, StoreError};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Transaction};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;
use switchboard_core::{ConversationId, MessageId, TenantId};
use tokio::sync::{Mutex, MutexGuard};

/// Runs of one write at most, the first included.
const ATTEMPTS: u32 = 6;

/// A write that queues jobs for a conversation holds that conversation's lane here from its
/// first job insert until its jobs are announced. The conversation's next write (which waits
/// on the conversation's row until this one commits) cannot announce before it: without this,
/// the task of the first write could be scheduled after the second's, and the scheduler would
/// see the conversation's jobs out of order. Shards keep it a fixed array; two conversations
/// in one shard only wait for each other's announcement, a few microseconds after a commit.
static LANES: [Mutex<()>; 1024] = [const { Mutex::const_new(()) }; 1024];

fn lane_of(conversation: &ConversationId) -> &'static Mutex<()> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(conversation.as_str());
    &LANES[(h % LANES.len() as u64) as usize]
}

pub(super) type TxResult<T> = std::result::Result<T, TxError>;

/// What a write's body returns: run again as a whole when the transaction lost.
pub(super) type WriteFuture<'w, T> = Pin<Box<dyn Future<Output = TxResult<T>> + Send + 'w>>;

#[derive(Debug)]
pub(super) enum TxError {
    Store(StoreError),
    /// Lost to a concurrent transaction; running the write again may succeed.
    Retry(String),
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl From<serde_json::Error> for TxError {
    fn from(e: serde_json::Error) -> Self {
        TxError::Store(e.into())
    }
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        // 40001 serialization failure, 40P01 deadlock, 55P03 lock timeout.
        let transient = matches!(&e, sqlx::Error::Database(d)
            if matches!(d.code().as_deref(), Some("40001" | "40P01" | "55P03")));
        if transient {
            TxError::Retry(e.to_string())
        } else {
            TxError::Store(e.into())
        }
    }
}

/// What a write sees: its transaction, the time it runs at, and the jobs it queued.
pub(super) struct Write {
    tx: Transaction<'static, Postgres>,
    pub now: i64,
    jobs: Vec<Job>,
    lane: Option<MutexGuard<'static, ()>>,
}

impl Write {
    pub(super) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Queues a job, announced once the write commits. Insert jobs last in a write, and for one
    /// conversation per write (its lane is held from here to the announcement).
    pub(super) async fn insert_job(
        &mut self,
        kind: JobKind,
        tenant: &TenantId,
        conversation: &ConversationId,
        message: &MessageId,
        priority: Priority,
        created_at: i64,
    ) -> TxResult<Job> {
        self.take_lane(conversation).await;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO jobs (tenant_id, kind, conversation_id, message_id, priority, attempts, run_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7) RETURNING id",
        )
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(conversation.as_str())
        .bind(message.as_str())
        .bind(priority as i64)
        .bind(self.now)
        .bind(created_at)
        .fetch_one(&mut *self.tx)
        .await?;
        let job = Job {
            id,
            tenant: tenant.clone(),
            kind,
            conversation: conversation.clone(),
            message: message.clone(),
            priority,
            attempts: 0,
            run_at: self.now,
            last_error: None,
            created_at,
        };
        self.jobs.push(job.clone());
        Ok(job)
    }

    /// A job the write's statements inserted, announced once the write commits. Call it right
    /// after the statement that inserted it, before any other statement of the write.
    pub(super) async fn queued(&mut self, job: Job) -> Job {
        self.take_lane(&job.conversation).await;
        self.jobs.push(job.clone());
        job
    }

    async fn take_lane(&mut self, conversation: &ConversationId) {
        if self.lane.is_none() {
            // Holding a lane, a write must not wait long on another transaction's row locks
            // (that one could wait for the lane): every connection has a `lock_timeout` (see
            // `PgStore::connect_with`), the wait ends with 55P03, and the write runs again.
            self.lane = Some(lane_of(conversation).lock().await);
        }
    }
}

/// Runs `op` in a transaction of its own and commits it, running it again (a new
/// transaction, a new `now`) when it lost to a concurrent one.
///
/// `op` gets a second argument only to tie the lifetimes: what it borrows outlives the write.
pub(super) async fn run<'a, T>(
    store: &PgStore,
    op: impl for<'w> Fn(&'w mut Write, PhantomData<&'w &'a ()>) -> WriteFuture<'w, T>,
) -> Result<T> {
    let mut attempt = 1;
    loop {
        let mut w = Write {
            tx: store.begin().await?,
            now: store.now(),
            jobs: Vec::new(),
            lane: None,
        };
        let lost = match op(&mut w, PhantomData).await {
            Ok(value) => {
                let Write { tx, jobs, lane, .. } = w;
                match tx.commit().await {
                    Ok(()) => {
                        store.announce(jobs);
                        drop(lane);
                        return Ok(value);
                    }
                    Err(e) => TxError::from(e),
                }
            }
            Err(e) => {
                let _ = w.tx.rollback().await;
                e
            }
        };
        again(&mut attempt, lost).await?;
    }
}

/// Runs `op`, one statement that queues no job, on its own: the statement is its own
/// transaction (no `BEGIN` and `COMMIT` round trips). Run again, with a new `now`, when it
/// lost to a concurrent write.
pub(super) async fn run_alone<'a, T>(
    store: &PgStore,
    op: impl for<'c> Fn(&'c mut PgConnection, i64, PhantomData<&'c &'a ()>) -> WriteFuture<'c, T>,
) -> Result<T> {
    let mut attempt = 1;
    loop {
        let mut conn = store.pool().acquire().await?;
        match op(&mut conn, store.now(), PhantomData).await {
            Ok(value) => return Ok(value),
            Err(lost) => again(&mut attempt, lost).await?,
        }
    }
}

/// After a failed run: the error when it is final or the runs are used up, else a pause.
async fn again(attempt: &mut u32, lost: TxError) -> Result<()> {
    match lost {
        TxError::Store(e) => Err(e),
        TxError::Retry(why) if *attempt >= ATTEMPTS => Err(StoreError::Conflict(format!(
            "gave up after {ATTEMPTS} concurrent-transaction conflicts: {why}"
        ))),
        TxError::Retry(why) => {
            tracing::debug!(attempt, error = %why, "postgres write lost to a concurrent one; again");
            tokio::time::sleep(backoff(*attempt)).await;
            *attempt += 1;
            Ok(())
        }
    }
}

/// A few milliseconds, growing, and spread so that two writes that collided do not collide again.
fn backoff(attempt: u32) -> Duration {
    let spread = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()) % 5)
        .unwrap_or(0);
    Duration::from_millis((2u64 << attempt.min(6)) + spread)
}
