//! Assessment results and feedback. Each add is keyed by the inbound message whose turn made it,
//! so a retried turn finds the first row instead of adding another. The user is taken from the
//! conversation, which must belong to the tenant.

use super::PgStore;
use super::analytics::utc_day;
use super::rows::*;
use crate::{
    AssessmentResult, Feedback, FeedbackDay, FeedbackKind, NewAssessmentResult, NewFeedback, Result, StoreError,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::TenantId;

const RESULT_COLS: &str = "id, tenant_id, conversation_id, user_id, assessment, answers, score, band, created_at";

fn result_row(r: &PgRow) -> Result<AssessmentResult> {
    let answers: String = r.try_get(5)?;
    Ok(AssessmentResult {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        conversation: conversation_id(r.try_get(2)?)?,
        user: r.try_get(3)?,
        assessment: r.try_get(4)?,
        answers: serde_json::from_str(&answers)?,
        score: r.try_get(6)?,
        band: r.try_get(7)?,
        created_at: r.try_get(8)?,
    })
}

pub(super) async fn add_result(
    store: &PgStore,
    tenant: &TenantId,
    new: NewAssessmentResult,
) -> Result<AssessmentResult> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO assessment_results (tenant_id, conversation_id, user_id, assessment, answers, score, band, \
         source_message, created_at) \
         SELECT tenant_id, id, user_id, $3, $4, $5, $6, $7, $8 FROM conversations WHERE id = $1 AND tenant_id = $2 \
         ON CONFLICT (tenant_id, source_message) DO NOTHING",
    )
    .bind(new.conversation.as_str())
    .bind(tenant.as_str())
    .bind(&new.assessment)
    .bind(json(&new.answers)?)
    .bind(new.score)
    .bind(new.band.as_deref())
    .bind(new.source_message.as_str())
    .bind(store.now())
    .execute(&mut *tx)
    .await?;
    let first = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RESULT_COLS} FROM assessment_results WHERE tenant_id = $1 AND source_message = $2"
    )))
    .bind(tenant.as_str())
    .bind(new.source_message.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    first
        .map(|r| result_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {}", new.conversation)))
}

pub(super) async fn results(
    store: &PgStore,
    tenant: &TenantId,
    user: Option<&str>,
    limit: u32,
) -> Result<Vec<AssessmentResult>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {RESULT_COLS} FROM assessment_results WHERE tenant_id = $1 AND ($2::TEXT IS NULL OR user_id = $2) \
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(tenant.as_str())
    .bind(user)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(result_row)
    .collect()
}

const FEEDBACK_COLS: &str = "id, tenant_id, conversation_id, user_id, kind, score, comment, message_id, created_at";

fn feedback_row(r: &PgRow) -> Result<Feedback> {
    let kind: String = r.try_get(4)?;
    let message: Option<String> = r.try_get(7)?;
    Ok(Feedback {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        conversation: conversation_id(r.try_get(2)?)?,
        user: r.try_get(3)?,
        kind: FeedbackKind::parse(&kind).ok_or_else(|| corrupt("feedback kind", &kind))?,
        score: r.try_get(5)?,
        comment: r.try_get(6)?,
        message: message.map(message_id).transpose()?,
        created_at: r.try_get(8)?,
    })
}

pub(super) async fn add_feedback(store: &PgStore, tenant: &TenantId, new: NewFeedback) -> Result<Feedback> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO feedback (tenant_id, conversation_id, user_id, kind, score, message_id, source_message, created_at) \
         SELECT tenant_id, id, user_id, $3, $4, $5, $6, $7 FROM conversations WHERE id = $1 AND tenant_id = $2 \
         ON CONFLICT (tenant_id, source_message) DO NOTHING",
    )
    .bind(new.conversation.as_str())
    .bind(tenant.as_str())
    .bind(new.kind.as_str())
    .bind(new.score)
    .bind(new.message.as_ref().map(|m| m.as_str()))
    .bind(new.source_message.as_str())
    .bind(store.now())
    .execute(&mut *tx)
    .await?;
    let first = sqlx::query(AssertSqlSafe(format!(
        "SELECT {FEEDBACK_COLS} FROM feedback WHERE tenant_id = $1 AND source_message = $2"
    )))
    .bind(tenant.as_str())
    .bind(new.source_message.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    first
        .map(|r| feedback_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {}", new.conversation)))
}

pub(super) async fn set_comment(store: &PgStore, tenant: &TenantId, id: i64, comment: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE feedback SET comment = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .bind(comment)
        .execute(store.pool())
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn list(store: &PgStore, tenant: &TenantId, limit: u32) -> Result<Vec<Feedback>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {FEEDBACK_COLS} FROM feedback WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(tenant.as_str())
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(feedback_row)
    .collect()
}

/// Days are UTC dates, like the language model usage.
pub(super) async fn per_day(store: &PgStore, tenant: &TenantId, days: u32) -> Result<Vec<FeedbackDay>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        utc_day!("created_at"),
        " AS day, \
         COUNT(*) FILTER (WHERE kind = 'csat'), \
         AVG(score::DOUBLE PRECISION) FILTER (WHERE kind = 'csat'), \
         COUNT(*) FILTER (WHERE kind = 'thumbs' AND score > 0), \
         COUNT(*) FILTER (WHERE kind = 'thumbs' AND score <= 0) \
         FROM feedback WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1 DESC LIMIT $2"
    ))
    .bind(tenant.as_str())
    .bind(i64::from(days))
    .fetch_all(store.pool())
    .await?;
    let n = |r: &PgRow, i: usize| -> Result<u64> { Ok(r.try_get::<i64, _>(i)?.max(0) as u64) };
    rows.iter()
        .map(|r| {
            Ok(FeedbackDay {
                day: r.try_get(0)?,
                csat_count: n(r, 1)?,
                csat_average: r.try_get(2)?,
                thumbs_up: n(r, 3)?,
                thumbs_down: n(r, 4)?,
            })
        })
        .collect()
}
