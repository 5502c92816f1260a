//! Form submissions: completed forms, and the claim-and-finish cycle of sending them.

use super::PgStore;
use super::rows::*;
use crate::{NewSubmission, Result, SUBMISSION_CLAIM_LEASE_MS, SendOutcome, StoreError, Submission, SubmissionStatus};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::TenantId;

const COLS: &str = "id, tenant_id, conversation_id, user_id, form, \"values\", status, attempts, max_attempts, \
     next_attempt_at, claimed_at, last_error, source_message, created_at, updated_at";

fn row(r: &PgRow) -> Result<Submission> {
    let values: String = r.try_get(5)?;
    let status: String = r.try_get(6)?;
    Ok(Submission {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        conversation: conversation_id(r.try_get(2)?)?,
        user: r.try_get(3)?,
        form: r.try_get(4)?,
        values: serde_json::from_str(&values)?,
        status: SubmissionStatus::parse(&status).ok_or_else(|| corrupt("submission status", &status))?,
        attempts: r.try_get::<i64, _>(7)?.max(0) as u32,
        max_attempts: r.try_get::<i64, _>(8)?.max(0) as u32,
        next_attempt_at: r.try_get(9)?,
        claimed_at: r.try_get(10)?,
        last_error: r.try_get(11)?,
        source_message: message_id(r.try_get(12)?)?,
        created_at: r.try_get(13)?,
        updated_at: r.try_get(14)?,
    })
}

pub(super) async fn add(store: &PgStore, tenant: &TenantId, s: NewSubmission) -> Result<Submission> {
    let now = store.now();
    let due = (s.status == SubmissionStatus::Pending).then_some(now);
    let mut tx = store.begin().await?;
    // A retried turn (even one racing the first) conflicts on its source message and reads back
    // the first submission.
    sqlx::query(
        "INSERT INTO form_submissions (tenant_id, conversation_id, user_id, form, \"values\", status, max_attempts, \
         next_attempt_at, source_message, created_at, updated_at) \
         SELECT tenant_id, id, user_id, $3, $4, $5, $6, $7, $8, $9, $9 \
         FROM conversations WHERE id = $1 AND tenant_id = $2 \
         ON CONFLICT (tenant_id, source_message) DO NOTHING",
    )
    .bind(s.conversation.as_str())
    .bind(tenant.as_str())
    .bind(&s.form)
    .bind(json(&s.values)?)
    .bind(s.status.as_str())
    .bind(i64::from(s.max_attempts))
    .bind(due)
    .bind(s.source_message.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let first = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLS} FROM form_submissions WHERE tenant_id = $1 AND source_message = $2"
    )))
    .bind(tenant.as_str())
    .bind(s.source_message.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    first
        .map(|r| row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {}", s.conversation)))
}

pub(super) async fn list(
    store: &PgStore,
    tenant: &TenantId,
    form: Option<&str>,
    limit: u32,
) -> Result<Vec<Submission>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLS} FROM form_submissions WHERE tenant_id = $1 AND ($2::TEXT IS NULL OR form = $2) \
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(tenant.as_str())
    .bind(form)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(row)
    .collect()
}

pub(super) async fn get(store: &PgStore, tenant: &TenantId, id: i64) -> Result<Option<Submission>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLS} FROM form_submissions WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant.as_str())
    .fetch_optional(store.pool())
    .await?
    .map(|r| row(&r))
    .transpose()
}

pub(super) async fn claim_due(store: &PgStore, now: i64, limit: u32) -> Result<Vec<Submission>> {
    // SKIP LOCKED: a submission another instance is claiming right now is left to it; one whose
    // claim committed meanwhile is re-checked and no longer due.
    let rows = sqlx::query(AssertSqlSafe(format!(
        "UPDATE form_submissions SET claimed_at = $1, updated_at = $1 WHERE id IN ( \
           SELECT id FROM form_submissions WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (claimed_at IS NULL OR claimed_at <= $1 - $2) \
           ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLS}"
    )))
    .bind(now)
    .bind(SUBMISSION_CLAIM_LEASE_MS)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let mut claimed = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
    // RETURNING gives no order; the oldest due go first.
    claimed.sort_by_key(|s| (s.next_attempt_at, s.id));
    Ok(claimed)
}

pub(super) async fn finish(
    store: &PgStore,
    tenant: &TenantId,
    id: i64,
    claimed_at: i64,
    outcome: SendOutcome,
) -> Result<bool> {
    let (status, next, error) = match outcome {
        SendOutcome::Sent => (SubmissionStatus::Sent, None, None),
        SendOutcome::Failed { error } => (SubmissionStatus::Failed, None, Some(error)),
        SendOutcome::Retry { at, error } => (SubmissionStatus::Pending, Some(at), Some(error)),
    };
    // The claim time must still match: a sender whose claim lapsed and was taken over records
    // nothing.
    let done = sqlx::query(
        "UPDATE form_submissions SET status = $4, next_attempt_at = $5, last_error = coalesce($6, last_error), \
         attempts = attempts + 1, claimed_at = NULL, updated_at = $7 \
         WHERE id = $1 AND tenant_id = $2 AND status = 'pending' AND claimed_at = $3",
    )
    .bind(id)
    .bind(tenant.as_str())
    .bind(claimed_at)
    .bind(status.as_str())
    .bind(next)
    .bind(error)
    .bind(store.now())
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}
