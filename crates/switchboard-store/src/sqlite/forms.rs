//! Form submissions: completed forms, and the claim-and-finish cycle of sending them.

use super::WriteCtx;
use super::rows::*;
use crate::{NewSubmission, Result, SUBMISSION_CLAIM_LEASE_MS, SendOutcome, StoreError, Submission, SubmissionStatus};
use rusqlite::{Connection, Row, params};
use switchboard_core::TenantId;

const COLS: &str = "id, tenant_id, conversation_id, user_id, form, \"values\", status, attempts, max_attempts, \
     next_attempt_at, claimed_at, last_error, source_message, created_at, updated_at";

fn row(r: &Row<'_>) -> Result<Submission> {
    let values: String = r.get(5)?;
    let status: String = r.get(6)?;
    Ok(Submission {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        conversation: conversation_id(r.get(2)?)?,
        user: r.get(3)?,
        form: r.get(4)?,
        values: serde_json::from_str(&values)?,
        status: SubmissionStatus::parse(&status).ok_or_else(|| corrupt("submission status", &status))?,
        attempts: r.get::<_, i64>(7)?.max(0) as u32,
        max_attempts: r.get::<_, i64>(8)?.max(0) as u32,
        next_attempt_at: r.get(9)?,
        claimed_at: r.get(10)?,
        last_error: r.get(11)?,
        source_message: message_id(r.get(12)?)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

pub(super) fn add(ctx: &mut WriteCtx<'_>, tenant: &TenantId, s: NewSubmission) -> Result<Submission> {
    let conn = ctx.conn;
    let by_source = format!("SELECT {COLS} FROM form_submissions WHERE tenant_id = ?1 AND source_message = ?2");
    let key = params![tenant.as_str(), s.source_message.as_str()];
    if let Some(first) = query_opt(conn, &by_source, key, row)? {
        return Ok(first);
    }
    let due = (s.status == SubmissionStatus::Pending).then_some(ctx.now);
    conn.prepare_cached(
        "INSERT INTO form_submissions (tenant_id, conversation_id, user_id, form, \"values\", status, max_attempts, \
         next_attempt_at, source_message, created_at, updated_at) \
         SELECT tenant_id, id, user_id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9 \
         FROM conversations WHERE id = ?1 AND tenant_id = ?2",
    )?
    .execute(params![
        s.conversation.as_str(),
        tenant.as_str(),
        s.form,
        json(&s.values)?,
        s.status.as_str(),
        s.max_attempts,
        due,
        s.source_message.as_str(),
        ctx.now
    ])?;
    query_opt(conn, &by_source, key, row)?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {}", s.conversation)))
}

pub(super) fn list(conn: &Connection, tenant: &TenantId, form: Option<&str>, limit: u32) -> Result<Vec<Submission>> {
    query_all(
        conn,
        &format!(
            "SELECT {COLS} FROM form_submissions WHERE tenant_id = ?1 AND (?2 IS NULL OR form = ?2) \
             ORDER BY id DESC LIMIT ?3"
        ),
        params![tenant.as_str(), form, limit],
        row,
    )
}

pub(super) fn get(conn: &Connection, tenant: &TenantId, id: i64) -> Result<Option<Submission>> {
    query_opt(
        conn,
        &format!("SELECT {COLS} FROM form_submissions WHERE id = ?1 AND tenant_id = ?2"),
        params![id, tenant.as_str()],
        row,
    )
}

pub(super) fn claim_due(conn: &Connection, now: i64, limit: u32) -> Result<Vec<Submission>> {
    // One UPDATE ... RETURNING in the writer's transaction: selection and claim cannot
    // interleave with another instance's claim.
    query_all(
        conn,
        &format!(
            "UPDATE form_submissions SET claimed_at = ?1, updated_at = ?1 WHERE id IN ( \
               SELECT id FROM form_submissions WHERE status = 'pending' AND next_attempt_at <= ?1 \
                 AND (claimed_at IS NULL OR claimed_at <= ?1 - ?2) \
               ORDER BY next_attempt_at, id LIMIT ?3) \
             RETURNING {COLS}"
        ),
        params![now, SUBMISSION_CLAIM_LEASE_MS, limit],
        row,
    )
}

pub(super) fn finish(
    conn: &Connection,
    tenant: &TenantId,
    id: i64,
    claimed_at: i64,
    outcome: SendOutcome,
    now: i64,
) -> Result<bool> {
    let (status, next, error) = match outcome {
        SendOutcome::Sent => (SubmissionStatus::Sent, None, None),
        SendOutcome::Failed { error } => (SubmissionStatus::Failed, None, Some(error)),
        SendOutcome::Retry { at, error } => (SubmissionStatus::Pending, Some(at), Some(error)),
    };
    let n = conn
        .prepare_cached(
            "UPDATE form_submissions SET status = ?4, next_attempt_at = ?5, last_error = coalesce(?6, last_error), \
             attempts = attempts + 1, claimed_at = NULL, updated_at = ?7 \
             WHERE id = ?1 AND tenant_id = ?2 AND status = 'pending' AND claimed_at = ?3",
        )?
        .execute(params![
            id,
            tenant.as_str(),
            claimed_at,
            status.as_str(),
            next,
            error,
            now
        ])?;
    Ok(n > 0)
}
