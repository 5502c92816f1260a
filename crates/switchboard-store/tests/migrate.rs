//! `switchboard migrate`'s copy: a SQLite store with rows in every table, copied into a fresh
//! PostgreSQL schema on the local server, reads the same through both stores; running it again
//! doubles nothing and brings changes across; a table the copy does not know stops it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use switchboard_core::{Channel, Content, ConversationContext, MessageId, Mode, Processed, TenantId};
use switchboard_store::migrate::{TABLES, TableCount, copy_sqlite_to_postgres};
use switchboard_store::postgres::testing::fresh_url;
use switchboard_store::prelude::*;
use switchboard_store::*;

fn tid(s: &str) -> TenantId {
    TenantId::parse(s).expect("tenant id")
}

fn sqlite(path: &Path) -> SqliteStore {
    SqliteStore::open(
        path,
        SqliteOptions {
            synchronous: Synchronous::Normal,
            ..Default::default()
        },
    )
    .expect("open sqlite")
}

async fn postgres() -> PgStore {
    PgStore::connect(&fresh_url().await.expect("schema"), PgOptions::default())
        .await
        .expect("connect")
}

fn inbound(user: &str, text: &str) -> NewInbound {
    NewInbound {
        id: MessageId::generate(),
        channel: Channel::Webchat,
        user: user.into(),
        content: Content::text(text),
        metadata: serde_json::json!({"ip": "127.0.0.1"}),
        external_id: None,
        priority: Priority::Interactive,
    }
}

fn commit(acc: &Accepted, replies: &[&str], consent: Option<NewConsent>) -> TurnCommit {
    let mut context = ConversationContext {
        mode: Mode::Form,
        language: Some("es".into()),
        ..Default::default()
    };
    context.variables.insert("name".into(), serde_json::json!("Ana"));
    TurnCommit {
        job_id: acc.job.as_ref().expect("job").id,
        conversation: acc.conversation.clone(),
        message: acc.message.clone(),
        processed: Processed {
            language: "es".into(),
            language_confidence: 0.9,
            intent: Some("greeting".into()),
            confidence: 0.8,
            handler: "small_talk".into(),
            ..Default::default()
        },
        replies: replies.iter().map(|r| Content::text(*r)).collect(),
        context,
        deliver: false,
        consent,
        erase: Erase::Nothing,
        handoff: None,
    }
}

/// Puts rows in every table through the store's own calls, as a server would. `messages`
/// inbound messages (each with its job) go to one conversation of `acme`.
async fn fill(s: &dyn Store, messages: usize) {
    let (acme, beta) = (tid("acme"), tid("beta"));
    for t in [&acme, &beta] {
        s.upsert_tenant(&TenantRecord {
            id: t.clone(),
            name: format!("Tenant {t}"),
            bot_source: "name = \"x\"".into(),
            created_at: 1,
            updated_at: 2,
        })
        .await
        .expect("tenant");
    }
    s.set_tenant_settings(
        &acme,
        TenantSettings {
            time_zone: Some("Europe/Madrid".into()),
            languages: vec!["en".into(), "es".into()],
            consent_required: Some(true),
            monthly_message_quota: Some(1_000_000),
            allowed_origins: vec!["https://shop.example".into()],
            suspended_at: None,
            updated_at: None,
        },
    )
    .await
    .expect("settings");
    for (id, enabled) in [("tg", true), ("wa", false)] {
        s.upsert_connector(&ConnectorRecord {
            tenant: acme.clone(),
            id: id.into(),
            channel: Channel::Telegram,
            account_id: "123".into(),
            secrets: vec![0, 1, 2, 255, 0],
            settings: serde_json::json!({"api_base": "https://api.telegram.org"}),
            enabled,
            created_at: 3,
            updated_at: 4,
        })
        .await
        .expect("connector");
    }

    let first = s.accept_inbound(&acme, inbound("ana", "hola")).await.expect("accept");
    s.complete_turn(
        &acme,
        commit(
            &first,
            &["¡Hola!", "¿Qué tal?"],
            Some(NewConsent {
                decision: ConsentDecision::Granted,
                text_version: "v1".into(),
                text: "May we keep this chat?".into(),
            }),
        ),
    )
    .await
    .expect("complete");
    for i in 1..messages {
        s.accept_inbound(&acme, inbound("ana", &format!("m{i}")))
            .await
            .expect("accept");
    }
    let failed = s.accept_inbound(&acme, inbound("bob", "boom")).await.expect("accept");
    s.dead_letter_job(&acme, failed.job.as_ref().expect("job").id, 3, "it broke")
        .await
        .expect("dead letter");
    s.accept_inbound(&beta, inbound("carl", "hi")).await.expect("accept");

    let conv = first.conversation.clone();
    s.add_reminder(
        &acme,
        NewReminder {
            conversation: conv.clone(),
            text: "call mum".into(),
            language: "en".into(),
            time_zone: "UTC".into(),
            due_at: 4_000_000_000_000,
            source_message: MessageId::generate(),
        },
    )
    .await
    .expect("reminder");
    s.add_task(&acme, "ana", "buy milk", &MessageId::generate())
        .await
        .expect("task");
    s.add_llm_usage(&acme, 1_700_000_000_000, 10, 20).await.expect("usage");
    s.add_assessment_result(
        &acme,
        NewAssessmentResult {
            conversation: conv.clone(),
            assessment: "phq2".into(),
            answers: serde_json::json!({"q1": 1, "q2": 2}),
            score: 2.5,
            band: Some("low".into()),
            source_message: MessageId::generate(),
        },
    )
    .await
    .expect("assessment");
    s.add_feedback(
        &acme,
        NewFeedback {
            conversation: conv.clone(),
            kind: FeedbackKind::Csat,
            score: 5,
            message: None,
            source_message: MessageId::generate(),
        },
    )
    .await
    .expect("feedback");
    s.add_form_submission(
        &acme,
        NewSubmission {
            conversation: conv.clone(),
            form: "signup".into(),
            values: serde_json::json!({"email": "ana@example.com"}),
            status: SubmissionStatus::Pending,
            max_attempts: 5,
            source_message: MessageId::generate(),
        },
    )
    .await
    .expect("submission");

    for (id, tenant, email, role) in [
        ("usr_root", None, "root@example.com", Role::SuperAdmin),
        ("usr_ana", Some(acme.clone()), "ana@example.com", Role::Admin),
    ] {
        s.create_user(NewUser {
            id: id.into(),
            tenant,
            email: email.into(),
            name: "Someone".into(),
            role,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        })
        .await
        .expect("user");
    }
    s.add_refresh_token("refresh-hash-1", "usr_ana", "family-1", 4_000_000_000_000)
        .await
        .expect("refresh token");
    s.create_api_key(
        &acme,
        NewApiKey {
            id: "key_1".into(),
            name: "ci".into(),
            prefix: "sbk_abcdefgh".into(),
            hash: "key-hash".into(),
            scopes: vec!["read".into()],
        },
    )
    .await
    .expect("api key");
    s.add_audit(NewAudit {
        tenant: Some(acme.clone()),
        actor: "usr_root".into(),
        action: "tenant.settings".into(),
        target: "acme".into(),
        old_value: None,
        new_value: Some(serde_json::json!({"time_zone": "Europe/Madrid"})),
    })
    .await
    .expect("audit");
    s.create_event_endpoint(
        &acme,
        NewEventEndpoint {
            id: "ep1".into(),
            url: "https://hooks.example/in".into(),
            secret_sealed: vec![9, 8, 7],
            events: vec!["message.received".into()],
        },
    )
    .await
    .expect("endpoint");
    s.enqueue_events(
        &acme,
        None,
        vec![NewEvent {
            id: "ev1".into(),
            event_type: "message.received".into(),
            payload: serde_json::json!({"id": "ev1"}),
        }],
    )
    .await
    .expect("events");
    let version = s
        .add_bot_version(&acme, "name = \"x\"", "usr_root")
        .await
        .expect("bot version");
    s.mark_bot_version_active(&acme, version.id).await.expect("activate");
    s.set_tenant_secret(&acme, "chat_identity", Some(vec![1, 2, 3, 0]))
        .await
        .expect("secret");
    s.login_failed("someone@example.com", 5, 60_000)
        .await
        .expect("login failure");
}

/// Everything both stores answer about the data, by question. Lists are sorted: rows with
/// equal sort keys may come back in either order, which is not what this compares.
async fn describe(s: &dyn Store) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        out.insert(k.to_owned(), v);
    };
    fn sorted<T: std::fmt::Debug>(items: &[T]) -> String {
        let mut v: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
        v.sort();
        v.join("\n")
    }
    let tenants = s.list_tenants().await.expect("tenants");
    put("tenants", sorted(&tenants));
    for t in tenants.iter().map(|t| &t.id) {
        let k = |what: &str| format!("{t}/{what}");
        put(
            &k("settings"),
            format!("{:?}", s.tenant_settings(t).await.expect("settings")),
        );
        put(&k("month"), format!("{:?}", s.monthly_messages(t, now_ms()).await));
        put(&k("connectors"), sorted(&s.connectors(t).await.expect("connectors")));
        let convs = s
            .conversations(t, ConversationFilter::default(), 1000)
            .await
            .expect("conversations");
        put(&k("conversations"), sorted(&convs));
        for c in &convs {
            let history = s.messages_after(t, &c.id, 0, 10_000).await.expect("history");
            put(&k(&format!("history {}", c.id)), format!("{history:?}"));
        }
        put(&k("tasks"), sorted(&s.tasks(t, "ana", None, 100).await.expect("tasks")));
        put(&k("usage"), sorted(&s.llm_usage(t, 100).await.expect("usage")));
        put(
            &k("assessments"),
            sorted(&s.assessment_results(t, None, 100).await.expect("results")),
        );
        put(&k("feedback"), sorted(&s.feedback(t, 100).await.expect("feedback")));
        put(
            &k("submissions"),
            sorted(&s.form_submissions(t, None, 100).await.expect("forms")),
        );
        put(
            &k("consent"),
            sorted(&s.consent_ledger(t, None, 100).await.expect("consent")),
        );
        put(&k("users"), sorted(&s.users(Some(t)).await.expect("users")));
        put(&k("api keys"), sorted(&s.api_keys(t).await.expect("keys")));
        let endpoints = s.event_endpoints(t).await.expect("endpoints");
        put(&k("endpoints"), sorted(&endpoints));
        for e in &endpoints {
            let log = s.event_deliveries(t, &e.id, 100).await.expect("deliveries");
            put(&k(&format!("deliveries {}", e.id)), sorted(&log));
        }
        put(
            &k("bot versions"),
            sorted(&s.bot_versions(t, 100).await.expect("versions")),
        );
        put(&k("secrets"), sorted(&s.tenant_secrets(t).await.expect("secrets")));
        put(
            &k("chat_identity"),
            format!("{:?}", s.tenant_secret(t, "chat_identity").await.expect("secret")),
        );
    }
    for id in 1..=3 {
        put(
            &format!("reminder {id}"),
            format!("{:?}", s.reminder(&tid("acme"), id).await),
        );
    }
    put("all users", sorted(&s.users(None).await.expect("users")));
    put(
        "root by email",
        sorted(&s.users_by_email("root@example.com").await.expect("users")),
    );
    put(
        "key by prefix",
        format!("{:?}", s.api_key_by_prefix("sbk_abcdefgh").await),
    );
    put("session", format!("{:?}", s.session_user("usr_ana", "family-1").await));
    put("audit", sorted(&s.audit_log(None, 100).await.expect("audit")));
    put(
        "dead letters",
        sorted(&s.dead_letters(None, 100).await.expect("dead letters")),
    );
    put("jobs", sorted(&s.pending_jobs(0, 10_000).await.expect("jobs")));
    put("queue", format!("{:?}", s.queue_stats().await));
    put("login lock", format!("{:?}", s.login_lock("someone@example.com").await));
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn sqlite_count(path: &Path, table: &str) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| r.get::<_, i64>(0))
        .expect("count") as u64
}

async fn pg_count(pg: &PgStore, table: &str) -> u64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{table}\"")))
        .fetch_one(pg.pool())
        .await
        .expect("count") as u64
}

async fn copy(path: &Path, pg: &PgStore) -> Result<Vec<TableCount>> {
    copy_sqlite_to_postgres(path, pg, |_, _, _| {}).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_is_copied_and_reads_the_same_and_a_rerun_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.db");
    let source = sqlite(&path);
    // More messages and jobs than one page holds.
    fill(&source, 1200).await;
    for table in TABLES {
        assert!(
            sqlite_count(&path, table) > 0,
            "the fill leaves {table} empty: give it a row, so that its copy is checked"
        );
    }
    let pg = postgres().await;

    let mut calls: Vec<(String, u64, u64)> = Vec::new();
    let counts = copy_sqlite_to_postgres(&path, &pg, |t, done, total| calls.push((t.into(), done, total)))
        .await
        .expect("copy");
    assert_eq!(counts.iter().map(|c| c.table).collect::<Vec<_>>(), TABLES);
    for c in &counts {
        assert_eq!(c.source, sqlite_count(&path, c.table), "{c:?}");
        assert_eq!(c.target, pg_count(&pg, c.table).await, "{c:?}");
        assert_eq!(c.source, c.target, "{c:?}");
    }
    // Progress: each table in order, ending with done = total; the messages in several pages.
    let finished: Vec<&str> = calls
        .iter()
        .filter(|(_, done, total)| done == total)
        .map(|(t, _, _)| t.as_str())
        .collect();
    assert_eq!(finished, TABLES, "{calls:?}");
    let messages: Vec<u64> = calls.iter().filter(|c| c.0 == "messages").map(|c| c.1).collect();
    assert_eq!(messages, [0, 500, 1000, 1204], "{calls:?}");

    let before = describe(&source).await;
    let after = describe(&pg).await;
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (k, v) in &before {
        assert_eq!(v, &after[k], "{k} reads differently after the copy");
    }

    // Again: nothing doubles.
    let again = copy(&path, &pg).await.expect("second copy");
    assert_eq!(again, counts);

    // Changes since the last run come across: an updated row and a new one.
    let acme = tid("acme");
    source
        .upsert_tenant(&TenantRecord {
            id: acme.clone(),
            name: "Acme Renamed".into(),
            bot_source: "name = \"y\"".into(),
            created_at: 1,
            updated_at: 5,
        })
        .await
        .expect("rename");
    assert!(source.revoke_api_key(&acme, "key_1").await.expect("revoke"));
    let new = source
        .accept_inbound(&acme, inbound("dora", "new here"))
        .await
        .expect("accept");
    let counts = copy(&path, &pg).await.expect("third copy");
    let messages = counts.iter().find(|c| c.table == "messages").expect("messages");
    assert_eq!((messages.source, messages.target), (1205, 1205));
    assert_eq!(
        pg.tenant(&acme).await.expect("read").map(|t| t.name),
        Some("Acme Renamed".into())
    );
    assert!(pg.api_keys(&acme).await.expect("keys")[0].revoked_at.is_some());
    assert_eq!(
        pg.message(&acme, &new.message).await.expect("read").map(|m| m.content),
        Some(Content::text("new here"))
    );
    assert_eq!(describe(&source).await, describe(&pg).await);

    // New rows on PostgreSQL take ids after every id SQLite ever gave, deleted ones included.
    let highest_job: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'", [], |r| r.get(0))
        .expect("sequence");
    let next = pg
        .accept_inbound(&acme, inbound("erin", "on postgres"))
        .await
        .expect("accept");
    assert_eq!(next.job.expect("job").id, highest_job + 1);
    let version = pg
        .add_bot_version(&acme, "name = \"z\"", "usr_root")
        .await
        .expect("version");
    assert_eq!(version.id, 2);

    // Now the target holds rows the source does not: the check says where, with both counts.
    let err = copy(&path, &pg).await.expect_err("the counts differ");
    let text = err.to_string();
    assert!(text.contains("bot_versions: 1 in SQLite, 2 in PostgreSQL"), "{text}");
    assert!(text.contains("messages: 1205 in SQLite, 1206 in PostgreSQL"), "{text}");
    source.close();
}

/// A server still writing during the copy: every table comes from the same moment, so each
/// copied message has its job (they are written in one transaction) and the counts check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_while_the_server_writes_is_one_consistent_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.db");
    let source = Arc::new(sqlite(&path));
    fill(source.as_ref(), 1500).await;
    let pg = postgres().await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (source, stop) = (source.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                source
                    .accept_inbound(&tid("beta"), inbound("live", &format!("w{n}")))
                    .await
                    .expect("accept");
                n += 1;
            }
            n
        })
    };
    let counts = copy(&path, &pg).await.expect("copy during writes");
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    assert!(written > 0);
    let of = |t: &str| counts.iter().find(|c| c.table == t).expect("table").target;
    // Every message has its job but the two replies, the completed turn's and the dead letter's.
    assert_eq!(
        of("messages") - of("jobs"),
        4,
        "messages and their jobs from the same moment"
    );
    assert_eq!(
        of("tenant_message_counts"),
        pg_count(&pg, "tenant_message_counts").await
    );
    source.close();
}

#[tokio::test]
async fn a_table_the_copy_does_not_know_stops_it_before_anything_is_copied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.db");
    let source = sqlite(&path);
    fill(&source, 3).await;
    source.close();
    drop(source);
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute_batch("CREATE TABLE surprise (id INTEGER PRIMARY KEY, what TEXT)")
        .expect("a table from the future");
    let pg = postgres().await;
    let err = copy(&path, &pg).await.expect_err("unknown table");
    let text = err.to_string();
    assert!(
        text.contains("surprise") && text.contains("nothing was copied"),
        "{text}"
    );
    assert_eq!(pg_count(&pg, "tenants").await, 0);

    // A missing file is named, not created.
    let missing = dir.path().join("nope.db");
    let err = copy(&missing, &pg).await.expect_err("no file");
    assert!(err.to_string().contains("no SQLite database"), "{err}");
    assert!(!missing.exists());
}

#[tokio::test]
async fn a_target_a_server_runs_on_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.db");
    sqlite(&path).close();
    let url = fresh_url().await.expect("schema");
    let server = PgStore::connect(&url, PgOptions::default()).await.expect("connect");
    assert!(server.lock_server().await.expect("lock"));
    let pg = PgStore::connect(&url, PgOptions::default()).await.expect("connect");
    let err = copy(&path, &pg).await.expect_err("a server is running there");
    assert!(err.to_string().contains("server is running"), "{err}");
}

/// A value PostgreSQL cannot hold stops the copy with the table, column and row, never the value.
#[tokio::test]
async fn a_value_that_does_not_fit_is_named_by_its_place_not_its_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.db");
    let source = sqlite(&path);
    fill(&source, 3).await;
    source.close();
    drop(source);
    rusqlite::Connection::open(&path)
        .expect("open")
        .execute_batch("UPDATE users SET name = 'top' || char(0) || 'secret' WHERE id = 'usr_ana'")
        .expect("a NUL in a text");
    let pg = postgres().await;
    let text = copy(&path, &pg).await.expect_err("a NUL").to_string();
    assert!(text.contains("users.name of the row with rowid"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

/// PostgreSQL refusing a page (here a person with the same email already there under another
/// id) stops the copy with PostgreSQL's reason and the table.
#[tokio::test]
async fn a_page_postgres_refuses_stops_the_copy_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("switchboard.db");
    let source = sqlite(&path);
    fill(&source, 3).await;
    source.close();
    let pg = postgres().await;
    pg.create_user(NewUser {
        id: "usr_other".into(),
        tenant: None,
        email: "root@example.com".into(),
        name: "Other".into(),
        role: Role::SuperAdmin,
        password_hash: "x".into(),
    })
    .await
    .expect("a person already there");
    let text = copy(&path, &pg).await.expect_err("a duplicate email").to_string();
    assert!(text.contains("writing users to PostgreSQL"), "{text}");
    assert!(text.contains("users_tenant_email"), "{text}");
}
