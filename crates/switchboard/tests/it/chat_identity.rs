//! Web chat end users are who their token says, never who a request names: sessions for
//! anonymous visitors and vouched-for users, 401 without a token, and the isolation matrix (one
//! end user's token against another's conversation, history, WebSocket and a platform
//! conversation).

use crate::api::{PASSWORD, call, create_user, token_of};
use crate::helpers::*;
use crate::tenants::{TG_SECRET, add_telegram, telegram, telegram_update};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use switchboard_core::{Channel, TenantId};
use tokio_tungstenite::tungstenite::Message as WsMessage;

async fn anonymous(app: &TestApp) -> (String, String) {
    let (status, body) = app.start_session("demo", None).await;
    assert_eq!(status, 201, "{body}");
    (
        body["user"].as_str().expect("user").to_owned(),
        body["token"].as_str().expect("token").to_owned(),
    )
}

async fn ws_frames(url: String, wait: Duration) -> Result<Vec<Value>, u16> {
    let mut ws = match tokio_tungstenite::connect_async(url).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => return Err(res.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    };
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let WsMessage::Text(t) = msg {
            frames.push(serde_json::from_str(t.as_str()).expect("json frame"));
        }
    }
    Ok(frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_id_is_no_credential_and_the_token_decides_who_writes() {
    let app = TestApp::spawn().await;
    // The victim writes first, as a vouched-for user of the tenant.
    let victim = app.say("victim", "hello").await;
    let victim_conv = victim["conversation_id"].as_str().expect("id").to_owned();

    // Without a token nothing is accepted, whatever the body says.
    for body in [json!({"user": "victim", "text": "stop"}), json!({"text": "stop"})] {
        let res = app
            .client
            .post(app.url("/v1/chat/demo/messages"))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 401);
        assert_eq!(
            res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let err: Value = res.json().await.expect("json");
        assert_eq!(err["error"]["code"], "unauthorized", "{err}");
    }
    for token in ["", "nonsense", "swc1.e30.AAAA", &app.token("other", "victim").await] {
        let (status, _) = app.post_with("demo", token, json!({"text": "stop"})).await;
        assert_eq!(status, 401, "{token:?}");
    }

    // An attacker's own token with the victim's name in the body writes as the attacker.
    let (attacker, token) = anonymous(&app).await;
    assert!(attacker.starts_with("anon_"), "{attacker}");
    let (status, answer) = app
        .post_with("demo", &token, json!({"user": "victim", "text": "stop"}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_ne!(answer["conversation_id"], victim_conv.as_str());
    let store = switchboard::app::open_store(&test_config(app.dir.path()), switchboard_core::Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let ledger = store
        .consent_ledger(&demo, Some((Channel::Webchat, "victim")), 10)
        .await
        .expect("ledger");
    assert!(ledger.is_empty(), "the victim was not opted out: {ledger:?}");
    let ledger = store
        .consent_ledger(&demo, Some((Channel::Webchat, &attacker)), 10)
        .await
        .expect("ledger");
    assert_eq!(ledger.len(), 1, "the attacker opted themself out");
    // The victim is still answered.
    let again = app.say("victim", "hello").await;
    assert_eq!(again["conversation_id"], victim_conv.as_str());
    assert!(!again["replies"].as_array().expect("replies").is_empty(), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_end_users_token_reads_nothing_of_anyone_else() {
    let app = TestApp::spawn().await;
    add_telegram(&app);
    let b = app.say("bea", "hello").await;
    let b_conv = b["conversation_id"].as_str().expect("id").to_owned();
    let (status, _) = telegram(&app, TG_SECRET, telegram_update(1)).await;
    assert_eq!(status, 200);
    let demo = TenantId::parse("demo").expect("id");
    let store = switchboard::app::open_store(&test_config(app.dir.path()), switchboard_core::Clock::System)
        .await
        .expect("store");
    let platform = eventually(10, "the Telegram conversation", || async {
        let filter = switchboard_store::ConversationFilter {
            channel: Some(Channel::Telegram),
            ..Default::default()
        };
        let list = store.conversations(&demo, filter, 10).await.ok()?;
        list.first().map(|c| (c.id.to_string(), c.user.clone()))
    })
    .await;

    // Attackers: an anonymous visitor, a vouched-for user, and one vouched for with the
    // platform user's id (a web chat user of that name is still not the platform's).
    let (_, anon) = anonymous(&app).await;
    let vouched = app.token("demo", "alex").await;
    let same_name = app.token("demo", &platform.1).await;
    let mut leaks = Vec::new();
    for (who, token) in [
        ("anonymous", &anon),
        ("vouched", &vouched),
        ("platform name", &same_name),
    ] {
        for conv in [&b_conv, &platform.0] {
            for path in [
                format!("/v1/chat/demo/conversations/{conv}/messages"),
                format!("/v1/chat/demo/conversations/{conv}/messages?after=0&limit=200"),
            ] {
                let (status, body) = app.get_with(&path, token).await;
                if status != 404 || body.to_string().contains("hello") {
                    leaks.push(format!("{who} {path}: {status} {body}"));
                }
            }
        }
        // The socket shows the caller's own conversation only, whatever `user` says.
        let url = format!("ws://{}/v1/chat/demo/ws?token={token}&user=bea&after=0", app.addr);
        let frames = ws_frames(url, Duration::from_millis(400)).await.expect("connects");
        let ready = &frames[0];
        assert_eq!(ready["type"], "ready", "{ready}");
        for f in &frames {
            let conv = f["conversation_id"].as_str().unwrap_or_default();
            if conv == b_conv || conv == platform.0 {
                leaks.push(format!("{who} websocket: {f}"));
            }
        }
    }
    // A live frame for bea or the platform user while the attackers listen.
    let url = app.ws_url("demo", &platform.1, "").await;
    let listener = tokio::spawn(ws_frames(url, Duration::from_millis(1500)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = telegram(&app, TG_SECRET, telegram_update(2)).await;
    assert_eq!(status, 200);
    app.say("bea", "hello again").await;
    for f in listener.await.expect("join").expect("connects") {
        if f["type"] != "ready" {
            leaks.push(format!("live frame of another conversation: {f}"));
        }
    }
    assert!(leaks.is_empty(), "0 leaks expected:\n{}", leaks.join("\n"));
    // And the owner reads their own.
    assert!(app.history("demo", &b_conv).await.len() >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_wants_a_token_and_user_ids_are_not_trimmed_into_another() {
    let app = TestApp::spawn().await;
    for query in ["user=victim", "user=%20victim", "token=", "token=forged&user=victim"] {
        let url = format!("ws://{}/v1/chat/demo/ws?{query}", app.addr);
        assert_eq!(ws_frames(url, Duration::ZERO).await.err(), Some(401), "{query}");
    }
    // The header works too (clients that can set it).
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let token = app.token("demo", "victim").await;
    let mut req = format!("ws://{}/v1/chat/demo/ws", app.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("authorization", format!("bearer {token}").parse().expect("header"));
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());

    // A vouched-for id is taken as signed, never altered: " victim" is not "victim".
    let secret = app.identity_secret("demo").await.expect("secret");
    for user in [" victim", "victim ", "vic\u{0}tim", ""] {
        let (status, body) = app
            .start_session(
                "demo",
                Some(json!({"identity": {"user": user, "signature": identity_signature(&secret, user)}})),
            )
            .await;
        assert_eq!(status, 422, "{user:?}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vouched_user_continues_on_another_device_and_forgeries_are_refused() {
    let app = TestApp::spawn().await;
    // No identity secret yet: nobody can be vouched for.
    let (status, body) = app
        .start_session("demo", Some(json!({"identity": {"user": "maria", "signature": "00"}})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("identity_not_configured"))
    );
    let secret = app.identity_secret("demo").await.expect("secret");
    let device = |body: Value| {
        let app = &app;
        async move {
            let (status, s) = app.start_session("demo", Some(body)).await;
            assert_eq!(status, 201, "{s}");
            assert_eq!(
                (s["user"].as_str(), s["verified"].as_bool()),
                (Some("maria"), Some(true))
            );
            s["token"].as_str().expect("token").to_owned()
        }
    };
    let laptop =
        device(json!({"identity": {"user": "maria", "signature": identity_signature(&secret, "maria")}})).await;
    let (_, first) = app.post_with("demo", &laptop, json!({"text": "hello"})).await;
    // The phone vouches with a short-lived JWT instead.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "maria", "exp": now + 300}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("jwt");
    let phone = device(json!({"identity": {"jwt": jwt}})).await;
    // The JWT may also come alone, or as `token`.
    device(json!({"identity": jwt})).await;
    device(json!({"identity": {"token": jwt}})).await;
    let (_, second) = app.post_with("demo", &phone, json!({"text": "thanks"})).await;
    assert_eq!(first["conversation_id"], second["conversation_id"]);
    let conv = first["conversation_id"].as_str().expect("id");
    let (status, page) = app
        .get_with(&format!("/v1/chat/demo/conversations/{conv}/messages"), &phone)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(4), "{page}");

    let forged = [
        json!({"identity": {"user": "maria", "signature": identity_signature("guess", "maria")}}),
        json!({"identity": {"user": "root", "signature": identity_signature(&secret, "maria")}}),
        json!({"identity": {"jwt": jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"sub": "maria", "exp": now - 60}),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        ).expect("jwt")}}),
        json!({"identity": {"jwt": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYXJpYSJ9."}}),
    ];
    for body in forged {
        let (status, answer) = app.start_session("demo", Some(body.clone())).await;
        assert_eq!(status, 403, "{body}: {answer}");
    }
    for body in [
        json!({"identity": {"user": "maria"}}),
        json!({"user": "maria"}),
        json!([1]),
    ] {
        let (status, _) = app.start_session("demo", Some(body.clone())).await;
        assert!(status == 400 || status == 422, "{body}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_chat_surface_is_rate_limited() {
    let app = TestApp::spawn_with(|c, _| {
        c.chat.sessions_per_ip_per_minute = 3;
        c.chat.messages_per_user_per_second = 1;
        c.chat.max_sockets_per_user = 2;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.start_session("demo", None).await.0);
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);

    // Messages per user: a burst of 4, then 429 with Retry-After; another user is unaffected.
    let token = app.token("demo", "quick").await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for i in 0..8 {
        let res = app
            .client
            .post(app.url("/v1/chat/demo/messages"))
            .bearer_auth(&token)
            .json(&json!({"text": format!("hi {i}")}))
            .send()
            .await
            .expect("send");
        if res.status() == 429 {
            retry_after = res.headers().get("retry-after").cloned();
        }
        statuses.push(res.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(retry_after.is_some());
    assert_eq!(app.post("demo", json!({"user": "slow", "text": "hello"})).await.0, 200);

    // Sockets per user.
    let url = app.ws_url("demo", "tabs", "").await;
    let first = tokio_tungstenite::connect_async(&url).await.expect("first");
    let second = tokio_tungstenite::connect_async(&url).await.expect("second");
    let third = tokio_tungstenite::connect_async(&url).await;
    assert!(
        matches!(third, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 429),
        "{third:?}"
    );
    drop(first);
    // A closed socket frees its place.
    eventually(5, "a free socket place", || {
        let url = url.clone();
        async move { tokio_tungstenite::connect_async(&url).await.ok().map(|_| ()) }
    })
    .await;
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_secrets_are_set_by_admins_and_never_shown_again() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    create_user(&app, "agent@example.com", "agent", Some("demo"), PASSWORD);
    create_user(&app, "other@example.com", "admin", Some("other"), PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (status, made) = call(
        &app,
        Method::PUT,
        "/v1/tenants/demo/secrets/chat_identity",
        Some(&root),
        Some(json!({"generate": true})),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let secret = made["value"].as_str().expect("shown once").to_owned();
    assert_eq!(secret.len(), 64);
    let (status, list) = call(&app, Method::GET, "/v1/tenants/demo/secrets", Some(&root), None).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["name"], "chat_identity");
    assert!(!list.to_string().contains(&secret), "{list}");
    // The generated secret vouches at once.
    let (status, _) = app
        .start_session(
            "demo",
            Some(json!({"identity": {"user": "ana", "signature": identity_signature(&secret, "ana")}})),
        )
        .await;
    assert_eq!(status, 201);

    let agent = token_of(&app, "agent@example.com").await;
    let other = token_of(&app, "other@example.com").await;
    for (token, expected) in [(&agent, 403), (&other, 404)] {
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(json!({"value": "a value of my own"}))),
            (Method::DELETE, None),
        ] {
            let path = if method == Method::GET {
                "/v1/tenants/demo/secrets"
            } else {
                "/v1/tenants/demo/secrets/chat_identity"
            };
            let (status, _) = call(&app, method.clone(), path, Some(token), body).await;
            assert_eq!(status, expected, "{method} {path}");
        }
    }
    for (path, body) in [
        ("/v1/tenants/demo/secrets/Bad-Name", json!({"generate": true})),
        ("/v1/tenants/demo/secrets/x", json!({"value": "short"})),
        (
            "/v1/tenants/demo/secrets/x",
            json!({"value": "long enough", "generate": true}),
        ),
        ("/v1/tenants/demo/secrets/x", json!({})),
    ] {
        let (status, _) = call(&app, Method::PUT, path, Some(&root), Some(body.clone())).await;
        assert_eq!(status, 422, "{path} {body}");
    }
    let (status, _) = call(
        &app,
        Method::DELETE,
        "/v1/tenants/demo/secrets/chat_identity",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .start_session(
            "demo",
            Some(json!({"identity": {"user": "ana", "signature": identity_signature(&secret, "ana")}})),
        )
        .await;
    assert_eq!(status, 403, "a removed secret vouches for nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_msg_id_never_matches_another_users_message() {
    let app = TestApp::spawn().await;
    // "team" + "ana:c-1" and "team:ana" + "c-1" once made the same idempotency key.
    let victim = app
        .post(
            "demo",
            json!({"user": "team:ana", "text": "tell me a joke", "client_msg_id": "c-1"}),
        )
        .await
        .1;
    let (status, attacker) = app
        .post(
            "demo",
            json!({"user": "team", "text": "tell me a joke", "client_msg_id": "ana:c-1"}),
        )
        .await;
    assert_eq!(status, 200, "{attacker}");
    assert_eq!(attacker["duplicate"], false, "{attacker}");
    assert_ne!(attacker["conversation_id"], victim["conversation_id"]);
    // Nor can a message be swallowed by planting its key first.
    app.post(
        "demo",
        json!({"user": "team", "text": "hello", "client_msg_id": "ana:c-3"}),
    )
    .await;
    let (status, own) = app
        .post(
            "demo",
            json!({"user": "team:ana", "text": "hello", "client_msg_id": "c-3"}),
        )
        .await;
    assert_eq!((status, &own["duplicate"]), (200, &json!(false)), "{own}");
    assert_eq!(own["conversation_id"], victim["conversation_id"]);
    let history = app
        .history("demo", victim["conversation_id"].as_str().expect("id"))
        .await;
    assert_eq!(history.len(), 4, "the victim's two messages and their replies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encoded_tenant_id_does_not_escape_the_origin_check() {
    let app = TestApp::spawn().await;
    let root = crate::tenants::root(&app).await;
    let (status, _) = crate::tenants::patch(&app, &root, json!({"allowed_origins": ["https://shop.example"]})).await;
    assert_eq!(status, 200);
    let token = app.token("demo", "fay").await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    for tenant in ["demo", "%64emo", "d%65mo"] {
        let mut req = format!("ws://{}/v1/chat/{tenant}/ws?token={token}", app.addr)
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("origin", "https://evil.example".parse().expect("header"));
        let refused = tokio_tungstenite::connect_async(req).await;
        assert!(
            matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 403),
            "{tenant}: {refused:?}"
        );
        let res = app
            .client
            .post(app.url(&format!("/v1/chat/{tenant}/messages")))
            .bearer_auth(&token)
            .header("origin", "https://shop.example")
            .json(&json!({"text": "hello"}))
            .send()
            .await
            .expect("send");
        assert_eq!(
            res.headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok()),
            Some("https://shop.example"),
            "{tenant}"
        );
        assert_eq!(
            res.headers().get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert_eq!(
            res.headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
    }
}

async fn session_from(app: &TestApp, forwarded_for: &str) -> u16 {
    app.client
        .post(app.url("/v1/chat/demo/sessions"))
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_limits_count_the_forwarded_client() {
    let limited = |trusted: bool| {
        move |c: &mut switchboard::config::Config, _: &std::path::Path| {
            c.chat.sessions_per_ip_per_minute = 2;
            if trusted {
                c.server.trusted_proxies = vec!["127.0.0.0/8".into()];
            }
        }
    };
    let proxied = TestApp::spawn_with(limited(true)).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(session_from(&proxied, "198.51.100.1").await);
    }
    assert_eq!(statuses, [201, 201, 429]);
    // Another visitor behind the same proxy has a budget of their own, and a visitor cannot
    // pick one by writing the header themself (the proxy appends the address it saw).
    assert_eq!(session_from(&proxied, "198.51.100.2").await, 201);
    assert_eq!(session_from(&proxied, "203.0.113.5, 198.51.100.1").await, 429);

    // Without trusted proxies the header is the client's word and changes nothing.
    let direct = TestApp::spawn_with(limited(false)).await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        statuses.push(session_from(&direct, &format!("198.51.100.{n}")).await);
    }
    assert_eq!(statuses, [201, 201, 429]);
}
