//! Persistence for Switchboard. This is the only crate that knows SQL.
//!
//! Callers hold an `Arc<dyn Store>`; the backend is chosen from the store URL at start-up.
//! Every call that touches tenant data names its tenant. The few system-wide calls (listing
//! tenants, scanning the queue at start-up, queue statistics) say so in their doc comment.
//!
//! The durable queue lives here too: an inbound message and its job are written in one
//! transaction, and a turn's replies, context and the job's completion in another.

pub mod conformance;
mod conformance_people;
mod conformance_tenants;
mod error;
mod model;
mod model_auth;
mod model_events;
mod model_tenant;
pub mod sqlite;

pub use error::StoreError;
pub use model::*;
pub use model_auth::*;
pub use model_events::*;
pub use model_tenant::*;
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

use async_trait::async_trait;
use switchboard_core::{
    Channel, Content, Conversation, ConversationId, Handoff, Message, MessageId, MessageStatus, TenantId,
};
use tokio::sync::mpsc::UnboundedReceiver;

/// A claim on a reminder older than this is taken again: its instance died before firing it.
pub const REMINDER_CLAIM_LEASE_MS: i64 = 60_000;
/// A claim on a form submission older than this is taken again: its sender died mid-send. Longer
/// than any one send may take.
pub const SUBMISSION_CLAIM_LEASE_MS: i64 = 120_000;
/// A claim on an event delivery older than this is taken again: its sender died mid-send.
/// Longer than any one send may take.
pub const EVENT_CLAIM_LEASE_MS: i64 = 120_000;

/// Turns one sealed secret into its re-encrypted form (see [`Store::reseal_secrets`]).
pub type Reseal = Box<dyn Fn(&[u8]) -> std::result::Result<Vec<u8>, String> + Send>;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip to the database, for readiness checks.
    async fn ping(&self) -> Result<()>;

    async fn upsert_tenant(&self, tenant: &TenantRecord) -> Result<()>;
    async fn tenant(&self, tenant: &TenantId) -> Result<Option<TenantRecord>>;
    /// System-wide: every tenant.
    async fn list_tenants(&self) -> Result<Vec<TenantRecord>>;

    async fn upsert_connector(&self, connector: &ConnectorRecord) -> Result<()>;
    async fn connector(&self, tenant: &TenantId, id: &str) -> Result<Option<ConnectorRecord>>;
    async fn connectors(&self, tenant: &TenantId) -> Result<Vec<ConnectorRecord>>;
    /// Returns whether there was such a connector.
    async fn delete_connector(&self, tenant: &TenantId, id: &str) -> Result<bool>;

    /// The tenant's settings; the defaults when none were ever set.
    async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings>;
    /// Replaces the tenant's settings. `NotFound` when there is no such tenant.
    async fn set_tenant_settings(&self, tenant: &TenantId, settings: TenantSettings) -> Result<()>;
    /// Inbound messages accepted for the tenant in the UTC calendar month of `at` (epoch ms).
    async fn monthly_messages(&self, tenant: &TenantId, at: i64) -> Result<u64>;
    /// Deletes every row of the tenant (the tenant, its settings, conversations, messages, people,
    /// keys, audit entries...) in one transaction. Returns whether the tenant existed.
    async fn delete_tenant(&self, tenant: &TenantId) -> Result<bool>;
    /// How many rows of each table belong to the tenant (only tables that have some).
    async fn tenant_row_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>>;
    /// One page of a tenant's rows of `table` as JSON objects (column name to value), with
    /// the position to pass as `after` for the next page; rows after `after`, `limit` at most.
    async fn export_page(
        &self,
        tenant: &TenantId,
        table: ExportTable,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, serde_json::Value)>>;
    /// System-wide: re-encrypts every sealed secret of every table (connector secrets, event
    /// endpoint secrets...) with `reseal` (old ciphertext in, new out) in one transaction; any
    /// failure changes nothing. Returns how many were re-encrypted.
    async fn reseal_secrets(&self, reseal: Reseal) -> Result<u64>;
    /// Stores (`Some`, replacing any earlier value) or removes (`None`) a tenant's sealed secret
    /// `name`. Returns whether a secret is now stored (set) or was removed (delete).
    /// `NotFound` when setting one for a tenant that does not exist.
    async fn set_tenant_secret(&self, tenant: &TenantId, name: &str, sealed: Option<Vec<u8>>) -> Result<bool>;
    /// The sealed value of the tenant's secret `name`.
    async fn tenant_secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Vec<u8>>>;
    /// The names of the tenant's secrets, never their values.
    async fn tenant_secrets(&self, tenant: &TenantId) -> Result<Vec<TenantSecretInfo>>;

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
    /// What a turn starts from: its inbound message and the conversation, in one read.
    async fn turn_input(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        message: &MessageId,
    ) -> Result<Option<(Message, Conversation)>>;
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
    /// `content` is stored as a proactive message (see [`Store::add_proactive`]). `None` when the
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

    /// A channel user's latest consent decision: their state.
    async fn latest_consent(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<ConsentRecord>>;
    /// The consent ledger, newest first: one channel user's entries, or the tenant's.
    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        user: Option<(Channel, &str)>,
        limit: u32,
    ) -> Result<Vec<ConsentRecord>>;

    /// Keeps an uploaded bot definition (not yet running).
    async fn add_bot_version(&self, tenant: &TenantId, source: &str, created_by: &str) -> Result<BotVersion>;
    /// Newest first.
    async fn bot_versions(&self, tenant: &TenantId, limit: u32) -> Result<Vec<BotVersion>>;
    async fn bot_version(&self, tenant: &TenantId, id: i64) -> Result<Option<BotVersion>>;
    /// Records that the version became the running bot.
    async fn mark_bot_version_active(&self, tenant: &TenantId, id: i64) -> Result<bool>;
    /// A tenant's end users, most recently active first.
    async fn contacts(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Contact>>;
    /// Messages containing `text`, newest first.
    async fn search_messages(&self, tenant: &TenantId, text: &str, limit: u32) -> Result<Vec<Message>>;
    /// A tenant's traffic per UTC day and channel for messages created in `since..until`.
    async fn day_stats(&self, tenant: &TenantId, since: i64, until: i64) -> Result<Vec<DayStats>>;
    /// The most frequent intents of inbound messages created in `since..until`.
    async fn top_intents(&self, tenant: &TenantId, since: i64, until: i64, limit: u32) -> Result<Vec<IntentCount>>;
    /// A tenant's conversations, newest first, filtered; `limit` at most.
    async fn conversations(
        &self,
        tenant: &TenantId,
        filter: ConversationFilter,
        limit: u32,
    ) -> Result<Vec<Conversation>>;
    /// Conversations handed to a person, the longest waiting first.
    async fn handoffs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Conversation>>;
    /// An agent takes a handed-over conversation (from the queue or from another agent).
    /// `Conflict` when it is not handed over, `NotFound` when there is no such conversation.
    async fn take_handoff(&self, tenant: &TenantId, conversation: &ConversationId, agent: &str) -> Result<Handoff>;
    /// The bot answers the conversation again. Returns whether it was handed over.
    async fn release_handoff(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<bool>;

    /// Adds a person. `Conflict` when their tenant (or, for a super admin, the super admins)
    /// already has someone with the email; other tenants' people do not count.
    async fn create_user(&self, user: NewUser) -> Result<UserRecord>;
    /// System-wide (logging in need not name a tenant): every account with this email, the
    /// super admin's first, then one per tenant.
    async fn users_by_email(&self, email: &str) -> Result<Vec<UserRecord>>;
    /// System-wide: the person an access token names.
    async fn user(&self, id: &str) -> Result<Option<UserRecord>>;
    /// The person an access token names, only while its session (refresh family) is live.
    async fn session_user(&self, user_id: &str, family: &str) -> Result<Option<UserRecord>>;
    /// The people of a tenant; every person when `None` (super admins only).
    async fn users(&self, tenant: Option<&TenantId>) -> Result<Vec<UserRecord>>;
    /// Until when the login name (an opaque key the caller derives from what a login names,
    /// account or not) is locked, if it has been.
    async fn login_lock(&self, name: &str) -> Result<Option<i64>>;
    /// A failed login under `name`: after `max_failures` in a row (each within `lock_ms` of the
    /// last) the name is locked until `now + lock_ms`.
    async fn login_failed(&self, name: &str, max_failures: u32, lock_ms: i64) -> Result<()>;
    /// A successful login clears the name's failures.
    async fn login_succeeded(&self, name: &str) -> Result<()>;
    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<bool>;
    /// Removes a person of `tenant` (or any, for `None`) and their sessions.
    async fn delete_user(&self, tenant: Option<&TenantId>, user_id: &str) -> Result<bool>;

    async fn add_refresh_token(&self, hash: &str, user_id: &str, family: &str, expires_at: i64) -> Result<()>;
    /// Uses a refresh token once, in one transaction (two racing uses: one wins, the other is a reuse).
    async fn use_refresh_token(&self, hash: &str) -> Result<RefreshUse>;
    /// Revokes a session family (logout); returns whether it had live tokens.
    async fn revoke_refresh_family(&self, family: &str) -> Result<bool>;

    async fn create_api_key(&self, tenant: &TenantId, key: NewApiKey) -> Result<ApiKeyRecord>;
    /// System-wide (a request names its key, not its tenant): the key with this prefix.
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>>;
    /// Records a use; written at most once a minute per key.
    async fn touch_api_key(&self, id: &str) -> Result<()>;
    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>>;
    async fn revoke_api_key(&self, tenant: &TenantId, id: &str) -> Result<bool>;

    async fn add_audit(&self, entry: NewAudit) -> Result<()>;
    /// Newest first: a tenant's entries, or all for `None`.
    async fn audit_log(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<AuditEntry>>;

    /// Stores a completed form for the user of `submission.conversation`. A second add with the
    /// same `source_message` (a retried turn) returns the first submission.
    async fn add_form_submission(&self, tenant: &TenantId, submission: NewSubmission) -> Result<Submission>;
    async fn form_submission(&self, tenant: &TenantId, id: i64) -> Result<Option<Submission>>;
    /// The tenant's submissions (of `form` when given), newest first.
    async fn form_submissions(&self, tenant: &TenantId, form: Option<&str>, limit: u32) -> Result<Vec<Submission>>;
    /// System-wide: claims pending submissions due at `now` (and claims older than
    /// [`SUBMISSION_CLAIM_LEASE_MS`]) in one statement, so two callers never get the same one.
    /// Claimed ones have `claimed_at = now`.
    async fn claim_due_submissions(&self, now: i64, limit: u32) -> Result<Vec<Submission>>;
    /// Records one attempt to send a submission claimed at `claimed_at`. Returns false when the
    /// claim no longer holds (another sender took it over).
    async fn finish_submission(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        outcome: SendOutcome,
    ) -> Result<bool>;

    /// Subscribes a tenant's URL to event types.
    async fn create_event_endpoint(&self, tenant: &TenantId, endpoint: NewEventEndpoint) -> Result<EventEndpoint>;
    /// The tenant's endpoints, oldest first.
    async fn event_endpoints(&self, tenant: &TenantId) -> Result<Vec<EventEndpoint>>;
    async fn event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<Option<EventEndpoint>>;
    /// Removes an endpoint and its delivery log. Returns whether the tenant had it.
    async fn delete_event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<bool>;
    /// Queues every event for each enabled endpoint of the tenant subscribed to its type (or
    /// only for the endpoint `only`, whatever it subscribed to), in one write, due at once.
    /// Returns how many deliveries were queued.
    async fn enqueue_events(&self, tenant: &TenantId, only: Option<&str>, events: Vec<NewEvent>) -> Result<usize>;
    /// System-wide: claims pending deliveries due at `now` (and claims older than
    /// [`EVENT_CLAIM_LEASE_MS`]) in one statement, so two callers never get the same one.
    /// Claimed ones have `claimed_at = now`.
    async fn claim_due_event_deliveries(&self, now: i64, limit: u32) -> Result<Vec<EventDelivery>>;
    /// Records one attempt to send a delivery claimed at `claimed_at`. Returns false when the
    /// claim no longer holds (another sender took it over).
    async fn finish_event_delivery(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        attempt: DeliveryAttempt,
    ) -> Result<bool>;
    /// The delivery log of an endpoint, newest first.
    async fn event_deliveries(&self, tenant: &TenantId, endpoint: &str, limit: u32) -> Result<Vec<EventDelivery>>;

    /// Stores a finished assessment for the user of `result.conversation`. A second add with the
    /// same `source_message` (a retried turn) returns the first result.
    async fn add_assessment_result(&self, tenant: &TenantId, result: NewAssessmentResult) -> Result<AssessmentResult>;
    /// The tenant's assessment results, newest first; only `user`'s when given.
    async fn assessment_results(
        &self,
        tenant: &TenantId,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AssessmentResult>>;
    /// Stores a CSAT score or a thumb for the user of `feedback.conversation`. A second add with
    /// the same `source_message` returns the first.
    async fn add_feedback(&self, tenant: &TenantId, feedback: NewFeedback) -> Result<Feedback>;
    /// Adds the person's comment to their feedback. Returns whether the tenant has it.
    async fn set_feedback_comment(&self, tenant: &TenantId, id: i64, comment: &str) -> Result<bool>;
    /// The tenant's feedback, newest first.
    async fn feedback(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Feedback>>;
    /// The tenant's feedback per UTC day (CSAT count and average, thumbs), newest first.
    async fn feedback_per_day(&self, tenant: &TenantId, days: u32) -> Result<Vec<FeedbackDay>>;

    /// System-wide: jobs with `id > after`, oldest first (queue recovery at start-up and jobs
    /// enqueued by another process, such as a replay from the CLI).
    async fn pending_jobs(&self, after: i64, limit: u32) -> Result<Vec<Job>>;
    /// System-wide queue figures.
    async fn queue_stats(&self) -> Result<QueueStats>;
    /// Jobs enqueued by this process, delivered in commit order. Only the first call gets it.
    fn job_feed(&self) -> Option<UnboundedReceiver<Job>>;
    /// Stops accepting writes and ends the job feed; writes already queued still commit.
    fn close(&self);
}
