//! Reminders (claimed once across instances), tasks, and language model usage.

use crate::*;
use async_trait::async_trait;
use switchboard_core::{Content, Message, MessageId, TenantId};

/// Reminders (claimed once across instances), tasks, and language model usage.
#[async_trait]
pub trait ReminderStore: Send + Sync {
    /// Adds a reminder for the user of `reminder.conversation`. A second add with the same
    /// `source_message` (a retried turn) returns the first reminder.
    async fn add_reminder(&self, tenant: &TenantId, reminder: NewReminder) -> Result<Reminder>;
    async fn reminder(&self, tenant: &TenantId, id: i64) -> Result<Option<Reminder>>;
    /// A user's reminders in `status`: pending and firing ones soonest first, fired and
    /// cancelled ones latest first.
    async fn reminders(
        &self,
        tenant: &TenantId,
        user: &str,
        status: ReminderStatus,
        limit: u32,
    ) -> Result<Vec<Reminder>>;
    /// A pending or fired reminder becomes pending again, due at `due_at`. Returns whether it was
    /// such a reminder.
    async fn snooze_reminder(&self, tenant: &TenantId, id: i64, due_at: i64) -> Result<bool>;
    /// A pending (or claimed, not yet fired) reminder is cancelled. Returns whether it was.
    async fn cancel_reminder(&self, tenant: &TenantId, id: i64) -> Result<bool>;
    /// Gives back a claimed reminder that must wait (quiet hours): pending again, not firing
    /// before `until`; what the person asked for (`due_at`) stays.
    async fn hold_reminder(&self, tenant: &TenantId, id: i64, until: i64) -> Result<bool>;
    /// System-wide: claims reminders whose `fire_at <= now`, and claims older than
    /// [`REMINDER_CLAIM_LEASE_MS`] (their instance died before firing them), in one statement:
    /// two callers never get the same reminder. Claimed ones are `firing` with `claimed_at = now`.
    async fn claim_due_reminders(&self, now: i64, limit: u32) -> Result<Vec<Reminder>>;
    /// Fires a reminder claimed at `claimed_at`: in one transaction it becomes `fired` and
    /// `content` is stored as a proactive message (see [`crate::TurnStore::add_proactive`]). `None` when the
    /// claim no longer holds (cancelled meanwhile, or claimed again by another instance).
    async fn fire_reminder(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        content: Content,
        deliver: bool,
    ) -> Result<Option<Message>>;
    /// Adds an open task. A second add with the same `source_message` returns the first task.
    async fn add_task(&self, tenant: &TenantId, user: &str, text: &str, source_message: &MessageId) -> Result<Task>;
    /// A user's tasks, oldest first; only those in `status` when given.
    async fn tasks(&self, tenant: &TenantId, user: &str, status: Option<TaskStatus>, limit: u32) -> Result<Vec<Task>>;
    /// Returns whether the user has such a task.
    async fn set_task_status(&self, tenant: &TenantId, user: &str, id: i64, status: TaskStatus) -> Result<bool>;
    /// Adds one language model call and its tokens to the tenant's total for the UTC day of
    /// `at` (epoch ms).
    async fn add_llm_usage(&self, tenant: &TenantId, at: i64, prompt_tokens: u64, completion_tokens: u64)
    -> Result<()>;
    /// The tenant's language model usage per UTC day, newest first.
    async fn llm_usage(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LlmUsage>>;
}
