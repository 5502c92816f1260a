//! The management API: logins, tokens, lockout, API keys, roles, tenant isolation, rate limits,
//! conversations, export and the agent's handoff actions — over HTTP against a real server.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::Stdio;

pub(crate) const PASSWORD: &str = "correct horse battery 9";

/// `switchboard user create` with the password on standard input.
pub(crate) fn create_user(app: &TestApp, email: &str, role: &str, tenant: Option<&str>, password: &str) -> String {
    let mut cmd = switchboard_in(app.dir.path().join("data"));
    cmd.args([
        "user",
        "create",
        "--email",
        email,
        "--name",
        "Test Person",
        "--role",
        role,
    ]);
    if let Some(t) = tenant {
        cmd.args(["--tenant", t]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write password");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("send");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    call(
        app,
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

pub(crate) async fn token_of(app: &TestApp, email: &str) -> String {
    let (status, body) = login(app, email, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

pub(crate) async fn new_key(app: &TestApp, admin: &str, tenant: &str, scopes: &[&str]) -> (String, String) {
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/v1/tenants/{tenant}/api-keys"),
        Some(admin),
        Some(json!({"name": "test", "scopes": scopes})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["key"].as_str().expect("key").to_owned(),
        body["id"].as_str().expect("id").to_owned(),
    )
}

#[tokio::test]
async fn login_refresh_rotation_reuse_detection_and_logout() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let (status, body) = login(&app, "ROOT@example.com ", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["user"].get("password_hash").is_none(), "{body}");
    let access = body["access_token"].as_str().expect("access");
    let first_refresh = body["refresh_token"].as_str().expect("refresh").to_owned();
    assert!(first_refresh.starts_with("sbr_"));
    let (status, me) = call(&app, Method::GET, "/v1/me", Some(access), None).await;
    assert_eq!(
        (status, me["user"]["role"].as_str()),
        (200, Some("super_admin")),
        "{me}"
    );

    let (status, next) = call(
        &app,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": first_refresh})),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    let second_refresh = next["refresh_token"].as_str().expect("rotated").to_owned();
    assert_ne!(second_refresh, first_refresh);
    // The first token again: a replay. It fails and takes the whole session with it.
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": first_refresh})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": second_refresh})),
    )
    .await;
    assert_eq!(status, 401, "the family is revoked");

    // Logout ends a fresh session's refresh tokens.
    let (_, body) = login(&app, "root@example.com", PASSWORD).await;
    let access = body["access_token"].as_str().expect("access");
    let refresh = body["refresh_token"].as_str().expect("refresh");
    let (status, _) = call(&app, Method::POST, "/v1/auth/logout", Some(access), None).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(status, 401);

    for (token, why) in [
        ("", "empty"),
        ("garbage", "garbage"),
        ("sbk_abcdefgh_nope", "unknown key"),
    ] {
        let (status, body) = call(&app, Method::GET, "/v1/me", Some(token), None).await;
        assert_eq!(status, 401, "{why}: {body}");
    }
    let (status, body) = call(&app, Method::GET, "/v1/me", None, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    app.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_and_unknown_emails_look_the_same() {
    let app = TestApp::spawn_with(|c, _| c.auth.login_per_minute = 1000).await;
    create_user(&app, "ann@example.com", "admin", Some("demo"), PASSWORD);
    let (status, unknown) = login(&app, "nobody@example.com", PASSWORD).await;
    let (_, wrong) = login(&app, "ann@example.com", "wrong password 1").await;
    assert_eq!(status, 401);
    assert_eq!(
        unknown, wrong,
        "the same answer for an unknown email and a wrong password"
    );
    for _ in 0..4 {
        assert_eq!(login(&app, "ann@example.com", "wrong password 1").await.0, 401);
        assert_eq!(login(&app, "nobody@example.com", "wrong password 1").await.0, 401);
    }
    // Five failures in a row: the account is locked, and so is the email without one, with
    // the same answer, so a lockout does not tell who has an account either.
    let locked = |email: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url("/v1/auth/login"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .expect("send");
            let status = res.status().as_u16();
            let retry = res.headers().get("retry-after").is_some();
            (status, retry, res.json::<Value>().await.expect("json"))
        }
    };
    let (status, retry, account) = locked("ann@example.com").await;
    assert_eq!(
        (status, retry),
        (429, true),
        "locked even with the right password: {account}"
    );
    let (status, retry, nobody) = locked("nobody@example.com").await;
    assert_eq!((status, retry), (429, true), "{nobody}");
    assert_eq!(account, nobody);
    app.stop().await;
}

/// Medians of alternating runs, so that the machine's noise hits both sides alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_costs_a_password_check_like_a_wrong_password() {
    let app = TestApp::spawn_with(|c, _| {
        c.auth.login_per_minute = 1000;
        c.auth.lockout_failures = 1000;
    })
    .await;
    create_user(&app, "ann@example.com", "admin", Some("demo"), PASSWORD);
    let time = |email: &'static str| {
        let app = &app;
        async move {
            let started = std::time::Instant::now();
            assert_eq!(login(app, email, "wrong password 1").await.0, 401);
            started.elapsed()
        }
    };
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        wrong.push(time("ann@example.com").await);
        unknown.push(time("nobody@example.com").await);
    }
    unknown.sort();
    wrong.sort();
    let (u, w) = (unknown[4], wrong[4]);
    // An argon2id check takes tens of milliseconds, a login without it about one: without the
    // decoy check the unknown email would answer several times faster.
    assert!(
        u * 2 > w,
        "an unknown email answers in {u:?}, a wrong password in {w:?}: the decoy check is missing"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_email_in_another_tenant_is_neither_refused_nor_revealed() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    create_user(&app, "adam@example.com", "admin", Some("demo"), PASSWORD);
    create_user(&app, "olga@example.com", "admin", Some("other"), PASSWORD);
    let adam = token_of(&app, "adam@example.com").await;
    let olga = token_of(&app, "olga@example.com").await;
    let add = |token: String, tenant: &'static str, email: &'static str| {
        let app = &app;
        async move {
            call(
                app,
                Method::POST,
                &format!("/v1/tenants/{tenant}/users"),
                Some(&token),
                Some(json!({"email": email, "name": "Sam", "role": "viewer", "password": PASSWORD})),
            )
            .await
        }
    };
    // Emails are unique per tenant: whether the address has an account elsewhere changes
    // nothing for the admin adding it.
    let (status, body) = add(adam.clone(), "demo", "sam@example.com").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = add(olga.clone(), "other", "sam@example.com").await;
    assert_eq!(status, 201, "the same email in another tenant: {body}");
    let (status, body) = add(olga.clone(), "other", "SAM@example.com").await;
    assert_eq!(status, 409, "twice in one tenant: {body}");
    let (status, _) = add(olga.clone(), "other", "adam@example.com").await;
    assert_eq!(status, 201, "demo's admin's email is free in other");

    // Logging in names the tenant when the email has accounts in several.
    let login_in = |email: &'static str, tenant: Option<&'static str>| {
        let app = &app;
        async move {
            let mut body = json!({"email": email, "password": PASSWORD});
            if let Some(t) = tenant {
                body["tenant"] = t.into();
            }
            call(app, Method::POST, "/v1/auth/login", None, Some(body)).await
        }
    };
    let (status, _) = login_in("sam@example.com", None).await;
    assert_eq!(status, 401, "which of the two accounts is not for the server to guess");
    for tenant in ["demo", "other"] {
        let (status, body) = login_in("sam@example.com", Some(tenant)).await;
        assert_eq!((status, body["user"]["tenant"].as_str()), (200, Some(tenant)), "{body}");
    }
    let (status, _) = login_in("sam@example.com", Some("nope")).await;
    assert_eq!(status, 401);
    let (status, body) = login_in("olga@example.com", None).await;
    assert_eq!(
        (status, body["user"]["tenant"].as_str()),
        (200, Some("other")),
        "one account: no tenant needed"
    );
    let (status, body) = login_in("root@example.com", None).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn logout_and_a_reused_refresh_token_end_the_sessions_access_tokens_at_once() {
    let app = TestApp::spawn().await;
    create_user(&app, "ann@example.com", "admin", Some("demo"), PASSWORD);
    let me = |token: String| {
        let app = &app;
        async move { call(app, Method::GET, "/v1/me", Some(&token), None).await.0 }
    };

    let (_, first) = login(&app, "ann@example.com", PASSWORD).await;
    let (_, second) = login(&app, "ann@example.com", PASSWORD).await;
    let first_access = first["access_token"].as_str().expect("access").to_owned();
    let second_access = second["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me(first_access.clone()).await, 200);
    let (status, _) = call(&app, Method::POST, "/v1/auth/logout", Some(&first_access), None).await;
    assert_eq!(status, 200);
    assert_eq!(me(first_access.clone()).await, 401, "the logged-out token, at once");
    assert_eq!(me(second_access.clone()).await, 200, "another session lives on");

    // A refresh token presented twice: the session, and every access token of it, ends.
    let refresh = second["refresh_token"].as_str().expect("refresh").to_owned();
    let (status, next) = call(
        &app,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    let rotated_access = next["access_token"].as_str().expect("access").to_owned();
    assert_eq!(me(rotated_access.clone()).await, 200);
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(me(second_access).await, 401, "the session's first access token");
    assert_eq!(me(rotated_access).await, 401, "and the one its refresh gave");
    app.stop().await;
}

/// A client whose requests come from another loopback address (Linux routes all of 127/8 to
/// the loopback interface), to stand for another machine.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

#[tokio::test]
async fn the_api_limit_counts_the_authenticated_caller_whatever_the_schemes_case() {
    let app = TestApp::spawn_with(|c, _| c.auth.api_per_second = 2).await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    // A key per scheme (each with a burst of four), and one that nobody but its owner uses.
    let mut keys = Vec::new();
    for _ in 0..4 {
        keys.push(new_key(&app, &root, "demo", &["read"]).await.0);
    }
    let key = keys.pop().expect("a key");
    for (scheme, key) in ["bearer", "BEARER", "Bearer"].into_iter().zip(keys) {
        let mut codes = Vec::new();
        for _ in 0..6 {
            let res = app
                .client
                .get(app.url("/v1/tenants/demo/conversations"))
                .header("authorization", format!("{scheme} {key}"))
                .send()
                .await
                .expect("send");
            codes.push(res.status().as_u16());
        }
        assert_eq!(codes[0], 200, "{scheme}: {codes:?}");
        assert_eq!(codes[5], 429, "{scheme} is limited like any other: {codes:?}");
    }

    // Wrong secrets sent with a key's prefix count against the sender's address, not the key.
    let prefix = &key[..12];
    let guesser = client_from("127.0.0.2");
    let mut codes = Vec::new();
    for i in 0..40 {
        let res = guesser
            .get(app.url("/v1/tenants/demo/conversations"))
            .bearer_auth(format!("{prefix}_wrong{i}"))
            .send()
            .await
            .expect("send");
        codes.push(res.status().as_u16());
    }
    assert_eq!(codes[0], 401);
    assert_eq!(codes[39], 429, "the guessing address is cut off: {codes:?}");
    let res = guesser
        .get(app.url("/v1/tenants/demo/conversations"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 429, "even with a right key, until its budget refills");
    let (status, body) = call(&app, Method::GET, "/v1/tenants/demo/conversations", Some(&key), None).await;
    assert_eq!(status, 200, "the key's owner is untouched: {body}");
    app.stop().await;
}

#[tokio::test]
async fn login_attempts_are_limited_per_client_address() {
    let app = TestApp::spawn_with(|c, _| c.auth.login_per_minute = 3).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(login(&app, &format!("x{i}@example.com"), "whatever 123").await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    app.stop().await;
}

#[tokio::test]
async fn roles_and_api_key_scopes_decide_what_is_allowed() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let said = app.say("visitor", "hello").await;
    let conversation = said["conversation_id"].as_str().expect("id").to_owned();
    let conv = format!("/v1/tenants/demo/conversations/{conversation}");

    // An admin creates people; an agent cannot.
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/tenants/demo/users",
        Some(&root),
        Some(json!({"email": "adam@example.com", "name": "Adam", "role": "admin", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 201);
    let admin = token_of(&app, "adam@example.com").await;
    for (email, role) in [("agnes@example.com", "agent"), ("vic@example.com", "viewer")] {
        let (status, body) = call(
            &app,
            Method::POST,
            "/v1/tenants/demo/users",
            Some(&admin),
            Some(json!({"email": email, "name": "X", "role": role, "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/tenants/demo/users",
        Some(&admin),
        Some(json!({"email": "boss@example.com", "name": "X", "role": "super_admin", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 422, "an admin cannot make a super admin: {body}");
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/tenants/demo/users",
        Some(&admin),
        Some(json!({"email": "weak@example.com", "name": "X", "role": "viewer", "password": "short"})),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("weak_password")));
    let agent = token_of(&app, "agnes@example.com").await;
    let viewer = token_of(&app, "vic@example.com").await;

    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/tenants/demo/users",
        Some(&agent),
        Some(json!({"email": "z@example.com", "name": "X", "role": "viewer", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        call(&app, Method::GET, "/v1/tenants/demo/conversations", Some(&viewer), None)
            .await
            .0,
        200
    );
    assert_eq!(call(&app, Method::GET, &conv, Some(&viewer), None).await.0, 200);
    assert_eq!(
        call(&app, Method::POST, &format!("{conv}/close"), Some(&viewer), None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(&app, Method::GET, "/v1/tenants/demo/audit", Some(&agent), None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/v1/tenants",
            Some(&admin),
            Some(json!({"id": "x", "name": "X", "bot": ""}))
        )
        .await
        .0,
        403
    );

    // Keys: read-only can read, not act; revoked keys stop working at once.
    let (read_key, read_id) = new_key(&app, &admin, "demo", &["read"]).await;
    assert!(read_key.starts_with("sbk_"));
    let (status, listed) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/conversations",
        Some(&read_key),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        listed["data"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["id"] == conversation.as_str())
    );
    assert_eq!(
        call(&app, Method::POST, &format!("{conv}/close"), Some(&read_key), None)
            .await
            .0,
        403
    );
    let (agent_key, _) = new_key(&app, &admin, "demo", &["agent"]).await;
    let (status, closed) = call(&app, Method::POST, &format!("{conv}/close"), Some(&agent_key), None).await;
    assert_eq!((status, closed["closed"].as_bool()), (200, Some(true)));
    let (status, keys) = call(&app, Method::GET, "/v1/tenants/demo/api-keys", Some(&admin), None).await;
    assert_eq!(status, 200);
    assert!(
        keys.to_string().find("sbk_").is_some() && !keys.to_string().contains(&read_key),
        "listed by prefix, never whole"
    );
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/v1/tenants/demo/api-keys/{read_id}"),
            Some(&admin),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/v1/tenants/demo/conversations",
            Some(&read_key),
            None
        )
        .await
        .0,
        401
    );

    // Every administrative action is in the audit log, with who did it.
    let (status, log) = call(&app, Method::GET, "/v1/tenants/demo/audit", Some(&admin), None).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = log["data"]
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["user.create", "api_key.create", "api_key.revoke", "conversation.close"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_ids_answer_like_nothing_exists() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let demo_conv = app.say("alice", "can i speak to a person").await["conversation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (demo_admin_key, demo_key_id) = new_key(&app, &root, "demo", &["admin"]).await;
    let (other_key, _) = new_key(&app, &root, "other", &["admin", "agent", "read"]).await;
    create_user(&app, "olga@example.com", "admin", Some("other"), PASSWORD);
    let olga = token_of(&app, "olga@example.com").await;
    let demo_user = create_user(&app, "dan@example.com", "viewer", Some("demo"), PASSWORD);
    let (status, hook) = call(
        &app,
        Method::POST,
        "/v1/tenants/demo/webhooks",
        Some(&demo_admin_key),
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["message.received"]})),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let w = format!("/v1/tenants/demo/webhooks/{}", hook["id"].as_str().expect("id"));

    let c = format!("/v1/tenants/demo/conversations/{demo_conv}");
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v1/tenants/demo".into(), None),
        (Method::GET, "/v1/tenants/demo/conversations".into(), None),
        (Method::GET, c.clone(), None),
        (Method::GET, format!("{c}/messages"), None),
        (Method::GET, format!("{c}/export"), None),
        (Method::POST, format!("{c}/close"), None),
        (Method::POST, format!("{c}/handoff/take"), None),
        (Method::POST, format!("{c}/handoff/reply"), Some(json!({"text": "hi"}))),
        (Method::POST, format!("{c}/handoff/release"), None),
        (Method::GET, "/v1/tenants/demo/consent".into(), None),
        (Method::GET, "/v1/tenants/demo/users".into(), None),
        (
            Method::POST,
            "/v1/tenants/demo/users".into(),
            Some(json!({"email": "m@example.com", "name": "M", "role": "admin", "password": PASSWORD})),
        ),
        (Method::DELETE, format!("/v1/tenants/demo/users/{demo_user}"), None),
        (Method::GET, "/v1/tenants/demo/api-keys".into(), None),
        (
            Method::POST,
            "/v1/tenants/demo/api-keys".into(),
            Some(json!({"name": "m", "scopes": ["admin"]})),
        ),
        (Method::DELETE, format!("/v1/tenants/demo/api-keys/{demo_key_id}"), None),
        (Method::GET, "/v1/tenants/demo/audit".into(), None),
        (Method::GET, "/v1/tenants/demo/analytics".into(), None),
        (Method::GET, "/v1/tenants/demo/connectors".into(), None),
        (
            Method::PUT,
            "/v1/tenants/demo/connectors/tg".into(),
            Some(
                json!({"channel": "telegram", "account_id": "1", "secrets": {"bot_token": "x", "webhook_secret": "y"}}),
            ),
        ),
        (Method::DELETE, "/v1/tenants/demo/connectors/tg".into(), None),
        (Method::GET, "/v1/tenants/demo/assessment-results".into(), None),
        (Method::GET, "/v1/tenants/demo/form-submissions".into(), None),
        (Method::GET, "/v1/tenants/demo/feedback".into(), None),
        (Method::GET, "/v1/tenants/demo/contacts".into(), None),
        (Method::GET, "/v1/tenants/demo/contacts/webchat/alice".into(), None),
        (Method::GET, "/v1/tenants/demo/messages?q=person".into(), None),
        (Method::GET, "/v1/tenants/demo/dead-letters".into(), None),
        (Method::POST, "/v1/tenants/demo/dead-letters/1/replay".into(), None),
        (Method::GET, "/v1/tenants/demo/bot".into(), None),
        (
            Method::POST,
            "/v1/tenants/demo/bot/validate".into(),
            Some(json!({"source": "name = \"x\"\nfallback = [\"?\"]"})),
        ),
        (Method::GET, "/v1/tenants/demo/bot/versions".into(), None),
        (
            Method::POST,
            "/v1/tenants/demo/bot/versions".into(),
            Some(json!({"source": "name = \"x\"\nfallback = [\"?\"]"})),
        ),
        (Method::POST, "/v1/tenants/demo/bot/versions/1/activate".into(), None),
        (Method::GET, "/v1/tenants/demo/webhooks".into(), None),
        (
            Method::POST,
            "/v1/tenants/demo/webhooks".into(),
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["message.sent"]})),
        ),
        (Method::DELETE, w.clone(), None),
        (Method::GET, format!("{w}/deliveries"), None),
        (Method::POST, format!("{w}/test"), None),
        (Method::GET, "/v1/tenants/demo/settings".into(), None),
        (
            Method::PATCH,
            "/v1/tenants/demo/settings".into(),
            Some(json!({"monthly_message_quota": 1})),
        ),
        (Method::POST, "/v1/tenants/demo/suspend".into(), None),
        (Method::POST, "/v1/tenants/demo/resume".into(), None),
        (Method::GET, "/v1/tenants/demo/export".into(), None),
        (Method::DELETE, "/v1/tenants/demo?confirm=demo".into(), None),
    ];
    for token in [&other_key, &olga] {
        for (method, path, body) in &attempts {
            let (status, answer) = call(&app, method.clone(), path, Some(token), body.clone()).await;
            assert_eq!(status, 404, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "unknown_tenant", "{method} {path}: {answer}");
            assert!(!answer.to_string().contains(&demo_conv), "{answer}");
        }
        // Their own tenant's listing never shows the demo's conversations.
        let (_, listed) = call(&app, Method::GET, "/v1/tenants/other/conversations", Some(token), None).await;
        assert!(!listed.to_string().contains(&demo_conv));
        let (_, tenants) = call(&app, Method::GET, "/v1/tenants", Some(token), None).await;
        assert_eq!(tenants["data"].as_array().map(Vec::len), Some(1), "{tenants}");
    }
    // Nothing was changed: the demo key, person and conversation are as they were.
    assert_eq!(
        call(&app, Method::GET, "/v1/tenants/demo/users", Some(&demo_admin_key), None)
            .await
            .0,
        200
    );
    let (_, hooks) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/webhooks",
        Some(&demo_admin_key),
        None,
    )
    .await;
    assert_eq!(hooks["data"].as_array().map(Vec::len), Some(1), "{hooks}");
    let (_, log) = call(
        &app,
        Method::GET,
        &format!("{w}/deliveries"),
        Some(&demo_admin_key),
        None,
    )
    .await;
    assert!(
        log["data"]
            .as_array()
            .is_some_and(|d| d.iter().all(|x| x["event_type"] != "ping")),
        "{log}"
    );
    let (_, conv) = call(&app, Method::GET, &c, Some(&demo_admin_key), None).await;
    assert_eq!(conv["status"], "open");
    assert_eq!(conv["handoff"]["status"], "pending");
    app.stop().await;
}

#[tokio::test]
async fn an_agent_takes_over_replies_live_and_hands_back_over_http() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (agent, _) = new_key(&app, &root, "demo", &["agent"]).await;
    let conv = app.say("bea", "can i speak to a person").await["conversation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, waiting) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/conversations?handed_over=true",
        Some(&agent),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(waiting["data"][0]["id"], conv.as_str());
    let base = format!("/v1/tenants/demo/conversations/{conv}/handoff");
    let (status, taken) = call(&app, Method::POST, &format!("{base}/take"), Some(&agent), None).await;
    assert_eq!((status, taken["handoff"]["status"].as_str()), (200, Some("assigned")));
    let (status, sent) = call(
        &app,
        Method::POST,
        &format!("{base}/reply"),
        Some(&agent),
        Some(json!({"text": "Hello Bea\u{0}, I'm here."})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        sent["content"]["text"], "Hello Bea, I'm here.",
        "control characters are stripped"
    );
    assert_eq!(
        app.say("bea", "thanks").await["replies"],
        json!([]),
        "the bot stays silent"
    );
    assert_eq!(
        call(&app, Method::POST, &format!("{base}/release"), Some(&agent), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&app, Method::POST, &format!("{base}/release"), Some(&agent), None)
            .await
            .0,
        409
    );
    assert!(app.say("bea", "hello").await["replies"][0]["text"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn api_keys_are_rate_limited_with_headers_and_answers_carry_security_headers() {
    let app = TestApp::spawn_with(|c, _| c.auth.api_per_second = 2).await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (key, _) = new_key(&app, &root, "demo", &["read"]).await;
    let mut codes = Vec::new();
    let mut last = None;
    for _ in 0..6 {
        let res = app
            .client
            .get(app.url("/v1/tenants/demo/conversations"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("send");
        codes.push(res.status().as_u16());
        last = Some(res);
    }
    assert_eq!(&codes[..4], [200, 200, 200, 200], "a burst of twice the rate");
    assert_eq!(codes[5], 429, "{codes:?}");
    let res = last.expect("a response");
    let h = res.headers();
    assert!(h.get("retry-after").is_some());
    assert_eq!(h.get("x-ratelimit-limit").and_then(|v| v.to_str().ok()), Some("4"));
    assert_eq!(h.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()), Some("0"));
    assert_eq!(
        h.get("x-content-type-options").and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(h.get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"));
    app.stop().await;
}

#[tokio::test]
async fn a_conversation_exports_as_json_lines_and_csv() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (key, _) = new_key(&app, &root, "demo", &["read"]).await;
    let mut conv = String::new();
    for text in ["hello", "tell me a joke", "thanks, \"great\""] {
        conv = app.say("exporter", text).await["conversation_id"]
            .as_str()
            .expect("id")
            .to_owned();
    }
    let get = |format: &'static str| {
        app.client
            .get(app.url(&format!("/v1/tenants/demo/conversations/{conv}/export?format={format}")))
            .bearer_auth(&key)
            .send()
    };
    let res = get("jsonl").await.expect("send");
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-length").is_none(), "streamed");
    let text = res.text().await.expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["content"]["text"], "hello");
    let csv = get("csv").await.expect("send").text().await.expect("body");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "seq,created_at,direction,channel,user,text,intent,handler,status"
    );
    assert_eq!(rows.len(), 7);
    assert!(csv.contains("\"thanks, \"\"great\"\"\""), "{csv}");
    let bad = get("xml").await.expect("send");
    assert_eq!(bad.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn analytics_count_messages_intents_fallbacks_handoffs_and_latency_per_day_and_channel() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (key, _) = new_key(&app, &root, "demo", &["read"]).await;
    for (user, text) in [
        ("a1", "hello"),
        ("a1", "tell me a joke"),
        ("a2", "hello"),
        ("a2", "qwzx vbnm plok"),
        ("a3", "can i speak to a person"),
    ] {
        app.say(user, text).await;
    }
    let (status, report) = call(&app, Method::GET, "/v1/tenants/demo/analytics", Some(&key), None).await;
    assert_eq!(status, 200, "{report}");
    let totals = &report["totals"];
    assert_eq!(totals["inbound"], 5, "{report}");
    assert_eq!(totals["outbound"], 5, "{report}");
    assert_eq!(totals["conversations"], 3, "{report}");
    assert_eq!(totals["handoff_rate"].as_f64(), Some(0.2), "{report}");
    assert!(totals["fallback_rate"].as_f64().is_some_and(|r| r >= 0.2), "{report}");
    assert!(
        totals["avg_response_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{report}"
    );
    let day = &report["days"][0];
    assert_eq!(day["channel"], "webchat");
    let intents: Vec<(&str, u64)> = report["intents"]
        .as_array()
        .expect("intents")
        .iter()
        .filter_map(|i| Some((i["intent"].as_str()?, i["count"].as_u64()?)))
        .collect();
    assert_eq!(intents.first(), Some(&("greeting", 2)), "{intents:?}");
    // A range before anything happened is empty, a bad one is a 400.
    let (_, empty) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/analytics?since=2020-01-01&until=2020-01-31",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(empty["totals"]["inbound"], 0, "{empty}");
    let (status, _) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/analytics?since=yesterday",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn assessment_results_form_submissions_and_feedback_are_readable_per_tenant() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (key, _) = new_key(&app, &root, "demo", &["read"]).await;
    let (other, _) = new_key(&app, &root, "other", &["read"]).await;
    let button = |user: &'static str, payload: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.post("demo", json!({"user": user, "payload": payload})).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    app.say("wendy", "start the wellbeing check").await;
    button("wendy", "okay").await;
    button("wendy", "5").await;
    app.say("wendy", "seven").await;
    app.say("wendy", "1, 2").await;
    button("wendy", "csat:5").await;
    app.say("wendy", "skip").await;
    for text in ["book a table for 4 tomorrow at 8pm", "Ana Smith", "ana@example.com"] {
        app.say("fred", text).await;
    }
    button("fred", "yes").await;

    let (status, results) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/assessment-results?user=wendy",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(results["data"][0]["score"], 9.0, "{results}");
    assert_eq!(results["data"][0]["assessment"], "wellbeing");
    let (_, forms) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/form-submissions?form=booking",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(forms["data"].as_array().map(Vec::len), Some(1), "{forms}");
    assert_eq!(forms["data"][0]["values"]["name"], "Ana Smith", "{forms}");
    let (_, feedback) = call(&app, Method::GET, "/v1/tenants/demo/feedback", Some(&key), None).await;
    assert_eq!(feedback["data"][0]["score"], 5, "{feedback}");
    for path in ["assessment-results", "form-submissions", "feedback"] {
        let (status, body) = call(
            &app,
            Method::GET,
            &format!("/v1/tenants/demo/{path}"),
            Some(&other),
            None,
        )
        .await;
        assert_eq!(status, 404, "{body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn connectors_are_managed_over_the_api_and_their_secrets_never_come_back() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (admin, _) = new_key(&app, &root, "demo", &["admin"]).await;
    let (reader, _) = new_key(&app, &root, "demo", &["read"]).await;
    let body = json!({
        "channel": "telegram",
        "account_id": "7000000001",
        "secrets": {"bot_token": "7000000001:FAKE", "webhook_secret": "fake_Secret-Token_0001"},
        "settings": {"api_base": "http://127.0.0.1:9"},
    });
    let (status, _) = call(
        &app,
        Method::PUT,
        "/v1/tenants/demo/connectors/tg",
        Some(&reader),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, saved) = call(
        &app,
        Method::PUT,
        "/v1/tenants/demo/connectors/tg",
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["secrets"], json!(["bot_token", "webhook_secret"]));
    assert!(
        saved["webhook_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/v1/webhooks/demo/tg")),
        "{saved}"
    );
    let (_, listed) = call(&app, Method::GET, "/v1/tenants/demo/connectors", Some(&admin), None).await;
    assert!(
        !listed.to_string().contains("FAKE") && !listed.to_string().contains("fake_Secret"),
        "{listed}"
    );
    // The connector works: a webhook with its secret is accepted. (Refusals are counted in a
    // metric other tests assert on, so they are tested in webhooks.rs only.)
    let accepted = app
        .client
        .post(app.url("/v1/webhooks/demo/tg"))
        .header("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")
        .header("content-type", "application/json")
        .body(channel_fixture("telegram/text_message.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(accepted.status(), 200);
    // Missing secrets are a clear 422.
    let (status, bad) = call(
        &app,
        Method::PUT,
        "/v1/tenants/demo/connectors/sl",
        Some(&admin),
        Some(json!({"channel": "slack", "account_id": "T1", "secrets": {}})),
    )
    .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (422, Some("invalid_connector")),
        "{bad}"
    );
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            "/v1/tenants/demo/connectors/tg",
            Some(&admin),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            "/v1/tenants/demo/connectors/tg",
            Some(&admin),
            None
        )
        .await
        .0,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn contacts_and_message_search_show_the_tenants_end_users() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (key, _) = new_key(&app, &root, "demo", &["read"]).await;
    app.say("carmen", "hola").await;
    app.say("carmen", "cuéntame un chiste").await;
    app.say("dirk", "tell me a joke").await;
    let (status, contacts) = call(&app, Method::GET, "/v1/tenants/demo/contacts", Some(&key), None).await;
    assert_eq!(status, 200, "{contacts}");
    let users: Vec<&str> = contacts["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|c| c["user"].as_str())
        .collect();
    assert_eq!(users, ["dirk", "carmen"], "most recent first");
    let (status, carmen) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/contacts/webchat/carmen",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{carmen}");
    assert_eq!(carmen["language"], "es", "{carmen}");
    assert_eq!(carmen["conversations"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/v1/tenants/demo/contacts/webchat/nobody",
            Some(&key),
            None
        )
        .await
        .0,
        404
    );
    let (_, found) = call(&app, Method::GET, "/v1/tenants/demo/messages?q=JOKE", Some(&key), None).await;
    let texts: Vec<&str> = found["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["content"]["text"].as_str())
        .collect();
    assert!(texts.contains(&"tell me a joke"), "{texts:?}");
    let (_, none) = call(
        &app,
        Method::GET,
        "/v1/tenants/demo/messages?q=100%25_sure",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(none["data"], json!([]), "LIKE wildcards are taken literally");
    let (status, dead) = call(&app, Method::GET, "/v1/tenants/demo/dead-letters", Some(&key), None).await;
    assert_eq!((status, dead["data"].clone()), (200, json!([])));
    app.stop().await;
}

#[tokio::test]
async fn a_bot_version_is_validated_uploaded_and_activated_over_the_api() {
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (admin, _) = new_key(&app, &root, "other", &["admin"]).await;
    let broken = json!({"source": "name = \"x\"\n[[intent]]\nname = 3"});
    let (status, checked) = call(
        &app,
        Method::POST,
        "/v1/tenants/other/bot/validate",
        Some(&admin),
        Some(broken.clone()),
    )
    .await;
    assert_eq!((status, checked["valid"].as_bool()), (200, Some(false)), "{checked}");
    assert!(checked["error"].as_str().is_some_and(|e| !e.is_empty()));
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/tenants/other/bot/versions",
        Some(&admin),
        Some(broken),
    )
    .await;
    assert_eq!(status, 422);
    let source = "name = \"Other v2\"\nfallback = [\"v2 fallback\"]\n[[intent]]\nname = \"greeting\"\nexamples = [\"hello\", \"hi\"]\nresponses = [\"Hello from version two\"]\n";
    let (status, uploaded) = call(
        &app,
        Method::POST,
        "/v1/tenants/other/bot/versions",
        Some(&admin),
        Some(json!({"source": source})),
    )
    .await;
    assert_eq!(status, 201, "{uploaded}");
    let id = uploaded["id"].as_i64().expect("id");
    // Uploaded is not running yet.
    let (_, before) = app.post("other", json!({"user": "u", "text": "hello"})).await;
    assert_eq!(before["replies"][0]["text"], "Hello from the other tenant");
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/v1/tenants/other/bot/versions/{id}/activate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, after) = app.post("other", json!({"user": "u", "text": "hello"})).await;
    assert_eq!(after["replies"][0]["text"], "Hello from version two", "{after}");
    let (_, versions) = call(&app, Method::GET, "/v1/tenants/other/bot/versions", Some(&admin), None).await;
    assert!(versions["data"][0]["activated_at"].is_i64(), "{versions}");
    let (_, running) = call(&app, Method::GET, "/v1/tenants/other/bot", Some(&admin), None).await;
    assert_eq!(running["source"], source);
    app.stop().await;
}

/// 10,000 messages (5,000 turns written through the store while the server is down), then
/// exported over HTTP: the body arrives as a stream of many chunks, one JSON line per message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_of_ten_thousand_messages_is_exported_as_a_stream() {
    use futures_util::StreamExt as _;
    use switchboard_core::{Channel, Content, ConversationContext, MessageId, Processed, TenantId};
    use switchboard_store::{Erase, NewInbound, Priority, TurnCommit};

    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let dir = app.stop().await;
    let store = switchboard::app::open_store(&test_config(dir.path()), switchboard_core::Clock::System)
        .await
        .expect("store");
    let demo = TenantId::parse("demo").expect("id");
    let mut conversation = None;
    for i in 0..5_000 {
        let accepted = store
            .accept_inbound(
                &demo,
                NewInbound {
                    id: MessageId::generate(),
                    channel: Channel::Webchat,
                    user: "archivist".into(),
                    content: Content::text(format!("message {i}")),
                    metadata: json!({}),
                    external_id: None,
                    priority: Priority::Interactive,
                },
            )
            .await
            .expect("accept");
        let job = accepted.job.as_ref().expect("job").id;
        store
            .complete_turn(
                &demo,
                TurnCommit {
                    job_id: job,
                    conversation: accepted.conversation.clone(),
                    message: accepted.message.clone(),
                    processed: Processed::default(),
                    replies: vec![Content::text(format!("reply {i}"))],
                    context: ConversationContext::default(),
                    deliver: false,
                    consent: None,
                    erase: Erase::Nothing,
                    handoff: None,
                },
            )
            .await
            .expect("complete");
        conversation = Some(accepted.conversation);
    }
    store.close();
    let conversation = conversation.expect("a conversation");
    let app = TestApp::spawn_in(dir, |_, _| {}).await;
    let root = token_of(&app, "root@example.com").await;
    let res = app
        .client
        .get(app.url(&format!("/v1/tenants/demo/conversations/{conversation}/export")))
        .bearer_auth(&root)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("content-length").is_none(),
        "streamed, not sized up front"
    );
    let mut chunks = 0;
    let mut lines = 0;
    let mut last = Value::Null;
    let mut partial = Vec::new();
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("chunk");
        chunks += 1;
        partial.extend_from_slice(&chunk);
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            last = serde_json::from_slice(&line).expect("a JSON line");
            lines += 1;
        }
    }
    assert_eq!(lines, 10_000);
    assert!(chunks > 1, "arrives in pieces: {chunks} chunks");
    assert_eq!(last["seq"], 10_000);
    assert_eq!(last["content"]["text"], "reply 4999");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_urls_may_not_reach_the_servers_own_network() {
    let app = TestApp::spawn_with(|c, _| {
        c.server.allow_private_targets = false;
        c.events.poll_interval_ms = 50;
    })
    .await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let (status, hook) = call(
        &app,
        Method::POST,
        "/v1/tenants/demo/webhooks",
        Some(&root),
        Some(json!({"url": "http://169.254.169.254/latest/meta-data", "events": ["message.sent"]})),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| hook["id"].as_i64().map(|i| i.to_string()))
        .expect("id");
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/v1/tenants/demo/webhooks/{id}/test"),
        Some(&root),
        None,
    )
    .await;
    assert!(status < 300, "{status}");
    let failed = eventually(10, "the delivery to be refused", || {
        let (app, root, id) = (&app, root.clone(), id.clone());
        async move {
            let (_, log) = call(
                app,
                Method::GET,
                &format!("/v1/tenants/demo/webhooks/{id}/deliveries"),
                Some(&root),
                None,
            )
            .await;
            let d = log["data"].as_array()?.first()?.clone();
            (d["status"] == "failed").then_some(d)
        }
    })
    .await;
    assert!(
        failed["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("not a public address")),
        "{failed}"
    );
    app.stop().await;
}
