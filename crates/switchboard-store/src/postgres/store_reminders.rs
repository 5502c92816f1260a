//! `ReminderStore` for PostgreSQL.

use super::PgStore;
use super::reminders::{REMINDER_COLS, TASK_COLS, reminder_row, task_row};
use super::rows::conversation_id;
use super::{turns, write_tx};
use crate::*;
use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::{Content, Message, MessageId, TenantId};

#[async_trait]
impl ReminderStore for PgStore {
    async fn add_reminder(&self, tenant: &TenantId, reminder: NewReminder) -> Result<Reminder> {
        let mut tx = self.begin().await?;
        // A retried turn (even one racing the first) conflicts on its source message and reads
        // back the first reminder.
        sqlx::query(
            "INSERT INTO reminders (tenant_id, conversation_id, user_id, channel, text, language, time_zone, due_at, \
             fire_at, status, source_message, created_at) \
             SELECT tenant_id, id, user_id, channel, $3, $4, $5, $6, $6, 'pending', $7, $8 \
             FROM conversations WHERE id = $1 AND tenant_id = $2 \
             ON CONFLICT (tenant_id, source_message) DO NOTHING",
        )
        .bind(reminder.conversation.as_str())
        .bind(tenant.as_str())
        .bind(&reminder.text)
        .bind(&reminder.language)
        .bind(&reminder.time_zone)
        .bind(reminder.due_at)
        .bind(reminder.source_message.as_str())
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {REMINDER_COLS} FROM reminders WHERE tenant_id = $1 AND source_message = $2"
        )))
        .bind(tenant.as_str())
        .bind(reminder.source_message.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| reminder_row(&r))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("conversation {}", reminder.conversation)))
    }

    async fn reminder(&self, tenant: &TenantId, id: i64) -> Result<Option<Reminder>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {REMINDER_COLS} FROM reminders WHERE id = $1 AND tenant_id = $2"
        )))
        .bind(id)
        .bind(tenant.as_str())
        .fetch_optional(self.pool())
        .await?
        .map(|r| reminder_row(&r))
        .transpose()
    }

    async fn reminders(
        &self,
        tenant: &TenantId,
        user: &str,
        status: ReminderStatus,
        limit: u32,
    ) -> Result<Vec<Reminder>> {
        let order = match status {
            ReminderStatus::Pending | ReminderStatus::Firing => "due_at, id",
            ReminderStatus::Fired | ReminderStatus::Cancelled => "coalesce(fired_at, created_at) DESC, id DESC",
        };
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {REMINDER_COLS} FROM reminders WHERE tenant_id = $1 AND user_id = $2 AND status = $3 \
             ORDER BY {order} LIMIT $4"
        )))
        .bind(tenant.as_str())
        .bind(user)
        .bind(status.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(reminder_row)
        .collect()
    }

    async fn snooze_reminder(&self, tenant: &TenantId, id: i64, due_at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE reminders SET status = 'pending', due_at = $3, fire_at = $3, claimed_at = NULL \
             WHERE id = $1 AND tenant_id = $2 AND status IN ('pending', 'fired')",
        )
        .bind(id)
        .bind(tenant.as_str())
        .bind(due_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn cancel_reminder(&self, tenant: &TenantId, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE reminders SET status = 'cancelled', claimed_at = NULL \
             WHERE id = $1 AND tenant_id = $2 AND status IN ('pending', 'firing')",
        )
        .bind(id)
        .bind(tenant.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn hold_reminder(&self, tenant: &TenantId, id: i64, until: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE reminders SET status = 'pending', fire_at = $3, claimed_at = NULL \
             WHERE id = $1 AND tenant_id = $2 AND status = 'firing'",
        )
        .bind(id)
        .bind(tenant.as_str())
        .bind(until)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_due_reminders(&self, now: i64, limit: u32) -> Result<Vec<Reminder>> {
        // SKIP LOCKED: a reminder another instance is claiming right now is not waited for but
        // left to it; one whose claim committed meanwhile is re-checked and no longer due.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "UPDATE reminders SET status = 'firing', claimed_at = $1 WHERE id IN ( \
               SELECT id FROM reminders WHERE status IN ('pending', 'firing') AND fire_at <= $1 AND ( \
                 status = 'pending' OR claimed_at <= $1 - $2) \
               ORDER BY fire_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {REMINDER_COLS}"
        )))
        .bind(now)
        .bind(REMINDER_CLAIM_LEASE_MS)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut claimed = rows.iter().map(reminder_row).collect::<Result<Vec<_>>>()?;
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
        write_tx::run(self, |w, _| {
            let content = content.clone();
            Box::pin(async move {
                // The reminder is marked first: its row lock makes a second fire under the same
                // claim wait and then find it fired, and the message's job comes last (see
                // `Write::insert_job`).
                let now = w.now;
                let claimed: Option<(String, String)> = sqlx::query_as(
                    "UPDATE reminders SET status = 'fired', fired_at = $4, claimed_at = NULL \
                     WHERE id = $1 AND tenant_id = $2 AND status = 'firing' AND claimed_at = $3 \
                     RETURNING conversation_id, source_message",
                )
                .bind(id)
                .bind(tenant.as_str())
                .bind(claimed_at)
                .bind(now)
                .fetch_optional(w.conn())
                .await?;
                let Some((conversation, source)) = claimed else {
                    return Ok(None);
                };
                let conversation = conversation_id(conversation)?;
                // The message that set the reminder carries the platform event that addresses the chat.
                let metadata = serde_json::json!({ "reminder": id, "anchor": source });
                let message = turns::proactive(w, tenant, &conversation, content, metadata, deliver).await?;
                sqlx::query("UPDATE reminders SET message_id = $3 WHERE id = $1 AND tenant_id = $2")
                    .bind(id)
                    .bind(tenant.as_str())
                    .bind(message.id.as_str())
                    .execute(w.conn())
                    .await?;
                Ok(Some(message))
            })
        })
        .await
    }

    async fn add_task(&self, tenant: &TenantId, user: &str, text: &str, source_message: &MessageId) -> Result<Task> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO tasks (tenant_id, user_id, text, status, source_message, created_at) \
             VALUES ($1, $2, $3, 'open', $4, $5) ON CONFLICT (tenant_id, source_message) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(user)
        .bind(text)
        .bind(source_message.as_str())
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TASK_COLS} FROM tasks WHERE tenant_id = $1 AND source_message = $2"
        )))
        .bind(tenant.as_str())
        .bind(source_message.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| task_row(&r))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("task of message {source_message}")))
    }

    async fn tasks(&self, tenant: &TenantId, user: &str, status: Option<TaskStatus>, limit: u32) -> Result<Vec<Task>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {TASK_COLS} FROM tasks WHERE tenant_id = $1 AND user_id = $2 AND ($3::TEXT IS NULL OR status = $3) \
             ORDER BY id LIMIT $4"
        )))
        .bind(tenant.as_str())
        .bind(user)
        .bind(status.map(TaskStatus::as_str))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(task_row)
        .collect()
    }

    async fn set_task_status(&self, tenant: &TenantId, user: &str, id: i64, status: TaskStatus) -> Result<bool> {
        let done_at = (status == TaskStatus::Done).then_some(self.now());
        let done =
            sqlx::query("UPDATE tasks SET status = $4, done_at = $5 WHERE id = $1 AND tenant_id = $2 AND user_id = $3")
                .bind(id)
                .bind(tenant.as_str())
                .bind(user)
                .bind(status.as_str())
                .bind(done_at)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_llm_usage(
        &self,
        tenant: &TenantId,
        at: i64,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> Result<()> {
        // Days are UTC dates (`YYYY-MM-DD`), the same for every instance whatever its time zone.
        let day: String = switchboard_core::clock::rfc3339(at).chars().take(10).collect();
        sqlx::query(
            "INSERT INTO llm_usage (tenant_id, day, requests, prompt_tokens, completion_tokens) \
             VALUES ($1, $2, 1, $3, $4) \
             ON CONFLICT (tenant_id, day) DO UPDATE SET requests = llm_usage.requests + 1, \
             prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens",
        )
        .bind(tenant.as_str())
        .bind(day)
        .bind(prompt_tokens as i64)
        .bind(completion_tokens as i64)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn llm_usage(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LlmUsage>> {
        let rows = sqlx::query(
            "SELECT day, requests, prompt_tokens, completion_tokens FROM llm_usage WHERE tenant_id = $1 \
             ORDER BY day DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let n = |r: &sqlx::postgres::PgRow, i: usize| -> Result<u64> { Ok(r.try_get::<i64, _>(i)?.max(0) as u64) };
        rows.iter()
            .map(|r| {
                Ok(LlmUsage {
                    day: r.try_get(0)?,
                    requests: n(r, 1)?,
                    prompt_tokens: n(r, 2)?,
                    completion_tokens: n(r, 3)?,
                })
            })
            .collect()
    }
}
