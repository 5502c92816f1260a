//! The `Store` implementation for SQLite: plain SQL, one function per operation. The writes of
//! a turn (accept, complete) live in `turns.rs`.

use super::SqliteStore;
use super::rows::*;
use crate::{
    Accepted, AssessmentResult, ConnectorRecord, ConsentRecord, DeadLetter, ExportTable, Feedback, FeedbackDay, Job,
    NewAssessmentResult, NewFeedback, NewInbound, NewReminder, QueueStats, Reminder, ReminderStatus, Reseal, Result,
    Store, StoreError, Task, TaskStatus, TenantRecord, TenantSecretInfo, TenantSettings, TurnCommit,
};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use switchboard_core::{
    Channel, Content, Conversation, ConversationId, ConversationStatus, Handoff, Message, MessageId, MessageStatus,
    TenantId,
};
use tokio::sync::mpsc::UnboundedReceiver;

use super::analytics;
use super::auth;
use super::contacts;
use super::delivery;
use super::events;
use super::people;

use super::feedback;
use super::forms;
use super::reminders;
use super::secrets;
use super::tenants;
use super::turns::{accept, complete, insert_job, set_message_status};
use super::usage;

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map(|_| ())?))
            .await
    }

    async fn upsert_tenant(&self, t: &TenantRecord) -> Result<()> {
        let t = t.clone();
        self.write(move |ctx| {
            ctx.conn
                .prepare_cached(
                    "INSERT INTO tenants (id, name, bot_source, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, bot_source = excluded.bot_source, \
                     updated_at = excluded.updated_at",
                )?
                .execute(params![t.id.as_str(), t.name, t.bot_source, ctx.now])?;
            Ok(())
        })
        .await
    }

    async fn tenant(&self, tenant: &TenantId) -> Result<Option<TenantRecord>> {
        let t = tenant.clone();
        self.read(move |c| {
            query_opt(
                c,
                &format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1"),
                [t.as_str()],
                tenant_row,
            )
        })
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>> {
        self.read(|c| {
            query_all(
                c,
                &format!("SELECT {TENANT_COLS} FROM tenants ORDER BY id"),
                [],
                tenant_row,
            )
        })
        .await
    }

    async fn upsert_connector(&self, c: &ConnectorRecord) -> Result<()> {
        let c = c.clone();
        self.write(move |ctx| {
            ctx.conn
                .prepare_cached(
                    "INSERT INTO connectors (tenant_id, id, channel, account_id, secrets, settings, enabled, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) ON CONFLICT (tenant_id, id) DO UPDATE SET \
                     channel = excluded.channel, account_id = excluded.account_id, secrets = excluded.secrets, \
                     settings = excluded.settings, enabled = excluded.enabled, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    c.tenant.as_str(),
                    c.id,
                    c.channel.as_str(),
                    c.account_id,
                    c.secrets,
                    json(&c.settings)?,
                    c.enabled,
                    ctx.now
                ])
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::NotFound(format!("tenant {}", c.tenant))
                    }
                    other => other.into(),
                })?;
            Ok(())
        })
        .await
    }

    async fn connector(&self, tenant: &TenantId, id: &str) -> Result<Option<ConnectorRecord>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.read(move |c| {
            query_opt(
                c,
                &format!("SELECT {CONNECTOR_COLS} FROM connectors WHERE tenant_id = ?1 AND id = ?2"),
                [t.as_str(), id.as_str()],
                connector_row,
            )
        })
        .await
    }

    async fn connectors(&self, tenant: &TenantId) -> Result<Vec<ConnectorRecord>> {
        let t = tenant.clone();
        self.read(move |c| {
            query_all(
                c,
                &format!("SELECT {CONNECTOR_COLS} FROM connectors WHERE tenant_id = ?1 ORDER BY id"),
                [t.as_str()],
                connector_row,
            )
        })
        .await
    }

    async fn delete_connector(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.write(move |ctx| {
            let n = ctx
                .conn
                .prepare_cached("DELETE FROM connectors WHERE tenant_id = ?1 AND id = ?2")?
                .execute(params![t.as_str(), id])?;
            Ok(n > 0)
        })
        .await
    }

    async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        let t = tenant.clone();
        self.read(move |c| tenants::settings(c, &t)).await
    }

    async fn set_tenant_settings(&self, tenant: &TenantId, settings: TenantSettings) -> Result<()> {
        let t = tenant.clone();
        self.write(move |ctx| tenants::set_settings(ctx, &t, &settings)).await
    }

    async fn monthly_messages(&self, tenant: &TenantId, at: i64) -> Result<u64> {
        let t = tenant.clone();
        self.read(move |c| tenants::monthly_messages(c, &t, at)).await
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| tenants::delete(ctx, &t)).await
    }

    async fn tenant_row_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>> {
        let t = tenant.clone();
        self.read(move |c| tenants::row_counts(c, &t)).await
    }

    async fn export_page(
        &self,
        tenant: &TenantId,
        table: ExportTable,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>> {
        let t = tenant.clone();
        self.read(move |c| tenants::export_page(c, &t, table, after, limit))
            .await
    }

    async fn reseal_secrets(&self, reseal: Reseal) -> Result<u64> {
        self.write(move |ctx| tenants::reseal(ctx, &reseal)).await
    }

    async fn set_tenant_secret(&self, tenant: &TenantId, name: &str, sealed: Option<Vec<u8>>) -> Result<bool> {
        let (t, name) = (tenant.clone(), name.to_owned());
        self.write(move |ctx| secrets::set(ctx, &t, &name, sealed.as_deref()))
            .await
    }

    async fn tenant_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Vec<u8>>> {
        let (t, name) = (tenant.clone(), name.to_owned());
        self.read(move |c| secrets::get(c, &t, &name)).await
    }

    async fn tenant_secrets(&self, tenant: &TenantId) -> Result<Vec<TenantSecretInfo>> {
        let t = tenant.clone();
        self.read(move |c| secrets::list(c, &t)).await
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
    ) -> Result<Option<(Message, Conversation)>> {
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
            Ok(conv.map(|conv| (m, conv)))
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
            set_message_status(ctx.conn, &t, &job.message, MessageStatus::Failed, ctx.now)?;
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
            set_message_status(ctx.conn, &t, &dl.message, MessageStatus::Queued, ctx.now)?;
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

    async fn add_reminder(&self, tenant: &TenantId, reminder: NewReminder) -> Result<Reminder> {
        let t = tenant.clone();
        self.write(move |ctx| reminders::add_reminder(ctx, &t, reminder)).await
    }

    async fn reminder(&self, tenant: &TenantId, id: i64) -> Result<Option<Reminder>> {
        let t = tenant.clone();
        self.read(move |c| reminders::reminder(c, &t, id)).await
    }

    async fn reminders(
        &self,
        tenant: &TenantId,
        user: &str,
        status: ReminderStatus,
        limit: u32,
    ) -> Result<Vec<Reminder>> {
        let (t, u) = (tenant.clone(), user.to_owned());
        self.read(move |c| reminders::reminders(c, &t, &u, status, limit)).await
    }

    async fn snooze_reminder(&self, tenant: &TenantId, id: i64, due_at: i64) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| reminders::snooze(ctx.conn, &t, id, due_at)).await
    }

    async fn cancel_reminder(&self, tenant: &TenantId, id: i64) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| reminders::cancel(ctx.conn, &t, id)).await
    }

    async fn hold_reminder(&self, tenant: &TenantId, id: i64, until: i64) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| reminders::hold(ctx.conn, &t, id, until)).await
    }

    async fn claim_due_reminders(&self, now: i64, limit: u32) -> Result<Vec<Reminder>> {
        let mut claimed = self
            .write(move |ctx| reminders::claim_due(ctx.conn, now, limit))
            .await?;
        // RETURNING gives no order; the oldest due go first.
        claimed.sort_by_key(|r| (r.fire_at, r.id));
        Ok(claimed)
    }

    async fn fire_reminder(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        content: Content,
        deliver: bool,
    ) -> Result<Option<Message>> {
        let t = tenant.clone();
        self.write(move |ctx| reminders::fire(ctx, &t, id, claimed_at, content, deliver))
            .await
    }

    async fn add_task(&self, tenant: &TenantId, user: &str, text: &str, source_message: &MessageId) -> Result<Task> {
        let (t, u, x, m) = (tenant.clone(), user.to_owned(), text.to_owned(), source_message.clone());
        self.write(move |ctx| reminders::add_task(ctx, &t, &u, &x, &m)).await
    }

    async fn tasks(&self, tenant: &TenantId, user: &str, status: Option<TaskStatus>, limit: u32) -> Result<Vec<Task>> {
        let (t, u) = (tenant.clone(), user.to_owned());
        self.read(move |c| reminders::tasks(c, &t, &u, status, limit)).await
    }

    async fn set_task_status(&self, tenant: &TenantId, user: &str, id: i64, status: TaskStatus) -> Result<bool> {
        let (t, u) = (tenant.clone(), user.to_owned());
        self.write(move |ctx| reminders::set_task_status(ctx.conn, &t, &u, id, status, ctx.now))
            .await
    }

    async fn add_llm_usage(
        &self,
        tenant: &TenantId,
        at: i64,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> Result<()> {
        let t = tenant.clone();
        self.write(move |ctx| usage::add(ctx.conn, &t, at, prompt_tokens, completion_tokens))
            .await
    }

    async fn llm_usage(&self, tenant: &TenantId, limit: u32) -> Result<Vec<crate::LlmUsage>> {
        let t = tenant.clone();
        self.read(move |c| usage::list(c, &t, limit)).await
    }

    async fn latest_consent(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<ConsentRecord>> {
        let (t, u) = (tenant.clone(), user.to_owned());
        self.read(move |c| people::latest_consent(c, &t, channel, &u)).await
    }

    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        user: Option<(Channel, &str)>,
        limit: u32,
    ) -> Result<Vec<ConsentRecord>> {
        let (t, u) = (tenant.clone(), user.map(|(ch, u)| (ch, u.to_owned())));
        self.read(move |c| people::ledger(c, &t, u.as_ref().map(|(ch, u)| (*ch, u.as_str())), limit))
            .await
    }

    async fn add_bot_version(&self, tenant: &TenantId, source: &str, created_by: &str) -> Result<crate::BotVersion> {
        let (t, src, by) = (tenant.clone(), source.to_owned(), created_by.to_owned());
        self.write(move |ctx| contacts::add_version(ctx.conn, &t, &src, &by, ctx.now))
            .await
    }

    async fn bot_versions(&self, tenant: &TenantId, limit: u32) -> Result<Vec<crate::BotVersion>> {
        let t = tenant.clone();
        self.read(move |c| contacts::versions(c, &t, limit)).await
    }

    async fn bot_version(&self, tenant: &TenantId, id: i64) -> Result<Option<crate::BotVersion>> {
        let t = tenant.clone();
        self.read(move |c| contacts::version(c, &t, id)).await
    }

    async fn mark_bot_version_active(&self, tenant: &TenantId, id: i64) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| contacts::mark_activated(ctx.conn, &t, id, ctx.now))
            .await
    }

    async fn contacts(&self, tenant: &TenantId, limit: u32) -> Result<Vec<crate::Contact>> {
        let t = tenant.clone();
        self.read(move |c| contacts::contacts(c, &t, limit)).await
    }

    async fn search_messages(&self, tenant: &TenantId, text: &str, limit: u32) -> Result<Vec<Message>> {
        let (t, q) = (tenant.clone(), text.to_owned());
        self.read(move |c| contacts::search(c, &t, &q, limit)).await
    }

    async fn day_stats(&self, tenant: &TenantId, since: i64, until: i64) -> Result<Vec<crate::DayStats>> {
        let t = tenant.clone();
        self.read(move |c| analytics::days(c, &t, since, until)).await
    }

    async fn top_intents(
        &self,
        tenant: &TenantId,
        since: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<crate::IntentCount>> {
        let t = tenant.clone();
        self.read(move |c| analytics::intents(c, &t, since, until, limit)).await
    }

    async fn conversations(
        &self,
        tenant: &TenantId,
        filter: crate::ConversationFilter,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        let t = tenant.clone();
        self.read(move |c| people::conversations(c, &t, &filter, limit)).await
    }

    async fn handoffs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Conversation>> {
        let t = tenant.clone();
        self.read(move |c| people::handoffs(c, &t, limit)).await
    }

    async fn take_handoff(&self, tenant: &TenantId, conversation: &ConversationId, agent: &str) -> Result<Handoff> {
        let (t, conv, agent) = (tenant.clone(), conversation.clone(), agent.to_owned());
        self.write(move |ctx| people::take_handoff(ctx.conn, &t, &conv, &agent, ctx.now))
            .await
    }

    async fn release_handoff(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<bool> {
        let (t, conv) = (tenant.clone(), conversation.clone());
        self.write(move |ctx| people::release_handoff(ctx.conn, &t, &conv, ctx.now))
            .await
    }

    async fn create_user(&self, user: crate::NewUser) -> Result<crate::UserRecord> {
        self.write(move |ctx| auth::create_user(ctx.conn, user, ctx.now)).await
    }

    async fn users_by_email(&self, email: &str) -> Result<Vec<crate::UserRecord>> {
        let e = email.trim().to_lowercase();
        self.read(move |c| auth::users_by_email(c, &e)).await
    }

    async fn user(&self, id: &str) -> Result<Option<crate::UserRecord>> {
        let id = id.to_owned();
        self.read(move |c| auth::user_by_id(c, &id)).await
    }

    async fn session_user(&self, user_id: &str, family: &str) -> Result<Option<crate::UserRecord>> {
        let (id, f) = (user_id.to_owned(), family.to_owned());
        self.read(move |c| auth::session_user(c, &id, &f)).await
    }

    async fn users(&self, tenant: Option<&TenantId>) -> Result<Vec<crate::UserRecord>> {
        let t = tenant.cloned();
        self.read(move |c| auth::users(c, t.as_ref())).await
    }

    async fn login_lock(&self, name: &str) -> Result<Option<i64>> {
        let n = name.to_owned();
        self.read(move |c| auth::login_lock(c, &n)).await
    }

    async fn login_failed(&self, name: &str, max_failures: u32, lock_ms: i64) -> Result<()> {
        let n = name.to_owned();
        self.write(move |ctx| auth::login_failed(ctx.conn, &n, max_failures, lock_ms, ctx.now))
            .await
    }

    async fn login_succeeded(&self, name: &str) -> Result<()> {
        let n = name.to_owned();
        self.write(move |ctx| auth::login_succeeded(ctx.conn, &n)).await
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<bool> {
        let (id, h) = (user_id.to_owned(), password_hash.to_owned());
        self.write(move |ctx| auth::set_password(ctx.conn, &id, &h, ctx.now))
            .await
    }

    async fn delete_user(&self, tenant: Option<&TenantId>, user_id: &str) -> Result<bool> {
        let (t, id) = (tenant.cloned(), user_id.to_owned());
        self.write(move |ctx| auth::delete_user(ctx.conn, t.as_ref(), &id))
            .await
    }

    async fn add_refresh_token(&self, hash: &str, user_id: &str, family: &str, expires_at: i64) -> Result<()> {
        let (h, u, f) = (hash.to_owned(), user_id.to_owned(), family.to_owned());
        self.write(move |ctx| auth::add_refresh(ctx.conn, &h, &u, &f, expires_at, ctx.now))
            .await
    }

    async fn use_refresh_token(&self, hash: &str) -> Result<crate::RefreshUse> {
        let h = hash.to_owned();
        self.write(move |ctx| auth::use_refresh(ctx.conn, &h, ctx.now)).await
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<bool> {
        let f = family.to_owned();
        self.write(move |ctx| auth::revoke_family(ctx.conn, &f, ctx.now)).await
    }

    async fn create_api_key(&self, tenant: &TenantId, key: crate::NewApiKey) -> Result<crate::ApiKeyRecord> {
        let t = tenant.clone();
        self.write(move |ctx| auth::create_key(ctx.conn, &t, key, ctx.now))
            .await
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<crate::ApiKeyRecord>> {
        let p = prefix.to_owned();
        self.read(move |c| auth::key_by_prefix(c, &p)).await
    }

    async fn touch_api_key(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.write(move |ctx| auth::touch_key(ctx.conn, &id, ctx.now)).await
    }

    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<crate::ApiKeyRecord>> {
        let t = tenant.clone();
        self.read(move |c| auth::keys(c, &t)).await
    }

    async fn revoke_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.write(move |ctx| auth::revoke_key(ctx.conn, &t, &id, ctx.now))
            .await
    }

    async fn add_audit(&self, entry: crate::NewAudit) -> Result<()> {
        self.write(move |ctx| auth::add_audit(ctx.conn, entry, ctx.now)).await
    }

    async fn audit_log(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<crate::AuditEntry>> {
        let t = tenant.cloned();
        self.read(move |c| auth::audit_log(c, t.as_ref(), limit)).await
    }

    async fn add_form_submission(
        &self,
        tenant: &TenantId,
        submission: crate::NewSubmission,
    ) -> Result<crate::Submission> {
        let t = tenant.clone();
        self.write(move |ctx| forms::add(ctx, &t, submission)).await
    }

    async fn form_submission(&self, tenant: &TenantId, id: i64) -> Result<Option<crate::Submission>> {
        let t = tenant.clone();
        self.read(move |c| forms::get(c, &t, id)).await
    }

    async fn form_submissions(
        &self,
        tenant: &TenantId,
        form: Option<&str>,
        limit: u32,
    ) -> Result<Vec<crate::Submission>> {
        let (t, f) = (tenant.clone(), form.map(str::to_owned));
        self.read(move |c| forms::list(c, &t, f.as_deref(), limit)).await
    }

    async fn claim_due_submissions(&self, now: i64, limit: u32) -> Result<Vec<crate::Submission>> {
        self.write(move |ctx| forms::claim_due(ctx.conn, now, limit)).await
    }

    async fn finish_submission(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        outcome: crate::SendOutcome,
    ) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| forms::finish(ctx.conn, &t, id, claimed_at, outcome, ctx.now))
            .await
    }

    async fn create_event_endpoint(
        &self,
        tenant: &TenantId,
        endpoint: crate::NewEventEndpoint,
    ) -> Result<crate::EventEndpoint> {
        let t = tenant.clone();
        self.write(move |ctx| events::create_endpoint(ctx.conn, &t, endpoint, ctx.now))
            .await
    }

    async fn event_endpoints(&self, tenant: &TenantId) -> Result<Vec<crate::EventEndpoint>> {
        let t = tenant.clone();
        self.read(move |c| events::endpoints(c, &t)).await
    }

    async fn event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<Option<crate::EventEndpoint>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.read(move |c| events::get_endpoint(c, &t, &id)).await
    }

    async fn delete_event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.write(move |ctx| events::delete_endpoint(ctx.conn, &t, &id)).await
    }

    async fn enqueue_events(
        &self,
        tenant: &TenantId,
        only: Option<&str>,
        events: Vec<crate::NewEvent>,
    ) -> Result<usize> {
        let (t, only) = (tenant.clone(), only.map(str::to_owned));
        self.write(move |ctx| events::enqueue(ctx, &t, only.as_deref(), events))
            .await
    }

    async fn claim_due_event_deliveries(&self, now: i64, limit: u32) -> Result<Vec<crate::EventDelivery>> {
        self.write(move |ctx| events::claim_due(ctx.conn, now, limit)).await
    }

    async fn finish_event_delivery(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        attempt: crate::DeliveryAttempt,
    ) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| events::finish(ctx.conn, &t, id, claimed_at, attempt, ctx.now))
            .await
    }

    async fn event_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        limit: u32,
    ) -> Result<Vec<crate::EventDelivery>> {
        let (t, e) = (tenant.clone(), endpoint.to_owned());
        self.read(move |c| events::deliveries(c, &t, &e, limit)).await
    }

    async fn add_assessment_result(&self, tenant: &TenantId, result: NewAssessmentResult) -> Result<AssessmentResult> {
        let t = tenant.clone();
        self.write(move |ctx| feedback::add_result(ctx, &t, result)).await
    }

    async fn assessment_results(
        &self,
        tenant: &TenantId,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AssessmentResult>> {
        let (t, u) = (tenant.clone(), user.map(str::to_owned));
        self.read(move |c| feedback::results(c, &t, u.as_deref(), limit)).await
    }

    async fn add_feedback(&self, tenant: &TenantId, new: NewFeedback) -> Result<Feedback> {
        let t = tenant.clone();
        self.write(move |ctx| feedback::add_feedback(ctx, &t, new)).await
    }

    async fn set_feedback_comment(&self, tenant: &TenantId, id: i64, comment: &str) -> Result<bool> {
        let (t, c) = (tenant.clone(), comment.to_owned());
        self.write(move |ctx| feedback::set_comment(ctx.conn, &t, id, &c)).await
    }

    async fn feedback(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Feedback>> {
        let t = tenant.clone();
        self.read(move |c| feedback::list(c, &t, limit)).await
    }

    async fn feedback_per_day(&self, tenant: &TenantId, days: u32) -> Result<Vec<FeedbackDay>> {
        let t = tenant.clone();
        self.read(move |c| feedback::per_day(c, &t, days)).await
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

    fn close(&self) {
        SqliteStore::close(self)
    }
}
