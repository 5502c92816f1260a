//! Monthly inbound message counts of tenants without a quota, added up in memory and written a
//! few times a second. Counting in the message's own transaction would lock the tenant's
//! counter row from the count to the commit (its WAL flush included), so every message of the
//! tenant would wait for the one before it: a few hundred messages a second at most. A tenant
//! with a quota is counted exactly, in the transaction (see `turns::count_inbound`); without one
//! the count is only reported, and a crash loses at most the last `FLUSH_EVERY` of it (a
//! graceful stop writes it: `TurnStore::flush`).

use super::PgStore;
use crate::Result;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// (tenant, `YYYY-MM`) → messages not written yet.
pub(super) type Pending = Mutex<HashMap<(String, String), i64>>;

pub(super) fn start(pool: PgPool) -> Arc<Pending> {
    let pending: Arc<Pending> = Arc::default();
    let weak = Arc::downgrade(&pending);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            let Some(pending) = Weak::upgrade(&weak) else { break };
            if let Err(e) = flush(&pool, &pending).await {
                tracing::warn!(error = %e, "writing the monthly message counts failed; retrying");
            }
        }
    });
    pending
}

pub(super) fn add(pending: &Pending, tenant: &str, month: String) {
    if let Ok(mut p) = pending.lock() {
        *p.entry((tenant.to_owned(), month)).or_default() += 1;
    }
}

/// Writes what is pending; what fails to be written stays pending.
pub(super) async fn flush(pool: &PgPool, pending: &Pending) -> Result<()> {
    let batch: Vec<((String, String), i64)> = match pending.lock() {
        Ok(mut p) => p.drain().collect(),
        Err(_) => return Ok(()),
    };
    for (i, ((tenant, month), n)) in batch.iter().enumerate() {
        let written = sqlx::query(
            "INSERT INTO tenant_message_counts (tenant_id, month, messages) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, month) DO UPDATE SET messages = tenant_message_counts.messages + $3",
        )
        .bind(tenant)
        .bind(month)
        .bind(n)
        .execute(pool)
        .await;
        if let Err(e) = written {
            // A deleted tenant's counts have nowhere to go; anything else is tried again.
            let gone = matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23503"));
            if !gone && let Ok(mut p) = pending.lock() {
                for ((t, m), n) in &batch[i..] {
                    *p.entry((t.clone(), m.clone())).or_default() += n;
                }
            }
            return Err(e.into());
        }
    }
    Ok(())
}

impl PgStore {
    /// Writes the pending counts now: before anything reads the counters.
    pub(crate) async fn flush_counts(&self) -> Result<()> {
        flush(&self.pool, &self.counts).await
    }
}
