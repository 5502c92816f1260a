use std::sync::Arc;
use switchboard_store::{SqliteOptions, SqliteStore, Store, conformance};

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
