//! Reminders, tasks and proactive messages (bot messages that answer no inbound message).
//! Each write runs inside the writer's batch transaction.

use super::WriteCtx;
use super::rows::*;
use super::turns::{insert_job, next_seq};
use crate::{
    JobKind, NewReminder, Priority, REMINDER_CLAIM_LEASE_MS, Reminder, ReminderStatus, Result, StoreError, Task,
    TaskStatus,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_core::{Content, ConversationId, Direction, Message, MessageId, MessageStatus, TenantId};

pub(super) const REMINDER_COLS: &str = "id, tenant_id, conversation_id, user_id, channel, text, language, time_zone, \
     due_at, fire_at, status, source_message, message_id, claimed_at, created_at, fired_at";

pub(super) fn reminder_row(r: &Row<'_>) -> Result<Reminder> {
    let status: String = r.get(10)?;
    let message: Option<String> = r.get(12)?;
    Ok(Reminder {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        conversation: conversation_id(r.get(2)?)?,
        user: r.get(3)?,
        channel: channel(r.get(4)?)?,
        text: r.get(5)?,
        language: r.get(6)?,
        time_zone: r.get(7)?,
        due_at: r.get(8)?,
        fire_at: r.get(9)?,
        status: ReminderStatus::parse(&status).ok_or_else(|| corrupt("reminder status", &status))?,
        source_message: message_id(r.get(11)?)?,
        message: message.map(message_id).transpose()?,
        claimed_at: r.get(13)?,
        created_at: r.get(14)?,
        fired_at: r.get(15)?,
    })
}

pub(super) const TASK_COLS: &str = "id, tenant_id, user_id, text, status, created_at, done_at";

pub(super) fn task_row(r: &Row<'_>) -> Result<Task> {
    let status: String = r.get(4)?;
    Ok(Task {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        user: r.get(2)?,
        text: r.get(3)?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", &status))?,
        created_at: r.get(5)?,
        done_at: r.get(6)?,
    })
}

pub(super) fn proactive(
    ctx: &mut WriteCtx<'_>,
    tenant: &TenantId,
    conversation: &ConversationId,
    content: Content,
    metadata: serde_json::Value,
    deliver: bool,
) -> Result<Message> {
    let conn = ctx.conn;
    let now = ctx.now;
    let (channel_name, user): (String, String) = conn
        .prepare_cached("SELECT channel, user_id FROM conversations WHERE id = ?1 AND tenant_id = ?2")?
        .query_row(params![conversation.as_str(), tenant.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {conversation}")))?;
    let channel = channel(channel_name)?;
    let status = if deliver {
        MessageStatus::Queued
    } else {
        MessageStatus::Sent
    };
    let seq = next_seq(conn, tenant, conversation, now)?;
    let id = MessageId::generate();
    conn.prepare_cached(
        "INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind, content, metadata, \
         processed, status, external_id, in_reply_to, reply_index, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'out', ?7, ?8, ?9, NULL, ?10, NULL, NULL, NULL, ?11, ?11)",
    )?
    .execute(params![
        id.as_str(),
        tenant.as_str(),
        conversation.as_str(),
        seq,
        channel.as_str(),
        user,
        content.kind(),
        json(&content)?,
        json(&metadata)?,
        status.as_str(),
        now
    ])?;
    if deliver {
        // The job names the outbound message itself: there is no inbound message it answers.
        insert_job(ctx, JobKind::Deliver, tenant, conversation, &id, Priority::Normal, now)?;
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

fn reminder_by_id(conn: &Connection, tenant: &TenantId, id: i64) -> Result<Option<Reminder>> {
    query_opt(
        conn,
        &format!("SELECT {REMINDER_COLS} FROM reminders WHERE id = ?1 AND tenant_id = ?2"),
        params![id, tenant.as_str()],
        reminder_row,
    )
}

pub(super) fn add_reminder(ctx: &mut WriteCtx<'_>, tenant: &TenantId, r: NewReminder) -> Result<Reminder> {
    let conn = ctx.conn;
    let existing = query_opt(
        conn,
        &format!("SELECT {REMINDER_COLS} FROM reminders WHERE tenant_id = ?1 AND source_message = ?2"),
        params![tenant.as_str(), r.source_message.as_str()],
        reminder_row,
    )?;
    if let Some(first) = existing {
        return Ok(first);
    }
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO reminders (tenant_id, conversation_id, user_id, channel, text, language, time_zone, due_at, \
             fire_at, status, source_message, created_at) \
             SELECT tenant_id, id, user_id, channel, ?3, ?4, ?5, ?6, ?6, 'pending', ?7, ?8 \
             FROM conversations WHERE id = ?1 AND tenant_id = ?2 RETURNING id",
        )?
        .query_row(
            params![
                r.conversation.as_str(),
                tenant.as_str(),
                r.text,
                r.language,
                r.time_zone,
                r.due_at,
                r.source_message.as_str(),
                ctx.now
            ],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("conversation {}", r.conversation)))?;
    reminder_by_id(conn, tenant, id)?.ok_or_else(|| StoreError::NotFound(format!("reminder {id}")))
}

pub(super) fn reminder(conn: &Connection, tenant: &TenantId, id: i64) -> Result<Option<Reminder>> {
    reminder_by_id(conn, tenant, id)
}

pub(super) fn reminders(
    conn: &Connection,
    tenant: &TenantId,
    user: &str,
    status: ReminderStatus,
    limit: u32,
) -> Result<Vec<Reminder>> {
    let order = match status {
        ReminderStatus::Pending | ReminderStatus::Firing => "due_at, id",
        ReminderStatus::Fired | ReminderStatus::Cancelled => "coalesce(fired_at, created_at) DESC, id DESC",
    };
    query_all(
        conn,
        &format!(
            "SELECT {REMINDER_COLS} FROM reminders WHERE tenant_id = ?1 AND user_id = ?2 AND status = ?3 \
             ORDER BY {order} LIMIT ?4"
        ),
        params![tenant.as_str(), user, status.as_str(), limit],
        reminder_row,
    )
}

pub(super) fn snooze(conn: &Connection, tenant: &TenantId, id: i64, due_at: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE reminders SET status = 'pending', due_at = ?3, fire_at = ?3, claimed_at = NULL \
             WHERE id = ?1 AND tenant_id = ?2 AND status IN ('pending', 'fired')",
        )?
        .execute(params![id, tenant.as_str(), due_at])?;
    Ok(n > 0)
}

pub(super) fn cancel(conn: &Connection, tenant: &TenantId, id: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE reminders SET status = 'cancelled', claimed_at = NULL \
             WHERE id = ?1 AND tenant_id = ?2 AND status IN ('pending', 'firing')",
        )?
        .execute(params![id, tenant.as_str()])?;
    Ok(n > 0)
}

pub(super) fn hold(conn: &Connection, tenant: &TenantId, id: i64, until: i64) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE reminders SET status = 'pending', fire_at = ?3, claimed_at = NULL \
             WHERE id = ?1 AND tenant_id = ?2 AND status = 'firing'",
        )?
        .execute(params![id, tenant.as_str(), until])?;
    Ok(n > 0)
}

pub(super) fn claim_due(conn: &Connection, now: i64, limit: u32) -> Result<Vec<Reminder>> {
    // One UPDATE ... RETURNING inside the writer's transaction: the selection and the claim
    // cannot interleave with another claimer's.
    query_all(
        conn,
        &format!(
            "UPDATE reminders SET status = 'firing', claimed_at = ?1 WHERE id IN ( \
               SELECT id FROM reminders WHERE status IN ('pending', 'firing') AND fire_at <= ?1 AND ( \
                 status = 'pending' OR claimed_at <= ?1 - ?2) \
               ORDER BY fire_at, id LIMIT ?3) \
             RETURNING {REMINDER_COLS}"
        ),
        params![now, REMINDER_CLAIM_LEASE_MS, limit],
        reminder_row,
    )
}

pub(super) fn fire(
    ctx: &mut WriteCtx<'_>,
    tenant: &TenantId,
    id: i64,
    claimed_at: i64,
    content: Content,
    deliver: bool,
) -> Result<Option<Message>> {
    let claimed: Option<(String, String)> = ctx
        .conn
        .prepare_cached(
            "SELECT conversation_id, source_message FROM reminders \
             WHERE id = ?1 AND tenant_id = ?2 AND status = 'firing' AND claimed_at = ?3",
        )?
        .query_row(params![id, tenant.as_str(), claimed_at], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((conversation, source)) = claimed else {
        return Ok(None);
    };
    let conversation = conversation_id(conversation)?;
    // The message that set the reminder carries the platform event that addresses the chat.
    let metadata = serde_json::json!({ "reminder": id, "anchor": source });
    let message = proactive(ctx, tenant, &conversation, content, metadata, deliver)?;
    ctx.conn
        .prepare_cached(
            "UPDATE reminders SET status = 'fired', fired_at = ?3, message_id = ?4, claimed_at = NULL \
             WHERE id = ?1 AND tenant_id = ?2",
        )?
        .execute(params![id, tenant.as_str(), ctx.now, message.id.as_str()])?;
    Ok(Some(message))
}

pub(super) fn add_task(
    ctx: &mut WriteCtx<'_>,
    tenant: &TenantId,
    user: &str,
    text: &str,
    source: &MessageId,
) -> Result<Task> {
    let conn = ctx.conn;
    conn.prepare_cached(
        "INSERT INTO tasks (tenant_id, user_id, text, status, source_message, created_at) \
         VALUES (?1, ?2, ?3, 'open', ?4, ?5) ON CONFLICT (tenant_id, source_message) DO NOTHING",
    )?
    .execute(params![tenant.as_str(), user, text, source.as_str(), ctx.now])?;
    query_opt(
        conn,
        &format!("SELECT {TASK_COLS} FROM tasks WHERE tenant_id = ?1 AND source_message = ?2"),
        params![tenant.as_str(), source.as_str()],
        task_row,
    )?
    .ok_or_else(|| StoreError::NotFound(format!("task of message {source}")))
}

pub(super) fn tasks(
    conn: &Connection,
    tenant: &TenantId,
    user: &str,
    status: Option<TaskStatus>,
    limit: u32,
) -> Result<Vec<Task>> {
    query_all(
        conn,
        &format!(
            "SELECT {TASK_COLS} FROM tasks WHERE tenant_id = ?1 AND user_id = ?2 AND (?3 IS NULL OR status = ?3) \
             ORDER BY id LIMIT ?4"
        ),
        params![tenant.as_str(), user, status.map(TaskStatus::as_str), limit],
        task_row,
    )
}

pub(super) fn set_task_status(
    conn: &Connection,
    tenant: &TenantId,
    user: &str,
    id: i64,
    status: TaskStatus,
    now: i64,
) -> Result<bool> {
    let done_at = (status == TaskStatus::Done).then_some(now);
    let n = conn
        .prepare_cached("UPDATE tasks SET status = ?4, done_at = ?5 WHERE id = ?1 AND tenant_id = ?2 AND user_id = ?3")?
        .execute(params![id, tenant.as_str(), user, status.as_str(), done_at])?;
    Ok(n > 0)
}
