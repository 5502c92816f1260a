//! Records the store reads and writes, beyond the domain types of `switchboard-core`.

use serde::{Deserialize, Serialize};
use switchboard_core::{
    Channel, Content, ConversationContext, ConversationId, Direction, Message, MessageId, MessageStatus, Processed,
    TenantId,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: TenantId,
    pub name: String,
    /// The bot definition's source text, as the person wrote it.
    pub bot_source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who goes first when workers are scarce: a person waiting in a chat before bulk work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Bulk = 0,
    Normal = 1,
    Interactive = 2,
}

impl Priority {
    pub fn from_i64(v: i64) -> Priority {
        match v {
            i64::MIN..=0 => Priority::Bulk,
            1 => Priority::Normal,
            _ => Priority::Interactive,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Run the pipeline for one inbound message.
    Turn,
    /// Send the stored replies to one inbound message through its platform.
    Deliver,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Turn => "turn",
            JobKind::Deliver => "deliver",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        match s {
            "turn" => Some(JobKind::Turn),
            "deliver" => Some(JobKind::Deliver),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub tenant: TenantId,
    pub kind: JobKind,
    pub conversation: ConversationId,
    pub message: MessageId,
    pub priority: Priority,
    pub attempts: u32,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewInbound {
    /// Chosen by the caller so it can wait for the turn before the message is stored.
    pub id: MessageId,
    pub channel: Channel,
    pub user: String,
    pub content: Content,
    pub metadata: serde_json::Value,
    pub external_id: Option<String>,
    pub priority: Priority,
}

/// What a turn starts from, read at once.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnInput {
    pub message: switchboard_core::Message,
    pub conversation: switchboard_core::Conversation,
    /// The person's latest consent decision on the message's channel.
    pub consent: Option<ConsentRecord>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    pub conversation: ConversationId,
    pub message: MessageId,
    pub seq: i64,
    pub duplicate: bool,
    /// For a duplicate: the content first stored under the same external id.
    pub content: Content,
    /// The enqueued turn; `None` for a duplicate.
    pub job: Option<Job>,
    /// When the (first copy of the) message was stored.
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TurnCommit {
    pub job_id: i64,
    pub conversation: ConversationId,
    pub message: MessageId,
    pub processed: Processed,
    pub replies: Vec<Content>,
    pub context: ConversationContext,
    /// The replies still have to be sent through a platform: they are stored `queued` and a
    /// `Deliver` job is enqueued in the same transaction (the outbox). Otherwise (web chat) they
    /// are `sent` once stored.
    pub deliver: bool,
    /// A consent decision the turn recorded; written with the turn, so a retried turn records
    /// it once.
    pub consent: Option<NewConsent>,
    /// What of the conversation the turn erases (a refusal of consent, a message from someone
    /// who opted out).
    pub erase: Erase,
    /// The turn handed the conversation to a person, for this reason (ignored if it already is).
    pub handoff: Option<String>,
}

/// Where a turn's replies go and how they are stored: what each backend needs to turn a
/// reply it wrote into the `Message` it returns.
pub(crate) struct ReplyTo<'a> {
    pub tenant: &'a TenantId,
    pub commit: &'a TurnCommit,
    pub channel: Channel,
    pub user: &'a str,
    pub status: MessageStatus,
    pub now: i64,
}

impl ReplyTo<'_> {
    /// Reply number `index` of the turn, stored as `id` at `seq`.
    pub(crate) fn message(&self, id: MessageId, index: usize, seq: i64, content: Content) -> Message {
        Message {
            id,
            tenant: self.tenant.clone(),
            conversation: self.commit.conversation.clone(),
            seq,
            channel: self.channel,
            user: self.user.to_owned(),
            direction: Direction::Outbound,
            content,
            metadata: serde_json::json!({}),
            processed: None,
            status: self.status,
            external_id: None,
            in_reply_to: Some(self.commit.message.clone()),
            reply_index: Some(index as i64),
            created_at: self.now,
            updated_at: self.now,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Erase {
    #[default]
    Nothing,
    /// The inbound message is deleted (nothing is kept of it); the turn has no replies.
    Message,
    /// Every message of the conversation is deleted but the turn's replies and the inbound
    /// message, which keeps only its platform address (to send the replies); the context starts
    /// over. Without a platform to send to (web chat) the conversation goes entirely.
    Conversation,
}

/// A person's answer about consent or messages, as the ledger keeps it. The latest entry for a
/// channel user is their state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDecision {
    Granted,
    Refused,
    /// "stop", "unsubscribe": no more messages.
    OptedOut,
    /// "start" after an opt-out.
    OptedIn,
}

impl ConsentDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentDecision::Granted => "granted",
            ConsentDecision::Refused => "refused",
            ConsentDecision::OptedOut => "opted_out",
            ConsentDecision::OptedIn => "opted_in",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentDecision> {
        [
            ConsentDecision::Granted,
            ConsentDecision::Refused,
            ConsentDecision::OptedOut,
            ConsentDecision::OptedIn,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    /// Nothing is answered or kept for a person in this state, but "start".
    pub fn silences(self) -> bool {
        matches!(self, ConsentDecision::Refused | ConsentDecision::OptedOut)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewConsent {
    pub decision: ConsentDecision,
    /// The version of the consent text the person answered (the bot's `consent.version`).
    pub text_version: String,
    /// The text they were shown, as it was.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub id: i64,
    pub tenant: TenantId,
    pub channel: Channel,
    pub user: String,
    pub decision: ConsentDecision,
    pub text_version: String,
    pub text: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: i64,
    pub job_id: i64,
    pub tenant: TenantId,
    pub kind: JobKind,
    pub conversation: ConversationId,
    pub message: MessageId,
    pub priority: Priority,
    pub attempts: u32,
    pub last_error: String,
    pub created_at: i64,
    pub failed_at: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    pub depth: u64,
    pub oldest_created_at: Option<i64>,
    pub dead_letters: u64,
}

/// One bot account of a tenant on one channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectorRecord {
    pub tenant: TenantId,
    /// Chosen by people, unique per tenant; it appears in the webhook URL.
    pub id: String,
    pub channel: Channel,
    /// The bot's identity on the platform; every payload must name it.
    pub account_id: String,
    /// Secrets sealed by the caller (encrypted at rest); opaque to the store.
    pub secrets: Vec<u8>,
    /// Settings that are not secret (API base URL, public URL...).
    pub settings: serde_json::Value,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a reminder is in its life: `Pending` until due, `Firing` while one instance holds the
/// claim to send it, then `Fired`; or `Cancelled` by the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStatus {
    Pending,
    Firing,
    Fired,
    Cancelled,
}

impl ReminderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderStatus::Pending => "pending",
            ReminderStatus::Firing => "firing",
            ReminderStatus::Fired => "fired",
            ReminderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ReminderStatus> {
        match s {
            "pending" => Some(ReminderStatus::Pending),
            "firing" => Some(ReminderStatus::Firing),
            "fired" => Some(ReminderStatus::Fired),
            "cancelled" => Some(ReminderStatus::Cancelled),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewReminder {
    pub conversation: ConversationId,
    pub text: String,
    /// The language to speak in when it fires.
    pub language: String,
    /// IANA zone the person meant the time in (quiet hours and the late note use it).
    pub time_zone: String,
    pub due_at: i64,
    /// The inbound message that set it; a second add with the same source returns the first.
    pub source_message: MessageId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reminder {
    pub id: i64,
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub user: String,
    pub channel: Channel,
    pub text: String,
    pub language: String,
    pub time_zone: String,
    /// What the person asked for (a snooze moves it).
    pub due_at: i64,
    /// When it may fire next: `due_at`, or later when quiet hours hold it.
    pub fire_at: i64,
    pub status: ReminderStatus,
    pub source_message: MessageId,
    /// The outbound message it became, once fired.
    pub message: Option<MessageId>,
    /// When the current claim was taken (while `Firing`).
    pub claimed_at: Option<i64>,
    pub created_at: i64,
    pub fired_at: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Done,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        match s {
            "open" => Some(TaskStatus::Open),
            "done" => Some(TaskStatus::Done),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: i64,
    pub tenant: TenantId,
    pub user: String,
    pub text: String,
    pub status: TaskStatus,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

/// A tenant's language model usage on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmUsage {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// What became of a completed form: `Stored` (its action is to store it), or for an HTTP
/// action `Pending` until `Sent`, or `Failed` for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionStatus {
    Stored,
    Pending,
    Sent,
    Failed,
}

impl SubmissionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionStatus::Stored => "stored",
            SubmissionStatus::Pending => "pending",
            SubmissionStatus::Sent => "sent",
            SubmissionStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<SubmissionStatus> {
        match s {
            "stored" => Some(SubmissionStatus::Stored),
            "pending" => Some(SubmissionStatus::Pending),
            "sent" => Some(SubmissionStatus::Sent),
            "failed" => Some(SubmissionStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewSubmission {
    pub conversation: ConversationId,
    pub form: String,
    pub values: serde_json::Value,
    /// `Stored`, or `Pending` to be sent (due at once).
    pub status: SubmissionStatus,
    pub max_attempts: u32,
    /// The inbound message that completed the form; a second add with it returns the first.
    pub source_message: MessageId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub id: i64,
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub user: String,
    pub form: String,
    pub values: serde_json::Value,
    pub status: SubmissionStatus,
    /// Sending attempts made so far.
    pub attempts: u32,
    pub max_attempts: u32,
    /// When a pending submission may be sent next.
    pub next_attempt_at: Option<i64>,
    /// When the current claim was taken (a sender is on it).
    pub claimed_at: Option<i64>,
    pub last_error: Option<String>,
    pub source_message: MessageId,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The outcome of one attempt to send a submission.
#[derive(Clone, Debug, PartialEq)]
pub enum SendOutcome {
    Sent,
    /// Refused for good (a 4xx other than 408/429, or out of attempts).
    Failed {
        error: String,
    },
    /// Try again at `at`.
    Retry {
        at: i64,
        error: String,
    },
}

/// A finished assessment to store; a second add with the same `source_message` returns the first.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAssessmentResult {
    pub conversation: ConversationId,
    pub assessment: String,
    /// Question id -> answer.
    pub answers: serde_json::Value,
    pub score: f64,
    pub band: Option<String>,
    pub source_message: MessageId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssessmentResult {
    pub id: i64,
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub user: String,
    pub assessment: String,
    pub answers: serde_json::Value,
    pub score: f64,
    pub band: Option<String>,
    pub created_at: i64,
}

/// What a feedback answer is: a satisfaction score 1-5, or a thumb (1 up, 0 down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    Csat,
    Thumbs,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Csat => "csat",
            FeedbackKind::Thumbs => "thumbs",
        }
    }

    pub fn parse(s: &str) -> Option<FeedbackKind> {
        match s {
            "csat" => Some(FeedbackKind::Csat),
            "thumbs" => Some(FeedbackKind::Thumbs),
            _ => None,
        }
    }
}

/// Feedback to store; a second add with the same `source_message` returns the first.
#[derive(Clone, Debug, PartialEq)]
pub struct NewFeedback {
    pub conversation: ConversationId,
    pub kind: FeedbackKind,
    pub score: i64,
    /// The bot message it is about, when known.
    pub message: Option<MessageId>,
    pub source_message: MessageId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub id: i64,
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub user: String,
    pub kind: FeedbackKind,
    pub score: i64,
    pub comment: Option<String>,
    pub message: Option<MessageId>,
    pub created_at: i64,
}

/// A tenant's feedback on one UTC day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedbackDay {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub csat_count: u64,
    /// Average CSAT score of the day; none without CSAT answers.
    pub csat_average: Option<f64>,
    pub thumbs_up: u64,
    pub thumbs_down: u64,
}
