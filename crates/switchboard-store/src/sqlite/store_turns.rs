//! `TurnStore` for SQLite: plain SQL, one function per operation.

use super::SqliteStore;
use super::delivery;
use super::rows::*;
use crate::{
    Accepted, DeadLetter, Job, JobKind, NewInbound, QueueStats, Result, StoreError, TurnCommit, TurnInput, TurnStore,
};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use switchboard_core::{
    Channel, Content, Conversation, ConversationId, ConversationStatus, Message, MessageId, MessageStatus, TenantId,
};
use tokio::sync::mpsc::UnboundedReceiver;

use super::reminders;
use super::turns::{accept, complete, insert_job, set_message_status};

#[async_trait]
impl TurnStore for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(|_| ())?))
            .await
    }

    async fn accept_inbound(&self, tenant: &TenantId, inbound: NewInbound) -> Result<Accepted> {
        let t = tenant.clone();
        self.write(move |ctx| accept(ctx, &t, inbound)).await
    }

    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Option<Conversation>> {
        let (t, id) = (tenant.clone(), id.clone());
        self.read(move |c| {
            query_opt(
                c,
                &format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = ?1 AND tenant_id = ?2"),
                [id.as_str(), t.as_str()],
                conversation_row,
            )
        })
        .await
    }

    async fn open_conversation(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<Conversation>> {
        let (t, u) = (tenant.clone(), user.to_owned());
        self.read(move |c| {
            query_opt(
                c,
                &format!(
                    "SELECT {CONVERSATION_COLS} FROM conversations \
                     WHERE tenant_id = ?1 AND channel = ?2 AND user_id = ?3 AND status = ?4"
                ),
                [
                    t.as_str(),
                    channel.as_str(),
                    u.as_str(),
                    ConversationStatus::Open.as_str(),
                ],
                conversation_row,
            )
        })
        .await
    }

    async fn close_conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.clone());
        self.write(move |ctx| {
            let n = ctx
                .conn
                .prepare_cached(
                    "UPDATE conversations SET status = 'closed', updated_at = ?3 \
                     WHERE id = ?1 AND tenant_id = ?2 AND status = 'open'",
                )?
                .execute(params![id.as_str(), t.as_str(), ctx.now])?;
            Ok(n > 0)
        })
        .await
    }

    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<Message>> {
        let (t, id) = (tenant.clone(), id.clone());
        self.read(move |c| {
            query_opt(
                c,
                &format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = ?1 AND tenant_id = ?2"),
                [id.as_str(), t.as_str()],
                message_row,
            )
        })
        .await
    }

    async fn turn_input(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        message: &MessageId,
    ) -> Result<Option<TurnInput>> {
        let (t, cid, mid) = (tenant.clone(), conversation.clone(), message.clone());
        self.read(move |c| {
            let m = query_opt(
                c,
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE id = ?1 AND tenant_id = ?2 AND conversation_id = ?3"
                ),
                [mid.as_str(), t.as_str(), cid.as_str()],
                message_row,
            )?;
            let Some(m) = m else { return Ok(None) };
            let conv = query_opt(
                c,
                &format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = ?1 AND tenant_id = ?2"),
                [cid.as_str(), t.as_str()],
                conversation_row,
            )?;
            let Some(conversation) = conv else { return Ok(None) };
            let consent = super::people::latest_consent(c, &t, m.channel, &m.user)?;
            Ok(Some(TurnInput {
                message: m,
                conversation,
                consent,
            }))
        })
        .await
    }

    async fn messages_after(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let (t, cid) = (tenant.clone(), conversation.clone());
        self.read(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = ?1 AND tenant_id = ?2 AND seq > ?3 \
                     ORDER BY seq LIMIT ?4"
                ),
                params![cid.as_str(), t.as_str(), after, limit],
                message_row,
            )
        })
        .await
    }

    async fn replies_to(&self, tenant: &TenantId, message: &MessageId) -> Result<Vec<Message>> {
        let (t, id) = (tenant.clone(), message.clone());
        self.read(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE in_reply_to = ?1 AND tenant_id = ?2 ORDER BY reply_index"
                ),
                [id.as_str(), t.as_str()],
                message_row,
            )
        })
        .await
    }

    async fn complete_turn(&self, tenant: &TenantId, commit: TurnCommit) -> Result<Vec<Message>> {
        let t = tenant.clone();
        self.write(move |ctx| complete(ctx, &t, commit)).await
    }

    async fn finish_job(&self, tenant: &TenantId, job_id: i64) -> Result<()> {
        let t = tenant.clone();
        self.write(move |ctx| {
            let n = ctx
                .conn
                .prepare_cached("DELETE FROM jobs WHERE id = ?1 AND tenant_id = ?2")?
                .execute(params![job_id, t.as_str()])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("job {job_id}")));
            }
            Ok(())
        })
        .await
    }

    async fn record_delivery(
        &self,
        tenant: &TenantId,
        message: &MessageId,
        status: MessageStatus,
        platform_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let (t, m) = (tenant.clone(), message.clone());
        let (platform_id, error) = (platform_id.map(str::to_owned), error.map(str::to_owned));
        self.write(move |ctx| {
            let n = ctx
                .conn
                .prepare_cached(
                    "UPDATE messages SET status = ?3, external_id = COALESCE(?4, external_id), \
                     metadata = CASE WHEN ?5 IS NULL THEN metadata ELSE json_set(metadata, '$.error', ?5) END, \
                     updated_at = ?6 WHERE id = ?1 AND tenant_id = ?2 AND direction = 'out'",
                )?
                .execute(params![
                    m.as_str(),
                    t.as_str(),
                    status.as_str(),
                    platform_id,
                    error,
                    ctx.now
                ])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("outbound message {m}")));
            }
            Ok(())
        })
        .await
    }

    async fn parts_sent(&self, tenant: &TenantId, message: &MessageId) -> Result<u32> {
        let (t, m) = (tenant.clone(), message.clone());
        self.read(move |c| delivery::parts_sent(c, &t, &m)).await
    }

    async fn record_parts_sent(
        &self,
        tenant: &TenantId,
        message: &MessageId,
        parts: u32,
        platform_id: Option<&str>,
    ) -> Result<()> {
        let (t, m, p) = (tenant.clone(), message.clone(), platform_id.map(str::to_owned));
        self.write(move |ctx| delivery::record(ctx, &t, &m, parts, p.as_deref()))
            .await
    }

    async fn apply_platform_status(
        &self,
        tenant: &TenantId,
        channel: Channel,
        platform_id: &str,
        status: MessageStatus,
    ) -> Result<Option<MessageId>> {
        let (t, p) = (tenant.clone(), platform_id.to_owned());
        self.write(move |ctx| {
            let current: Option<(String, String)> = ctx
                .conn
                .prepare_cached(
                    "SELECT id, status FROM messages WHERE tenant_id = ?1 AND channel = ?2 AND direction = 'out' \
                     AND external_id = ?3",
                )?
                .query_row(params![t.as_str(), channel.as_str(), p], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((id, current)) = current else { return Ok(None) };
            let rank = |s: &str| match s {
                "queued" => 0,
                "sent" => 1,
                "delivered" => 2,
                "read" => 3,
                _ => 4,
            };
            if status == MessageStatus::Failed || rank(status.as_str()) > rank(&current) {
                ctx.conn
                    .prepare_cached("UPDATE messages SET status = ?2, updated_at = ?3 WHERE id = ?1")?
                    .execute(params![id, status.as_str(), ctx.now])?;
            }
            message_id(id).map(Some)
        })
        .await
    }

    async fn retry_job(&self, tenant: &TenantId, job_id: i64, attempts: u32, run_at: i64, error: &str) -> Result<()> {
        let (t, e) = (tenant.clone(), error.to_owned());
        self.write(move |ctx| {
            let n = ctx
                .conn
                .prepare_cached(
                    "UPDATE jobs SET attempts = ?3, run_at = ?4, last_error = ?5 WHERE id = ?1 AND tenant_id = ?2",
                )?
                .execute(params![job_id, t.as_str(), attempts, run_at, e])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("job {job_id}")));
            }
            Ok(())
        })
        .await
    }

    async fn dead_letter_job(&self, tenant: &TenantId, job_id: i64, attempts: u32, error: &str) -> Result<DeadLetter> {
        let (t, e) = (tenant.clone(), error.to_owned());
        self.write(move |ctx| {
            let job = ctx
                .conn
                .prepare_cached(&format!("DELETE FROM jobs WHERE id = ?1 AND tenant_id = ?2 RETURNING {JOB_COLS}"))?
                .query_and_then(params![job_id, t.as_str()], job_row)?
                .next()
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(format!("job {job_id}")))?;
            let id: i64 = ctx
                .conn
                .prepare_cached(
                    "INSERT INTO dead_letters (job_id, tenant_id, kind, conversation_id, message_id, priority, attempts, \
                     last_error, created_at, failed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
                )?
                .query_row(
                    params![
                        job.id,
                        t.as_str(),
                        job.kind.as_str(),
                        job.conversation.as_str(),
                        job.message.as_str(),
                        job.priority as i64,
                        attempts,
                        e,
                        job.created_at,
                        ctx.now
                    ],
                    |r| r.get(0),
                )?;
            if names_its_own_message(ctx.conn, &t, job.kind, &job.message)? {
                set_message_status(ctx.conn, &t, &job.message, MessageStatus::Failed, ctx.now)?;
            }
            Ok(DeadLetter {
                id,
                job_id: job.id,
                tenant: t.clone(),
                kind: job.kind,
                conversation: job.conversation,
                message: job.message,
                priority: job.priority,
                attempts,
                last_error: e,
                created_at: job.created_at,
                failed_at: ctx.now,
            })
        })
        .await
    }

    async fn dead_letters(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<DeadLetter>> {
        let t = tenant.map(|t| t.as_str().to_owned());
        self.read(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {DEAD_LETTER_COLS} FROM dead_letters WHERE replayed_at IS NULL \
                     AND (?1 IS NULL OR tenant_id = ?1) ORDER BY id LIMIT ?2"
                ),
                params![t, limit],
                dead_letter_row,
            )
        })
        .await
    }

    async fn replay_dead_letter(&self, tenant: &TenantId, id: i64) -> Result<Job> {
        let t = tenant.clone();
        self.write(move |ctx| {
            let dl = query_opt(
                ctx.conn,
                &format!("SELECT {DEAD_LETTER_COLS} FROM dead_letters WHERE id = ?1 AND tenant_id = ?2 AND replayed_at IS NULL"),
                params![id, t.as_str()],
                dead_letter_row,
            )?
            .ok_or_else(|| StoreError::NotFound(format!("dead letter {id} of tenant {t}")))?;
            ctx.conn
                .prepare_cached("UPDATE dead_letters SET replayed_at = ?2 WHERE id = ?1")?
                .execute(params![id, ctx.now])?;
            if names_its_own_message(ctx.conn, &t, dl.kind, &dl.message)? {
                set_message_status(ctx.conn, &t, &dl.message, MessageStatus::Queued, ctx.now)?;
            }
            let now = ctx.now;
            insert_job(ctx, dl.kind, &t, &dl.conversation, &dl.message, dl.priority, now)
        })
        .await
    }

    async fn add_proactive(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        content: Content,
        metadata: serde_json::Value,
        deliver: bool,
    ) -> Result<Message> {
        let (t, c) = (tenant.clone(), conversation.clone());
        self.write(move |ctx| reminders::proactive(ctx, &t, &c, content, metadata, deliver))
            .await
    }

    async fn pending_jobs(&self, after: i64, limit: u32) -> Result<Vec<Job>> {
        self.read(move |c| {
            query_all(
                c,
                &format!("SELECT {JOB_COLS} FROM jobs WHERE id > ?1 ORDER BY id LIMIT ?2"),
                params![after, limit],
                job_row,
            )
        })
        .await
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        self.read(|c| {
            let (depth, oldest): (i64, Option<i64>) = c
                .prepare_cached("SELECT count(*), min(created_at) FROM jobs")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let dead: i64 = c
                .prepare_cached("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")?
                .query_row([], |r| r.get(0))?;
            Ok(QueueStats {
                depth: depth as u64,
                oldest_created_at: oldest,
                dead_letters: dead as u64,
            })
        })
        .await
    }

    fn job_feed(&self) -> Option<UnboundedReceiver<Job>> {
        self.take_feed()
    }

    async fn flush(&self) -> Result<()> {
        // Every write is in the database once it has returned.
        Ok(())
    }

    fn close(&self) {
        SqliteStore::close(self)
    }
}

/// Whether a job's message is the one its outcome is about. A turn's is (its inbound message);
/// so is a delivery's when it names an outbound message (a reminder). A delivery of a turn's
/// replies names the inbound message they answer: that turn went well, so the inbound stays
/// processed, and the replies stay queued for a replay to send.
fn names_its_own_message(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    kind: JobKind,
    message: &MessageId,
) -> Result<bool> {
    if kind == JobKind::Turn {
        return Ok(true);
    }
    let direction: Option<String> = conn
        .prepare_cached("SELECT direction FROM messages WHERE id = ?1 AND tenant_id = ?2")?
        .query_row(params![message.as_str(), tenant.as_str()], |r| r.get(0))
        .optional()?;
    Ok(direction.as_deref() == Some(switchboard_core::Direction::Outbound.as_str()))
}
