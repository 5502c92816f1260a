//! Conformance checks for assessment results and feedback.

use super::{inbound, tenant};
use crate::{FeedbackKind, NewAssessmentResult, NewFeedback, Store};
use std::sync::Arc;
use switchboard_core::{ConversationId, MessageId};

fn result(conversation: &ConversationId, score: f64, band: Option<&str>) -> NewAssessmentResult {
    NewAssessmentResult {
        conversation: conversation.clone(),
        assessment: "wellbeing".into(),
        answers: serde_json::json!({"mood": "good", "sleep": 7}),
        score,
        band: band.map(str::to_owned),
        source_message: MessageId::generate(),
    }
}

pub(super) async fn assessment_results_per_user_and_tenant(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let ana = store
        .accept_inbound(&t, inbound("ana", "hi", None))
        .await
        .expect("accept");
    let bob = store
        .accept_inbound(&t, inbound("bob", "hi", None))
        .await
        .expect("accept");
    let first = result(&ana.conversation, 7.5, Some("good"));
    let r1 = store.add_assessment_result(&t, first.clone()).await.expect("add");
    assert_eq!(
        (r1.user.as_str(), r1.assessment.as_str(), r1.score, r1.band.as_deref()),
        ("ana", "wellbeing", 7.5, Some("good"))
    );
    assert_eq!(r1.answers["sleep"], 7);
    let again = store.add_assessment_result(&t, first).await.expect("retried add");
    assert_eq!(again.id, r1.id, "a retried turn finds its result");
    let r2 = store
        .add_assessment_result(&t, result(&ana.conversation, 2.0, None))
        .await
        .expect("add");
    store
        .add_assessment_result(&t, result(&bob.conversation, 1.0, None))
        .await
        .expect("add");
    let ids = |rs: Vec<crate::AssessmentResult>| rs.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.assessment_results(&t, Some("ana"), 10).await.expect("list")),
        [r2.id, r1.id],
        "newest first"
    );
    assert_eq!(store.assessment_results(&t, None, 10).await.expect("list").len(), 3);
    assert_eq!(store.assessment_results(&t, None, 1).await.expect("list").len(), 1);

    // Another tenant sees none of them and cannot write into a conversation it does not own.
    assert!(
        store
            .assessment_results(&other, None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .add_assessment_result(&other, result(&ana.conversation, 1.0, None))
            .await
            .is_err(),
        "a conversation of another tenant"
    );
    assert!(
        store
            .assessment_results(&other, Some("ana"), 10)
            .await
            .expect("list")
            .is_empty()
    );
}

pub(super) async fn feedback_per_tenant_with_daily_figures(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let acc = store
        .accept_inbound(&t, inbound("ana", "hi", None))
        .await
        .expect("accept");
    let new = |kind, score, message: Option<MessageId>| NewFeedback {
        conversation: acc.conversation.clone(),
        kind,
        score,
        message,
        source_message: MessageId::generate(),
    };
    let first = new(FeedbackKind::Csat, 4, None);
    let f1 = store.add_feedback(&t, first.clone()).await.expect("add");
    assert_eq!(
        (f1.user.as_str(), f1.kind, f1.score, f1.comment.as_deref()),
        ("ana", FeedbackKind::Csat, 4, None)
    );
    assert_eq!(
        store.add_feedback(&t, first).await.expect("retried").id,
        f1.id,
        "once per turn"
    );
    store
        .add_feedback(&t, new(FeedbackKind::Csat, 5, None))
        .await
        .expect("add");
    let thumb = store
        .add_feedback(&t, new(FeedbackKind::Thumbs, 1, Some(acc.message.clone())))
        .await
        .expect("add");
    assert_eq!(thumb.message.as_ref(), Some(&acc.message));
    store
        .add_feedback(&t, new(FeedbackKind::Thumbs, 0, None))
        .await
        .expect("add");

    assert!(
        !store
            .set_feedback_comment(&other, f1.id, "not yours")
            .await
            .expect("other tenant")
    );
    assert!(
        store
            .set_feedback_comment(&t, f1.id, "quick and clear")
            .await
            .expect("comment")
    );
    let all = store.feedback(&t, 10).await.expect("list");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].id, thumb.id + 1, "newest first");
    let commented = all.iter().find(|f| f.id == f1.id).expect("first");
    assert_eq!(commented.comment.as_deref(), Some("quick and clear"));

    let days = store.feedback_per_day(&t, 30).await.expect("per day");
    assert_eq!(days.len(), 1, "{days:?}");
    let d = &days[0];
    assert_eq!(
        (d.csat_count, d.csat_average, d.thumbs_up, d.thumbs_down),
        (2, Some(4.5), 1, 1)
    );
    assert_eq!(d.day.len(), 10);

    assert!(store.feedback(&other, 10).await.expect("list").is_empty());
    assert!(store.feedback_per_day(&other, 30).await.expect("per day").is_empty());
    assert!(
        store
            .add_feedback(&other, new(FeedbackKind::Csat, 1, None))
            .await
            .is_err(),
        "a conversation of another tenant"
    );
}
