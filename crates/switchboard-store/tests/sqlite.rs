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
