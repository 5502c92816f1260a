//! Conformance checks for tenant settings, the monthly quota, export and deleting a tenant
//! (see `conformance`).

use crate::conformance::{commit, inbound, tenant, tid};
use crate::{
    ConnectorRecord, ExportTable, NewApiKey, NewAudit, NewEventEndpoint, NewUser, Role, Store, StoreError,
    TenantSettings,
};
use std::sync::Arc;
use switchboard_core::{Channel, TenantId};

pub async fn settings_round_trip_per_tenant(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    assert_eq!(
        store.tenant_settings(&t).await.expect("read"),
        TenantSettings::default()
    );
    let s = TenantSettings {
        time_zone: Some("Europe/Paris".into()),
        languages: vec!["en".into(), "fr".into()],
        consent_required: Some(true),
        monthly_message_quota: Some(10),
        allowed_origins: vec!["https://shop.example".into()],
        suspended_at: Some(5),
        updated_at: None,
    };
    store.set_tenant_settings(&t, s.clone()).await.expect("set");
    let read = store.tenant_settings(&t).await.expect("read");
    assert_eq!(
        TenantSettings {
            updated_at: None,
            ..read.clone()
        },
        s
    );
    assert!(read.updated_at.is_some());
    assert_eq!(
        store.tenant_settings(&other).await.expect("read"),
        TenantSettings::default()
    );
    assert!(matches!(
        store.set_tenant_settings(&tid("nope"), s).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn inbound_messages_count_against_the_monthly_quota(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let quota = TenantSettings {
        monthly_message_quota: Some(2),
        ..Default::default()
    };
    store.set_tenant_settings(&t, quota).await.expect("set");
    store
        .accept_inbound(&t, inbound("ann", "one", Some("e1")))
        .await
        .expect("1st");
    store
        .accept_inbound(&t, inbound("bob", "two", None))
        .await
        .expect("2nd");
    let dup = store
        .accept_inbound(&t, inbound("ann", "one", Some("e1")))
        .await
        .expect("a duplicate is free");
    assert!(dup.duplicate);
    let over = store.accept_inbound(&t, inbound("cid", "three", None)).await;
    assert_eq!(over, Err(StoreError::QuotaExceeded(2)));
    assert!(
        store
            .open_conversation(&t, Channel::Webchat, "cid")
            .await
            .expect("read")
            .is_none(),
        "a refused message leaves no conversation behind"
    );
    let now = switchboard_core::Clock::default().now_ms();
    assert_eq!(store.monthly_messages(&t, now).await.expect("count"), 2);
    // Another tenant, and no quota at all: counted, never refused.
    for i in 0..3 {
        store
            .accept_inbound(&other, inbound("ann", &format!("m{i}"), None))
            .await
            .expect("unlimited");
    }
    assert_eq!(store.monthly_messages(&other, now).await.expect("count"), 3);
    // Next month starts from zero.
    assert_eq!(
        store.monthly_messages(&t, now + 32 * 86_400_000).await.expect("count"),
        0
    );
}

/// Gives a tenant a row in every kind of table a tenant can fill.
async fn populate(store: &Arc<dyn Store>, t: &TenantId, suffix: &str) {
    store
        .set_tenant_settings(
            t,
            TenantSettings {
                languages: vec!["en".into()],
                ..Default::default()
            },
        )
        .await
        .expect("settings");
    let a = store
        .accept_inbound(t, inbound("ann", "hello", None))
        .await
        .expect("accept");
    let job = a.job.as_ref().expect("job").id;
    store.complete_turn(t, commit(job, &a, &["hi"])).await.expect("turn");
    store
        .accept_inbound(t, inbound("bob", "queued", None))
        .await
        .expect("queued");
    store
        .upsert_connector(&ConnectorRecord {
            tenant: t.clone(),
            id: "tg".into(),
            channel: Channel::Telegram,
            account_id: "1".into(),
            secrets: vec![1, 2, 3],
            settings: serde_json::json!({}),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .expect("connector");
    store
        .create_user(NewUser {
            id: format!("u-{suffix}"),
            tenant: Some(t.clone()),
            email: format!("{suffix}@example.com"),
            name: "N".into(),
            role: Role::Admin,
            password_hash: "$argon2id$secret".into(),
        })
        .await
        .expect("user");
    store
        .add_refresh_token(&format!("h-{suffix}"), &format!("u-{suffix}"), "f", i64::MAX)
        .await
        .expect("session");
    store
        .create_api_key(
            t,
            NewApiKey {
                id: format!("k-{suffix}"),
                name: "ci".into(),
                prefix: format!("sbk_{suffix}0000"),
                hash: "keyhash".into(),
                scopes: vec!["read".into()],
            },
        )
        .await
        .expect("key");
    store.add_task(t, "ann", "call", &a.message).await.expect("task");
    store.add_llm_usage(t, 0, 1, 1).await.expect("usage");
    store
        .add_audit(NewAudit {
            tenant: Some(t.clone()),
            actor: "cli".into(),
            action: "test".into(),
            target: "x".into(),
            old_value: None,
            new_value: None,
        })
        .await
        .expect("audit");
}

pub async fn export_pages_through_every_table_without_credentials(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    populate(&store, &t, "a").await;
    let mut seen = Vec::new();
    for table in ExportTable::ALL {
        let mut after = 0;
        loop {
            let page = store.export_page(&t, table, after, 1).await.expect("page");
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, row) in page {
                let text = row.to_string();
                assert!(!text.contains("argon2id") && !text.contains("keyhash"), "{text}");
                seen.push(table);
            }
        }
    }
    for table in [
        ExportTable::Tenant,
        ExportTable::Settings,
        ExportTable::Connectors,
        ExportTable::Conversations,
        ExportTable::Messages,
        ExportTable::Users,
        ExportTable::ApiKeys,
        ExportTable::Tasks,
        ExportTable::Audit,
    ] {
        assert!(seen.contains(&table), "{table:?} exported");
    }
    assert_eq!(seen.iter().filter(|t| **t == ExportTable::Messages).count(), 3);
}

pub async fn deleting_a_tenant_leaves_nothing_of_it(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    populate(&store, &t, "a").await;
    populate(&store, &other, "b").await;
    let before = store.tenant_row_counts(&other).await.expect("counts");
    assert!(before.len() >= 10, "{before:?}");
    assert!(store.delete_tenant(&t).await.expect("delete"));
    assert_eq!(store.tenant_row_counts(&t).await.expect("counts"), Vec::new());
    assert!(store.tenant(&t).await.expect("read").is_none());
    assert!(store.user("u-a").await.expect("read").is_none());
    assert_eq!(
        store.tenant_row_counts(&other).await.expect("counts"),
        before,
        "the other tenant is untouched"
    );
    assert!(!store.delete_tenant(&t).await.expect("again"));
}

pub async fn tenant_secrets_are_sealed_per_tenant_and_resealed(store: Arc<dyn Store>) {
    let a = tenant(&store, "acme").await;
    let b = tenant(&store, "beta").await;
    assert!(
        store
            .set_tenant_secret(&a, "identity", Some(b"sealed-a".to_vec()))
            .await
            .expect("set")
    );
    assert!(
        store
            .set_tenant_secret(&b, "identity", Some(b"sealed-b".to_vec()))
            .await
            .expect("set")
    );
    assert!(
        store
            .set_tenant_secret(&a, "hook", Some(b"sealed-h".to_vec()))
            .await
            .expect("set")
    );
    assert_eq!(
        store.tenant_secret(&a, "identity").await.expect("get").as_deref(),
        Some(&b"sealed-a"[..])
    );
    assert_eq!(
        store.tenant_secret(&b, "identity").await.expect("get").as_deref(),
        Some(&b"sealed-b"[..])
    );
    assert_eq!(store.tenant_secret(&b, "hook").await.expect("get"), None);
    // Replacing keeps one row; names are listed without values.
    store
        .set_tenant_secret(&a, "identity", Some(b"sealed-a2".to_vec()))
        .await
        .expect("replace");
    let names: Vec<String> = store
        .tenant_secrets(&a)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["hook", "identity"]);
    let missing = store
        .set_tenant_secret(&tid("nobody"), "identity", Some(b"x".to_vec()))
        .await;
    assert!(matches!(missing, Err(crate::StoreError::NotFound(_))), "{missing:?}");
    // Re-sealing reaches tenant secrets, and a failure changes nothing.
    let before = store.tenant_secret(&a, "hook").await.expect("get");
    let failed = store
        .reseal_secrets(Box::new(|old: &[u8]| {
            if old == b"sealed-b" {
                Err("cannot open".to_owned())
            } else {
                Ok(old.to_vec())
            }
        }))
        .await;
    assert!(failed.is_err());
    assert_eq!(store.tenant_secret(&a, "hook").await.expect("get"), before);
    let n = store
        .reseal_secrets(Box::new(|old: &[u8]| Ok([b"new:", old].concat())))
        .await
        .expect("reseal");
    assert!(n >= 3, "{n}");
    assert_eq!(
        store.tenant_secret(&a, "identity").await.expect("get").as_deref(),
        Some(&b"new:sealed-a2"[..])
    );
    assert_eq!(
        store.tenant_secret(&b, "identity").await.expect("get").as_deref(),
        Some(&b"new:sealed-b"[..])
    );
    assert!(store.set_tenant_secret(&a, "hook", None).await.expect("delete"));
    assert!(!store.set_tenant_secret(&a, "hook", None).await.expect("delete again"));
    assert_eq!(store.tenant_secret(&a, "hook").await.expect("get"), None);
}

/// `secrets rotate` depends on this: every sealed value of every table goes through `reseal`,
/// and one that cannot be re-sealed leaves every value as it was.
pub async fn resealing_covers_every_sealed_secret_or_changes_nothing(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    for (tenant, id) in [(&t, "tg"), (&other, "slack")] {
        store
            .upsert_connector(&ConnectorRecord {
                tenant: tenant.clone(),
                id: id.into(),
                channel: Channel::Telegram,
                account_id: "1".into(),
                secrets: format!("connector {id}").into_bytes(),
                settings: serde_json::json!({}),
                enabled: true,
                created_at: 0,
                updated_at: 0,
            })
            .await
            .expect("connector");
    }
    store
        .create_event_endpoint(
            &t,
            NewEventEndpoint {
                id: "ep-1".into(),
                url: "https://hooks.example.com/x".into(),
                secret_sealed: b"endpoint ep-1".to_vec(),
                events: vec!["message.sent".into()],
            },
        )
        .await
        .expect("endpoint");
    let sealed = || async {
        let mut all = Vec::new();
        for (tenant, id) in [(&t, "tg"), (&other, "slack")] {
            let c = store.connector(tenant, id).await.expect("read").expect("connector");
            all.push(String::from_utf8_lossy(&c.secrets).into_owned());
        }
        let e = store.event_endpoint(&t, "ep-1").await.expect("read").expect("endpoint");
        all.push(String::from_utf8_lossy(&e.secret_sealed).into_owned());
        all
    };
    let n = store
        .reseal_secrets(Box::new(|old: &[u8]| Ok([b"v2:".as_slice(), old].concat())))
        .await
        .expect("reseal");
    assert_eq!(n, 3);
    let after = sealed().await;
    assert_eq!(
        after,
        ["v2:connector tg", "v2:connector slack", "v2:endpoint ep-1"],
        "every value went through the reseal once"
    );

    // The endpoint's value cannot be re-sealed: the connectors, re-sealed before it in the same
    // call, keep their old values too.
    let failed = store
        .reseal_secrets(Box::new(|old: &[u8]| {
            if old.starts_with(b"v2:endpoint") {
                Err("wrong key".into())
            } else {
                Ok([b"v3:".as_slice(), old].concat())
            }
        }))
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(sealed().await, after, "a failed reseal changes nothing");
}
