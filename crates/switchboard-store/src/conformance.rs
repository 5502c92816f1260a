//! The storage conformance suite: behaviour every `Store` backend must show. A backend's test
//! calls [`run`] with a factory that makes a fresh, empty store.

use crate::{NewInbound, Priority, Store, StoreError, TenantRecord, TurnCommit};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use switchboard_core::{Channel, Content, ConversationContext, MessageId, MessageStatus, Mode, Processed, TenantId};

mod delivery;
mod events;
mod forms;
mod results;

type Check = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("tenants_round_trip", |s| Box::pin(tenants_round_trip(s))),
    ("accept_stores_message_conversation_and_job", |s| {
        Box::pin(accept_stores_message_conversation_and_job(s))
    }),
    ("duplicate_external_id_is_accepted_once", |s| {
        Box::pin(duplicate_external_id_is_accepted_once(s))
    }),
    ("complete_turn_stores_replies_once", |s| {
        Box::pin(complete_turn_stores_replies_once(s))
    }),
    ("history_pages_by_seq", |s| Box::pin(history_pages_by_seq(s))),
    ("retry_dead_letter_and_replay", |s| {
        Box::pin(retry_dead_letter_and_replay(s))
    }),
    ("tenants_are_isolated", |s| Box::pin(tenants_are_isolated(s))),
    ("unknown_tenant_is_refused", |s| Box::pin(unknown_tenant_is_refused(s))),
    ("concurrent_accepts_keep_order", |s| {
        Box::pin(concurrent_accepts_keep_order(s))
    }),
    ("connectors_round_trip_per_tenant", |s| {
        Box::pin(connectors_round_trip_per_tenant(s))
    }),
    ("platform_replies_go_through_the_outbox", |s| {
        Box::pin(platform_replies_go_through_the_outbox(s))
    }),
    ("a_reply_in_parts_remembers_each_part_sent", |s| {
        Box::pin(delivery::a_reply_in_parts_remembers_each_part_sent(s))
    }),
    ("closed_conversations_give_way_to_new_ones", |s| {
        Box::pin(closed_conversations_give_way_to_new_ones(s))
    }),
    ("reminders_per_user_and_tenant", |s| {
        Box::pin(reminders_per_user_and_tenant(s))
    }),
    ("a_due_reminder_is_claimed_once", |s| {
        Box::pin(a_due_reminder_is_claimed_once(s))
    }),
    ("reminder_claims_lapse_holds_wait_snoozes_return", |s| {
        Box::pin(reminder_claims_lapse_holds_wait_snoozes_return(s))
    }),
    ("proactive_platform_messages_go_through_the_outbox", |s| {
        Box::pin(proactive_platform_messages_go_through_the_outbox(s))
    }),
    ("tasks_per_user_and_tenant", |s| Box::pin(tasks_per_user_and_tenant(s))),
    ("llm_usage_adds_up_per_tenant_and_day", |s| {
        Box::pin(llm_usage_adds_up_per_tenant_and_day(s))
    }),
    ("consent_is_ledgered_and_a_refusal_erases", |s| {
        Box::pin(crate::conformance_people::consent_is_ledgered_and_a_refusal_erases(s))
    }),
    ("handoffs_are_owned_beside_the_context", |s| {
        Box::pin(crate::conformance_people::handoffs_are_owned_beside_the_context(s))
    }),
    ("people_sessions_and_keys", |s| {
        Box::pin(crate::conformance_people::people_sessions_and_keys(s))
    }),
    ("form_submissions_per_tenant_once_per_message", |s| {
        Box::pin(forms::form_submissions_per_tenant_once_per_message(s))
    }),
    ("a_due_submission_is_claimed_once_and_retried_until_sent", |s| {
        Box::pin(forms::a_due_submission_is_claimed_once_and_retried_until_sent(s))
    }),
    ("assessment_results_per_user_and_tenant", |s| {
        Box::pin(results::assessment_results_per_user_and_tenant(s))
    }),
    ("feedback_per_tenant_with_daily_figures", |s| {
        Box::pin(results::feedback_per_tenant_with_daily_figures(s))
    }),
    ("event_endpoints_fan_out_per_tenant", |s| {
        Box::pin(events::event_endpoints_fan_out_per_tenant(s))
    }),
    ("a_due_event_delivery_is_claimed_once_and_retried_until_sent", |s| {
        Box::pin(events::a_due_event_delivery_is_claimed_once_and_retried_until_sent(s))
    }),
    ("a_gone_endpoint_is_disabled_with_its_pending_deliveries", |s| {
        Box::pin(events::a_gone_endpoint_is_disabled_with_its_pending_deliveries(s))
    }),
    ("settings_round_trip_per_tenant", |s| {
        Box::pin(crate::conformance_tenants::settings_round_trip_per_tenant(s))
    }),
    ("inbound_messages_count_against_the_monthly_quota", |s| {
        Box::pin(crate::conformance_tenants::inbound_messages_count_against_the_monthly_quota(s))
    }),
    ("export_pages_through_every_table_without_credentials", |s| {
        Box::pin(crate::conformance_tenants::export_pages_through_every_table_without_credentials(s))
    }),
    ("tenant_secrets_are_sealed_per_tenant_and_resealed", |s| {
        Box::pin(crate::conformance_tenants::tenant_secrets_are_sealed_per_tenant_and_resealed(s))
    }),
    ("deleting_a_tenant_leaves_nothing_of_it", |s| {
        Box::pin(crate::conformance_tenants::deleting_a_tenant_leaves_nothing_of_it(s))
    }),
    ("resealing_covers_every_sealed_secret_or_changes_nothing", |s| {
        Box::pin(crate::conformance_tenants::resealing_covers_every_sealed_secret_or_changes_nothing(s))
    }),
];

/// Runs every check, each on a fresh store from `make`.
pub async fn run<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    for (name, check) in CHECKS {
        eprintln!("conformance: {name}");
        check(make().await).await;
    }
}

pub(crate) fn tid(s: &str) -> TenantId {
    TenantId::parse(s).expect("valid tenant id")
}

pub(crate) async fn tenant(store: &Arc<dyn Store>, id: &str) -> TenantId {
    let t = tid(id);
    store
        .upsert_tenant(&TenantRecord {
            id: t.clone(),
            name: format!("Tenant {id}"),
            bot_source: "name = \"x\"".into(),
            created_at: 0,
            updated_at: 0,
        })
        .await
        .expect("upsert tenant");
    t
}

pub(crate) fn inbound(user: &str, text: &str, external: Option<&str>) -> NewInbound {
    NewInbound {
        id: MessageId::generate(),
        channel: Channel::Webchat,
        user: user.into(),
        content: Content::text(text),
        metadata: serde_json::json!({"ip": "127.0.0.1"}),
        external_id: external.map(str::to_owned),
        priority: Priority::Interactive,
    }
}

pub(crate) fn commit(job_id: i64, acc: &crate::Accepted, replies: &[&str]) -> TurnCommit {
    let mut context = ConversationContext {
        mode: Mode::Form,
        language: Some("es".into()),
        ..Default::default()
    };
    context.variables.insert("name".into(), serde_json::json!("Ana"));
    TurnCommit {
        job_id,
        conversation: acc.conversation.clone(),
        message: acc.message.clone(),
        processed: Processed {
            language: "es".into(),
            language_confidence: 0.9,
            intent: Some("greeting".into()),
            confidence: 0.8,
            handler: "small_talk".into(),
            route_reason: "intent above threshold".into(),
            ..Default::default()
        },
        replies: replies.iter().map(|r| Content::text(*r)).collect(),
        context,
        deliver: false,
        consent: None,
        erase: crate::Erase::Nothing,
        handoff: None,
    }
}

async fn tenants_round_trip(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    tenant(&store, "beta").await;
    let got = store.tenant(&a).await.expect("read").expect("exists");
    assert_eq!(got.name, "Tenant acme");
    let mut updated = got.clone();
    updated.name = "Acme Inc".into();
    store.upsert_tenant(&updated).await.expect("update");
    assert_eq!(
        store.tenant(&a).await.expect("read").map(|t| t.name),
        Some("Acme Inc".into())
    );
    let ids: Vec<String> = store
        .list_tenants()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);
    assert_eq!(store.tenant(&tid("nope")).await.expect("read"), None);
    store.ping().await.expect("ping");
}

async fn accept_stores_message_conversation_and_job(store: Arc<dyn Store>) {
    let mut feed = store.job_feed().expect("first call gets the feed");
    assert!(store.job_feed().is_none(), "the feed is handed out once");
    let t = tenant(&store, "acme").await;
    let msg = inbound("u1", "hello", Some("u1:c1"));
    let acc = store.accept_inbound(&t, msg.clone()).await.expect("accept");
    assert!(!acc.duplicate);
    assert_eq!((acc.message.clone(), acc.seq), (msg.id.clone(), 1));
    let job = acc.job.clone().expect("a job");
    assert_eq!(
        (job.message.clone(), job.conversation.clone(), job.attempts),
        (msg.id.clone(), acc.conversation.clone(), 0)
    );
    assert_eq!(
        feed.recv().await.as_ref(),
        Some(&job),
        "the job is announced after commit"
    );

    let stored = store.message(&t, &msg.id).await.expect("read").expect("stored");
    assert_eq!(stored.content, Content::text("hello"));
    assert_eq!(stored.status, MessageStatus::Queued);
    assert_eq!(stored.metadata, serde_json::json!({"ip": "127.0.0.1"}));
    assert_eq!(stored.external_id.as_deref(), Some("u1:c1"));
    let conv = store
        .conversation(&t, &acc.conversation)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (conv.user.as_str(), conv.last_seq, conv.channel),
        ("u1", 1, Channel::Webchat)
    );
    assert_eq!(
        store
            .open_conversation(&t, Channel::Webchat, "u1")
            .await
            .expect("read")
            .map(|c| c.id),
        Some(acc.conversation.clone())
    );
    assert_eq!(
        store
            .open_conversation(&t, Channel::Telegram, "u1")
            .await
            .expect("read"),
        None
    );

    let conv = store
        .conversation(&t, &acc.conversation)
        .await
        .expect("read")
        .expect("exists");
    let input = store
        .turn_input(&t, &acc.conversation, &msg.id)
        .await
        .expect("read")
        .expect("both exist");
    assert_eq!(
        (input.message, input.conversation, input.consent),
        (stored.clone(), conv, None)
    );
    let other = tenant(&store, "other").await;
    assert_eq!(
        store
            .turn_input(&other, &acc.conversation, &msg.id)
            .await
            .expect("read"),
        None,
        "tenant-scoped"
    );

    let second = store
        .accept_inbound(&t, inbound("u1", "again", None))
        .await
        .expect("accept");
    assert_eq!(
        (second.conversation.clone(), second.seq),
        (acc.conversation.clone(), 2),
        "same user, same conversation"
    );
    let other = store
        .accept_inbound(&t, inbound("u2", "hi", None))
        .await
        .expect("accept");
    assert_ne!(other.conversation, acc.conversation);
    let pending = store.pending_jobs(0, 10).await.expect("pending");
    assert_eq!(pending.len(), 3);
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(store.pending_jobs(pending[1].id, 10).await.expect("pending").len(), 1);
    let stats = store.queue_stats().await.expect("stats");
    assert_eq!((stats.depth, stats.dead_letters), (3, 0));
}

async fn duplicate_external_id_is_accepted_once(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let first = store
        .accept_inbound(&t, inbound("u1", "hello", Some("u1:c1")))
        .await
        .expect("accept");
    let again = store
        .accept_inbound(&t, inbound("u1", "hello", Some("u1:c1")))
        .await
        .expect("accept");
    assert!(again.duplicate);
    assert!(again.job.is_none());
    assert_eq!(
        (again.message.clone(), again.conversation.clone(), again.seq),
        (first.message.clone(), first.conversation.clone(), 1)
    );
    assert_eq!(again.content, Content::text("hello"));
    let mut other_channel = inbound("u1", "hello", Some("u1:c1"));
    other_channel.channel = Channel::Telegram;
    assert!(
        !store.accept_inbound(&t, other_channel).await.expect("accept").duplicate,
        "dedup is per channel"
    );
    assert_eq!(store.queue_stats().await.expect("stats").depth, 2);
    let history = store
        .messages_after(&t, &first.conversation, 0, 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
}

async fn complete_turn_stores_replies_once(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let acc = store
        .accept_inbound(&t, inbound("u1", "hola", None))
        .await
        .expect("accept");
    let job = acc.job.clone().expect("job");
    let replies = store
        .complete_turn(&t, commit(job.id, &acc, &["¡Hola!", "¿Qué tal?"]))
        .await
        .expect("complete");
    assert_eq!(replies.iter().map(|m| m.seq).collect::<Vec<_>>(), [2, 3]);
    assert!(
        replies
            .iter()
            .all(|m| m.in_reply_to.as_ref() == Some(&acc.message) && m.status == MessageStatus::Sent)
    );
    assert_eq!(
        replies.iter().map(|m| m.reply_index).collect::<Vec<_>>(),
        [Some(0), Some(1)]
    );

    let again = store.complete_turn(&t, commit(job.id, &acc, &["dup"])).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let stored = store.replies_to(&t, &acc.message).await.expect("replies");
    assert_eq!(stored, replies, "what complete_turn returned is what is stored, once");

    let msg = store.message(&t, &acc.message).await.expect("read").expect("exists");
    assert_eq!(msg.status, MessageStatus::Processed);
    assert_eq!(
        msg.processed.as_ref().and_then(|p| p.intent.as_deref()),
        Some("greeting")
    );
    let conv = store
        .conversation(&t, &acc.conversation)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (conv.context.mode, conv.context.language.as_deref(), conv.last_seq),
        (Mode::Form, Some("es"), 3)
    );
    assert_eq!(conv.context.variables.get("name"), Some(&serde_json::json!("Ana")));
    assert_eq!(store.queue_stats().await.expect("stats").depth, 0);
}

async fn history_pages_by_seq(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let mut conv = None;
    for i in 0..25 {
        conv = Some(
            store
                .accept_inbound(&t, inbound("u1", &format!("m{i}"), None))
                .await
                .expect("accept")
                .conversation,
        );
    }
    let conv = conv.expect("conversation");
    let page1 = store.messages_after(&t, &conv, 0, 10).await.expect("page");
    let page2 = store.messages_after(&t, &conv, page1[9].seq, 10).await.expect("page");
    let page3 = store.messages_after(&t, &conv, page2[9].seq, 10).await.expect("page");
    let seqs: Vec<i64> = page1.iter().chain(&page2).chain(&page3).map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=25).collect::<Vec<_>>());
    assert_eq!(page3.last().map(|m| m.content.clone()), Some(Content::text("m24")));
    assert!(store.messages_after(&t, &conv, 25, 10).await.expect("page").is_empty());
}

async fn retry_dead_letter_and_replay(store: Arc<dyn Store>) {
    let mut feed = store.job_feed().expect("feed");
    let t = tenant(&store, "acme").await;
    let acc = store
        .accept_inbound(&t, inbound("u1", "boom", None))
        .await
        .expect("accept");
    let job = acc.job.clone().expect("job");
    feed.recv().await.expect("announced");
    store
        .retry_job(&t, job.id, 1, 12_345, "template error")
        .await
        .expect("retry");
    let pending = store.pending_jobs(0, 10).await.expect("pending");
    assert_eq!(
        (pending[0].attempts, pending[0].run_at, pending[0].last_error.as_deref()),
        (1, 12_345, Some("template error"))
    );

    let dl = store
        .dead_letter_job(&t, job.id, 5, "gave up: template error")
        .await
        .expect("dead letter");
    assert_eq!(
        (dl.message.clone(), dl.attempts, dl.job_id),
        (acc.message.clone(), 5, job.id)
    );
    assert_eq!(
        store.message(&t, &acc.message).await.expect("read").map(|m| m.status),
        Some(MessageStatus::Failed)
    );
    let stats = store.queue_stats().await.expect("stats");
    assert_eq!((stats.depth, stats.dead_letters), (0, 1));
    assert_eq!(store.dead_letters(Some(&t), 10).await.expect("list"), vec![dl.clone()]);
    assert_eq!(store.dead_letters(None, 10).await.expect("list").len(), 1);
    assert!(matches!(
        store.dead_letter_job(&t, job.id, 5, "again").await,
        Err(StoreError::NotFound(_))
    ));

    let replayed = store.replay_dead_letter(&t, dl.id).await.expect("replay");
    assert!(replayed.id > job.id, "a replay is a new job at the end of the queue");
    assert_eq!((replayed.message.clone(), replayed.attempts), (acc.message.clone(), 0));
    assert_eq!(
        feed.recv().await.map(|j| j.id),
        Some(replayed.id),
        "the replayed job is announced"
    );
    assert_eq!(
        store.message(&t, &acc.message).await.expect("read").map(|m| m.status),
        Some(MessageStatus::Queued)
    );
    assert!(store.dead_letters(None, 10).await.expect("list").is_empty());
    assert!(
        matches!(store.replay_dead_letter(&t, dl.id).await, Err(StoreError::NotFound(_))),
        "replayed once only"
    );
    store
        .complete_turn(&t, commit(replayed.id, &acc, &["fixed"]))
        .await
        .expect("the replay completes");
}

async fn tenants_are_isolated(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    let acc = store
        .accept_inbound(&a, inbound("u1", "secret", Some("u1:c1")))
        .await
        .expect("accept");
    let job = acc.job.clone().expect("job");
    assert_eq!(store.conversation(&b, &acc.conversation).await.expect("read"), None);
    assert_eq!(store.message(&b, &acc.message).await.expect("read"), None);
    assert!(
        store
            .messages_after(&b, &acc.conversation, 0, 10)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        store.open_conversation(&b, Channel::Webchat, "u1").await.expect("read"),
        None
    );
    assert!(store.complete_turn(&b, commit(job.id, &acc, &["leak"])).await.is_err());
    assert!(store.retry_job(&b, job.id, 1, 0, "x").await.is_err());
    assert!(store.dead_letter_job(&b, job.id, 1, "x").await.is_err());
    let same_key = store
        .accept_inbound(&b, inbound("u1", "other", Some("u1:c1")))
        .await
        .expect("accept");
    assert!(!same_key.duplicate, "external ids are per tenant");
    assert_ne!(
        same_key.conversation, acc.conversation,
        "same user id, other tenant: other conversation"
    );
    let dl = store.dead_letter_job(&a, job.id, 1, "x").await.expect("dead letter");
    assert!(store.dead_letters(Some(&b), 10).await.expect("list").is_empty());
    assert!(store.replay_dead_letter(&b, dl.id).await.is_err());
    assert!(store.replies_to(&b, &acc.message).await.expect("read").is_empty());
}

async fn unknown_tenant_is_refused(store: Arc<dyn Store>) {
    let r = store.accept_inbound(&tid("ghost"), inbound("u1", "hi", None)).await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    assert_eq!(
        store.queue_stats().await.expect("stats").depth,
        0,
        "nothing half-written"
    );
}

async fn concurrent_accepts_keep_order(store: Arc<dyn Store>) {
    let mut feed = store.job_feed().expect("feed");
    let t = tenant(&store, "acme").await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            store
                .accept_inbound(&t, inbound(&format!("u{}", i % 10), &format!("m{i}"), None))
                .await
                .expect("accept")
        }));
    }
    let mut accepted = Vec::new();
    for task in tasks {
        accepted.push(task.await.expect("task"));
    }
    // One conversation's jobs are announced in id order (the scheduler runs them in the order
    // it hears of them); across conversations, concurrent commits may be announced in any order.
    let mut last: std::collections::HashMap<_, i64> = Default::default();
    for _ in 0..200 {
        let job = feed.recv().await.expect("announced");
        let before = last.insert(job.conversation.clone(), job.id).unwrap_or(0);
        assert!(before < job.id, "a conversation's jobs are announced in id order");
    }
    let convs: std::collections::BTreeSet<_> = accepted.iter().map(|a| a.conversation.clone()).collect();
    assert_eq!(convs.len(), 10);
    for c in convs {
        let seqs: Vec<i64> = store
            .messages_after(&t, &c, 0, 100)
            .await
            .expect("history")
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    }
}

async fn connectors_round_trip_per_tenant(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    let mut c = crate::ConnectorRecord {
        tenant: a.clone(),
        id: "support-bot".into(),
        channel: Channel::Telegram,
        account_id: "7000000001".into(),
        secrets: vec![0, 159, 146, 150, 255],
        settings: serde_json::json!({"api_base": "http://127.0.0.1:1"}),
        enabled: true,
        created_at: 0,
        updated_at: 0,
    };
    store.upsert_connector(&c).await.expect("insert");
    let got = store.connector(&a, "support-bot").await.expect("read").expect("exists");
    assert_eq!(
        (got.secrets.clone(), got.settings.clone(), got.channel),
        (c.secrets.clone(), c.settings.clone(), Channel::Telegram)
    );
    c.enabled = false;
    c.account_id = "7000000002".into();
    store.upsert_connector(&c).await.expect("update");
    let got = store.connector(&a, "support-bot").await.expect("read").expect("exists");
    assert_eq!((got.enabled, got.account_id.as_str()), (false, "7000000002"));
    assert_eq!(
        store.connector(&b, "support-bot").await.expect("read"),
        None,
        "other tenants do not see it"
    );
    assert!(store.connectors(&b).await.expect("list").is_empty());
    assert!(
        !store.delete_connector(&b, "support-bot").await.expect("delete"),
        "nor delete it"
    );
    assert_eq!(store.connectors(&a).await.expect("list").len(), 1);
    assert!(store.delete_connector(&a, "support-bot").await.expect("delete"));
    assert_eq!(store.connector(&a, "support-bot").await.expect("read"), None);
    c.tenant = tid("ghost");
    assert!(
        matches!(store.upsert_connector(&c).await, Err(StoreError::NotFound(_))),
        "unknown tenant"
    );
}

async fn platform_replies_go_through_the_outbox(store: Arc<dyn Store>) {
    let mut feed = store.job_feed().expect("feed");
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let mut msg = inbound("tg:1", "hello", Some("tg:900"));
    msg.channel = Channel::Telegram;
    let acc = store.accept_inbound(&t, msg).await.expect("accept");
    let turn = acc.job.clone().expect("job");
    feed.recv().await.expect("turn announced");
    let mut c = commit(turn.id, &acc, &["one", "two"]);
    c.deliver = true;
    let replies = store.complete_turn(&t, c).await.expect("complete");
    assert!(
        replies.iter().all(|m| m.status == MessageStatus::Queued),
        "queued until sent"
    );
    let deliver = feed.recv().await.expect("delivery announced");
    assert_eq!(
        (deliver.kind, deliver.message.clone()),
        (crate::JobKind::Deliver, acc.message.clone())
    );
    assert_eq!(
        store.pending_jobs(0, 10).await.expect("pending"),
        vec![deliver.clone()],
        "turn done, delivery pending"
    );

    store
        .record_delivery(&t, &replies[0].id, MessageStatus::Sent, Some("501"), None)
        .await
        .expect("sent");
    store
        .record_delivery(&t, &replies[1].id, MessageStatus::Failed, None, Some("bot was blocked"))
        .await
        .expect("failed");
    assert!(
        store
            .record_delivery(&other, &replies[0].id, MessageStatus::Sent, None, None)
            .await
            .is_err(),
        "tenant-scoped"
    );
    let stored = store.replies_to(&t, &acc.message).await.expect("replies");
    assert_eq!(
        (stored[0].status, stored[0].external_id.as_deref()),
        (MessageStatus::Sent, Some("501"))
    );
    assert_eq!(
        (stored[1].status, stored[1].metadata["error"].as_str()),
        (MessageStatus::Failed, Some("bot was blocked"))
    );

    let apply = |s: MessageStatus| store.apply_platform_status(&t, Channel::Telegram, "501", s);
    assert_eq!(
        apply(MessageStatus::Read).await.expect("read"),
        Some(replies[0].id.clone())
    );
    assert!(apply(MessageStatus::Delivered).await.expect("late delivered").is_some());
    assert_eq!(
        store.message(&t, &replies[0].id).await.expect("read").map(|m| m.status),
        Some(MessageStatus::Read),
        "never backwards"
    );
    assert!(
        store
            .apply_platform_status(&t, Channel::Telegram, "999", MessageStatus::Read)
            .await
            .expect("unknown")
            .is_none()
    );
    assert!(
        store
            .apply_platform_status(&t, Channel::Whatsapp, "501", MessageStatus::Read)
            .await
            .expect("other channel")
            .is_none()
    );
    assert!(
        store
            .apply_platform_status(&other, Channel::Telegram, "501", MessageStatus::Read)
            .await
            .expect("other tenant")
            .is_none()
    );

    assert!(store.finish_job(&other, deliver.id).await.is_err());
    store.finish_job(&t, deliver.id).await.expect("finish");
    assert_eq!(store.queue_stats().await.expect("stats").depth, 0);
}

async fn closed_conversations_give_way_to_new_ones(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let first = store
        .accept_inbound(&t, inbound("u1", "hi", None))
        .await
        .expect("accept");
    assert!(
        !store
            .close_conversation(&other, &first.conversation)
            .await
            .expect("close"),
        "tenant-scoped"
    );
    assert!(store.close_conversation(&t, &first.conversation).await.expect("close"));
    assert!(
        !store.close_conversation(&t, &first.conversation).await.expect("close"),
        "already closed"
    );
    let conv = store
        .conversation(&t, &first.conversation)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(conv.status, switchboard_core::ConversationStatus::Closed);
    assert_eq!(
        store.open_conversation(&t, Channel::Webchat, "u1").await.expect("read"),
        None
    );
    let next = store
        .accept_inbound(&t, inbound("u1", "back again", None))
        .await
        .expect("accept");
    assert_ne!(next.conversation, first.conversation, "a new conversation");
    assert_eq!(next.seq, 1);
}

fn new_reminder(acc: &crate::Accepted, text: &str, due_at: i64) -> crate::NewReminder {
    crate::NewReminder {
        conversation: acc.conversation.clone(),
        text: text.into(),
        language: "en".into(),
        time_zone: "Europe/Madrid".into(),
        due_at,
        source_message: MessageId::generate(),
    }
}

async fn reminders_per_user_and_tenant(store: Arc<dyn Store>) {
    use crate::ReminderStatus::*;
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let acc = store
        .accept_inbound(&t, inbound("ana", "hi", None))
        .await
        .expect("accept");
    let first = new_reminder(&acc, "call mom", 5_000);
    let r1 = store.add_reminder(&t, first.clone()).await.expect("add");
    assert_eq!(
        (r1.user.as_str(), r1.channel, r1.status, r1.due_at, r1.fire_at),
        ("ana", Channel::Webchat, Pending, 5_000, 5_000)
    );
    let again = store.add_reminder(&t, first).await.expect("retried add");
    assert_eq!(again.id, r1.id, "a retried turn finds its reminder");
    let r2 = store
        .add_reminder(&t, new_reminder(&acc, "water plants", 3_000))
        .await
        .expect("add");
    let pending = store.reminders(&t, "ana", Pending, 10).await.expect("list");
    assert_eq!(
        pending.iter().map(|r| r.id).collect::<Vec<_>>(),
        [r2.id, r1.id],
        "soonest first"
    );
    assert!(store.reminders(&t, "bob", Pending, 10).await.expect("list").is_empty());

    // Another tenant sees nothing and changes nothing, even with the ids.
    assert!(
        store
            .reminders(&other, "ana", Pending, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(store.reminder(&other, r1.id).await.expect("get"), None);
    assert!(!store.cancel_reminder(&other, r1.id).await.expect("cancel"));
    assert!(!store.snooze_reminder(&other, r1.id, 1).await.expect("snooze"));
    let err = store
        .add_reminder(&other, new_reminder(&acc, "x", 1))
        .await
        .expect_err("another tenant's conversation");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    assert!(store.cancel_reminder(&t, r2.id).await.expect("cancel"));
    assert!(!store.cancel_reminder(&t, r2.id).await.expect("cancel twice"));
    assert!(
        store
            .claim_due_reminders(1_000_000, 10)
            .await
            .expect("claim")
            .iter()
            .all(|r| r.id != r2.id),
        "a cancelled reminder never fires"
    );
    let cancelled = store.reminders(&t, "ana", Cancelled, 10).await.expect("list");
    assert_eq!(cancelled.len(), 1);
}

async fn a_due_reminder_is_claimed_once(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let acc = store
        .accept_inbound(&t, inbound("ana", "hi", None))
        .await
        .expect("accept");
    let r = store
        .add_reminder(&t, new_reminder(&acc, "call mom", 5_000))
        .await
        .expect("add");
    assert!(
        store.claim_due_reminders(4_999, 10).await.expect("claim").is_empty(),
        "not yet due"
    );

    // Many claimers at once (two instances, a poller racing itself): exactly one gets it.
    let claims = futures_join((0..8).map(|_| {
        let store = store.clone();
        async move { store.claim_due_reminders(6_000, 10).await.expect("claim") }
    }))
    .await;
    let won: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "{won:?}");
    let claimed = &won[0];
    assert_eq!(
        (claimed.id, claimed.status, claimed.claimed_at),
        (r.id, crate::ReminderStatus::Firing, Some(6_000))
    );

    let fired = store
        .fire_reminder(&t, r.id, 6_000, Content::text("Reminder: call mom"), false)
        .await
        .expect("fire")
        .expect("the claim holds");
    assert_eq!((fired.status, fired.in_reply_to.clone()), (MessageStatus::Sent, None));
    assert_eq!(fired.metadata["reminder"], r.id);
    let again = store
        .fire_reminder(&t, r.id, 6_000, Content::text("Reminder: call mom"), false)
        .await
        .expect("fire again");
    assert_eq!(again, None, "fired once");
    let history = store
        .messages_after(&t, &acc.conversation, 0, 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 2, "the inbound message and the reminder");
    assert_eq!(history[1].id, fired.id);
    let stored = store.reminder(&t, r.id).await.expect("get").expect("exists");
    assert_eq!(
        (stored.status, stored.message),
        (crate::ReminderStatus::Fired, Some(fired.id.clone()))
    );
    assert!(
        store
            .claim_due_reminders(1_000_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(
        !store.cancel_reminder(&t, r.id).await.expect("cancel"),
        "fired is final"
    );
}

async fn reminder_claims_lapse_holds_wait_snoozes_return(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let acc = store
        .accept_inbound(&t, inbound("ana", "hi", None))
        .await
        .expect("accept");
    let r = store
        .add_reminder(&t, new_reminder(&acc, "stretch", 1_000))
        .await
        .expect("add");

    // An instance claims it and dies: the claim lapses and another takes it; the dead one's
    // late fire no longer counts.
    assert_eq!(store.claim_due_reminders(2_000, 10).await.expect("claim").len(), 1);
    assert!(
        store
            .claim_due_reminders(2_000 + 1_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let lapsed = 2_000 + crate::REMINDER_CLAIM_LEASE_MS;
    let retaken = store.claim_due_reminders(lapsed, 10).await.expect("claim");
    assert_eq!(retaken.iter().map(|r| r.id).collect::<Vec<_>>(), [r.id]);
    let stale = store
        .fire_reminder(&t, r.id, 2_000, Content::text("x"), false)
        .await
        .expect("fire");
    assert_eq!(stale, None, "a lapsed claim cannot fire");

    // Quiet hours: given back to wait, it fires at `until`; what was asked for stays.
    assert!(store.hold_reminder(&t, r.id, lapsed + 10_000).await.expect("hold"));
    assert!(
        store
            .claim_due_reminders(lapsed + 9_999, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let held = store.claim_due_reminders(lapsed + 10_000, 10).await.expect("claim");
    assert_eq!(
        held.iter().map(|r| (r.due_at, r.fire_at)).collect::<Vec<_>>(),
        [(1_000, lapsed + 10_000)]
    );
    store
        .fire_reminder(&t, r.id, lapsed + 10_000, Content::text("x"), false)
        .await
        .expect("fire")
        .expect("fired");

    // A snooze brings a fired reminder back.
    assert!(store.snooze_reminder(&t, r.id, 900_000).await.expect("snooze"));
    let back = store.reminder(&t, r.id).await.expect("get").expect("exists");
    assert_eq!(
        (back.status, back.due_at, back.fire_at),
        (crate::ReminderStatus::Pending, 900_000, 900_000)
    );
    assert_eq!(store.claim_due_reminders(900_000, 10).await.expect("claim").len(), 1);
}

async fn proactive_platform_messages_go_through_the_outbox(store: Arc<dyn Store>) {
    let mut feed = store.job_feed().expect("feed");
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let mut msg = inbound("tg:1", "hello", Some("tg:901"));
    msg.channel = Channel::Telegram;
    let acc = store.accept_inbound(&t, msg).await.expect("accept");
    feed.recv().await.expect("turn announced");
    let r = store
        .add_reminder(&t, new_reminder(&acc, "call", 10))
        .await
        .expect("add");
    let claimed = store.claim_due_reminders(10, 10).await.expect("claim");
    let fired = store
        .fire_reminder(
            &t,
            r.id,
            claimed[0].claimed_at.unwrap_or_default(),
            Content::text("call"),
            true,
        )
        .await
        .expect("fire")
        .expect("fired");
    assert_eq!(
        (fired.status, fired.channel),
        (MessageStatus::Queued, Channel::Telegram)
    );
    let job = feed.recv().await.expect("delivery announced");
    assert_eq!(
        (job.kind, job.message.clone(), job.conversation.clone()),
        (crate::JobKind::Deliver, fired.id.clone(), acc.conversation.clone()),
        "the job names the proactive message itself"
    );

    let web = store
        .accept_inbound(&t, inbound("ana", "hi", None))
        .await
        .expect("accept");
    let note = store
        .add_proactive(
            &t,
            &web.conversation,
            Content::text("notice"),
            serde_json::json!({}),
            false,
        )
        .await
        .expect("proactive");
    assert_eq!((note.status, note.seq), (MessageStatus::Sent, web.seq + 1));
    let err = store
        .add_proactive(
            &other,
            &web.conversation,
            Content::text("x"),
            serde_json::json!({}),
            false,
        )
        .await
        .expect_err("another tenant's conversation");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

async fn tasks_per_user_and_tenant(store: Arc<dyn Store>) {
    use crate::TaskStatus::*;
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let src = MessageId::generate();
    let milk = store.add_task(&t, "ana", "buy milk", &src).await.expect("add");
    assert_eq!((milk.status, milk.done_at), (Open, None));
    assert_eq!(
        store
            .add_task(&t, "ana", "buy milk", &src)
            .await
            .expect("retried add")
            .id,
        milk.id,
        "a retried turn finds its task"
    );
    let bread = store
        .add_task(&t, "ana", "buy bread", &MessageId::generate())
        .await
        .expect("add");
    store
        .add_task(&t, "bob", "his own", &MessageId::generate())
        .await
        .expect("add");
    let all = store.tasks(&t, "ana", None, 10).await.expect("list");
    assert_eq!(all.iter().map(|x| x.id).collect::<Vec<_>>(), [milk.id, bread.id]);

    assert!(
        !store
            .set_task_status(&other, "ana", milk.id, Done)
            .await
            .expect("other tenant")
    );
    assert!(
        !store
            .set_task_status(&t, "bob", milk.id, Done)
            .await
            .expect("other user")
    );
    assert!(store.tasks(&other, "ana", None, 10).await.expect("list").is_empty());
    assert!(store.set_task_status(&t, "ana", milk.id, Done).await.expect("done"));
    let open = store.tasks(&t, "ana", Some(Open), 10).await.expect("list");
    assert_eq!(open.iter().map(|x| x.id).collect::<Vec<_>>(), [bread.id]);
    let done = store.tasks(&t, "ana", Some(Done), 10).await.expect("list");
    assert!(done[0].done_at.is_some());
}

/// Runs futures concurrently on the runtime and collects their outputs.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

async fn llm_usage_adds_up_per_tenant_and_day(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    // 2026-11-21 23:00 and 23:59 UTC, then 2026-11-22 00:30 UTC.
    let (late, later, next_day) = (1_795_302_000_000, 1_795_305_540_000, 1_795_307_400_000);
    store.add_llm_usage(&t, late, 300, 20).await.expect("add");
    store.add_llm_usage(&t, later, 100, 5).await.expect("add");
    store.add_llm_usage(&t, next_day, 7, 1).await.expect("add");
    store.add_llm_usage(&other, late, 1, 1).await.expect("add");
    let usage = store.llm_usage(&t, 10).await.expect("list");
    let rows: Vec<(&str, u64, u64, u64)> = usage
        .iter()
        .map(|u| (u.day.as_str(), u.requests, u.prompt_tokens, u.completion_tokens))
        .collect();
    assert_eq!(rows, [("2026-11-22", 1, 7, 1), ("2026-11-21", 2, 400, 25)]);
    assert_eq!(store.llm_usage(&other, 10).await.expect("list").len(), 1);
    assert_eq!(store.llm_usage(&t, 1).await.expect("list").len(), 1);
}
