//! Outbound event webhooks over HTTP against a running server: a local endpoint plays the
//! tenant's receiver and checks every signature; web chat turns, handoffs and closing a
//! conversation reach it; an endpoint that fails is retried on a clock the test moves, one that
//! answers 410 is disabled; the delivery log, the test ping and who may manage webhooks.

use crate::api::{PASSWORD, call, create_user, new_key, token_of};
use crate::event_receiver::{Call, Received, SECRET, receiver, verify};
use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_core::Clock;

/// 2026-11-20T10:00:00Z.
const START: i64 = 1_795_168_800_000;
const ALL: [&str; 9] = [
    "message.received",
    "message.sent",
    "message.delivered",
    "conversation.started",
    "conversation.updated",
    "conversation.ended",
    "handoff.requested",
    "handoff.taken",
    "handoff.released",
];

pub(crate) async fn spawn(clock: Clock) -> TestApp {
    TestApp::spawn_clocked(tempfile::tempdir().expect("tempdir"), clock, |config, _| {
        config.events.poll_interval_ms = 50;
        config.events.backoff_base_ms = 1_000;
        config.events.backoff_max_ms = 60_000;
    })
    .await
}

/// An admin key and an agent key (with its id) of the demo tenant.
pub(crate) async fn keys(app: &TestApp) -> (String, (String, String)) {
    create_user(app, "root@example.com", "super_admin", None, PASSWORD);
    let root = token_of(app, "root@example.com").await;
    let (admin, _) = new_key(app, &root, "demo", &["admin"]).await;
    (admin, new_key(app, &root, "demo", &["agent"]).await)
}

pub(crate) async fn subscribe(app: &TestApp, admin: &str, url: &str, events: &[&str]) -> String {
    let body = json!({"url": url, "events": events, "secret": SECRET});
    let (status, hook) = call(app, Method::POST, "/v1/tenants/demo/webhooks", Some(admin), Some(body)).await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["secret"], SECRET, "shown once");
    hook["id"].as_str().expect("id").to_owned()
}

pub(crate) async fn calls_until(received: &Received, what: &str, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
    eventually(15, what, || async {
        let r = received.lock().expect("lock").clone();
        done(&r).then_some(r)
    })
    .await
}

fn of_type<'a>(calls: &'a [Call], kind: &str) -> Vec<&'a Call> {
    calls.iter().filter(|c| c.event == kind).collect()
}

async fn log(app: &TestApp, admin: &str, hook: &str) -> Vec<Value> {
    let path = format!("/v1/tenants/demo/webhooks/{hook}/deliveries?limit=200");
    let (status, body) = call(app, Method::GET, &path, Some(admin), None).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_handoffs_and_closing_reach_the_endpoint_signed() {
    let (url, received) = receiver(SECRET, vec![200]).await;
    let app = spawn(Clock::System).await;
    let (admin, (agent, agent_id)) = keys(&app).await;
    let hook = subscribe(&app, &admin, &url, &ALL).await;

    let conv = app.say("ana", "hello").await["conversation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.say("ana", "tell me a joke").await;
    let got = calls_until(&received, "both turns' messages", |c| {
        of_type(c, "message.received").len() == 2 && of_type(c, "message.sent").len() >= 2
    })
    .await;
    assert_eq!(of_type(&got, "conversation.started").len(), 1, "started once");
    let started = &of_type(&got, "conversation.started")[0].body;
    assert_eq!(started["data"]["conversation"]["id"], conv.as_str());
    let first = &of_type(&got, "message.received")[0].body;
    assert_eq!(
        (
            first["type"].as_str(),
            first["tenant"].as_str(),
            first["data"]["message"]["content"]["text"].as_str()
        ),
        (Some("message.received"), Some("demo"), Some("hello"))
    );
    assert_eq!(first["data"]["message"]["direction"], "in");
    assert_eq!(first["data"]["message"]["status"], "processed");
    assert!(
        first["created_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{first}"
    );
    let reply = &of_type(&got, "message.sent")[0].body["data"]["message"];
    assert_eq!(
        (reply["direction"].as_str(), reply["status"].as_str()),
        (Some("out"), Some("sent"))
    );
    assert_eq!(reply["in_reply_to"], first["data"]["message"]["id"]);

    // A person is asked for, an agent takes the conversation, hands it back and closes it.
    app.say("ana", "can i speak to a person").await;
    let c = format!("/v1/tenants/demo/conversations/{conv}");
    for (action, body, expected) in [
        ("handoff/take", None, 200),
        ("handoff/reply", Some(json!({"text": "Hi Ana, Sam here"})), 201),
        ("handoff/release", None, 200),
        ("close", None, 200),
    ] {
        let (status, answer) = call(&app, Method::POST, &format!("{c}/{action}"), Some(&agent), body).await;
        assert_eq!(status, expected, "{action}: {answer}");
    }
    let agent_said = |c: &Call| c.body["data"]["message"]["content"]["text"] == "Hi Ana, Sam here";
    let got = calls_until(&received, "the handoff and the end", |c| {
        [
            "handoff.requested",
            "handoff.taken",
            "handoff.released",
            "conversation.ended",
        ]
        .iter()
        .all(|k| of_type(c, k).len() == 1)
            && of_type(c, "message.sent").into_iter().any(agent_said)
    })
    .await;
    assert_eq!(
        of_type(&got, "handoff.taken")[0].body["data"]["agent"],
        format!("key:{agent_id}")
    );
    assert!(of_type(&got, "handoff.requested")[0].body["data"]["reason"].is_string());
    assert_eq!(of_type(&got, "conversation.ended")[0].body["data"]["reason"], "closed");
    assert_eq!(of_type(&got, "conversation.started").len(), 1, "still once");
    for c in &got {
        assert!(c.verified, "{c:?}");
        assert_eq!(c.body["type"], c.event.as_str());
        assert_eq!(c.body["id"], c.idempotency_key.as_str());
        assert_eq!(c.body["tenant"], "demo");
        if c.body["data"]["conversation"].is_object() {
            assert_eq!(c.body["data"]["conversation"]["id"], conv.as_str(), "{c:?}");
        }
    }
    let ids: std::collections::HashSet<_> = got.iter().map(|c| c.idempotency_key.clone()).collect();
    assert_eq!(ids.len(), got.len(), "one call per event");

    // The delivery log: every call, sent, newest first.
    let n = got.len();
    let entries = eventually(15, "the log to show every call sent", || async {
        let l = log(&app, &admin, &hook).await;
        (l.len() == n && l.iter().all(|d| d["status"] == "sent")).then_some(l)
    })
    .await;
    assert!(entries.windows(2).all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()));
    assert_eq!(entries[0]["last_status_code"], 200);
    assert!(
        got.iter()
            .any(|c| c.delivery.parse::<i64>().ok() == entries[0]["id"].as_i64())
    );
    let path = format!("/v1/tenants/demo/webhooks/{hook}/deliveries?limit=2");
    let (_, two) = call(&app, Method::GET, &path, Some(&admin), None).await;
    assert_eq!(two["data"].as_array().map(Vec::len), Some(2));
    assert!(
        app.metrics()
            .await
            .contains("switchboard_event_deliveries_total{result=\"sent\"}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_until_it_accepts_and_a_gone_one_is_disabled() {
    let clock = Clock::manual(START);
    let (url, received) = receiver(SECRET, vec![503, 503, 200]).await;
    let app = spawn(clock.clone()).await;
    let (admin, _) = keys(&app).await;
    let hook = subscribe(&app, &admin, &url, &["message.received"]).await;
    app.say("fay", "hello").await;
    calls_until(&received, "the first attempt", |c| c.len() == 1).await;
    let waiting = eventually(15, "the first retry to be scheduled", || async {
        log(&app, &admin, &hook).await.into_iter().find(|d| d["attempts"] == 1)
    })
    .await;
    assert_eq!(
        (waiting["status"].as_str(), waiting["last_status_code"].as_i64()),
        (Some("pending"), Some(503))
    );
    assert!(
        waiting["next_attempt_at"].as_i64().is_some_and(|t| t > START),
        "{waiting}"
    );
    // Nothing is sent again before the backoff is over (the sender polls every 50 ms)...
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.lock().expect("lock").len(), 1, "waits for its backoff");
    // ...and moving the clock past it sends it.
    clock.advance(60_000);
    calls_until(&received, "the second attempt", |c| c.len() == 2).await;
    eventually(15, "the second retry to be scheduled", || async {
        log(&app, &admin, &hook).await.into_iter().find(|d| d["attempts"] == 2)
    })
    .await;
    clock.advance(60_000);
    let sent = eventually(15, "the delivery to be sent", || async {
        log(&app, &admin, &hook)
            .await
            .into_iter()
            .find(|d| d["status"] == "sent")
    })
    .await;
    assert_eq!(
        (sent["attempts"].as_i64(), sent["last_status_code"].as_i64()),
        (Some(3), Some(200))
    );
    let got = received.lock().expect("lock").clone();
    assert!(got.iter().all(|c| c.verified
        && c.idempotency_key == got[0].idempotency_key
        && c.delivery.parse::<i64>().ok() == sent["id"].as_i64()));
    clock.advance(3_600_000);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.lock().expect("lock").len(), 3, "sent once it was accepted");
    assert_eq!(log(&app, &admin, &hook).await.len(), 1);

    // An endpoint that answers 410 Gone is disabled after one attempt; nothing more goes there.
    let (gone_url, gone_received) = receiver(SECRET, vec![410]).await;
    let gone = subscribe(&app, &admin, &gone_url, &["message.received"]).await;
    app.say("gil", "hello").await;
    calls_until(&gone_received, "the gone endpoint's call", |c| c.len() == 1).await;
    let failed = eventually(15, "the delivery to fail", || async {
        log(&app, &admin, &gone)
            .await
            .into_iter()
            .find(|d| d["status"] == "failed")
    })
    .await;
    assert_eq!(
        (failed["attempts"].as_i64(), failed["last_status_code"].as_i64()),
        (Some(1), Some(410))
    );
    let (_, hooks) = call(&app, Method::GET, "/v1/tenants/demo/webhooks", Some(&admin), None).await;
    let listed = hooks["data"].as_array().cloned().unwrap_or_default();
    let enabled = |id: &str| listed.iter().find(|h| h["id"] == id).map(|h| h["enabled"].clone());
    assert_eq!(
        (enabled(&hook), enabled(&gone)),
        (Some(json!(true)), Some(json!(false)))
    );
    app.say("gil", "hello again").await;
    clock.advance(3_600_000);
    calls_until(&received, "the working endpoint's second event", |c| c.len() == 5).await;
    assert_eq!(gone_received.lock().expect("lock").len(), 1, "disabled");
    assert_eq!(log(&app, &admin, &gone).await.len(), 1);
    let path = format!("/v1/tenants/demo/webhooks/{gone}/test");
    let (status, body) = call(&app, Method::POST, &path, Some(&admin), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("webhook_disabled"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_manage_webhooks_and_bad_subscriptions_are_refused() {
    let (url, received) = receiver(SECRET, vec![200]).await;
    let app = spawn(Clock::System).await;
    let (admin, (agent, _)) = keys(&app).await;
    let hooks = "/v1/tenants/demo/webhooks";
    let good = json!({"url": url, "events": ["message.sent"]});
    let (status, body) = call(&app, Method::POST, hooks, Some(&agent), Some(good.clone())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert_eq!(call(&app, Method::GET, hooks, Some(&agent), None).await.0, 403);
    for (body, code) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["message.sent"]}),
            "bad_url",
        ),
        (json!({"url": "not a url", "events": ["message.sent"]}), "bad_url"),
        (json!({"url": url, "events": ["message.exploded"]}), "bad_events"),
        (json!({"url": url, "events": ["ping"]}), "bad_events"),
        (json!({"url": url, "events": []}), "bad_events"),
        (
            json!({"url": url, "events": ["message.sent"], "secret": "short"}),
            "bad_secret",
        ),
    ] {
        let (status, answer) = call(&app, Method::POST, hooks, Some(&admin), Some(body.clone())).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (422, Some(code)),
            "{body}: {answer}"
        );
    }

    // Without a secret one is generated, shown once and never listed.
    let (status, created) = call(&app, Method::POST, hooks, Some(&admin), Some(good)).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    let id = created["id"].as_str().expect("id").to_owned();
    let (_, listed) = call(&app, Method::GET, hooks, Some(&admin), None).await;
    assert_eq!(listed["data"][0]["events"], json!(["message.sent"]));
    assert!(!listed.to_string().contains(&secret) && listed["data"][0].get("secret").is_none());

    // The test ping reaches the endpoint, signed with the generated secret.
    let (status, ping) = call(&app, Method::POST, &format!("{hooks}/{id}/test"), Some(&admin), None).await;
    assert_eq!(status, 202, "{ping}");
    let got = calls_until(&received, "the ping", |c| c.len() == 1).await;
    assert_eq!(
        (got[0].event.as_str(), got[0].body["type"].as_str()),
        ("ping", Some("ping"))
    );
    assert_eq!(got[0].body["id"], ping["event_id"]);
    assert!(
        verify(&secret, &got[0].signature, &got[0].raw),
        "signed with the generated secret"
    );
    assert!(!got[0].verified, "not with another");

    // Deleting is audited and takes the log with it.
    let (status, _) = call(&app, Method::DELETE, &format!("{hooks}/{id}"), Some(&admin), None).await;
    assert_eq!(status, 204);
    let (status, gone) = call(
        &app,
        Method::GET,
        &format!("{hooks}/{id}/deliveries"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!((status, gone["error"]["code"].as_str()), (404, Some("not_found")));
    let (_, audit) = call(&app, Method::GET, "/v1/tenants/demo/audit", Some(&admin), None).await;
    let actions: Vec<_> = audit["data"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"webhook.create") && actions.contains(&"webhook.delete"),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_person_who_said_stop_writes_is_not_sent_on() {
    let (url, received) = receiver(SECRET, vec![200]).await;
    let app = spawn(Clock::System).await;
    let (admin, _) = keys(&app).await;
    subscribe(&app, &admin, &url, &["message.received"]).await;
    app.say("carla", "STOP").await;
    app.say("carla", "my secret address is 1 Elm Street").await;
    app.say("dan", "hello").await;
    let got = calls_until(&received, "the next person's message", |c| {
        c.iter().any(|c| c.body["data"]["message"]["user"] == "dan")
    })
    .await;
    let texts: Vec<_> = got
        .iter()
        .filter_map(|c| c.body["data"]["message"]["content"]["text"].as_str())
        .collect();
    assert_eq!(texts, ["STOP", "hello"], "the erased message went nowhere");
}
