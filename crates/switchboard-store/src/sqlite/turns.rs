//! The writes of a turn's life: accepting an inbound message with its job, completing the
//! turn with its replies. Each runs inside the writer's batch transaction.

use super::WriteCtx;
use super::rows::*;
use crate::{Accepted, Erase, Job, JobKind, NewInbound, Priority, ReplyTo, Result, StoreError, TurnCommit};
use rusqlite::{Connection, OptionalExtension, params};
use switchboard_core::{
    Channel, Content, ConversationContext, ConversationId, Message, MessageId, MessageStatus, TenantId,
};

/// Takes the next sequence number of a conversation.
pub(super) fn next_seq(conn: &Connection, tenant: &TenantId, conversation: &ConversationId, now: i64) -> Result<i64> {
    conn.prepare_cached(
        "UPDATE conversations SET last_seq = last_seq + 1, updated_at = ?3 \
         WHERE id = ?1 AND tenant_id = ?2 RETURNING last_seq",
    )?
    .query_row(params![conversation.as_str(), tenant.as_str(), now], |r| r.get(0))
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("conversation {conversation}")))
}

pub(super) fn insert_job(
    ctx: &mut WriteCtx<'_>,
    kind: JobKind,
    tenant: &TenantId,
    conversation: &ConversationId,
    message: &MessageId,
    priority: Priority,
    created_at: i64,
) -> Result<Job> {
    let id: i64 = ctx
        .conn
        .prepare_cached(
            "INSERT INTO jobs (tenant_id, kind, conversation_id, message_id, priority, attempts, run_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7) RETURNING id",
        )?
        .query_row(
            params![
                tenant.as_str(),
                kind.as_str(),
                conversation.as_str(),
                message.as_str(),
                priority as i64,
                ctx.now,
                created_at
            ],
            |r| r.get(0),
        )?;
    let job = Job {
        id,
        tenant: tenant.clone(),
        kind,
        conversation: conversation.clone(),
        message: message.clone(),
        priority,
        attempts: 0,
        run_at: ctx.now,
        last_error: None,
        created_at,
    };
    ctx.jobs.push(job.clone());
    Ok(job)
}

pub(super) fn set_message_status(
    conn: &Connection,
    tenant: &TenantId,
    id: &MessageId,
    status: MessageStatus,
    now: i64,
) -> Result<()> {
    conn.prepare_cached("UPDATE messages SET status = ?3, updated_at = ?4 WHERE id = ?1 AND tenant_id = ?2")?
        .execute(params![id.as_str(), tenant.as_str(), status.as_str(), now])?;
    Ok(())
}

pub(super) fn accept(ctx: &mut WriteCtx<'_>, tenant: &TenantId, m: NewInbound) -> Result<Accepted> {
    let conn = ctx.conn;
    let now = ctx.now;
    if let Some(ext) = &m.external_id {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE tenant_id = ?1 AND channel = ?2 AND external_id = ?3 AND direction = 'in'"
        );
        if let Some(first) = query_opt(
            conn,
            &sql,
            params![tenant.as_str(), m.channel.as_str(), ext],
            message_row,
        )? {
            return Ok(Accepted {
                conversation: first.conversation,
                message: first.id,
                seq: first.seq,
                duplicate: true,
                content: first.content,
                job: None,
                created_at: first.created_at,
            });
        }
    }
    let existing: Option<String> = conn
        .prepare_cached(
            "SELECT id FROM conversations WHERE tenant_id = ?1 AND channel = ?2 AND user_id = ?3 AND status = 'open'",
        )?
        .query_row(params![tenant.as_str(), m.channel.as_str(), m.user], |r| r.get(0))
        .optional()?;
    let conversation = match existing {
        Some(id) => ConversationId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        None => {
            let id = ConversationId::generate();
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO conversations (id, tenant_id, channel, user_id, status, last_seq, context, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, 'open', 0, ?5, ?6, ?6)",
                )?
                .execute(params![id.as_str(), tenant.as_str(), m.channel.as_str(), m.user, json(&ConversationContext::default())?, now]);
            if let Err(rusqlite::Error::SqliteFailure(e, _)) = &inserted
                && e.code == rusqlite::ErrorCode::ConstraintViolation
            {
                return Err(StoreError::NotFound(format!("tenant {tenant}")));
            }
            inserted?;
            id
        }
    };
    // Counted after the conversation is found or made (an unknown tenant is refused there);
    // a refusal rolls the new conversation back with the rest. Duplicates never get here.
    super::tenants::count_inbound(conn, tenant, now)?;
    let seq = next_seq(conn, tenant, &conversation, now)?;
    conn.prepare_cached(
        "INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind, content, metadata, \
         processed, status, external_id, in_reply_to, reply_index, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'in', ?7, ?8, ?9, NULL, 'queued', ?10, NULL, NULL, ?11, ?11)",
    )?
    .execute(params![
        m.id.as_str(),
        tenant.as_str(),
        conversation.as_str(),
        seq,
        m.channel.as_str(),
        m.user,
        m.content.kind(),
        json(&m.content)?,
        json(&m.metadata)?,
        m.external_id,
        now
    ])?;
    let job = insert_job(ctx, JobKind::Turn, tenant, &conversation, &m.id, m.priority, now)?;
    Ok(Accepted {
        conversation,
        message: m.id,
        seq,
        duplicate: false,
        content: m.content,
        job: Some(job),
        created_at: now,
    })
}

pub(super) fn complete(ctx: &mut WriteCtx<'_>, tenant: &TenantId, mut c: TurnCommit) -> Result<Vec<Message>> {
    let conn = ctx.conn;
    let now = ctx.now;
    let deleted = conn
        .prepare_cached("DELETE FROM jobs WHERE id = ?1 AND tenant_id = ?2")?
        .execute(params![c.job_id, tenant.as_str()])?;
    if deleted == 0 {
        return Err(StoreError::Conflict(format!("job {} is not pending", c.job_id)));
    }
    let (channel, user): (String, String) = conn
        .prepare_cached(
            "UPDATE messages SET status = 'processed', processed = ?3, updated_at = ?4 \
                         WHERE id = ?1 AND tenant_id = ?2 RETURNING channel, user_id",
        )?
        .query_row(
            params![c.message.as_str(), tenant.as_str(), json(&c.processed)?, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("message {}", c.message)))?;
    let channel = Channel::parse(&channel).ok_or_else(|| StoreError::Corrupt(format!("channel {channel}")))?;
    if let Some(consent) = &c.consent {
        super::people::record_consent(conn, tenant, channel, &user, consent, now)?;
    }
    erase(conn, tenant, &c, now)?;
    if let Some(reason) = &c.handoff {
        super::people::open_handoff(conn, tenant, &c.conversation, reason, now)?;
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
        let seq = next_seq(conn, tenant, &c.conversation, now)?;
        let id = MessageId::generate();
        conn.prepare_cached(
            "INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind, content, metadata, \
             processed, status, external_id, in_reply_to, reply_index, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'out', ?7, ?8, '{}', NULL, ?12, NULL, ?9, ?10, ?11, ?11)",
        )?
        .execute(params![
            id.as_str(),
            tenant.as_str(),
            c.conversation.as_str(),
            seq,
            channel.as_str(),
            user,
            content.kind(),
            json(&content)?,
            c.message.as_str(),
            i as i64,
            now,
            status.as_str()
        ])?;
        out.push(to.message(id, i, seq, content));
    }
    let context = match c.erase {
        Erase::Conversation => ConversationContext::default(),
        Erase::Nothing | Erase::Message => c.context,
    };
    conn.prepare_cached("UPDATE conversations SET context = ?3, updated_at = ?4 WHERE id = ?1 AND tenant_id = ?2")?
        .execute(params![c.conversation.as_str(), tenant.as_str(), json(&context)?, now])?;
    if c.erase == Erase::Conversation && !c.deliver {
        // Nothing has to be sent from the store (the replies go out live): nothing stays.
        let (t, conv) = (tenant.as_str(), c.conversation.as_str());
        conn.prepare_cached("DELETE FROM messages WHERE tenant_id = ?1 AND conversation_id = ?2")?
            .execute(params![t, conv])?;
        conn.prepare_cached("DELETE FROM conversations WHERE tenant_id = ?1 AND id = ?2")?
            .execute(params![t, conv])?;
    }
    if c.deliver && !out.is_empty() {
        insert_job(
            ctx,
            JobKind::Deliver,
            tenant,
            &c.conversation,
            &c.message,
            Priority::Interactive,
            now,
        )?;
    }
    Ok(out)
}

/// Deletes what a refusal of consent (or a message from someone who opted out) must not leave
/// behind. Jobs of later messages of an erased conversation go too: their messages are gone.
fn erase(conn: &Connection, tenant: &TenantId, c: &TurnCommit, now: i64) -> Result<()> {
    match c.erase {
        Erase::Nothing => {}
        Erase::Message => {
            conn.prepare_cached("DELETE FROM messages WHERE id = ?1 AND tenant_id = ?2")?
                .execute(params![c.message.as_str(), tenant.as_str()])?;
            // A conversation that held only this message leaves no trace either.
            conn.prepare_cached(
                "DELETE FROM conversations WHERE id = ?1 AND tenant_id = ?2 \
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1)",
            )?
            .execute(params![c.conversation.as_str(), tenant.as_str()])?;
        }
        Erase::Conversation => {
            let (t, conv, msg) = (tenant.as_str(), c.conversation.as_str(), c.message.as_str());
            conn.prepare_cached("DELETE FROM jobs WHERE tenant_id = ?1 AND conversation_id = ?2")?
                .execute(params![t, conv])?;
            conn.prepare_cached("DELETE FROM messages WHERE tenant_id = ?1 AND conversation_id = ?2 AND id <> ?3")?
                .execute(params![t, conv, msg])?;
            // The message stays only as the anchor its replies are sent by; its words go.
            conn.prepare_cached(
                "UPDATE messages SET content = ?3, kind = 'text', processed = NULL, external_id = NULL \
                 WHERE id = ?1 AND tenant_id = ?2",
            )?
            .execute(params![msg, t, json(&Content::text(""))?])?;
            // Left open: the replies are sent through it (a closed one sends nothing).
            conn.prepare_cached(
                "UPDATE conversations SET handoff = NULL, updated_at = ?3 WHERE id = ?1 AND tenant_id = ?2",
            )?
            .execute(params![conv, t, now])?;
        }
    }
    Ok(())
}
