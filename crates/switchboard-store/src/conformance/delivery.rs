//! Conformance checks for the delivery of replies sent as several platform messages.

use super::{commit, inbound, tenant};
use crate::Store;
use std::sync::Arc;
use switchboard_core::{Channel, MessageId, MessageStatus};

pub(super) async fn a_reply_in_parts_remembers_each_part_sent(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let mut msg = inbound("tg:1", "cards please", Some("tg:901"));
    msg.channel = Channel::Telegram;
    let acc = store.accept_inbound(&t, msg).await.expect("accept");
    let turn = acc.job.clone().expect("job");
    let mut c = commit(turn.id, &acc, &["five cards", "a list"]);
    c.deliver = true;
    let replies = store.complete_turn(&t, c).await.expect("complete");
    let (cards, list) = (&replies[0].id, &replies[1].id);
    assert_eq!(store.parts_sent(&t, cards).await.expect("fresh"), 0);

    store
        .record_parts_sent(&t, cards, 1, Some("601"))
        .await
        .expect("first part");
    store
        .record_parts_sent(&t, cards, 2, None)
        .await
        .expect("a part without an id");
    assert_eq!(store.parts_sent(&t, cards).await.expect("two"), 2);
    store
        .record_parts_sent(&t, cards, 1, Some("stale"))
        .await
        .expect("a stale count");
    assert_eq!(
        store.parts_sent(&t, cards).await.expect("still two"),
        2,
        "the count never moves back"
    );
    assert_eq!(store.parts_sent(&t, list).await.expect("other reply"), 0, "per reply");
    let stored = store.message(&t, cards).await.expect("read").expect("reply");
    assert_eq!(
        stored.status,
        MessageStatus::Queued,
        "sent in part is not sent: the job still owns it"
    );

    assert!(store.parts_sent(&other, cards).await.is_err(), "tenant-scoped read");
    assert!(
        store.record_parts_sent(&other, cards, 5, None).await.is_err(),
        "tenant-scoped write"
    );
    assert!(
        store.parts_sent(&t, &acc.message).await.is_err(),
        "inbound messages have no parts"
    );
    assert!(store.parts_sent(&t, &MessageId::generate()).await.is_err());
    assert_eq!(store.parts_sent(&t, cards).await.expect("unchanged"), 2);

    store
        .record_delivery(&t, cards, MessageStatus::Sent, None, None)
        .await
        .expect("sent");
    let sent = store.message(&t, cards).await.expect("read").expect("reply");
    assert_eq!(
        sent.external_id.as_deref(),
        Some("601"),
        "the last accepted part's platform id stays for statuses; a stale count changes nothing"
    );
}
