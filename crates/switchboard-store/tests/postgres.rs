//! The conformance suite and PostgreSQL's own checks, on the local server (see
//! `switchboard_store::postgres::testing`): each store in a fresh schema.

use std::sync::Arc;
use switchboard_store::postgres::testing::fresh_store;
use switchboard_store::prelude::*;
use switchboard_store::{PgOptions, Store, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite() {
    conformance::run(|| async {
        Arc::new(fresh_store(PgOptions::default()).await.expect("fresh postgres store")) as Arc<dyn Store>
    })
    .await;
}

#[tokio::test]
async fn migrations_run_once_and_a_second_connect_finds_them_applied() {
    let url = switchboard_store::postgres::testing::fresh_url().await.expect("schema");
    let (a, b) = tokio::join!(
        switchboard_store::PgStore::connect(&url, PgOptions::default()),
        switchboard_store::PgStore::connect(&url, PgOptions::default())
    );
    let (a, b) = (a.expect("first"), b.expect("second, at the same time"));
    a.ping().await.expect("ping");
    b.ping().await.expect("ping");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM switchboard_migrations ORDER BY version")
        .fetch_all(a.pool())
        .await
        .expect("versions");
    assert_eq!(versions, vec![1, 2]);
}

// PostgreSQL's own checks: several instances (stores) on one database, gaps in identity
// sequences, and transactions that lose to concurrent ones.

mod shared {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;
    use std::time::Duration;
    use switchboard_core::{Channel, Content, ConversationContext, Direction, MessageId, TenantId};
    use switchboard_store::postgres::testing::{fresh_store, fresh_url};
    use switchboard_store::prelude::*;
    use switchboard_store::{Accepted, Erase, NewInbound, PgOptions, PgStore, Priority, StoreError, TurnCommit};

    /// Tenants are written straight into the table: these checks are about the message path.
    async fn add_tenant(store: &PgStore, id: &str) -> TenantId {
        sqlx::query("INSERT INTO tenants (id, name, bot_source, created_at, updated_at) VALUES ($1, $1, '', 0, 0)")
            .bind(id)
            .execute(store.pool())
            .await
            .expect("tenant");
        TenantId::parse(id).expect("id")
    }

    async fn two_instances() -> (Arc<PgStore>, Arc<PgStore>) {
        let url = fresh_url().await.expect("schema");
        let a = PgStore::connect(&url, PgOptions::default())
            .await
            .expect("first instance");
        let b = PgStore::connect(&url, PgOptions::default())
            .await
            .expect("second instance");
        (Arc::new(a), Arc::new(b))
    }

    fn inbound(user: &str, text: &str, external: Option<&str>) -> NewInbound {
        NewInbound {
            id: MessageId::generate(),
            channel: Channel::Webchat,
            user: user.into(),
            content: Content::text(text),
            metadata: serde_json::json!({}),
            external_id: external.map(str::to_owned),
            priority: Priority::Interactive,
        }
    }

    fn commit(acc: &Accepted, replies: &[&str]) -> TurnCommit {
        TurnCommit {
            job_id: acc.job.as_ref().expect("a job").id,
            conversation: acc.conversation.clone(),
            message: acc.message.clone(),
            processed: Default::default(),
            replies: replies.iter().map(|r| Content::text(*r)).collect(),
            context: ConversationContext::default(),
            deliver: false,
            consent: None,
            erase: Erase::Nothing,
            handoff: None,
        }
    }

    fn drain(feed: &mut tokio::sync::mpsc::UnboundedReceiver<switchboard_store::Job>) -> Vec<switchboard_store::Job> {
        let mut jobs = Vec::new();
        while let Ok(job) = feed.try_recv() {
            jobs.push(job);
        }
        jobs
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_on_one_database_keep_sequences_and_accept_once() {
        let (a, b) = two_instances().await;
        let (mut feed_a, mut feed_b) = (a.job_feed().expect("feed"), b.job_feed().expect("feed"));
        let t = add_tenant(&a, "acme").await;
        let mut tasks = Vec::new();
        // 4 busy conversations of 40 messages, opened concurrently, and 40 of one message each.
        for i in 0..200 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let user = if i < 160 {
                format!("u{}", i % 4)
            } else {
                format!("solo{i}")
            };
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                let msg = inbound(&user, &format!("m{i}"), None);
                let id = msg.id.clone();
                let acc = store.accept_inbound(&t, msg).await.expect("accept");
                (user, id, acc)
            }));
        }
        let mut by_user: BTreeMap<String, Vec<Accepted>> = BTreeMap::new();
        for task in tasks {
            let (user, id, acc) = task.await.expect("task");
            assert!(!acc.duplicate);
            assert_eq!(acc.message, id);
            by_user.entry(user).or_default().push(acc);
        }
        assert_eq!(by_user.len(), 44);
        for (user, accepted) in &by_user {
            let convs: BTreeSet<_> = accepted.iter().map(|a| a.conversation.clone()).collect();
            assert_eq!(
                convs.len(),
                1,
                "{user}: one open conversation, however many opened it at once"
            );
            let conv = convs.into_iter().next().expect("one");
            let history = a.messages_after(&t, &conv, 0, 1000).await.expect("history");
            let n = accepted.len() as i64;
            assert_eq!(
                history.iter().map(|m| m.seq).collect::<Vec<_>>(),
                (1..=n).collect::<Vec<_>>()
            );
            let stored: BTreeSet<_> = history.iter().map(|m| m.id.clone()).collect();
            let answered: BTreeSet<_> = accepted.iter().map(|a| a.message.clone()).collect();
            assert_eq!(stored, answered, "{user}: each message stored once");
            let mut seqs: Vec<i64> = accepted.iter().map(|a| a.seq).collect();
            seqs.sort_unstable();
            assert_eq!(
                seqs,
                (1..=n).collect::<Vec<_>>(),
                "{user}: the seqs answered are the stored ones"
            );
        }
        let (jobs_a, jobs_b) = (drain(&mut feed_a), drain(&mut feed_b));
        assert_eq!(jobs_a.len() + jobs_b.len(), 200, "each instance announces its own jobs");
        // Across conversations, transactions commit in any order (the scheduler takes late ids);
        // inside one, the conversation's row lock orders them.
        for jobs in [&jobs_a, &jobs_b] {
            let mut last: std::collections::HashMap<_, i64> = Default::default();
            for j in jobs.iter() {
                let before = last.insert(j.conversation.clone(), j.id).unwrap_or(0);
                assert!(before < j.id, "one conversation's jobs are announced in id order");
            }
        }
        let (ids_a, ids_b): (Vec<i64>, Vec<i64>) = (
            jobs_a.iter().map(|j| j.id).collect(),
            jobs_b.iter().map(|j| j.id).collect(),
        );
        let pending = a.pending_jobs(0, 1000).await.expect("jobs");
        let mut all: Vec<i64> = ids_a.iter().chain(&ids_b).copied().collect();
        all.sort_unstable();
        assert_eq!(pending.iter().map(|j| j.id).collect::<Vec<_>>(), all);

        // The same platform message reaching both instances at once, several times over.
        let mut tasks = Vec::new();
        for k in 0..25 {
            for copy in 0..4 {
                let store = if copy % 2 == 0 { a.clone() } else { b.clone() };
                let t = t.clone();
                tasks.push(tokio::spawn(async move {
                    let ext = format!("ext{k}");
                    let acc = store
                        .accept_inbound(&t, inbound(&format!("d{}", k % 3), "same", Some(&ext)))
                        .await
                        .expect("accept");
                    (k, acc)
                }));
            }
        }
        let mut by_ext: BTreeMap<i32, Vec<Accepted>> = BTreeMap::new();
        for task in tasks {
            let (k, acc) = task.await.expect("task");
            by_ext.entry(k).or_default().push(acc);
        }
        for (k, copies) in &by_ext {
            assert_eq!(
                copies.iter().filter(|c| !c.duplicate).count(),
                1,
                "ext{k}: accepted once"
            );
            assert_eq!(copies.iter().filter(|c| c.job.is_some()).count(), 1, "ext{k}: one job");
            let ids: BTreeSet<_> = copies.iter().map(|c| (c.message.clone(), c.seq)).collect();
            assert_eq!(ids.len(), 1, "ext{k}: every copy answers with the first");
        }
        for user in ["d0", "d1", "d2"] {
            let conv = a
                .open_conversation(&t, Channel::Webchat, user)
                .await
                .expect("read")
                .expect("open");
            let history = b.messages_after(&t, &conv.id, 0, 100).await.expect("history");
            let n = history.len() as i64;
            assert_eq!(
                history.iter().map(|m| m.seq).collect::<Vec<_>>(),
                (1..=n).collect::<Vec<_>>()
            );
            assert_eq!(conv.last_seq, n, "{user}: a lost race leaves no seq taken");
        }
        assert_eq!(a.queue_stats().await.expect("stats").depth, 225);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gaps_in_identity_sequences_hide_nothing() {
        let store = fresh_store(PgOptions::default()).await.expect("store");
        let t = add_tenant(&store, "acme").await;
        sqlx::query("INSERT INTO tenant_settings (tenant_id, monthly_message_quota, updated_at) VALUES ($1, 3, 0)")
            .bind(t.as_str())
            .execute(store.pool())
            .await
            .expect("quota");
        let mut accepted = Vec::new();
        for i in 0..3 {
            accepted.push(
                store
                    .accept_inbound(&t, inbound("ann", &format!("m{i}"), None))
                    .await
                    .expect("accept"),
            );
        }
        let refused = store.accept_inbound(&t, inbound("ann", "over", None)).await;
        assert_eq!(refused, Err(StoreError::QuotaExceeded(3)));
        // Ids taken by transactions that rolled back, and by nothing at all.
        let mut tx = store.pool().begin().await.expect("begin");
        sqlx::query(
            "INSERT INTO jobs (tenant_id, kind, conversation_id, message_id, priority, run_at, created_at) \
             SELECT tenant_id, 'turn', conversation_id, message_id, 0, 0, 0 FROM jobs",
        )
        .execute(&mut *tx)
        .await
        .expect("insert");
        tx.rollback().await.expect("rollback");
        for table in ["jobs", "dead_letters"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, 10)"
            )))
            .execute(store.pool())
            .await
            .expect("burn ids");
        }
        // A write that fails half-way leaves nothing of itself.
        let mut wrong = commit(&accepted[0], &["hi"]);
        wrong.message = MessageId::generate();
        assert!(matches!(
            store.complete_turn(&t, wrong).await,
            Err(StoreError::NotFound(_))
        ));
        let mut settings = store.tenant_settings(&t).await.expect("settings");
        settings.monthly_message_quota = None;
        store.set_tenant_settings(&t, settings).await.expect("no quota");
        for i in 3..6 {
            accepted.push(
                store
                    .accept_inbound(&t, inbound("ann", &format!("m{i}"), None))
                    .await
                    .expect("accept"),
            );
        }
        assert_eq!(accepted.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
        let dl = store
            .dead_letter_job(&t, accepted[1].job.as_ref().expect("job").id, 5, "gave up")
            .await
            .expect("dead letter");
        assert!(dl.id > 10, "dead letter ids went on past the burnt ones: {}", dl.id);
        let replayed = store.replay_dead_letter(&t, dl.id).await.expect("replay");

        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = store.pending_jobs(after, 1).await.expect("page");
            let Some(last) = page.last() else { break };
            after = last.id;
            paged.extend(page);
        }
        let mut expected: Vec<i64> = accepted
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, a)| a.job.as_ref().expect("job").id)
            .collect();
        expected.push(replayed.id);
        assert_eq!(paged.iter().map(|j| j.id).collect::<Vec<_>>(), expected);
        assert!(
            expected.windows(2).any(|w| w[1] - w[0] > 1),
            "the ids have gaps: {expected:?}"
        );
        let conv = store
            .conversation(&t, &accepted[0].conversation)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(conv.last_seq, 6);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_completing_one_turn_store_its_replies_once() {
        let (a, b) = two_instances().await;
        let t = add_tenant(&a, "acme").await;
        let mut turns = Vec::new();
        for i in 0..20 {
            turns.push(
                a.accept_inbound(&t, inbound(&format!("u{i}"), "hola", None))
                    .await
                    .expect("accept"),
            );
        }
        let mut tasks = Vec::new();
        for acc in turns.clone() {
            let (a, b, t) = (a.clone(), b.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                let c = commit(&acc, &["one", "two"]);
                let (x, y) = tokio::join!(a.complete_turn(&t, c.clone()), b.complete_turn(&t, c));
                (x, y)
            }));
        }
        for (task, acc) in tasks.into_iter().zip(&turns) {
            let (x, y) = task.await.expect("task");
            let (won, lost) = match (x, y) {
                (Ok(r), Err(e)) | (Err(e), Ok(r)) => (r, e),
                other => panic!("exactly one completion wins: {other:?}"),
            };
            assert!(matches!(lost, StoreError::Conflict(_)), "{lost:?}");
            assert_eq!(a.replies_to(&t, &acc.message).await.expect("replies"), won);
            let conv = b
                .conversation(&t, &acc.conversation)
                .await
                .expect("read")
                .expect("exists");
            assert_eq!(conv.last_seq, 3);
        }
        assert_eq!(a.queue_stats().await.expect("stats").depth, 0);
    }

    #[tokio::test]
    async fn counts_of_tenants_without_a_quota_are_written_by_a_flush() {
        let (a, b) = two_instances().await;
        let t = add_tenant(&a, "counted").await;
        let mut at = 0;
        for i in 0..5 {
            at = a
                .accept_inbound(&t, inbound("ann", &format!("m{i}"), None))
                .await
                .expect("accept")
                .created_at;
        }
        a.flush().await.expect("flush");
        a.close();
        assert_eq!(b.monthly_messages(&t, at).await.expect("count"), 5);
    }

    #[tokio::test]
    async fn another_instances_settings_change_shows_within_a_second() {
        let (a, b) = two_instances().await;
        let t = add_tenant(&a, "settled").await;
        assert_eq!(b.tenant_settings(&t).await.expect("read").suspended_at, None);
        let mut s = a.tenant_settings(&t).await.expect("read");
        s.suspended_at = Some(1);
        a.set_tenant_settings(&t, s).await.expect("suspend");
        assert_eq!(
            a.tenant_settings(&t).await.expect("read").suspended_at,
            Some(1),
            "at once where written"
        );
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(
            b.tenant_settings(&t).await.expect("read").suspended_at,
            Some(1),
            "within the TTL elsewhere"
        );
    }

    /// A turn completing while another connection takes the same rows in the other order: one
    /// of the two is chosen as the deadlock's victim. When it is the turn, it runs again and
    /// succeeds instead of failing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deadlocked_write_runs_again() {
        let store = Arc::new(fresh_store(PgOptions::default()).await.expect("store"));
        let t = add_tenant(&store, "acme").await;
        let acc = store
            .accept_inbound(&t, inbound("ann", "hola", None))
            .await
            .expect("accept");
        let mut other = store.pool().begin().await.expect("begin");
        sqlx::query("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(acc.conversation.as_str())
            .execute(&mut *other)
            .await
            .expect("lock the conversation");
        let turn = {
            let (store, t, c) = (store.clone(), t.clone(), commit(&acc, &["hi"]));
            tokio::spawn(async move { store.complete_turn(&t, c).await })
        };
        // The turn now holds its message and waits for the conversation; the deadlock check
        // runs after a second of waiting, so the turn (waiting first) is the one to find it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::query("UPDATE messages SET updated_at = updated_at WHERE id = $1")
            .bind(acc.message.as_str())
            .execute(&mut *other)
            .await
            .expect("the other transaction goes on once the turn has rolled back");
        other.commit().await.expect("commit");
        let replies = turn.await.expect("task").expect("the turn ran again and committed");
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].direction, Direction::Outbound);
        assert_eq!(store.replies_to(&t, &acc.message).await.expect("replies"), replies);
        assert_eq!(store.queue_stats().await.expect("stats").depth, 0);
    }
}
