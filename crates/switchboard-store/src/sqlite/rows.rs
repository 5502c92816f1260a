//! Row <-> record mapping. Column lists live next to the mapper that reads them.

use crate::{ConnectorRecord, DeadLetter, Job, JobKind, Priority, Result, StoreError, TenantRecord};
use rusqlite::{Connection, Params, Row};
use switchboard_core::{
    Channel, Conversation, ConversationId, ConversationStatus, Direction, Message, MessageId, MessageStatus, TenantId,
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

pub const TENANT_COLS: &str = "id, name, bot_source, created_at, updated_at";

pub fn tenant_row(r: &Row<'_>) -> Result<TenantRecord> {
    Ok(TenantRecord {
        id: tenant(r.get(0)?)?,
        name: r.get(1)?,
        bot_source: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

pub const CONVERSATION_COLS: &str =
    "id, tenant_id, channel, user_id, status, last_seq, context, created_at, updated_at, handoff";

pub fn conversation_row(r: &Row<'_>) -> Result<Conversation> {
    let status: String = r.get(4)?;
    let context: String = r.get(6)?;
    Ok(Conversation {
        id: conversation_id(r.get(0)?)?,
        tenant: tenant(r.get(1)?)?,
        channel: channel(r.get(2)?)?,
        user: r.get(3)?,
        status: ConversationStatus::parse(&status).ok_or_else(|| corrupt("conversation status", &status))?,
        last_seq: r.get(5)?,
        context: serde_json::from_str(&context)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        handoff: r
            .get::<_, Option<String>>(9)?
            .map(|h| serde_json::from_str(&h))
            .transpose()?,
    })
}

pub const MESSAGE_COLS: &str = "id, tenant_id, conversation_id, seq, channel, user_id, direction, content, metadata, \
     processed, status, external_id, in_reply_to, reply_index, created_at, updated_at";

pub fn message_row(r: &Row<'_>) -> Result<Message> {
    let direction: String = r.get(6)?;
    let content: String = r.get(7)?;
    let metadata: String = r.get(8)?;
    let processed: Option<String> = r.get(9)?;
    let status: String = r.get(10)?;
    let in_reply_to: Option<String> = r.get(12)?;
    Ok(Message {
        id: message_id(r.get(0)?)?,
        tenant: tenant(r.get(1)?)?,
        conversation: conversation_id(r.get(2)?)?,
        seq: r.get(3)?,
        channel: channel(r.get(4)?)?,
        user: r.get(5)?,
        direction: Direction::parse(&direction).ok_or_else(|| corrupt("direction", &direction))?,
        content: serde_json::from_str(&content)?,
        metadata: serde_json::from_str(&metadata)?,
        processed: processed.map(|p| serde_json::from_str(&p)).transpose()?,
        status: MessageStatus::parse(&status).ok_or_else(|| corrupt("message status", &status))?,
        external_id: r.get(11)?,
        in_reply_to: in_reply_to.map(message_id).transpose()?,
        reply_index: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

pub const JOB_COLS: &str =
    "id, tenant_id, kind, conversation_id, message_id, priority, attempts, run_at, last_error, created_at";

pub fn job_row(r: &Row<'_>) -> Result<Job> {
    let kind: String = r.get(2)?;
    Ok(Job {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt("job kind", &kind))?,
        conversation: conversation_id(r.get(3)?)?,
        message: message_id(r.get(4)?)?,
        priority: Priority::from_i64(r.get(5)?),
        attempts: r.get(6)?,
        run_at: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
    })
}

pub const DEAD_LETTER_COLS: &str = "id, job_id, tenant_id, kind, conversation_id, message_id, priority, attempts, \
     last_error, created_at, failed_at";

pub fn dead_letter_row(r: &Row<'_>) -> Result<DeadLetter> {
    let kind: String = r.get(3)?;
    Ok(DeadLetter {
        id: r.get(0)?,
        job_id: r.get(1)?,
        tenant: tenant(r.get(2)?)?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt("job kind", &kind))?,
        conversation: conversation_id(r.get(4)?)?,
        message: message_id(r.get(5)?)?,
        priority: Priority::from_i64(r.get(6)?),
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        failed_at: r.get(10)?,
    })
}

pub(super) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
    f: fn(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(p)?;
    match rows.next()? {
        Some(r) => Ok(Some(f(r)?)),
        None => Ok(None),
    }
}

pub(super) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
    f: fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(p)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(f(r)?);
    }
    Ok(out)
}

pub(super) fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("cannot encode: {e}")))
}

pub const CONNECTOR_COLS: &str =
    "tenant_id, id, channel, account_id, secrets, settings, enabled, created_at, updated_at";

pub fn connector_row(r: &Row<'_>) -> Result<ConnectorRecord> {
    let settings: String = r.get(5)?;
    Ok(ConnectorRecord {
        tenant: tenant(r.get(0)?)?,
        id: r.get(1)?,
        channel: channel(r.get(2)?)?,
        account_id: r.get(3)?,
        secrets: r.get(4)?,
        settings: serde_json::from_str(&settings)?,
        enabled: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}
