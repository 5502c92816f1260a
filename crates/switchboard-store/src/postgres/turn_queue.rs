//! Jobs that failed: a retry later, the dead letters, and a replay back into the queue.

use super::rows::{DEAD_LETTER_COLS, JOB_COLS, dead_letter_row, job_row};
use super::turns::set_message_status;
use super::write_tx::{TxResult, Write};
use crate::{DeadLetter, Job, JobKind, StoreError};
use sqlx::postgres::PgConnection;
use switchboard_core::{Direction, MessageId, MessageStatus, TenantId};

pub(super) async fn retry(
    w: &mut Write,
    tenant: &TenantId,
    job_id: i64,
    attempts: u32,
    run_at: i64,
    error: &str,
) -> TxResult<()> {
    let n = sqlx::query("UPDATE jobs SET attempts = $3, run_at = $4, last_error = $5 WHERE id = $1 AND tenant_id = $2")
        .bind(job_id)
        .bind(tenant.as_str())
        .bind(i64::from(attempts))
        .bind(run_at)
        .bind(error)
        .execute(w.conn())
        .await?;
    if n.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("job {job_id}")).into());
    }
    Ok(())
}

pub(super) async fn dead_letter(
    w: &mut Write,
    tenant: &TenantId,
    job_id: i64,
    attempts: u32,
    error: &str,
) -> TxResult<DeadLetter> {
    let now = w.now;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM jobs WHERE id = $1 AND tenant_id = $2 RETURNING {JOB_COLS}"
    )))
    .bind(job_id)
    .bind(tenant.as_str())
    .fetch_optional(w.conn())
    .await?;
    let job = row
        .as_ref()
        .map(job_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("job {job_id}")))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO dead_letters (job_id, tenant_id, kind, conversation_id, message_id, priority, attempts, \
         last_error, created_at, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(job.id)
    .bind(tenant.as_str())
    .bind(job.kind.as_str())
    .bind(job.conversation.as_str())
    .bind(job.message.as_str())
    .bind(job.priority as i64)
    .bind(i64::from(attempts))
    .bind(error)
    .bind(job.created_at)
    .bind(now)
    .fetch_one(w.conn())
    .await?;
    if names_its_own_message(w.conn(), tenant, job.kind, &job.message).await? {
        set_message_status(w.conn(), tenant, &job.message, MessageStatus::Failed, now).await?;
    }
    Ok(DeadLetter {
        id,
        job_id: job.id,
        tenant: tenant.clone(),
        kind: job.kind,
        conversation: job.conversation,
        message: job.message,
        priority: job.priority,
        attempts,
        last_error: error.to_owned(),
        created_at: job.created_at,
        failed_at: now,
    })
}

pub(super) async fn replay(w: &mut Write, tenant: &TenantId, id: i64) -> TxResult<Job> {
    let now = w.now;
    // Marked and read in one statement: of two replays at once, the second finds it replayed.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE dead_letters SET replayed_at = $3 WHERE id = $1 AND tenant_id = $2 AND replayed_at IS NULL \
         RETURNING {DEAD_LETTER_COLS}"
    )))
    .bind(id)
    .bind(tenant.as_str())
    .bind(now)
    .fetch_optional(w.conn())
    .await?;
    let dl = row
        .as_ref()
        .map(dead_letter_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("dead letter {id} of tenant {tenant}")))?;
    if names_its_own_message(w.conn(), tenant, dl.kind, &dl.message).await? {
        set_message_status(w.conn(), tenant, &dl.message, MessageStatus::Queued, now).await?;
    }
    w.insert_job(dl.kind, tenant, &dl.conversation, &dl.message, dl.priority, now)
        .await
}

/// Whether a job's message is the one its outcome is about. A turn's is (its inbound message);
/// so is a delivery's when it names an outbound message (a reminder). A delivery of a turn's
/// replies names the inbound message they answer: that turn went well, so the inbound stays
/// processed, and the replies stay queued for a replay to send.
async fn names_its_own_message(
    conn: &mut PgConnection,
    tenant: &TenantId,
    kind: JobKind,
    message: &MessageId,
) -> TxResult<bool> {
    if kind == JobKind::Turn {
        return Ok(true);
    }
    let direction: Option<String> =
        sqlx::query_scalar("SELECT direction FROM messages WHERE id = $1 AND tenant_id = $2")
            .bind(message.as_str())
            .bind(tenant.as_str())
            .fetch_optional(conn)
            .await?;
    Ok(direction.as_deref() == Some(Direction::Outbound.as_str()))
}
