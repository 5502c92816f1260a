//! Conformance checks for the consent ledger and handoffs (see `conformance`).

use crate::conformance::{commit, inbound, tenant};
use crate::{ConsentDecision, Erase, JobKind, NewConsent, Store, StoreError};
use std::sync::Arc;
use switchboard_core::{Channel, Direction, HandoffStatus, Mode};

fn consent(decision: ConsentDecision) -> NewConsent {
    NewConsent {
        decision,
        text_version: "v1".into(),
        text: "May we keep this chat?".into(),
    }
}

pub async fn consent_is_ledgered_and_a_refusal_erases(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;

    // Web chat: a refusal leaves nothing but the ledger entry.
    let first = store
        .accept_inbound(&t, inbound("ann", "my name is Ann", None))
        .await
        .expect("accept");
    let c = commit(first.job.as_ref().expect("job").id, &first, &["May we keep this chat?"]);
    store.complete_turn(&t, c).await.expect("asked");
    let no = store
        .accept_inbound(&t, inbound("ann", "no", None))
        .await
        .expect("accept");
    let mut c = commit(no.job.as_ref().expect("job").id, &no, &["Nothing is kept."]);
    c.consent = Some(consent(ConsentDecision::Refused));
    c.erase = Erase::Conversation;
    let replies = store.complete_turn(&t, c).await.expect("refused");
    assert_eq!(replies.len(), 1, "the confirmation is still answered");
    assert!(store.conversation(&t, &no.conversation).await.expect("read").is_none());
    assert!(store.message(&t, &first.message).await.expect("read").is_none());
    let latest = store
        .latest_consent(&t, Channel::Webchat, "ann")
        .await
        .expect("read")
        .expect("an entry");
    assert_eq!(
        (latest.decision, latest.text_version.as_str(), latest.user.as_str()),
        (ConsentDecision::Refused, "v1", "ann")
    );
    assert!(
        store
            .latest_consent(&other, Channel::Webchat, "ann")
            .await
            .expect("read")
            .is_none(),
        "ledgers are per tenant"
    );
    assert!(store.consent_ledger(&other, None, 10).await.expect("read").is_empty());

    // A message from someone who refused is dropped whole, with its conversation.
    let later = store
        .accept_inbound(&t, inbound("ann", "hello?", None))
        .await
        .expect("accept");
    let mut c = commit(later.job.as_ref().expect("job").id, &later, &[]);
    c.erase = Erase::Message;
    store.complete_turn(&t, c).await.expect("dropped");
    assert!(store.message(&t, &later.message).await.expect("read").is_none());
    assert!(
        store
            .conversation(&t, &later.conversation)
            .await
            .expect("read")
            .is_none()
    );

    // On a platform the confirmation must still be sent: the inbound message stays, emptied,
    // as its address, and the earlier messages go.
    let mut m = inbound("tg:7", "I am Bo, born 1990", Some("tg:1"));
    m.channel = Channel::Telegram;
    let early = store.accept_inbound(&t, m).await.expect("accept");
    let mut c = commit(early.job.as_ref().expect("job").id, &early, &["Agree?"]);
    c.deliver = true;
    store.complete_turn(&t, c).await.expect("asked");
    let mut m = inbound("tg:7", "no", Some("tg:2"));
    m.channel = Channel::Telegram;
    let no = store.accept_inbound(&t, m).await.expect("accept");
    let mut c = commit(no.job.as_ref().expect("job").id, &no, &["Nothing is kept."]);
    c.deliver = true;
    c.consent = Some(consent(ConsentDecision::Refused));
    c.erase = Erase::Conversation;
    store.complete_turn(&t, c).await.expect("refused");
    let left = store
        .messages_after(&t, &no.conversation, 0, 10)
        .await
        .expect("history");
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0].id, no.message);
    assert_eq!(left[0].content.understood_text(), "", "the refusal's words are gone");
    assert_eq!(
        (left[1].direction, left[1].content.understood_text()),
        (Direction::Outbound, "Nothing is kept.")
    );
    let jobs = store.pending_jobs(0, 10).await.expect("jobs");
    assert!(
        jobs.iter()
            .any(|j| j.kind == JobKind::Deliver && j.message == no.message),
        "{jobs:?}"
    );
    let conv = store
        .conversation(&t, &no.conversation)
        .await
        .expect("read")
        .expect("kept to send");
    assert_eq!(conv.context, Default::default(), "the context starts over");
}

pub async fn handoffs_are_owned_beside_the_context(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let acc = store
        .accept_inbound(&t, inbound("u", "a human please", None))
        .await
        .expect("accept");
    let mut c = commit(acc.job.as_ref().expect("job").id, &acc, &["Passing you on."]);
    c.handoff = Some("asked for a person".into());
    store.complete_turn(&t, c).await.expect("complete");
    let conv = store
        .conversation(&t, &acc.conversation)
        .await
        .expect("read")
        .expect("conv");
    let h = conv.handoff.expect("handed over");
    assert_eq!(
        (h.status, h.reason.as_str()),
        (HandoffStatus::Pending, "asked for a person")
    );
    assert_eq!(store.handoffs(&t, 10).await.expect("list").len(), 1);
    assert!(store.handoffs(&other, 10).await.expect("list").is_empty());
    assert!(matches!(
        store.take_handoff(&other, &acc.conversation, "mallory").await,
        Err(StoreError::NotFound(_))
    ));

    let taken = store.take_handoff(&t, &acc.conversation, "agnes").await.expect("take");
    assert_eq!(
        (taken.status, taken.agent.as_deref()),
        (HandoffStatus::Assigned, Some("agnes"))
    );
    // A turn rewriting the context leaves the owner alone.
    let next = store
        .accept_inbound(&t, inbound("u", "hello?", None))
        .await
        .expect("accept");
    store
        .complete_turn(&t, commit(next.job.as_ref().expect("job").id, &next, &[]))
        .await
        .expect("complete");
    let conv = store
        .conversation(&t, &acc.conversation)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(conv.handoff.and_then(|h| h.agent).as_deref(), Some("agnes"));
    assert_eq!(conv.context.mode, Mode::Form, "the turn's context was written");

    assert!(!store.release_handoff(&other, &acc.conversation).await.expect("release"));
    assert!(store.release_handoff(&t, &acc.conversation).await.expect("release"));
    assert!(!store.release_handoff(&t, &acc.conversation).await.expect("again"));
    assert!(store.handoffs(&t, 10).await.expect("list").is_empty());
    assert!(matches!(
        store.take_handoff(&t, &acc.conversation, "agnes").await,
        Err(StoreError::Conflict(_))
    ));
}
