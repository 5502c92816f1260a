//! The writes that add messages to a conversation: accepting an inbound message with its job,
//! and a bot message that answers none (a reminder, a notice). Each runs inside a `Write`.

use super::rows::{channel, conversation_id, json, message_id};
use super::write_tx::{TxError, TxResult, Write};
use crate::{Accepted, Job, JobKind, NewInbound, Priority, StoreError};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use switchboard_core::{
    Content, ConversationContext, ConversationId, Direction, Message, MessageId, MessageStatus, TenantId,
};

/// Takes the next sequence number of a conversation. The row stays locked until the commit, so
/// concurrent writers to one conversation take numbers one after the other, with no gaps.
pub(super) async fn next_seq(
    c: &mut PgConnection,
    tenant: &TenantId,
    conversation: &ConversationId,
    now: i64,
) -> TxResult<i64> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $3 \
         WHERE id = $1 AND tenant_id = $2 RETURNING last_seq",
    )
    .bind(conversation.as_str())
    .bind(tenant.as_str())
    .bind(now)
    .fetch_optional(c)
    .await?;
    Ok(seq.ok_or_else(|| StoreError::NotFound(format!("conversation {conversation}")))?)
}

pub(super) async fn set_message_status(
    c: &mut PgConnection,
    tenant: &TenantId,
    id: &MessageId,
    status: MessageStatus,
    now: i64,
) -> TxResult<()> {
    sqlx::query("UPDATE messages SET status = $3, updated_at = $4 WHERE id = $1 AND tenant_id = $2")
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(status.as_str())
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// Also says whether the message is still to be counted (a tenant without a quota, see `tally`).
/// `quota`: the tenant's monthly message quota, if it has one. One statement,
/// `switchboard_accept` (migrations/postgres/0002): its first copy when the platform sent it
/// before, else the open conversation (opened if there is none, locked until the commit), the
/// quota count, the next seq, the message and its turn job.
pub(super) async fn accept(
    w: &mut Write,
    tenant: &TenantId,
    m: NewInbound,
    quota: Option<u64>,
) -> TxResult<(Accepted, bool)> {
    let now = w.now;
    let quota = quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
    let row = sqlx::query(
        "SELECT o_duplicate, o_conversation, o_message, o_seq, o_content, o_created_at, o_job \
         FROM switchboard_accept($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(tenant.as_str())
    .bind(m.channel.as_str())
    .bind(&m.user)
    .bind(m.id.as_str())
    .bind(m.content.kind())
    .bind(json(&m.content)?)
    .bind(json(&m.metadata)?)
    .bind(m.external_id.as_deref())
    .bind(JobKind::Turn.as_str())
    .bind(m.priority as i64)
    .bind(quota)
    .bind(month(now))
    .bind(ConversationId::generate().as_str())
    .bind(json(&ConversationContext::default())?)
    .bind(now)
    .fetch_one(w.conn())
    .await
    .map_err(|e| function_error(e, tenant))?;
    let duplicate: bool = row.try_get(0)?;
    let conversation = conversation_id(row.try_get(1)?)?;
    let message = message_id(row.try_get(2)?)?;
    let content: String = row.try_get(4)?;
    let job = match row.try_get::<Option<i64>, _>(6)? {
        Some(id) => Some(
            w.queued(Job {
                id,
                tenant: tenant.clone(),
                kind: JobKind::Turn,
                conversation: conversation.clone(),
                message: message.clone(),
                priority: m.priority,
                attempts: 0,
                run_at: now,
                last_error: None,
                created_at: now,
            })
            .await,
        ),
        None => None,
    };
    let accepted = Accepted {
        conversation,
        message,
        seq: row.try_get(3)?,
        duplicate,
        content: if duplicate {
            serde_json::from_str(&content)?
        } else {
            m.content
        },
        job,
        created_at: row.try_get(5)?,
    };
    Ok((accepted, !duplicate && quota.is_none()))
}

/// Maps the errors `switchboard_accept` and `switchboard_complete_turn` raise (see their
/// migration) to the store's.
pub(super) fn function_error(e: sqlx::Error, tenant: &TenantId) -> TxError {
    if let sqlx::Error::Database(d) = &e {
        let detail = || d.message().to_owned();
        match d.code().as_deref() {
            Some("SB001") => {
                let quota = d
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .and_then(|p| p.detail())
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(0);
                return StoreError::QuotaExceeded(quota).into();
            }
            Some("SB002") => return StoreError::Conflict(detail()).into(),
            Some("SB003") => return StoreError::NotFound(detail()).into(),
            _ if d.is_foreign_key_violation() => return StoreError::NotFound(format!("tenant {tenant}")).into(),
            _ => {}
        }
    }
    e.into()
}

/// UTC months (`YYYY-MM`), the same for every instance whatever its time zone.
pub(super) fn month(at_ms: i64) -> String {
    switchboard_core::clock::rfc3339(at_ms).chars().take(7).collect()
}

/// A bot message that answers no inbound message, at the end of the conversation. With
/// `deliver` it is stored `queued` with a `Deliver` job naming it (the outbox); otherwise it is
/// `sent` once stored.
pub(super) async fn proactive(
    w: &mut Write,
    tenant: &TenantId,
    conversation: &ConversationId,
    content: Content,
    metadata: serde_json::Value,
    deliver: bool,
) -> TxResult<Message> {
    let now = w.now;
    let found: Option<(String, String)> =
        sqlx::query_as("SELECT channel, user_id FROM conversations WHERE id = $1 AND tenant_id = $2")
            .bind(conversation.as_str())
            .bind(tenant.as_str())
            .fetch_optional(w.conn())
            .await?;
    let (channel_name, user) = found.ok_or_else(|| StoreError::NotFound(format!("conversation {conversation}")))?;
    let channel = channel(channel_name)?;
    let status = if deliver {
        MessageStatus::Queued
    } else {
        MessageStatus::Sent
    };
    let seq = next_seq(w.conn(), tenant, conversation, now).await?;
    let id = MessageId::generate();
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind, content, \
         metadata, processed, status, external_id, in_reply_to, reply_index, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'out', $7, $8, $9, NULL, $10, NULL, NULL, NULL, $11, $11)",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .bind(seq)
    .bind(channel.as_str())
    .bind(&user)
    .bind(content.kind())
    .bind(json(&content)?)
    .bind(json(&metadata)?)
    .bind(status.as_str())
    .bind(now)
    .execute(w.conn())
    .await?;
    if deliver {
        // The job names the outbound message itself: there is no inbound message it answers.
        w.insert_job(JobKind::Deliver, tenant, conversation, &id, Priority::Normal, now)
            .await?;
    }
    Ok(Message {
        id,
        tenant: tenant.clone(),
        conversation: conversation.clone(),
        seq,
        channel,
        user,
        direction: Direction::Outbound,
        content,
        metadata,
        processed: None,
        status,
        external_id: None,
        in_reply_to: None,
        reply_index: None,
        created_at: now,
        updated_at: now,
    })
}
