use std::sync::Arc;
use switchboard_store::Store;
use switchboard_store::prelude::*;
use switchboard_store::{SqliteOptions, SqliteStore, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = std::sync::atomic::AtomicUsize::new(0);
    conformance::run(|| {
        let path = dir.path().join(format!(
            "db{}.sqlite",
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        async move { Arc::new(SqliteStore::open(&path, SqliteOptions::default()).expect("open")) as Arc<dyn Store> }
    })
    .await;
}

#[tokio::test]
async fn data_survives_reopening_and_migrations_run_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/dir/switchboard.db");
    let tenant = switchboard_core::TenantId::parse("acme").expect("id");
    {
        let store = SqliteStore::open(&path, SqliteOptions::default()).expect("open creates the directory");
        store
            .upsert_tenant(&switchboard_store::TenantRecord {
                id: tenant.clone(),
                name: "Acme".into(),
                bot_source: String::new(),
                created_at: 0,
                updated_at: 0,
            })
            .await
            .expect("upsert");
        store.close();
    }
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("reopen");
    assert_eq!(
        store.tenant(&tenant).await.expect("read").map(|t| t.name),
        Some("Acme".into())
    );
}

/// Another process (the CLI) changes the database while a server has it open: the server's
/// next reads see the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_from_another_connection_are_seen_by_the_next_read() {
    use switchboard_store::{ConnectorRecord, TenantRecord};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let server = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
    let cli = SqliteStore::open(&path, SqliteOptions::default()).expect("open");
    let t = switchboard_core::TenantId::parse("acme").expect("id");
    server
        .upsert_tenant(&TenantRecord {
            id: t.clone(),
            name: "A".into(),
            bot_source: String::new(),
            created_at: 0,
            updated_at: 0,
        })
        .await
        .expect("tenant");
    for i in 0..100 {
        let c = ConnectorRecord {
            tenant: t.clone(),
            id: format!("c{i}"),
            channel: switchboard_core::Channel::Telegram,
            account_id: "1".into(),
            secrets: vec![1],
            settings: serde_json::json!({}),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        };
        cli.upsert_connector(&c).await.expect("add");
        for _ in 0..3 {
            assert!(
                server.connector(&t, &c.id).await.expect("read").is_some(),
                "round {i}: added"
            );
        }
        assert!(cli.delete_connector(&t, &c.id).await.expect("delete"));
        for _ in 0..3 {
            assert!(
                server.connector(&t, &c.id).await.expect("read").is_none(),
                "round {i}: deleted"
            );
        }
    }
}

/// Two instances on one database (two stores, each with its own writer) race to claim the
/// same due reminders: each reminder goes to exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_claim_the_same_reminder() {
    use switchboard_store::{NewInbound, NewReminder, Priority, TenantRecord};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let a = Arc::new(SqliteStore::open(&path, SqliteOptions::default()).expect("open"));
    let b = Arc::new(SqliteStore::open(&path, SqliteOptions::default()).expect("open"));
    let t = switchboard_core::TenantId::parse("acme").expect("id");
    a.upsert_tenant(&TenantRecord {
        id: t.clone(),
        name: "A".into(),
        bot_source: String::new(),
        created_at: 0,
        updated_at: 0,
    })
    .await
    .expect("tenant");
    let acc = a
        .accept_inbound(
            &t,
            NewInbound {
                id: switchboard_core::MessageId::generate(),
                channel: switchboard_core::Channel::Webchat,
                user: "ana".into(),
                content: switchboard_core::Content::text("hi"),
                metadata: serde_json::json!({}),
                external_id: None,
                priority: Priority::Interactive,
            },
        )
        .await
        .expect("accept");
    let mut ids = Vec::new();
    for i in 0..50 {
        let r = a
            .add_reminder(
                &t,
                NewReminder {
                    conversation: acc.conversation.clone(),
                    text: format!("r{i}"),
                    language: "en".into(),
                    time_zone: "UTC".into(),
                    due_at: 1_000,
                    source_message: switchboard_core::MessageId::generate(),
                },
            )
            .await
            .expect("add");
        ids.push(r.id);
    }
    // Small batches so that the two claim in turns, interleaved.
    let claim = |s: Arc<SqliteStore>| async move {
        let mut mine = Vec::new();
        loop {
            let got = s.claim_due_reminders(2_000, 3).await.expect("claim");
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|r| r.id));
        }
    };
    let (from_a, from_b) = tokio::join!(tokio::spawn(claim(a.clone())), tokio::spawn(claim(b.clone())));
    let mut all: Vec<i64> = from_a.expect("a").into_iter().chain(from_b.expect("b")).collect();
    all.sort_unstable();
    assert_eq!(all, ids, "every reminder claimed exactly once");
}

/// Two instances on one database race to claim the same due form submissions: each goes to
/// exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_claim_the_same_form_submission() {
    use switchboard_store::{NewInbound, NewSubmission, Priority, SubmissionStatus, TenantRecord};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    let a = Arc::new(SqliteStore::open(&path, SqliteOptions::default()).expect("open"));
    let b = Arc::new(SqliteStore::open(&path, SqliteOptions::default()).expect("open"));
    let t = switchboard_core::TenantId::parse("acme").expect("id");
    a.upsert_tenant(&TenantRecord {
        id: t.clone(),
        name: "A".into(),
        bot_source: String::new(),
        created_at: 0,
        updated_at: 0,
    })
    .await
    .expect("tenant");
    let acc = a
        .accept_inbound(
            &t,
            NewInbound {
                id: switchboard_core::MessageId::generate(),
                channel: switchboard_core::Channel::Webchat,
                user: "ana".into(),
                content: switchboard_core::Content::text("yes"),
                metadata: serde_json::json!({}),
                external_id: None,
                priority: Priority::Interactive,
            },
        )
        .await
        .expect("accept");
    let mut ids = Vec::new();
    for i in 0..40 {
        let s = a
            .add_form_submission(
                &t,
                NewSubmission {
                    conversation: acc.conversation.clone(),
                    form: "signup".into(),
                    values: serde_json::json!({ "n": i }),
                    status: SubmissionStatus::Pending,
                    max_attempts: 8,
                    source_message: switchboard_core::MessageId::generate(),
                },
            )
            .await
            .expect("add");
        ids.push(s.id);
    }
    let now = i64::MAX / 4;
    let claim = |s: Arc<SqliteStore>| async move {
        let mut mine = Vec::new();
        loop {
            let got = s.claim_due_submissions(now, 3).await.expect("claim");
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|x| x.id));
        }
    };
    let (from_a, from_b) = tokio::join!(tokio::spawn(claim(a.clone())), tokio::spawn(claim(b.clone())));
    let mut all: Vec<i64> = from_a.expect("a").into_iter().chain(from_b.expect("b")).collect();
    all.sort_unstable();
    assert_eq!(all, ids, "every submission claimed exactly once");
}

/// Sealed values are the only binary columns of the schema: each one must be in the list that
/// `secrets rotate` re-seals, or a rotation would leave it under a key that is gone.
#[tokio::test]
async fn every_binary_column_is_resealed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db.sqlite");
    SqliteStore::open(&path, SqliteOptions::default())
        .expect("open and migrate")
        .close();
    let conn = rusqlite::Connection::open(&path).expect("open");
    let mut stmt = conn
        .prepare(
            "SELECT m.name, c.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND upper(c.type) = 'BLOB' ORDER BY m.name, c.name",
        )
        .expect("prepare");
    let binary: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(!binary.is_empty());
    for (table, column) in &binary {
        assert!(
            switchboard_store::sqlite::SEALED
                .iter()
                .any(|s| s.table == table && s.column == column),
            "{table}.{column} is binary but not in sqlite::SEALED"
        );
    }
    // And the list names real columns.
    for s in switchboard_store::sqlite::SEALED {
        assert!(
            binary.iter().any(|(t, c)| t == s.table && c == s.column),
            "{}.{} is not a binary column",
            s.table,
            s.column
        );
    }
}
