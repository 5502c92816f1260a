//! Forms through the web chat API of a running server: slots filled from the first message,
//! invalid answers asked again, corrections, cancel, questions in between, a form that goes on
//! after a restart, handoff; and the HTTP action, received by a local endpoint that checks the
//! signature, including one that fails before it accepts (on a clock the test moves).

use crate::helpers::*;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use switchboard::config::TenantConfig;
use switchboard_core::{Clock, TenantId};
use switchboard_store::{Submission, SubmissionStatus};

/// 2026-11-20T10:00:00Z, a Friday.
const START: i64 = 1_795_168_800_000;
const SECRET: &str = "whsec_test_0001";

async fn texts(app: &TestApp, tenant: &str, user: &str, text: &str) -> Vec<String> {
    let (status, body) = app.post(tenant, json!({"user": user, "text": text})).await;
    assert_eq!(status, 200, "{body}");
    body["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .map(|r| r["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn submissions(app: &TestApp, tenant: &str) -> Vec<Submission> {
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let t = TenantId::parse(tenant).expect("id");
    let all = store.form_submissions(&t, None, 100).await.expect("submissions");
    store.close();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_takes_what_the_first_message_says_reasks_bad_answers_and_takes_corrections() {
    let app = TestApp::spawn_clocked(tempfile::tempdir().expect("tempdir"), Clock::manual(START), |_, _| {}).await;
    let say = |text: &'static str| texts(&app, "demo", "ana", text);
    assert_eq!(say("book a table for 4 tomorrow at 8pm").await, ["Under which name?"]);
    assert_eq!(
        say("Ana Smith").await,
        ["And an email address or phone number, for the confirmation?"]
    );
    assert_eq!(
        say("ana@example").await,
        ["That is neither an email address nor a phone number. How can we reach you?"]
    );
    assert_eq!(
        say("actually make it 40 people").await,
        ["We take tables for 1 to 12 people. For how many people?"],
        "a correction is checked like an answer"
    );
    assert_eq!(
        say("no, make it 5 people").await,
        [
            "Got it: people is now 5.",
            "And an email address or phone number, for the confirmation?"
        ]
    );
    let summary = say("ana@example.com").await;
    assert_eq!(
        summary,
        ["A table for 5 on 2026-11-21 at 20:00, under the name Ana Smith (ana@example.com). Shall I book it?"]
    );
    let done = say("yes").await;
    assert!(
        done[0].starts_with("Booked: a table for 5 on 2026-11-21 at 20:00."),
        "{done:?}"
    );

    let stored = submissions(&app, "demo").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, SubmissionStatus::Stored);
    assert_eq!(stored[0].user, "ana");
    assert_eq!(stored[0].values["people"], 5);
    assert_eq!(stored[0].values["name"], "Ana Smith");
    assert_eq!(stored[0].values["contact"], "ana@example.com");
    assert_eq!(
        stored[0].values["when"]["value"].as_str().map(|v| &v[11..16]),
        Some("20:00")
    );

    // The operator reads it with the CLI.
    let out = switchboard_in(app.dir.path().join("data"))
        .args(["forms", "submissions", "--tenant", "demo", "--json"])
        .output()
        .expect("run the CLI");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(
        (line["form"].as_str(), line["status"].as_str()),
        (Some("booking"), Some("stored"))
    );

    // Another person's cancelled form stores nothing.
    assert_eq!(texts(&app, "demo", "bo", "book a table").await.len(), 1);
    assert_eq!(
        texts(&app, "demo", "bo", "cancel").await,
        ["OK, I've cancelled the booking. Nothing was booked."]
    );
    assert_eq!(
        texts(&app, "demo", "bo", "hello").await.len(),
        1,
        "the conversation goes on"
    );
    assert_eq!(submissions(&app, "demo").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_mid_form_is_answered_then_the_form_asks_again_and_finishes() {
    let app = TestApp::spawn().await;
    let say = |text: &'static str| texts(&app, "demo", "cem", text);
    assert_eq!(say("book a table for 2 tomorrow at 1pm").await, ["Under which name?"]);
    let faq = say("where can I park my car?").await;
    assert_eq!(faq.len(), 2, "{faq:?}");
    assert!(faq[0].ends_with("— Parking and access › Parking"), "{faq:?}");
    assert_eq!(faq[1], "Under which name?");
    let small_talk = say("tell me a joke").await;
    assert_eq!(small_talk.len(), 2, "{small_talk:?}");
    assert_eq!(small_talk[1], "Under which name?");
    assert_eq!(
        say("Cem").await,
        ["And an email address or phone number, for the confirmation?"]
    );
    assert!(say("cem@example.com").await[0].starts_with("A table for 2"));
    assert!(say("yes").await[0].starts_with("Booked:"));
    assert_eq!(submissions(&app, "demo").await[0].values["name"], "Cem");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_goes_on_after_a_restart_and_a_person_taking_over_silences_it() {
    let app = TestApp::spawn().await;
    assert_eq!(
        texts(&app, "demo", "dee", "book a table for 3 tomorrow at 7pm").await,
        ["Under which name?"]
    );
    let app = TestApp::spawn_in(app.stop().await, |_, _| {}).await;
    assert_eq!(
        texts(&app, "demo", "dee", "Dee").await,
        ["And an email address or phone number, for the confirmation?"],
        "the form's state lives in the stored context"
    );

    let handoff = texts(&app, "demo", "dee", "i want to talk to a human").await;
    assert_eq!(
        handoff,
        ["I'm passing you to a person. Someone will answer here as soon as possible."]
    );
    for text in ["dee@example.com", "yes", "cancel"] {
        assert!(
            texts(&app, "demo", "dee", text).await.is_empty(),
            "silent after the handoff: {text}"
        );
    }
    assert!(submissions(&app, "demo").await.is_empty());
}

const HOOK_BOT: &str = r#"
name = "Signup"
fallback = ["Sorry?"]

[[intent]]
name = "signup"
handler = "form"
form = "signup"
examples = ["sign me up", "i want to sign up", "register me"]

[[form]]
name = "signup"
done = ["Thanks {{ slots.name }}, you are signed up (#{{ submission.id }})."]
action = { kind = "http", url = "URL", secret = "SECRET", max_attempts = 5 }

[[form.slot]]
name = "name"
ask = ["Your name?"]

[[form.slot]]
name = "email"
entity = "email"
ask = ["Your email?"]
"#;

/// What the tenant's endpoint received: the signature check, the idempotency key, the body.
type Received = Arc<Mutex<Vec<(bool, String, Value)>>>;

/// The tenant's endpoint: checks `X-Switchboard-Signature` as the README tells receivers to,
/// records the call, and answers the next status of `answers` (the last one repeats); a 429
/// asks to wait ten minutes (`Retry-After: 600`).
async fn endpoint(answers: Vec<u16>) -> (String, Received) {
    let received: Received = Arc::default();
    let state = (received.clone(), Arc::new(Mutex::new(answers)));
    async fn hook(
        State((received, answers)): State<(Received, Arc<Mutex<Vec<u16>>>)>,
        req: Request,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        // Read before the body is awaited: the request itself cannot be held across it.
        let (signature, key) = {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            (header("x-switchboard-signature"), header("idempotency-key"))
        };
        let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
        let verified = verify(&signature, &body);
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        received.lock().expect("lock").push((verified, key, json));
        let mut a = answers.lock().expect("lock");
        let status = StatusCode::from_u16(if a.len() > 1 { a.remove(0) } else { a[0] }).expect("status");
        match status {
            StatusCode::TOO_MANY_REQUESTS => (status, [("retry-after", "600")]).into_response(),
            _ => status.into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hooks/signup", listener.local_addr().expect("addr"));
    let router = axum::Router::new()
        .route("/hooks/signup", axum::routing::post(hook))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

/// `t=<secs>,v1=<hex>`: HMAC-SHA256 over "<t>.<body>" with the shared secret.
fn verify(header: &str, body: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let mut parts = header.split(',').filter_map(|p| p.split_once('='));
    let (Some(("t", t)), Some(("v1", v1))) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else { return false };
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn spawn_hook_bot(url: &str, clock: Clock) -> TestApp {
    // The key is a tenant secret the definition names: it is never in the definition itself.
    let source = HOOK_BOT.replace("URL", url).replace("SECRET", "secret:signup_hook");
    let app = TestApp::spawn_clocked(tempfile::tempdir().expect("tempdir"), clock, move |config, dir| {
        config.forms.poll_interval_ms = 50;
        config.forms.backoff_base_ms = 1_000;
        config.forms.backoff_max_ms = 60_000;
        config.tenants.push(TenantConfig {
            id: "signup".into(),
            name: "Signup".into(),
            bot_dir: write_bot(dir, "signup", &source),
        });
    })
    .await;
    set_tenant_secret(&app, "signup", "signup_hook", SECRET);
    app
}

async fn sign_up(app: &TestApp, user: &str) {
    assert_eq!(texts(app, "signup", user, "sign me up").await, ["Your name?"]);
    assert_eq!(texts(app, "signup", user, "Eva").await, ["Your email?"]);
    let done = texts(app, "signup", user, "eva@example.com").await;
    assert!(done[0].starts_with("Thanks Eva, you are signed up (#"), "{done:?}");
}

async fn calls(received: &Received, n: usize) -> Vec<(bool, String, Value)> {
    eventually(15, &format!("{n} calls to the endpoint"), || async {
        let r = received.lock().expect("lock").clone();
        (r.len() >= n).then_some(r)
    })
    .await
}

async fn status_becomes(app: &TestApp, status: SubmissionStatus) -> Submission {
    eventually(15, &format!("a {status:?} submission"), || async {
        submissions(app, "signup")
            .await
            .into_iter()
            .find(|s| s.status == status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_form_is_posted_signed_to_the_tenants_endpoint() {
    let (url, received) = endpoint(vec![200]).await;
    let app = spawn_hook_bot(&url, Clock::System).await;
    sign_up(&app, "eva").await;
    let got = calls(&received, 1).await;
    let (verified, key, body) = &got[0];
    assert!(verified, "the signature checks out");
    let sent = status_becomes(&app, SubmissionStatus::Sent).await;
    assert_eq!(key, &sent.id.to_string());
    assert_eq!(body["id"], sent.id);
    assert_eq!(body["form"], "signup");
    assert_eq!(body["tenant"], "signup");
    assert_eq!(body["user"], "eva");
    assert_eq!(body["conversation"], sent.conversation.as_str());
    assert_eq!(body["values"], json!({"name": "Eva", "email": "eva@example.com"}));
    assert!(
        body["submitted_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    assert_eq!(sent.attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_fails_twice_gets_the_submission_once_it_accepts() {
    let clock = Clock::manual(START);
    let (url, received) = endpoint(vec![503, 503, 200]).await;
    let app = spawn_hook_bot(&url, clock.clone()).await;
    sign_up(&app, "fay").await;
    assert_eq!(calls(&received, 1).await.len(), 1);
    let waiting = eventually(15, "the first retry to be scheduled", || async {
        submissions(&app, "signup").await.into_iter().find(|s| s.attempts == 1)
    })
    .await;
    assert_eq!(waiting.status, SubmissionStatus::Pending);
    assert!(
        waiting.last_error.as_deref().is_some_and(|e| e.starts_with("HTTP 503")),
        "{waiting:?}"
    );
    assert!(
        waiting.next_attempt_at.is_some_and(|t| t > START),
        "backed off: {waiting:?}"
    );

    // Nothing is sent again before the backoff is over (the sender polls every 50 ms)...
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.lock().expect("lock").len(), 1, "waits for its backoff");
    // ...and moving the clock past it sends it.
    clock.advance(60_000);
    assert_eq!(calls(&received, 2).await.len(), 2);
    eventually(15, "the second retry to be scheduled", || async {
        submissions(&app, "signup").await.into_iter().find(|s| s.attempts == 2)
    })
    .await;
    clock.advance(60_000);
    let sent = status_becomes(&app, SubmissionStatus::Sent).await;
    assert_eq!(sent.attempts, 3);
    let got = calls(&received, 3).await;
    assert!(
        got.iter()
            .all(|(verified, key, _)| *verified && *key == sent.id.to_string())
    );
    // Later rounds send nothing more.
    clock.advance(3_600_000);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.lock().expect("lock").len(), 3, "sent once it was accepted");
    let all = submissions(&app, "signup").await;
    assert_eq!(all.len(), 1, "one submission");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_a_refusal_fails_the_submission_for_good() {
    let clock = Clock::manual(START);
    let (url, received) = endpoint(vec![429, 400, 200]).await;
    let app = spawn_hook_bot(&url, clock.clone()).await;
    sign_up(&app, "gus").await;
    assert_eq!(calls(&received, 1).await.len(), 1);
    let waiting = eventually(15, "the retry to be scheduled", || async {
        submissions(&app, "signup").await.into_iter().find(|s| s.attempts == 1)
    })
    .await;
    assert!(
        waiting.next_attempt_at.is_some_and(|t| t >= START + 600_000),
        "the endpoint asked for ten minutes: {waiting:?}"
    );
    // Past the backoff but not the Retry-After: nothing is sent.
    clock.advance(120_000);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.lock().expect("lock").len(), 1, "waits as asked");
    clock.advance(600_000);
    let failed = status_becomes(&app, SubmissionStatus::Failed).await;
    assert_eq!(failed.attempts, 2);
    assert!(
        failed.last_error.as_deref().is_some_and(|e| e.starts_with("HTTP 400")),
        "{failed:?}"
    );
    clock.advance(3_600_000);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.lock().expect("lock").len(), 2, "a refusal is final");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_names_its_form_key_and_never_holds_it() {
    use crate::api::{PASSWORD, call, create_user, token_of};
    let app = TestApp::spawn().await;
    create_user(&app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(&app, "root@example.com").await;
    let with = |secret: &str| {
        HOOK_BOT
            .replace("URL", "https://hooks.example.com/x")
            .replace("SECRET", secret)
    };
    for (secret, accepted) in [
        ("whsec_inline_key", false),
        ("env:SWITCHBOARD_MASTER_KEY", false),
        ("secret:", false),
        ("secret:signup_hook", true),
    ] {
        let (status, body) = call(
            &app,
            reqwest::Method::POST,
            "/v1/tenants/demo/bot/versions",
            Some(&root),
            Some(json!({"source": with(secret)})),
        )
        .await;
        assert_eq!(status == 201, accepted, "{secret}: {status} {body}");
        let (_, check) = call(
            &app,
            reqwest::Method::POST,
            "/v1/tenants/demo/bot/validate",
            Some(&root),
            Some(json!({"source": with(secret)})),
        )
        .await;
        assert_eq!(check["valid"], accepted, "{secret}: {check}");
    }
    let (_, versions) = call(
        &app,
        reqwest::Method::GET,
        "/v1/tenants/demo/bot/versions",
        Some(&root),
        None,
    )
    .await;
    assert!(!versions.to_string().contains("whsec_inline_key"), "{versions}");
}
