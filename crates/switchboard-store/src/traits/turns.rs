//! The message path and its durable queue: accepting an inbound message with its job, reading conversations, completing a turn, platform deliveries, retries and dead letters.

use crate::*;
use async_trait::async_trait;
use switchboard_core::{Channel, Content, Conversation, ConversationId, Message, MessageId, MessageStatus, TenantId};
use tokio::sync::mpsc::UnboundedReceiver;

/// The message path and its durable queue: accepting an inbound message with its job, reading conversations, completing a turn, platform deliveries, retries and dead letters.
#[async_trait]
pub trait TurnStore: Send + Sync {
    /// Cheap round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// Stores an inbound message and enqueues its turn in one transaction. A message whose
    /// `external_id` was already accepted is not stored again: the first copy is returned with
    /// `duplicate = true` and no job. Each new message counts against the tenant's monthly
    /// quota; past it, nothing is stored and the answer is `QuotaExceeded`.
    async fn accept_inbound(&self, tenant: &TenantId, inbound: NewInbound) -> Result<Accepted>;
    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Option<Conversation>>;
    async fn open_conversation(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<Conversation>>;
    /// Ends a conversation (the user blocked the bot, hung up...): the user's next message opens
    /// a new one. Returns whether it was open.
    async fn close_conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<bool>;
    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<Message>>;
    /// What a turn starts from: its inbound message, the conversation and the person's latest
    /// consent decision, in one read. None when the message or the conversation is gone.
    async fn turn_input(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        message: &MessageId,
    ) -> Result<Option<TurnInput>>;
    /// Messages of a conversation with `seq > after`, oldest first.
    async fn messages_after(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// The stored replies to an inbound message, in order.
    async fn replies_to(&self, tenant: &TenantId, message: &MessageId) -> Result<Vec<Message>>;
    /// Completes a turn in one transaction: deletes the job, marks the inbound message processed,
    /// stores the replies and the new context. Fails with `Conflict` if the job is already done.
    async fn complete_turn(&self, tenant: &TenantId, commit: TurnCommit) -> Result<Vec<Message>>;
    /// A job finished without a turn commit (a delivery): it leaves the queue.
    async fn finish_job(&self, tenant: &TenantId, job_id: i64) -> Result<()>;
    /// The outcome of sending an outbound message: its new status and the platform's id for it.
    async fn record_delivery(
        &self,
        tenant: &TenantId,
        message: &MessageId,
        status: MessageStatus,
        platform_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()>;
    /// How many of the platform messages an outbound message goes out as (cards, long text, a
    /// list after its text) the platform has accepted so far.
    async fn parts_sent(&self, tenant: &TenantId, message: &MessageId) -> Result<u32>;
    /// Records that the platform accepted the first `parts` platform messages of an outbound
    /// message (and the last one's platform id, when it gave one), before the next is sent, so
    /// that a retry resumes after them. The count never moves back.
    async fn record_parts_sent(
        &self,
        tenant: &TenantId,
        message: &MessageId,
        parts: u32,
        platform_id: Option<&str>,
    ) -> Result<()>;
    /// A platform's delivery status for a message we sent, found by its platform id. Statuses
    /// only move forward (sent -> delivered -> read); `failed` always applies. Returns the
    /// message's id, `None` when there is no such message.
    async fn apply_platform_status(
        &self,
        tenant: &TenantId,
        channel: Channel,
        platform_id: &str,
        status: MessageStatus,
    ) -> Result<Option<MessageId>>;
    /// Records a failed attempt; the job runs again at `run_at`.
    async fn retry_job(&self, tenant: &TenantId, job_id: i64, attempts: u32, run_at: i64, error: &str) -> Result<()>;
    /// Moves a job that failed for good to the dead letters and marks its message failed.
    async fn dead_letter_job(&self, tenant: &TenantId, job_id: i64, attempts: u32, error: &str) -> Result<DeadLetter>;
    /// Dead letters not yet replayed; system-wide when `tenant` is `None`.
    async fn dead_letters(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<DeadLetter>>;
    /// Puts a dead letter back in the queue as a new job.
    async fn replay_dead_letter(&self, tenant: &TenantId, id: i64) -> Result<Job>;
    /// Stores a bot message that answers no inbound message (a reminder, a notice) at the end of
    /// a conversation. With `deliver` it is stored `queued` with a `Deliver` job naming it, in the
    /// same transaction (the outbox); otherwise (web chat) it is `sent` once stored. For a
    /// platform, `metadata.anchor` names an inbound message of the conversation whose platform
    /// event says where to send it.
    async fn add_proactive(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        content: Content,
        metadata: serde_json::Value,
        deliver: bool,
    ) -> Result<Message>;
    /// System-wide: jobs with `id > after`, oldest first (queue recovery at start-up and jobs
    /// enqueued by another process, such as a replay from the CLI).
    async fn pending_jobs(&self, after: i64, limit: u32) -> Result<Vec<Job>>;
    /// System-wide queue figures.
    async fn queue_stats(&self) -> Result<QueueStats>;
    /// Jobs enqueued by this process, delivered in commit order. Only the first call gets it.
    fn job_feed(&self) -> Option<UnboundedReceiver<Job>>;
    /// Writes what the store holds in memory for a while (on PostgreSQL, the monthly message
    /// counts of tenants without a quota, see `postgres/tally.rs`). A graceful stop calls it
    /// before `close`.
    async fn flush(&self) -> Result<()>;
    /// Stops accepting writes and ends the job feed; writes already queued still commit.
    fn close(&self);
}
