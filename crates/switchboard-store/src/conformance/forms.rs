//! Conformance checks for form submissions: idempotent adds, tenant isolation, claim-once and
//! the outcomes of sending.

use super::{futures_join, inbound, tenant};
use crate::{NewSubmission, SUBMISSION_CLAIM_LEASE_MS, SendOutcome, Store, StoreError, SubmissionStatus};
use std::sync::Arc;
use switchboard_core::MessageId;

fn new_submission(acc: &crate::Accepted, status: SubmissionStatus) -> NewSubmission {
    NewSubmission {
        conversation: acc.conversation.clone(),
        form: "booking".into(),
        values: serde_json::json!({"people": 4, "email": "ana@example.com"}),
        status,
        max_attempts: 8,
        source_message: MessageId::generate(),
    }
}

pub(super) async fn form_submissions_per_tenant_once_per_message(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let acc = store
        .accept_inbound(&t, inbound("ana", "yes", None))
        .await
        .expect("accept");
    let first = new_submission(&acc, SubmissionStatus::Stored);
    let s = store.add_form_submission(&t, first.clone()).await.expect("add");
    assert_eq!(
        (
            s.user.as_str(),
            s.form.as_str(),
            s.status,
            s.attempts,
            s.next_attempt_at
        ),
        ("ana", "booking", SubmissionStatus::Stored, 0, None)
    );
    assert_eq!(s.values["people"], 4);
    let again = store.add_form_submission(&t, first).await.expect("retried add");
    assert_eq!(again.id, s.id, "a retried turn finds its submission");
    let mut other_form = new_submission(&acc, SubmissionStatus::Stored);
    other_form.form = "survey".into();
    let s2 = store.add_form_submission(&t, other_form).await.expect("add");

    let all = store.form_submissions(&t, None, 10).await.expect("list");
    assert_eq!(
        all.iter().map(|x| x.id).collect::<Vec<_>>(),
        [s2.id, s.id],
        "newest first"
    );
    let bookings = store.form_submissions(&t, Some("booking"), 10).await.expect("list");
    assert_eq!(bookings.len(), 1);

    // Another tenant sees nothing, even with the ids, and cannot add to this one's conversation.
    assert!(store.form_submissions(&other, None, 10).await.expect("list").is_empty());
    assert_eq!(store.form_submission(&other, s.id).await.expect("get"), None);
    let err = store
        .add_form_submission(&other, new_submission(&acc, SubmissionStatus::Stored))
        .await
        .expect_err("another tenant's conversation");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(
        store
            .claim_due_submissions(i64::MAX / 2, 10)
            .await
            .expect("claim")
            .is_empty(),
        "stored submissions are never sent"
    );
}

pub(super) async fn a_due_submission_is_claimed_once_and_retried_until_sent(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let acc = store
        .accept_inbound(&t, inbound("ana", "yes", None))
        .await
        .expect("accept");
    let s = store
        .add_form_submission(&t, new_submission(&acc, SubmissionStatus::Pending))
        .await
        .expect("add");
    let due = s.next_attempt_at.expect("pending submissions are due at once");

    // Many claimers at once (two instances, a loop racing itself): exactly one gets it.
    let claims = futures_join((0..8).map(|_| {
        let store = store.clone();
        async move { store.claim_due_submissions(due + 10, 10).await.expect("claim") }
    }))
    .await;
    let won: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!((won[0].id, won[0].claimed_at), (s.id, Some(due + 10)));

    // Another tenant cannot finish it; a stale claim time does not count.
    let retry = SendOutcome::Retry {
        at: due + 5_000,
        error: "HTTP 503".into(),
    };
    assert!(
        !store
            .finish_submission(&other, s.id, due + 10, retry.clone())
            .await
            .expect("finish")
    );
    assert!(
        !store
            .finish_submission(&t, s.id, due + 9, retry.clone())
            .await
            .expect("finish")
    );
    assert!(
        store
            .finish_submission(&t, s.id, due + 10, retry)
            .await
            .expect("finish")
    );
    let after = store.form_submission(&t, s.id).await.expect("get").expect("exists");
    assert_eq!(
        (
            after.status,
            after.attempts,
            after.next_attempt_at,
            after.last_error.as_deref()
        ),
        (SubmissionStatus::Pending, 1, Some(due + 5_000), Some("HTTP 503"))
    );
    assert!(
        store
            .claim_due_submissions(due + 4_999, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not yet"
    );

    // A claim whose sender died lapses after the lease and is taken again.
    let claimed = store.claim_due_submissions(due + 5_000, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert!(
        store
            .claim_due_submissions(due + 6_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "held"
    );
    let later = due + 5_000 + SUBMISSION_CLAIM_LEASE_MS;
    let again = store.claim_due_submissions(later, 10).await.expect("claim");
    assert_eq!(again.len(), 1, "the lapsed claim is taken over");
    assert!(
        !store
            .finish_submission(&t, s.id, due + 5_000, SendOutcome::Sent)
            .await
            .expect("finish"),
        "the first claimer lost it"
    );
    assert!(
        store
            .finish_submission(&t, s.id, later, SendOutcome::Sent)
            .await
            .expect("finish")
    );
    let sent = store.form_submission(&t, s.id).await.expect("get").expect("exists");
    assert_eq!(
        (sent.status, sent.attempts, sent.claimed_at),
        (SubmissionStatus::Sent, 2, None)
    );
    assert!(
        store
            .claim_due_submissions(i64::MAX / 2, 10)
            .await
            .expect("claim")
            .is_empty(),
        "sent is final"
    );

    let failing = store
        .add_form_submission(&t, new_submission(&acc, SubmissionStatus::Pending))
        .await
        .expect("add");
    let now = failing.next_attempt_at.expect("due");
    assert_eq!(store.claim_due_submissions(now, 10).await.expect("claim").len(), 1);
    let failed = SendOutcome::Failed {
        error: "HTTP 400".into(),
    };
    assert!(
        store
            .finish_submission(&t, failing.id, now, failed)
            .await
            .expect("finish")
    );
    let f = store
        .form_submission(&t, failing.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (f.status, f.last_error.as_deref()),
        (SubmissionStatus::Failed, Some("HTTP 400"))
    );
    assert!(
        store
            .claim_due_submissions(i64::MAX / 2, 10)
            .await
            .expect("claim")
            .is_empty(),
        "failed is final"
    );
}
