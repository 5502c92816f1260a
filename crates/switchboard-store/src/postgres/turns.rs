//! The writes that add messages to a conversation: accepting an inbound message with its job,
//! and a bot message that answers none (a reminder, a notice). Each runs inside a `Write`.

use super::rows::{MESSAGE_COLS, channel, message_row};
use super::write_tx::{TxError, TxResult, Write};
use crate::{Accepted, JobKind, NewInbound, Priority, StoreError};
use sqlx::postgres::PgConnection;
use switchboard_core::{
    Channel, Content, ConversationContext, ConversationId, Direction, Message, MessageId, MessageStatus, TenantId,
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

/// The first copy of an inbound message with this platform id, if any.
async fn first_copy(
    c: &mut PgConnection,
    tenant: &TenantId,
    channel: Channel,
    external_id: &str,
) -> TxResult<Option<Message>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLS} FROM messages WHERE tenant_id = $1 AND channel = $2 AND external_id = $3 \
         AND direction = 'in'"
    )))
    .bind(tenant.as_str())
    .bind(channel.as_str())
    .bind(external_id)
    .fetch_optional(c)
    .await?;
    Ok(row.as_ref().map(message_row).transpose()?)
}

/// Also says whether the message is still to be counted (a tenant without a quota, see `tally`).
/// `quota`: the tenant's monthly message quota, if it has one.
pub(super) async fn accept(
    w: &mut Write,
    tenant: &TenantId,
    m: NewInbound,
    quota: Option<u64>,
) -> TxResult<(Accepted, bool)> {
    let now = w.now;
    if let Some(ext) = &m.external_id
        && let Some(first) = first_copy(w.conn(), tenant, m.channel, ext).await?
    {
        let first = Accepted {
            conversation: first.conversation,
            message: first.id,
            seq: first.seq,
            duplicate: true,
            content: first.content,
            job: None,
            created_at: first.created_at,
        };
        return Ok((first, false));
    }
    let conversation = open_for_update(w.conn(), tenant, m.channel, &m.user, now).await?;
    // Counted after the conversation is found or made (an unknown tenant is refused there);
    // a refusal rolls the new conversation back with the rest. Duplicates never get here.
    let counted = count_inbound(w.conn(), tenant, quota, now).await?;
    let seq = next_seq(w.conn(), tenant, &conversation, now).await?;
    let inserted = sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind, content, \
         metadata, processed, status, external_id, in_reply_to, reply_index, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'in', $7, $8, $9, NULL, 'queued', $10, NULL, NULL, $11, $11) \
         ON CONFLICT (tenant_id, channel, external_id) WHERE external_id IS NOT NULL AND direction = 'in' \
         DO NOTHING",
    )
    .bind(m.id.as_str())
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .bind(seq)
    .bind(m.channel.as_str())
    .bind(&m.user)
    .bind(m.content.kind())
    .bind(super::rows::json(&m.content)?)
    .bind(super::rows::json(&m.metadata)?)
    .bind(m.external_id.as_deref())
    .bind(now)
    .execute(w.conn())
    .await?;
    if inserted.rows_affected() == 0 {
        // Another instance stored the same platform message since the check above. Undoing
        // this attempt (its seq, its count) and running it again answers with that copy.
        return Err(TxError::Retry(format!(
            "inbound message {:?} stored concurrently",
            m.external_id
        )));
    }
    let job = w
        .insert_job(JobKind::Turn, tenant, &conversation, &m.id, m.priority, now)
        .await?;
    let accepted = Accepted {
        conversation,
        message: m.id,
        seq,
        duplicate: false,
        content: m.content,
        job: Some(job),
        created_at: now,
    };
    Ok((accepted, !counted))
}

/// The user's open conversation on the channel, opened if there is none, and locked until the
/// commit. Two writers opening one at once both end up with the same: the unique index on open
/// conversations lets one insert win, and the other finds it on its next look.
async fn open_for_update(
    c: &mut PgConnection,
    tenant: &TenantId,
    channel: Channel,
    user: &str,
    now: i64,
) -> TxResult<ConversationId> {
    // Each round either finds an open conversation or loses an insert to a concurrent one that
    // was then closed before the look; more than a few rounds means something else is wrong.
    for _ in 0..5 {
        // NO KEY: rows that only point at the conversation (another turn's replies, a reminder)
        // may still be written meanwhile.
        let found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE tenant_id = $1 AND channel = $2 AND user_id = $3 \
             AND status = 'open' FOR NO KEY UPDATE",
        )
        .bind(tenant.as_str())
        .bind(channel.as_str())
        .bind(user)
        .fetch_optional(&mut *c)
        .await?;
        if let Some(id) = found {
            return Ok(super::rows::conversation_id(id)?);
        }
        let id = ConversationId::generate();
        let inserted = sqlx::query(
            "INSERT INTO conversations (id, tenant_id, channel, user_id, status, last_seq, context, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'open', 0, $5, $6, $6) \
             ON CONFLICT (tenant_id, channel, user_id) WHERE status = 'open' DO NOTHING",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(channel.as_str())
        .bind(user)
        .bind(super::rows::json(&ConversationContext::default())?)
        .bind(now)
        .execute(&mut *c)
        .await;
        match inserted {
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                return Err(StoreError::NotFound(format!("tenant {tenant}")).into());
            }
            Err(e) => return Err(e.into()),
            Ok(r) if r.rows_affected() == 1 => return Ok(id),
            Ok(_) => {}
        }
    }
    Err(TxError::Retry(format!(
        "the open conversation of {user} keeps changing"
    )))
}

/// UTC months (`YYYY-MM`), the same for every instance whatever its time zone.
pub(super) fn month(at_ms: i64) -> String {
    switchboard_core::clock::rfc3339(at_ms).chars().take(7).collect()
}

/// Counts one inbound message of a tenant with a quota against the month of `now`, refusing it
/// past the quota. The counter's row stays locked until the commit and the check reads the
/// count after this message's increment, so two racing messages cannot both take the last
/// unit. Returns false for a tenant without a quota: its count is added after the commit.
async fn count_inbound(c: &mut PgConnection, tenant: &TenantId, quota: Option<u64>, now: i64) -> TxResult<bool> {
    let Some(quota) = quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX)) else {
        return Ok(false);
    };
    let counted: i64 = sqlx::query_scalar(
        "INSERT INTO tenant_message_counts (tenant_id, month, messages) VALUES ($1, $2, 1) \
         ON CONFLICT (tenant_id, month) DO UPDATE SET messages = tenant_message_counts.messages + 1 \
         RETURNING messages",
    )
    .bind(tenant.as_str())
    .bind(month(now))
    .fetch_one(&mut *c)
    .await?;
    if counted > quota.max(0) {
        return Err(StoreError::QuotaExceeded(quota.max(0) as u64).into());
    }
    Ok(true)
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
    .bind(super::rows::json(&content)?)
    .bind(super::rows::json(&metadata)?)
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
