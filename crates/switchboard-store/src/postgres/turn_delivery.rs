//! What became of outbound messages sent through a platform: their status, the platform's id for
//! them, and how many of the parts a reply goes out as were accepted.

use super::write_tx::{TxResult, Write};
use crate::StoreError;
use switchboard_core::{Channel, MessageId, MessageStatus, TenantId};

pub(super) async fn record(
    w: &mut Write,
    tenant: &TenantId,
    message: &MessageId,
    status: MessageStatus,
    platform_id: Option<&str>,
    error: Option<&str>,
) -> TxResult<()> {
    // Metadata is JSON text; the error goes in as a key of the object (anything else is kept as
    // it is, as SQLite's json_set does with a key path on a non-object).
    let n = sqlx::query(
        "UPDATE messages SET status = $3, external_id = COALESCE($4::text, external_id), \
         metadata = CASE WHEN $5::text IS NULL OR jsonb_typeof(metadata::jsonb) <> 'object' THEN metadata \
                    ELSE jsonb_set(metadata::jsonb, '{error}', to_jsonb($5::text))::text END, \
         updated_at = $6 WHERE id = $1 AND tenant_id = $2 AND direction = 'out'",
    )
    .bind(message.as_str())
    .bind(tenant.as_str())
    .bind(status.as_str())
    .bind(platform_id)
    .bind(error)
    .bind(w.now)
    .execute(w.conn())
    .await?;
    if n.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("outbound message {message}")).into());
    }
    Ok(())
}

/// The count never moves back: a smaller one would make a retry send accepted parts again.
pub(super) async fn record_parts(
    w: &mut Write,
    tenant: &TenantId,
    message: &MessageId,
    parts: u32,
    platform_id: Option<&str>,
) -> TxResult<()> {
    let n = sqlx::query(
        "UPDATE messages SET parts_sent = GREATEST(parts_sent, $3), \
         external_id = CASE WHEN $3 > parts_sent THEN COALESCE($4::text, external_id) ELSE external_id END, \
         updated_at = $5 WHERE id = $1 AND tenant_id = $2 AND direction = 'out'",
    )
    .bind(message.as_str())
    .bind(tenant.as_str())
    .bind(i64::from(parts))
    .bind(platform_id)
    .bind(w.now)
    .execute(w.conn())
    .await?;
    if n.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("outbound message {message}")).into());
    }
    Ok(())
}

/// Statuses only move forward (sent -> delivered -> read); `failed` always applies.
pub(super) async fn apply_platform_status(
    w: &mut Write,
    tenant: &TenantId,
    channel: Channel,
    platform_id: &str,
    status: MessageStatus,
) -> TxResult<Option<MessageId>> {
    // Locked, so that two reports racing (delivered, read) cannot move the status back.
    let current: Option<(String, String)> = sqlx::query_as(
        "SELECT id, status FROM messages WHERE tenant_id = $1 AND channel = $2 AND direction = 'out' \
         AND external_id = $3 ORDER BY rid LIMIT 1 FOR UPDATE",
    )
    .bind(tenant.as_str())
    .bind(channel.as_str())
    .bind(platform_id)
    .fetch_optional(w.conn())
    .await?;
    let Some((id, current)) = current else { return Ok(None) };
    let rank = |s: &str| match s {
        "queued" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        _ => 4,
    };
    if status == MessageStatus::Failed || rank(status.as_str()) > rank(&current) {
        sqlx::query("UPDATE messages SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(&id)
            .bind(status.as_str())
            .bind(w.now)
            .execute(w.conn())
            .await?;
    }
    Ok(Some(super::rows::message_id(id)?))
}
