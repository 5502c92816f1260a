//! Conformance checks for the consent ledger and handoffs (see `conformance`).

use crate::conformance::{commit, inbound, tenant};
use crate::{ConsentDecision, Erase, JobKind, NewConsent, Store, StoreError};
use std::sync::Arc;
use switchboard_core::{Channel, Direction, HandoffStatus, Mode};

fn consent(decision: ConsentDecision) -> NewConsent {
    NewConsent {
        decision,
        text_version: "v1".into(),
        text: "May we keep this chat?".into(),
    }
}

pub async fn consent_is_ledgered_and_a_refusal_erases(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;

    // Web chat: a refusal leaves nothing but the ledger entry.
    let first = store
        .accept_inbound(&t, inbound("ann", "my name is Ann", None))
        .await
        .expect("accept");
    let c = commit(first.job.as_ref().expect("job").id, &first, &["May we keep this chat?"]);
    store.complete_turn(&t, c).await.expect("asked");
    let no = store
        .accept_inbound(&t, inbound("ann", "no", None))
        .await
        .expect("accept");
    let mut c = commit(no.job.as_ref().expect("job").id, &no, &["Nothing is kept."]);
    c.consent = Some(consent(ConsentDecision::Refused));
    c.erase = Erase::Conversation;
    let replies = store.complete_turn(&t, c).await.expect("refused");
    assert_eq!(replies.len(), 1, "the confirmation is still answered");
    assert!(store.conversation(&t, &no.conversation).await.expect("read").is_none());
    assert!(store.message(&t, &first.message).await.expect("read").is_none());
    let latest = store
        .latest_consent(&t, Channel::Webchat, "ann")
        .await
        .expect("read")
        .expect("an entry");
    assert_eq!(
        (latest.decision, latest.text_version.as_str(), latest.user.as_str()),
        (ConsentDecision::Refused, "v1", "ann")
    );
    assert!(
        store
            .latest_consent(&other, Channel::Webchat, "ann")
            .await
            .expect("read")
            .is_none(),
        "ledgers are per tenant"
    );
    assert!(store.consent_ledger(&other, None, 10).await.expect("read").is_empty());

    // A message from someone who refused is dropped whole, with its conversation.
    let later = store
        .accept_inbound(&t, inbound("ann", "hello?", None))
        .await
        .expect("accept");
    let input = store
        .turn_input(&t, &later.conversation, &later.message)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        input.consent.map(|c| (c.id, c.decision)),
        Some((latest.id, ConsentDecision::Refused)),
        "a turn reads the latest decision with its message"
    );
    let mut c = commit(later.job.as_ref().expect("job").id, &later, &[]);
    c.erase = Erase::Message;
    store.complete_turn(&t, c).await.expect("dropped");
    assert!(store.message(&t, &later.message).await.expect("read").is_none());
    assert!(
        store
            .conversation(&t, &later.conversation)
            .await
            .expect("read")
            .is_none()
    );

    // On a platform the confirmation must still be sent: the inbound message stays, emptied,
    // as its address, and the earlier messages go.
    let mut m = inbound("tg:7", "I am Bo, born 1990", Some("tg:1"));
    m.channel = Channel::Telegram;
    let early = store.accept_inbound(&t, m).await.expect("accept");
    let mut c = commit(early.job.as_ref().expect("job").id, &early, &["Agree?"]);
    c.deliver = true;
    store.complete_turn(&t, c).await.expect("asked");
    let mut m = inbound("tg:7", "no", Some("tg:2"));
    m.channel = Channel::Telegram;
    let no = store.accept_inbound(&t, m).await.expect("accept");
    let mut c = commit(no.job.as_ref().expect("job").id, &no, &["Nothing is kept."]);
    c.deliver = true;
    c.consent = Some(consent(ConsentDecision::Refused));
    c.erase = Erase::Conversation;
    store.complete_turn(&t, c).await.expect("refused");
    let left = store
        .messages_after(&t, &no.conversation, 0, 10)
        .await
        .expect("history");
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0].id, no.message);
    assert_eq!(left[0].content.understood_text(), "", "the refusal's words are gone");
    assert_eq!(
        (left[1].direction, left[1].content.understood_text()),
        (Direction::Outbound, "Nothing is kept.")
    );
    let jobs = store.pending_jobs(0, 10).await.expect("jobs");
    assert!(
        jobs.iter()
            .any(|j| j.kind == JobKind::Deliver && j.message == no.message),
        "{jobs:?}"
    );
    let conv = store
        .conversation(&t, &no.conversation)
        .await
        .expect("read")
        .expect("kept to send");
    assert_eq!(conv.context, Default::default(), "the context starts over");
}

pub async fn handoffs_are_owned_beside_the_context(store: Arc<dyn Store>) {
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let acc = store
        .accept_inbound(&t, inbound("u", "a human please", None))
        .await
        .expect("accept");
    let mut c = commit(acc.job.as_ref().expect("job").id, &acc, &["Passing you on."]);
    c.handoff = Some("asked for a person".into());
    store.complete_turn(&t, c).await.expect("complete");
    let conv = store
        .conversation(&t, &acc.conversation)
        .await
        .expect("read")
        .expect("conv");
    let h = conv.handoff.expect("handed over");
    assert_eq!(
        (h.status, h.reason.as_str()),
        (HandoffStatus::Pending, "asked for a person")
    );
    assert_eq!(store.handoffs(&t, 10).await.expect("list").len(), 1);
    assert!(store.handoffs(&other, 10).await.expect("list").is_empty());
    assert!(matches!(
        store.take_handoff(&other, &acc.conversation, "mallory").await,
        Err(StoreError::NotFound(_))
    ));

    let taken = store.take_handoff(&t, &acc.conversation, "agnes").await.expect("take");
    assert_eq!(
        (taken.status, taken.agent.as_deref()),
        (HandoffStatus::Assigned, Some("agnes"))
    );
    // A turn rewriting the context leaves the owner alone.
    let next = store
        .accept_inbound(&t, inbound("u", "hello?", None))
        .await
        .expect("accept");
    store
        .complete_turn(&t, commit(next.job.as_ref().expect("job").id, &next, &[]))
        .await
        .expect("complete");
    let conv = store
        .conversation(&t, &acc.conversation)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(conv.handoff.and_then(|h| h.agent).as_deref(), Some("agnes"));
    assert_eq!(conv.context.mode, Mode::Form, "the turn's context was written");

    assert!(!store.release_handoff(&other, &acc.conversation).await.expect("release"));
    assert!(store.release_handoff(&t, &acc.conversation).await.expect("release"));
    assert!(!store.release_handoff(&t, &acc.conversation).await.expect("again"));
    assert!(store.handoffs(&t, 10).await.expect("list").is_empty());
    assert!(matches!(
        store.take_handoff(&t, &acc.conversation, "agnes").await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn people_sessions_and_keys(store: Arc<dyn Store>) {
    use crate::{NewApiKey, NewUser, RefreshUse, Role};
    let t = tenant(&store, "acme").await;
    let other = tenant(&store, "beta").await;
    let user = |id: &str, email: &str, tenant| NewUser {
        id: id.into(),
        tenant,
        email: email.into(),
        name: "N".into(),
        role: Role::Agent,
        password_hash: "$argon2id$x".into(),
    };
    store
        .create_user(user("u1", "Ann@Example.com", Some(t.clone())))
        .await
        .expect("create");
    assert!(matches!(
        store.create_user(user("u2", "ann@example.com", Some(t.clone()))).await,
        Err(StoreError::Conflict(_))
    ));
    // Another tenant's person may have the same email: tenants do not see each other's people.
    store
        .create_user(user("u2", "ann@example.com", Some(other.clone())))
        .await
        .expect("same email, another tenant");
    store
        .create_user(user("root", "ann@example.com", None))
        .await
        .expect("and a super admin");
    assert!(matches!(
        store.create_user(user("root2", "ANN@example.com", None)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_user(user("u3", "x@example.com", Some(crate::conformance::tid("nope"))))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let found = store.users_by_email("ANN@example.com ").await.expect("read");
    let ids: Vec<_> = found.iter().map(|u| (u.id.as_str(), u.tenant.as_ref())).collect();
    assert_eq!(ids, [("root", None), ("u1", Some(&t)), ("u2", Some(&other))]);
    assert!(
        store
            .users_by_email("nobody@example.com")
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(store.users(Some(&t)).await.expect("list").len(), 1);
    assert_eq!(store.users(Some(&other)).await.expect("list").len(), 1);
    assert!(store.delete_user(None, "root").await.expect("delete"));
    assert!(store.delete_user(Some(&other), "u2").await.expect("delete"));

    // Lockout is per login name, whether or not an account has it.
    for name in ["acme\nann@example.com", "acme\nnobody@example.com"] {
        assert_eq!(store.login_lock(name).await.expect("read"), None);
        store.login_failed(name, 2, 60_000).await.expect("fail");
        assert_eq!(store.login_lock(name).await.expect("read"), None, "one failure of two");
        store.login_failed(name, 2, 60_000).await.expect("fail");
        assert!(store.login_lock(name).await.expect("read").is_some(), "{name} locked");
        store.login_succeeded(name).await.expect("ok");
        assert_eq!(store.login_lock(name).await.expect("read"), None);
    }

    // A session lives while its family has a token that is not revoked.
    store
        .add_refresh_token("s1", "u1", "live", i64::MAX / 2)
        .await
        .expect("add");
    assert_eq!(
        store.session_user("u1", "live").await.expect("read").map(|u| u.id),
        Some("u1".into())
    );
    assert_eq!(store.session_user("u1", "unknown").await.expect("read"), None);
    assert_eq!(
        store.session_user("u2", "live").await.expect("read"),
        None,
        "another person"
    );
    assert!(store.revoke_refresh_family("live").await.expect("revoke"));
    assert_eq!(
        store.session_user("u1", "live").await.expect("read"),
        None,
        "logged out"
    );

    let far = i64::MAX / 2;
    store.add_refresh_token("h1", "u1", "fam", far).await.expect("add");
    assert_eq!(
        store.use_refresh_token("h1").await.expect("use"),
        RefreshUse::Valid {
            user_id: "u1".into(),
            family: "fam".into()
        }
    );
    store.add_refresh_token("h2", "u1", "fam", far).await.expect("add");
    assert!(
        store.session_user("u1", "fam").await.expect("read").is_some(),
        "rotated, live"
    );
    assert!(matches!(
        store.use_refresh_token("h1").await.expect("reuse"),
        RefreshUse::Reused { .. }
    ));
    assert_eq!(
        store.session_user("u1", "fam").await.expect("read"),
        None,
        "a reuse ends it"
    );
    assert_eq!(
        store.use_refresh_token("h2").await.expect("revoked"),
        RefreshUse::Invalid
    );
    assert_eq!(
        store.use_refresh_token("nope").await.expect("unknown"),
        RefreshUse::Invalid
    );
    store.add_refresh_token("h3", "u1", "old", 1).await.expect("add");
    assert_eq!(
        store.use_refresh_token("h3").await.expect("expired"),
        RefreshUse::Invalid
    );

    let key = store
        .create_api_key(
            &t,
            NewApiKey {
                id: "k1".into(),
                name: "ci".into(),
                prefix: "sbk_abcdefgh".into(),
                hash: "hash".into(),
                scopes: vec!["read".into()],
            },
        )
        .await
        .expect("key");
    assert_eq!(
        store.api_key_by_prefix("sbk_abcdefgh").await.expect("read"),
        Some(key.clone())
    );
    assert!(store.api_keys(&other).await.expect("list").is_empty());
    assert!(!store.revoke_api_key(&other, "k1").await.expect("other tenant"));
    store.touch_api_key("k1").await.expect("touch");
    assert!(store.api_keys(&t).await.expect("list")[0].last_used_at.is_some());
    assert!(store.revoke_api_key(&t, "k1").await.expect("revoke"));
    assert!(
        store
            .api_key_by_prefix("sbk_abcdefgh")
            .await
            .expect("read")
            .expect("k")
            .revoked_at
            .is_some()
    );

    assert!(!store.delete_user(Some(&other), "u1").await.expect("other tenant"));
    assert!(store.delete_user(Some(&t), "u1").await.expect("delete"));
    assert!(store.user("u1").await.expect("read").is_none());
}
