//! Assessment results and feedback. Each add is keyed by the inbound message whose turn made it,
//! so a retried turn finds the first row instead of adding another. The user is taken from the
//! conversation, which must belong to the tenant.

use super::WriteCtx;
use super::rows::*;
use crate::{
    AssessmentResult, Feedback, FeedbackDay, FeedbackKind, NewAssessmentResult, NewFeedback, Result, StoreError,
};
use rusqlite::{Connection, Row, params};
use switchboard_core::TenantId;

const RESULT_COLS: &str = "id, tenant_id, conversation_id, user_id, assessment, answers, score, band, created_at";

fn result_row(r: &Row<'_>) -> Result<AssessmentResult> {
    let answers: String = r.get(5)?;
    Ok(AssessmentResult {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        conversation: conversation_id(r.get(2)?)?,
        user: r.get(3)?,
        assessment: r.get(4)?,
        answers: serde_json::from_str(&answers)?,
        score: r.get(6)?,
        band: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub(super) fn add_result(
    ctx: &mut WriteCtx<'_>,
    tenant: &TenantId,
    new: NewAssessmentResult,
) -> Result<AssessmentResult> {
    let conn = ctx.conn;
    let answers = serde_json::to_string(&new.answers)?;
    conn.prepare_cached(
        "INSERT INTO assessment_results (tenant_id, conversation_id, user_id, assessment, answers, score, band, \
         source_message, created_at) \
         SELECT tenant_id, id, user_id, ?3, ?4, ?5, ?6, ?7, ?8 FROM conversations WHERE id = ?1 AND tenant_id = ?2 \
         ON CONFLICT (tenant_id, source_message) DO NOTHING",
    )?
    .execute(params![
        new.conversation.as_str(),
        tenant.as_str(),
        new.assessment,
        answers,
        new.score,
        new.band,
        new.source_message.as_str(),
        ctx.now
    ])?;
    query_opt(
        conn,
        &format!("SELECT {RESULT_COLS} FROM assessment_results WHERE tenant_id = ?1 AND source_message = ?2"),
        params![tenant.as_str(), new.source_message.as_str()],
        result_row,
    )?
    .ok_or_else(|| StoreError::NotFound(format!("conversation {}", new.conversation)))
}

pub(super) fn results(
    conn: &Connection,
    tenant: &TenantId,
    user: Option<&str>,
    limit: u32,
) -> Result<Vec<AssessmentResult>> {
    query_all(
        conn,
        &format!(
            "SELECT {RESULT_COLS} FROM assessment_results WHERE tenant_id = ?1 AND (?2 IS NULL OR user_id = ?2) \
             ORDER BY id DESC LIMIT ?3"
        ),
        params![tenant.as_str(), user, limit],
        result_row,
    )
}

const FEEDBACK_COLS: &str = "id, tenant_id, conversation_id, user_id, kind, score, comment, message_id, created_at";

fn feedback_row(r: &Row<'_>) -> Result<Feedback> {
    let kind: String = r.get(4)?;
    let message: Option<String> = r.get(7)?;
    Ok(Feedback {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        conversation: conversation_id(r.get(2)?)?,
        user: r.get(3)?,
        kind: FeedbackKind::parse(&kind).ok_or_else(|| corrupt("feedback kind", &kind))?,
        score: r.get(5)?,
        comment: r.get(6)?,
        message: message.map(message_id).transpose()?,
        created_at: r.get(8)?,
    })
}

pub(super) fn add_feedback(ctx: &mut WriteCtx<'_>, tenant: &TenantId, new: NewFeedback) -> Result<Feedback> {
    let conn = ctx.conn;
    conn.prepare_cached(
        "INSERT INTO feedback (tenant_id, conversation_id, user_id, kind, score, message_id, source_message, created_at) \
         SELECT tenant_id, id, user_id, ?3, ?4, ?5, ?6, ?7 FROM conversations WHERE id = ?1 AND tenant_id = ?2 \
         ON CONFLICT (tenant_id, source_message) DO NOTHING",
    )?
    .execute(params![
        new.conversation.as_str(),
        tenant.as_str(),
        new.kind.as_str(),
        new.score,
        new.message.as_ref().map(|m| m.as_str()),
        new.source_message.as_str(),
        ctx.now
    ])?;
    query_opt(
        conn,
        &format!("SELECT {FEEDBACK_COLS} FROM feedback WHERE tenant_id = ?1 AND source_message = ?2"),
        params![tenant.as_str(), new.source_message.as_str()],
        feedback_row,
    )?
    .ok_or_else(|| StoreError::NotFound(format!("conversation {}", new.conversation)))
}

pub(super) fn set_comment(conn: &Connection, tenant: &TenantId, id: i64, comment: &str) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE feedback SET comment = ?3 WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant.as_str(), id, comment])?;
    Ok(n > 0)
}

pub(super) fn list(conn: &Connection, tenant: &TenantId, limit: u32) -> Result<Vec<Feedback>> {
    query_all(
        conn,
        &format!("SELECT {FEEDBACK_COLS} FROM feedback WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2"),
        params![tenant.as_str(), limit],
        feedback_row,
    )
}

/// Days are UTC dates, like the language model usage.
pub(super) fn per_day(conn: &Connection, tenant: &TenantId, days: u32) -> Result<Vec<FeedbackDay>> {
    query_all(
        conn,
        "SELECT date(created_at / 1000, 'unixepoch') AS day, \
         SUM(kind = 'csat'), AVG(CASE WHEN kind = 'csat' THEN score END), \
         SUM(kind = 'thumbs' AND score > 0), SUM(kind = 'thumbs' AND score <= 0) \
         FROM feedback WHERE tenant_id = ?1 GROUP BY day ORDER BY day DESC LIMIT ?2",
        params![tenant.as_str(), days],
        |r| {
            Ok(FeedbackDay {
                day: r.get(0)?,
                csat_count: r.get::<_, i64>(1)?.max(0) as u64,
                csat_average: r.get(2)?,
                thumbs_up: r.get::<_, i64>(3)?.max(0) as u64,
                thumbs_down: r.get::<_, i64>(4)?.max(0) as u64,
            })
        },
    )
}
