//! Completing a turn: its job leaves the queue, its inbound message is marked processed, and
//! its replies, context, consent decision, erasure and handoff are written, all in one write.
//! Most turns record no consent, erase nothing and hand nothing over: those are one statement,
//! `switchboard_complete_turn` (migrations/postgres/0002), and, when they queue no job, run
//! outside a transaction (`complete_alone`).

use super::rows::json;
use super::turns::{function_error, next_seq};
use super::write_tx::{TxResult, Write};
use crate::{Erase, Job, JobKind, NewConsent, Priority, ReplyTo, StoreError, TurnCommit};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use switchboard_core::{
    Channel, Content, ConversationContext, ConversationId, Handoff, HandoffStatus, Message, MessageId, MessageStatus,
    TenantId,
};

/// Whether the turn is one statement that queues no job.
pub(super) fn alone(c: &TurnCommit) -> bool {
    plain(c) && (!c.deliver || c.replies.is_empty())
}

fn plain(c: &TurnCommit) -> bool {
    c.consent.is_none() && c.erase == Erase::Nothing && c.handoff.is_none()
}

/// A turn for which [`alone`] holds, on a connection outside a transaction.
pub(super) async fn complete_alone(
    conn: &mut PgConnection,
    tenant: &TenantId,
    c: TurnCommit,
    now: i64,
) -> TxResult<Vec<Message>> {
    Ok(complete_plain(conn, tenant, c, now).await?.0)
}

/// One statement: the replies, and the deliver job it queued if any.
async fn complete_plain(
    conn: &mut PgConnection,
    tenant: &TenantId,
    mut c: TurnCommit,
    now: i64,
) -> TxResult<(Vec<Message>, Option<Job>)> {
    let ids: Vec<MessageId> = c.replies.iter().map(|_| MessageId::generate()).collect();
    let kinds: Vec<&str> = c.replies.iter().map(Content::kind).collect();
    let contents = c.replies.iter().map(json).collect::<crate::Result<Vec<String>>>()?;
    let queue = c.deliver && !c.replies.is_empty();
    let row = sqlx::query(
        "SELECT o_channel, o_user, o_first_seq, o_job \
         FROM switchboard_complete_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant.as_str())
    .bind(c.job_id)
    .bind(c.message.as_str())
    .bind(json(&c.processed)?)
    .bind(c.conversation.as_str())
    .bind(json(&c.context)?)
    .bind(ids.iter().map(MessageId::as_str).collect::<Vec<_>>())
    .bind(kinds)
    .bind(contents)
    .bind(queue.then_some(JobKind::Deliver.as_str()))
    .bind(Priority::Interactive as i64)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(|e| function_error(e, tenant))?;
    let channel_name: String = row.try_get(0)?;
    let channel =
        Channel::parse(&channel_name).ok_or_else(|| StoreError::Corrupt(format!("channel {channel_name}")))?;
    let user: String = row.try_get(1)?;
    let first_seq: Option<i64> = row.try_get(2)?;
    let status = if c.deliver {
        MessageStatus::Queued
    } else {
        MessageStatus::Sent
    };
    let replies = std::mem::take(&mut c.replies);
    let to = ReplyTo {
        tenant,
        commit: &c,
        channel,
        user: &user,
        status,
        now,
    };
    let out = ids
        .into_iter()
        .zip(replies)
        .enumerate()
        .map(|(i, (id, content))| to.message(id, i, first_seq.unwrap_or(0) + i as i64, content))
        .collect();
    let job = row.try_get::<Option<i64>, _>(3)?.map(|id| Job {
        id,
        tenant: tenant.clone(),
        kind: JobKind::Deliver,
        conversation: c.conversation.clone(),
        message: c.message.clone(),
        priority: Priority::Interactive,
        attempts: 0,
        run_at: now,
        last_error: None,
        created_at: now,
    });
    Ok((out, job))
}

pub(super) async fn complete(w: &mut Write, tenant: &TenantId, mut c: TurnCommit) -> TxResult<Vec<Message>> {
    let now = w.now;
    if plain(&c) {
        let (out, job) = complete_plain(w.conn(), tenant, c, now).await?;
        if let Some(job) = job {
            w.queued(job).await;
        }
        return Ok(out);
    }
    // The job's row lock makes a second completion (another instance running the same turn)
    // wait for this one and then find nothing to delete.
    let deleted = sqlx::query("DELETE FROM jobs WHERE id = $1 AND tenant_id = $2")
        .bind(c.job_id)
        .bind(tenant.as_str())
        .execute(w.conn())
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!("job {} is not pending", c.job_id)).into());
    }
    let found: Option<(String, String)> = sqlx::query_as(
        "UPDATE messages SET status = 'processed', processed = $3, updated_at = $4 \
         WHERE id = $1 AND tenant_id = $2 RETURNING channel, user_id",
    )
    .bind(c.message.as_str())
    .bind(tenant.as_str())
    .bind(json(&c.processed)?)
    .bind(now)
    .fetch_optional(w.conn())
    .await?;
    let (channel, user) = found.ok_or_else(|| StoreError::NotFound(format!("message {}", c.message)))?;
    let channel = Channel::parse(&channel).ok_or_else(|| StoreError::Corrupt(format!("channel {channel}")))?;
    if let Some(consent) = &c.consent {
        record_consent(w.conn(), tenant, channel, &user, consent, now).await?;
    }
    erase(w.conn(), tenant, &c, now).await?;
    if let Some(reason) = &c.handoff {
        open_handoff(w.conn(), tenant, &c.conversation, reason, now).await?;
    }
    let status = if c.deliver {
        MessageStatus::Queued
    } else {
        MessageStatus::Sent
    };
    let replies = std::mem::take(&mut c.replies);
    let to = ReplyTo {
        tenant,
        commit: &c,
        channel,
        user: &user,
        status,
        now,
    };
    let mut out = Vec::with_capacity(replies.len());
    for (i, content) in replies.into_iter().enumerate() {
        let seq = next_seq(w.conn(), tenant, &c.conversation, now).await?;
        let id = MessageId::generate();
        sqlx::query(
            "INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind, content, \
             metadata, processed, status, external_id, in_reply_to, reply_index, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'out', $7, $8, '{}', NULL, $12, NULL, $9, $10, $11, $11)",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(c.conversation.as_str())
        .bind(seq)
        .bind(channel.as_str())
        .bind(&user)
        .bind(content.kind())
        .bind(json(&content)?)
        .bind(c.message.as_str())
        .bind(i as i64)
        .bind(now)
        .bind(status.as_str())
        .execute(w.conn())
        .await?;
        out.push(to.message(id, i, seq, content));
    }
    let context = match c.erase {
        Erase::Conversation => ConversationContext::default(),
        Erase::Nothing | Erase::Message => c.context,
    };
    sqlx::query("UPDATE conversations SET context = $3, updated_at = $4 WHERE id = $1 AND tenant_id = $2")
        .bind(c.conversation.as_str())
        .bind(tenant.as_str())
        .bind(json(&context)?)
        .bind(now)
        .execute(w.conn())
        .await?;
    if c.erase == Erase::Conversation && !c.deliver {
        // Nothing has to be sent from the store (the replies go out live): nothing stays.
        sqlx::query("DELETE FROM messages WHERE tenant_id = $1 AND conversation_id = $2")
            .bind(tenant.as_str())
            .bind(c.conversation.as_str())
            .execute(w.conn())
            .await?;
        sqlx::query("DELETE FROM conversations WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(c.conversation.as_str())
            .execute(w.conn())
            .await?;
    }
    if c.deliver && !out.is_empty() {
        w.insert_job(
            JobKind::Deliver,
            tenant,
            &c.conversation,
            &c.message,
            Priority::Interactive,
            now,
        )
        .await?;
    }
    Ok(out)
}

/// Deletes what a refusal of consent (or a message from someone who opted out) must not leave
/// behind. Jobs of later messages of an erased conversation go too: their messages are gone.
async fn erase(conn: &mut PgConnection, tenant: &TenantId, c: &TurnCommit, now: i64) -> TxResult<()> {
    let (t, conv, msg) = (tenant.as_str(), c.conversation.as_str(), c.message.as_str());
    match c.erase {
        Erase::Nothing => {}
        Erase::Message => {
            sqlx::query("DELETE FROM messages WHERE id = $1 AND tenant_id = $2")
                .bind(msg)
                .bind(t)
                .execute(&mut *conn)
                .await?;
            // A conversation that held only this message leaves no trace either.
            sqlx::query(
                "DELETE FROM conversations WHERE id = $1 AND tenant_id = $2 \
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1)",
            )
            .bind(conv)
            .bind(t)
            .execute(&mut *conn)
            .await?;
        }
        Erase::Conversation => {
            sqlx::query("DELETE FROM jobs WHERE tenant_id = $1 AND conversation_id = $2")
                .bind(t)
                .bind(conv)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND id <> $3")
                .bind(t)
                .bind(conv)
                .bind(msg)
                .execute(&mut *conn)
                .await?;
            // The message stays only as the anchor its replies are sent by; its words go.
            sqlx::query(
                "UPDATE messages SET content = $3, kind = 'text', processed = NULL, external_id = NULL \
                 WHERE id = $1 AND tenant_id = $2",
            )
            .bind(msg)
            .bind(t)
            .bind(json(&Content::text(""))?)
            .execute(&mut *conn)
            .await?;
            // Left open: the replies are sent through it (a closed one sends nothing).
            sqlx::query("UPDATE conversations SET handoff = NULL, updated_at = $3 WHERE id = $1 AND tenant_id = $2")
                .bind(conv)
                .bind(t)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn record_consent(
    conn: &mut PgConnection,
    tenant: &TenantId,
    channel: Channel,
    user: &str,
    c: &NewConsent,
    now: i64,
) -> TxResult<()> {
    sqlx::query(
        "INSERT INTO consent_ledger (tenant_id, channel, user_id, decision, text_version, text, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(channel.as_str())
    .bind(user)
    .bind(c.decision.as_str())
    .bind(&c.text_version)
    .bind(&c.text)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Hands the conversation to a person; a conversation already handed over keeps its handoff.
async fn open_handoff(
    conn: &mut PgConnection,
    tenant: &TenantId,
    conversation: &ConversationId,
    reason: &str,
    now: i64,
) -> TxResult<()> {
    let handoff = Handoff {
        status: HandoffStatus::Pending,
        reason: reason.to_owned(),
        agent: None,
        since: now,
        taken_at: None,
    };
    sqlx::query(
        "UPDATE conversations SET handoff = $3, updated_at = $4 \
         WHERE id = $1 AND tenant_id = $2 AND handoff IS NULL AND status = 'open'",
    )
    .bind(conversation.as_str())
    .bind(tenant.as_str())
    .bind(json(&handoff)?)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
