//! Row <-> record mapping for PostgreSQL. The column lists are SQLite's (`sqlite/rows.rs`):
//! the schemas match column for column.

use crate::{ConnectorRecord, DeadLetter, Job, JobKind, Priority, Result, StoreError, TenantRecord};
use sqlx::Row;
use sqlx::postgres::PgRow;
use switchboard_core::{
    Channel, Conversation, ConversationId, ConversationStatus, Direction, Message, MessageId, MessageStatus, TenantId,
};

pub(super) use crate::sqlite::rows::{
    CONNECTOR_COLS, CONVERSATION_COLS, DEAD_LETTER_COLS, JOB_COLS, MESSAGE_COLS, TENANT_COLS,
};

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

pub(super) fn tenant(s: String) -> Result<TenantId> {
    TenantId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
}
pub(super) fn conversation_id(s: String) -> Result<ConversationId> {
    ConversationId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
}
pub(super) fn message_id(s: String) -> Result<MessageId> {
    MessageId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
}
pub(super) fn channel(s: String) -> Result<Channel> {
    Channel::parse(&s).ok_or_else(|| corrupt("channel", &s))
}

/// A non-negative counter stored as BIGINT.
pub(super) fn count(r: &PgRow, i: usize) -> Result<u32> {
    let n: i64 = r.try_get(i)?;
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n} out of range")))
}

pub(super) fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("cannot encode: {e}")))
}

pub(super) fn tenant_row(r: &PgRow) -> Result<TenantRecord> {
    Ok(TenantRecord {
        id: tenant(r.try_get(0)?)?,
        name: r.try_get(1)?,
        bot_source: r.try_get(2)?,
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    })
}

/// `cols` with each column named as `alias.column`, for a query that joins tables.
pub(super) fn prefixed(cols: &str, alias: &str) -> String {
    cols.split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn conversation_row(r: &PgRow) -> Result<Conversation> {
    conversation_row_at(r, 0)
}

/// A conversation whose columns start at `o` in the row.
pub(super) fn conversation_row_at(r: &PgRow, o: usize) -> Result<Conversation> {
    let status: String = r.try_get(o + 4)?;
    let context: String = r.try_get(o + 6)?;
    Ok(Conversation {
        id: conversation_id(r.try_get(o)?)?,
        tenant: tenant(r.try_get(o + 1)?)?,
        channel: channel(r.try_get(o + 2)?)?,
        user: r.try_get(o + 3)?,
        status: ConversationStatus::parse(&status).ok_or_else(|| corrupt("conversation status", &status))?,
        last_seq: r.try_get(o + 5)?,
        context: serde_json::from_str(&context)?,
        created_at: r.try_get(o + 7)?,
        updated_at: r.try_get(o + 8)?,
        handoff: r
            .try_get::<Option<String>, _>(o + 9)?
            .map(|h| serde_json::from_str(&h))
            .transpose()?,
    })
}

pub(super) fn message_row(r: &PgRow) -> Result<Message> {
    let direction: String = r.try_get(6)?;
    let content: String = r.try_get(7)?;
    let metadata: String = r.try_get(8)?;
    let processed: Option<String> = r.try_get(9)?;
    let status: String = r.try_get(10)?;
    let in_reply_to: Option<String> = r.try_get(12)?;
    Ok(Message {
        id: message_id(r.try_get(0)?)?,
        tenant: tenant(r.try_get(1)?)?,
        conversation: conversation_id(r.try_get(2)?)?,
        seq: r.try_get(3)?,
        channel: channel(r.try_get(4)?)?,
        user: r.try_get(5)?,
        direction: Direction::parse(&direction).ok_or_else(|| corrupt("direction", &direction))?,
        content: serde_json::from_str(&content)?,
        metadata: serde_json::from_str(&metadata)?,
        processed: processed.map(|p| serde_json::from_str(&p)).transpose()?,
        status: MessageStatus::parse(&status).ok_or_else(|| corrupt("message status", &status))?,
        external_id: r.try_get(11)?,
        in_reply_to: in_reply_to.map(message_id).transpose()?,
        reply_index: r.try_get(13)?,
        created_at: r.try_get(14)?,
        updated_at: r.try_get(15)?,
    })
}

pub(super) fn job_row(r: &PgRow) -> Result<Job> {
    let kind: String = r.try_get(2)?;
    Ok(Job {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt("job kind", &kind))?,
        conversation: conversation_id(r.try_get(3)?)?,
        message: message_id(r.try_get(4)?)?,
        priority: Priority::from_i64(r.try_get(5)?),
        attempts: count(r, 6)?,
        run_at: r.try_get(7)?,
        last_error: r.try_get(8)?,
        created_at: r.try_get(9)?,
    })
}

pub(super) fn dead_letter_row(r: &PgRow) -> Result<DeadLetter> {
    let kind: String = r.try_get(3)?;
    Ok(DeadLetter {
        id: r.try_get(0)?,
        job_id: r.try_get(1)?,
        tenant: tenant(r.try_get(2)?)?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt("job kind", &kind))?,
        conversation: conversation_id(r.try_get(4)?)?,
        message: message_id(r.try_get(5)?)?,
        priority: Priority::from_i64(r.try_get(6)?),
        attempts: count(r, 7)?,
        last_error: r.try_get(8)?,
        created_at: r.try_get(9)?,
        failed_at: r.try_get(10)?,
    })
}

pub(super) fn connector_row(r: &PgRow) -> Result<ConnectorRecord> {
    let settings: String = r.try_get(5)?;
    Ok(ConnectorRecord {
        tenant: tenant(r.try_get(0)?)?,
        id: r.try_get(1)?,
        channel: channel(r.try_get(2)?)?,
        account_id: r.try_get(3)?,
        secrets: r.try_get(4)?,
        settings: serde_json::from_str(&settings)?,
        enabled: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}
