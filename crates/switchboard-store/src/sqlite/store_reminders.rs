//! `ReminderStore` for SQLite: plain SQL, one function per operation.

use super::SqliteStore;
use crate::{NewReminder, Reminder, ReminderStatus, ReminderStore, Result, Task, TaskStatus};
use async_trait::async_trait;
use switchboard_core::{Content, Message, MessageId, TenantId};

use super::reminders;
use super::usage;

#[async_trait]
impl ReminderStore for SqliteStore {
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
}
