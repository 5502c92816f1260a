//! Conformance checks for outbound event webhooks: endpoints per tenant, the fan-out to
//! subscribed endpoints, claim-once, the outcomes of sending and disabling a gone endpoint.

use super::{futures_join, tenant};
use crate::{
    DeliveryAttempt, DeliveryStatus, EVENT_CLAIM_LEASE_MS, NewEvent, NewEventEndpoint, SendOutcome, Store, StoreError,
};
use std::sync::Arc;

fn endpoint(id: &str, events: &[&str]) -> NewEventEndpoint {
    NewEventEndpoint {
        id: id.into(),
        url: format!("https://hooks.example.com/{id}"),
        secret_sealed: vec![1, 2, 3],
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    }
}

fn event(id: &str, kind: &str) -> NewEvent {
    NewEvent {
        id: id.into(),
        event_type: kind.into(),
        payload: serde_json::json!({"id": id, "type": kind, "data": {}}),
    }
}

fn attempt(outcome: SendOutcome, status_code: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt {
        outcome,
        status_code,
        disable_endpoint: false,
    }
}

pub(super) async fn event_endpoints_fan_out_per_tenant(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let all = store
        .create_event_endpoint(&t, endpoint("ep-all", &["message.received", "message.sent"]))
        .await
        .expect("create");
    assert_eq!(
        (
            all.tenant.as_str(),
            all.enabled,
            all.events.len(),
            all.secret_sealed.as_slice()
        ),
        ("acme", true, 2, [1u8, 2, 3].as_slice())
    );
    store
        .create_event_endpoint(&t, endpoint("ep-handoff", &["handoff.requested"]))
        .await
        .expect("create");
    store
        .create_event_endpoint(&other, endpoint("ep-beta", &["message.received"]))
        .await
        .expect("create");
    let err = store
        .create_event_endpoint(&crate::conformance::tid("nobody"), endpoint("ep-x", &["message.sent"]))
        .await
        .expect_err("unknown tenant");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    let listed = store.event_endpoints(&t).await.expect("list");
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["ep-all", "ep-handoff"]
    );

    // One call fans out: each event goes to the tenant's endpoints subscribed to its type.
    let n = store
        .enqueue_events(
            &t,
            None,
            vec![
                event("ev1", "message.received"),
                event("ev2", "handoff.requested"),
                event("ev3", "conversation.ended"),
            ],
        )
        .await
        .expect("enqueue");
    assert_eq!(n, 2);
    let log = store.event_deliveries(&t, "ep-all", 10).await.expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(
        (
            log[0].event_id.as_str(),
            log[0].event_type.as_str(),
            log[0].status,
            log[0].attempts
        ),
        ("ev1", "message.received", DeliveryStatus::Pending, 0)
    );
    assert_eq!(log[0].payload["type"], "message.received");
    assert!(log[0].next_attempt_at.is_some(), "due at once");
    // `only` targets one endpoint whatever it subscribed to (a test ping).
    assert_eq!(
        store
            .enqueue_events(&t, Some("ep-handoff"), vec![event("ev4", "ping")])
            .await
            .expect("enqueue"),
        1
    );
    let log = store.event_deliveries(&t, "ep-handoff", 10).await.expect("log");
    assert_eq!(
        log.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>(),
        ["ev4", "ev2"],
        "newest first"
    );

    // Another tenant sees nothing of these, even with the ids, and cannot target them.
    assert_eq!(store.event_endpoint(&other, "ep-all").await.expect("get"), None);
    assert!(
        store
            .event_deliveries(&other, "ep-all", 10)
            .await
            .expect("log")
            .is_empty()
    );
    assert!(!store.delete_event_endpoint(&other, "ep-all").await.expect("delete"));
    assert_eq!(
        store
            .enqueue_events(&other, Some("ep-all"), vec![event("ev5", "ping")])
            .await
            .expect("enqueue"),
        0
    );
    assert!(
        store
            .event_deliveries(&other, "ep-beta", 10)
            .await
            .expect("log")
            .is_empty()
    );

    // Deleting an endpoint takes its log with it.
    assert!(store.delete_event_endpoint(&t, "ep-all").await.expect("delete"));
    assert_eq!(store.event_endpoint(&t, "ep-all").await.expect("get"), None);
    assert!(store.event_deliveries(&t, "ep-all", 10).await.expect("log").is_empty());
    assert!(
        !store.delete_event_endpoint(&t, "ep-all").await.expect("delete"),
        "once"
    );
}

pub(super) async fn a_due_event_delivery_is_claimed_once_and_retried_until_sent(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    store
        .create_event_endpoint(&t, endpoint("ep", &["message.sent"]))
        .await
        .expect("create");
    store
        .enqueue_events(&t, None, vec![event("ev1", "message.sent")])
        .await
        .expect("enqueue");
    let d = store.event_deliveries(&t, "ep", 1).await.expect("log").remove(0);
    let due = d.next_attempt_at.expect("due");

    // Many claimers at once (two instances, a loop racing itself): exactly one gets it.
    let claims = futures_join((0..8).map(|_| {
        let store = store.clone();
        async move { store.claim_due_event_deliveries(due + 10, 10).await.expect("claim") }
    }))
    .await;
    let won: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!((won[0].id, won[0].claimed_at), (d.id, Some(due + 10)));

    // Another tenant cannot finish it; a stale claim time does not count.
    let retry = || {
        attempt(
            SendOutcome::Retry {
                at: due + 5_000,
                error: "HTTP 503".into(),
            },
            Some(503),
        )
    };
    assert!(
        !store
            .finish_event_delivery(&other, d.id, due + 10, retry())
            .await
            .expect("finish")
    );
    assert!(
        !store
            .finish_event_delivery(&t, d.id, due + 9, retry())
            .await
            .expect("finish")
    );
    assert!(
        store
            .finish_event_delivery(&t, d.id, due + 10, retry())
            .await
            .expect("finish")
    );
    let after = store.event_deliveries(&t, "ep", 1).await.expect("log").remove(0);
    assert_eq!(
        (
            after.status,
            after.attempts,
            after.next_attempt_at,
            after.last_status_code
        ),
        (DeliveryStatus::Pending, 1, Some(due + 5_000), Some(503))
    );
    assert!(
        store
            .claim_due_event_deliveries(due + 4_999, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not yet"
    );

    // A claim whose sender died lapses after the lease and is taken again.
    assert_eq!(
        store
            .claim_due_event_deliveries(due + 5_000, 10)
            .await
            .expect("claim")
            .len(),
        1
    );
    assert!(
        store
            .claim_due_event_deliveries(due + 6_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "held"
    );
    let later = due + 5_000 + EVENT_CLAIM_LEASE_MS;
    assert_eq!(
        store.claim_due_event_deliveries(later, 10).await.expect("claim").len(),
        1
    );
    let sent = attempt(SendOutcome::Sent, Some(200));
    assert!(
        !store
            .finish_event_delivery(&t, d.id, due + 5_000, sent.clone())
            .await
            .expect("finish"),
        "the first claimer lost it"
    );
    assert!(
        store
            .finish_event_delivery(&t, d.id, later, sent)
            .await
            .expect("finish")
    );
    let done = store.event_deliveries(&t, "ep", 1).await.expect("log").remove(0);
    assert_eq!(
        (done.status, done.attempts, done.claimed_at, done.last_status_code),
        (DeliveryStatus::Sent, 2, None, Some(200))
    );
    assert!(done.sent_at.is_some());
    assert!(
        store
            .claim_due_event_deliveries(i64::MAX / 2, 10)
            .await
            .expect("claim")
            .is_empty(),
        "sent is final"
    );
}

pub(super) async fn a_gone_endpoint_is_disabled_with_its_pending_deliveries(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    store
        .create_event_endpoint(&t, endpoint("ep", &["message.sent"]))
        .await
        .expect("create");
    let events = vec![event("ev1", "message.sent"), event("ev2", "message.sent")];
    assert_eq!(store.enqueue_events(&t, None, events).await.expect("enqueue"), 2);
    let now = i64::MAX / 4;
    let claimed = store.claim_due_event_deliveries(now, 1).await.expect("claim");
    assert_eq!(claimed.len(), 1, "the limit holds");
    let gone = DeliveryAttempt {
        outcome: SendOutcome::Failed {
            error: "HTTP 410".into(),
        },
        status_code: Some(410),
        disable_endpoint: true,
    };
    assert!(
        store
            .finish_event_delivery(&t, claimed[0].id, now, gone)
            .await
            .expect("finish")
    );
    let ep = store.event_endpoint(&t, "ep").await.expect("get").expect("kept");
    assert!(!ep.enabled);
    let log = store.event_deliveries(&t, "ep", 10).await.expect("log");
    assert!(log.iter().all(|d| d.status == DeliveryStatus::Failed), "{log:?}");
    assert!(
        store
            .claim_due_event_deliveries(now, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store
            .enqueue_events(&t, None, vec![event("ev3", "message.sent")])
            .await
            .expect("enqueue"),
        0,
        "a disabled endpoint gets nothing more"
    );
}
