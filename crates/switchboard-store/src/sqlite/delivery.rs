//! Progress of a reply that goes out as several platform messages.

use super::WriteCtx;
use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use switchboard_core::{MessageId, TenantId};

pub(super) fn parts_sent(conn: &Connection, tenant: &TenantId, message: &MessageId) -> Result<u32> {
    let parts: Option<i64> = conn
        .prepare_cached("SELECT parts_sent FROM messages WHERE id = ?1 AND tenant_id = ?2 AND direction = 'out'")?
        .query_row(params![message.as_str(), tenant.as_str()], |r| r.get(0))
        .optional()?;
    let parts = parts.ok_or_else(|| StoreError::NotFound(format!("outbound message {message}")))?;
    Ok(u32::try_from(parts).unwrap_or(0))
}

/// The count never moves back: a smaller one would make a retry send accepted parts again.
pub(super) fn record(
    ctx: &mut WriteCtx<'_>,
    tenant: &TenantId,
    message: &MessageId,
    parts: u32,
    platform_id: Option<&str>,
) -> Result<()> {
    let n = ctx
        .conn
        .prepare_cached(
            "UPDATE messages SET parts_sent = MAX(parts_sent, ?3), \
             external_id = CASE WHEN ?3 > parts_sent THEN COALESCE(?4, external_id) ELSE external_id END, \
             updated_at = ?5 WHERE id = ?1 AND tenant_id = ?2 AND direction = 'out'",
        )?
        .execute(params![message.as_str(), tenant.as_str(), parts, platform_id, ctx.now])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("outbound message {message}")));
    }
    Ok(())
}
