//! `RecordStore` for PostgreSQL.

use super::PgStore;
use super::{analytics, feedback, forms};
use crate::*;
use async_trait::async_trait;
use switchboard_core::{Message, TenantId};

#[async_trait]
impl RecordStore for PgStore {
    async fn contacts(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Contact>> {
        analytics::contacts(self.pool(), tenant, limit).await
    }

    async fn search_messages(&self, tenant: &TenantId, text: &str, limit: u32) -> Result<Vec<Message>> {
        analytics::search(self.pool(), tenant, text, limit).await
    }

    async fn day_stats(&self, tenant: &TenantId, since: i64, until: i64) -> Result<Vec<DayStats>> {
        analytics::days(self.pool(), tenant, since, until).await
    }

    async fn top_intents(&self, tenant: &TenantId, since: i64, until: i64, limit: u32) -> Result<Vec<IntentCount>> {
        analytics::intents(self.pool(), tenant, since, until, limit).await
    }

    async fn add_form_submission(&self, tenant: &TenantId, submission: NewSubmission) -> Result<Submission> {
        forms::add(self, tenant, submission).await
    }

    async fn form_submission(&self, tenant: &TenantId, id: i64) -> Result<Option<Submission>> {
        forms::get(self, tenant, id).await
    }

    async fn form_submissions(&self, tenant: &TenantId, form: Option<&str>, limit: u32) -> Result<Vec<Submission>> {
        forms::list(self, tenant, form, limit).await
    }

    async fn claim_due_submissions(&self, now: i64, limit: u32) -> Result<Vec<Submission>> {
        forms::claim_due(self, now, limit).await
    }

    async fn finish_submission(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        outcome: SendOutcome,
    ) -> Result<bool> {
        forms::finish(self, tenant, id, claimed_at, outcome).await
    }

    async fn add_assessment_result(&self, tenant: &TenantId, result: NewAssessmentResult) -> Result<AssessmentResult> {
        feedback::add_result(self, tenant, result).await
    }

    async fn assessment_results(
        &self,
        tenant: &TenantId,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AssessmentResult>> {
        feedback::results(self, tenant, user, limit).await
    }

    async fn add_feedback(&self, tenant: &TenantId, feedback: NewFeedback) -> Result<Feedback> {
        feedback::add_feedback(self, tenant, feedback).await
    }

    async fn set_feedback_comment(&self, tenant: &TenantId, id: i64, comment: &str) -> Result<bool> {
        feedback::set_comment(self, tenant, id, comment).await
    }

    async fn feedback(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Feedback>> {
        feedback::list(self, tenant, limit).await
    }

    async fn feedback_per_day(&self, tenant: &TenantId, days: u32) -> Result<Vec<FeedbackDay>> {
        feedback::per_day(self, tenant, days).await
    }
}
