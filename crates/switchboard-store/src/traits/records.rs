//! What turns leave behind for the tenant to read: form submissions (and their sending), assessment results, feedback, analytics, contacts, message search.

use crate::*;
use async_trait::async_trait;
use switchboard_core::{Message, TenantId};

/// What turns leave behind for the tenant to read: form submissions (and their sending), assessment results, feedback, analytics, contacts, message search.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// A tenant's end users, most recently active first.
    async fn contacts(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Contact>>;
    /// Messages containing `text`, newest first.
    async fn search_messages(&self, tenant: &TenantId, text: &str, limit: u32) -> Result<Vec<Message>>;
    /// A tenant's traffic per UTC day and channel for messages created in `since..until`.
    async fn day_stats(&self, tenant: &TenantId, since: i64, until: i64) -> Result<Vec<DayStats>>;
    /// The most frequent intents of inbound messages created in `since..until`.
    async fn top_intents(&self, tenant: &TenantId, since: i64, until: i64, limit: u32) -> Result<Vec<IntentCount>>;
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
}
