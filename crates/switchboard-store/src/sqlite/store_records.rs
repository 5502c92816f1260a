//! `RecordStore` for SQLite: plain SQL, one function per operation.

use super::SqliteStore;
use crate::{AssessmentResult, Feedback, FeedbackDay, NewAssessmentResult, NewFeedback, RecordStore, Result};
use async_trait::async_trait;
use switchboard_core::{Message, TenantId};

use super::analytics;
use super::contacts;

use super::feedback;
use super::forms;

#[async_trait]
impl RecordStore for SqliteStore {
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
}
