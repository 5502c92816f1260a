//! Fresh, empty PostgreSQL stores for tests, each in a schema of its own so that tests run in
//! parallel on one server. The server is `SWITCHBOARD_TEST_POSTGRES` (a URL without a
//! database), or the local one on 127.0.0.1:5432.

use super::{PgOptions, PgStore};
use crate::{Result, StoreError};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::OnceCell;

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
const DATABASE: &str = "switchboard_test";
/// Schemas left by test runs that died before dropping them are dropped once this old.
const STALE_AFTER_S: u64 = 3 * 3600;

fn server() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

static READY: OnceCell<()> = OnceCell::const_new();

/// Creates the test database once per process and drops stale schemas in it.
async fn ready() -> Result<()> {
    READY
        .get_or_try_init(|| async {
            let mut admin = PgConnection::connect(&format!("{}/postgres", server())).await?;
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
                .execute(&mut admin)
                .await
            {
                // Already there, or created by a test process that got there first.
                let known = matches!(&e, sqlx::Error::Database(d)
                    if matches!(d.code().as_deref(), Some("42P04") | Some("23505")));
                if !known {
                    return Err(StoreError::from(e));
                }
            }
            let mut db = PgConnection::connect(&database_url()).await?;
            let cutoff = now_s().saturating_sub(STALE_AFTER_S);
            let stale: Vec<String> =
                sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%\\_%'")
                    .fetch_all(&mut db)
                    .await?;
            for name in stale {
                let born = name
                    .strip_prefix("t_")
                    .and_then(|s| s.split('_').next())
                    .and_then(|s| s.parse::<u64>().ok());
                if born.is_some_and(|b| b < cutoff) {
                    let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")))
                        .execute(&mut db)
                        .await;
                }
            }
            Ok(())
        })
        .await
        .map(|_| ())
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn database_url() -> String {
    format!("{}/{DATABASE}", server())
}

/// A new, empty schema; returns the store URL that selects it (`postgres://…?options[search_path]=…`).
pub async fn fresh_url() -> Result<String> {
    ready().await?;
    let name = format!("t_{}_{}", now_s(), uuid_suffix());
    let mut db = PgConnection::connect(&database_url()).await?;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
        .execute(&mut db)
        .await?;
    Ok(format!("{}?options[search_path]={name}", database_url()))
}

/// A new, empty, migrated store in a schema of its own.
pub async fn fresh_store(opts: PgOptions) -> Result<PgStore> {
    PgStore::connect(&fresh_url().await?, opts).await
}

fn uuid_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
