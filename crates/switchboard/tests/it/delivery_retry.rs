//! Platform deliveries outlast outages and rate limits: replies wait in order while a platform
//! is down, a reply sent as several messages never repeats a part the platform accepted, and a
//! delivery that cannot get through within its window ends in the dead letters with the reason.
//! Time is a manual clock moved by the tests, so backoff of minutes takes no real minutes.

use crate::delivery::post;
use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_core::{Channel, Clock, Message, MessageStatus, TenantId};
use switchboard_store::{JobKind, Store};

const START: i64 = 1_795_168_800_000;
const MINUTE: i64 = 60_000;

const CARDS_BOT: &str = r#"
name = "Cards"
fallback = ["Sorry, say that again?"]

[[intent]]
name = "menu"
examples = ["show me the menu", "what is on the menu", "menu please"]
responses = ["Here is the menu."]

[[intent.card]]
title = "Card one"
image_url = "https://example.com/1.png"
buttons = [{ title = "Pick one", payload = "pick 1" }]

[[intent.card]]
title = "Card two"
image_url = "https://example.com/2.png"
buttons = [{ title = "Pick two", payload = "pick 2" }]

[[intent.card]]
title = "Card three"
image_url = "https://example.com/3.png"
buttons = [{ title = "Pick three", payload = "pick 3" }]

[[intent.card]]
title = "Card four"
image_url = "https://example.com/4.png"
buttons = [{ title = "Pick four", payload = "pick 4" }]

[[intent.card]]
title = "Card five"
image_url = "https://example.com/5.png"
buttons = [{ title = "Pick five", payload = "pick 5" }]
"#;

const CARDS: [&str; 5] = ["Card one", "Card two", "Card three", "Card four", "Card five"];

/// A call the fake platform received: path, body, and the status it answered.
type Call = (String, Value, u16);

/// A fake platform API that can be down (502 to everything) and can refuse the first call that
/// mentions a given text with a given answer (a 429), once.
#[derive(Clone)]
struct Platform {
    base: String,
    calls: Arc<Mutex<Vec<Call>>>,
    down: Arc<AtomicBool>,
}

struct Rules {
    ok: Value,
    limit_once: Option<(String, u16, Value)>,
}

impl Platform {
    async fn start(ok: Value, limit_once: Option<(&str, u16, Value)>) -> Platform {
        use axum::extract::{Request, State};
        use axum::response::IntoResponse;
        type Shared = (Arc<Mutex<Vec<Call>>>, Arc<AtomicBool>, Arc<Mutex<Rules>>);
        async fn any(State((calls, down, rules)): State<Shared>, req: Request) -> axum::response::Response {
            let path = req.uri().path().to_owned();
            let bytes = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (status, answer) = if down.load(Ordering::SeqCst) {
                (
                    502,
                    json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
                )
            } else {
                let mut rules = rules.lock().expect("lock");
                let text = body.to_string();
                match rules.limit_once.take() {
                    Some((needle, status, answer)) if text.contains(&needle) => (status, answer),
                    other => {
                        rules.limit_once = other;
                        (200, rules.ok.clone())
                    }
                }
            };
            calls.lock().expect("lock").push((path, body, status));
            let code = axum::http::StatusCode::from_u16(status).expect("status");
            (code, axum::Json(answer)).into_response()
        }
        let calls = Arc::<Mutex<Vec<Call>>>::default();
        let down = Arc::new(AtomicBool::new(false));
        let rules = Rules {
            ok,
            limit_once: limit_once.map(|(n, s, a)| (n.to_owned(), s, a)),
        };
        let state: Shared = (calls.clone(), down.clone(), Arc::new(Mutex::new(rules)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = axum::Router::new().fallback(any).with_state(state);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Platform { base, calls, down }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    /// How many calls mention `text`, and how many of those the platform accepted.
    fn count(&self, text: &str) -> (usize, usize) {
        let calls = self.calls();
        let mentions: Vec<&Call> = calls.iter().filter(|(_, b, _)| b.to_string().contains(text)).collect();
        let accepted = mentions.iter().filter(|(_, _, s)| *s == 200).count();
        (mentions.len(), accepted)
    }
}

async fn spawn(clock: &Clock, tweak: impl FnOnce(&mut switchboard::config::Config) + Send) -> TestApp {
    TestApp::spawn_clocked(tempfile::tempdir().expect("tempdir"), clock.clone(), |config, dir| {
        config.demo.bot_dir = write_bot(dir, "cards", CARDS_BOT);
        tweak(config);
    })
    .await
}

async fn store_of(app: &TestApp) -> std::sync::Arc<dyn switchboard_store::Store> {
    switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store")
}

/// The replies in a conversation, oldest first.
async fn replies(store: &dyn Store, channel: Channel, user: &str) -> Vec<Message> {
    let demo = TenantId::parse("demo").expect("id");
    let Ok(Some(conv)) = store.open_conversation(&demo, channel, user).await else {
        return Vec::new();
    };
    let history = store.messages_after(&demo, &conv.id, 0, 100).await.unwrap_or_default();
    history.into_iter().filter(|m| m.in_reply_to.is_some()).collect()
}

/// Moves the clock in `step`s until `check` holds, giving the workers a moment after each step.
async fn advance_until<T, F, Fut>(clock: &Clock, step: i64, max_steps: usize, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..max_steps {
        if let Some(v) = check().await {
            return v;
        }
        clock.advance(step);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    eventually(10, what, check).await
}

const TG_SECRET: [(&str, &str); 1] = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];

fn telegram_connector(app: &TestApp, api: &str) {
    add_connector(
        app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        // Pacing has tests of its own; here it would only slow the retries down.
        &[&format!("api_base={api}"), "rate_per_chat_per_second=1000"],
    );
}

/// A Telegram update with its own ids and text.
fn telegram_update(n: u64, text: &str) -> Vec<u8> {
    let fixture = String::from_utf8(channel_fixture("telegram/text_message.json")).expect("utf-8");
    let body = fixture
        .replace("900000001", &(900_000_000 + n).to_string())
        .replace("\"message_id\": 101", &format!("\"message_id\": {}", 100 + n))
        .replace("Hello, what are your opening hours?", text);
    assert_ne!(body, fixture);
    body.into_bytes()
}

fn telegram_ok() -> Value {
    json!({"ok": true, "result": {"message_id": 777, "chat": {"id": 100000001}, "date": 1767225601}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_wait_out_a_ten_minute_outage_and_go_out_once_each_in_order() {
    let clock = Clock::manual(START);
    let app = spawn(&clock, |_| {}).await;
    let platform = Platform::start(telegram_ok(), None).await;
    telegram_connector(&app, &platform.base);
    let store = store_of(&app).await;

    platform.down.store(true, Ordering::SeqCst);
    for n in 1..=3 {
        let text = format!("menu please {n}");
        assert_eq!(
            post(&app, "/v1/webhooks/demo/tg", &TG_SECRET, telegram_update(n, &text)).await,
            200
        );
    }
    // The turns are not held up by the platform: every reply is stored, waiting.
    let waiting = eventually(15, "three turns answered", || async {
        let r = replies(store.as_ref(), Channel::Telegram, "tg:100000001").await;
        (r.len() >= 6).then_some(r)
    })
    .await;
    assert!(waiting.iter().all(|m| m.status == MessageStatus::Queued), "{waiting:?}");
    eventually(10, "the first attempt to fail", || async {
        (!platform.calls().is_empty()).then_some(())
    })
    .await;

    // Ten minutes of outage, in steps of 20 seconds.
    for _ in 0..30 {
        clock.advance(MINUTE / 3);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let during = platform.calls();
    assert!(
        during.len() > 3 && during.iter().all(|(_, _, s)| *s == 502),
        "retried through the outage: {} calls",
        during.len()
    );
    let demo = TenantId::parse("demo").expect("id");
    assert!(
        store
            .dead_letters(Some(&demo), 10)
            .await
            .expect("dead letters")
            .is_empty(),
        "nothing given up during the outage"
    );

    platform.down.store(false, Ordering::SeqCst);
    let sent = advance_until(&clock, MINUTE / 2, 40, "every reply sent", || async {
        let r = replies(store.as_ref(), Channel::Telegram, "tg:100000001").await;
        r.iter().all(|m| m.status == MessageStatus::Sent).then_some(r)
    })
    .await;
    assert_eq!(sent.len(), 6);

    // Each turn's text and its five cards went out once, turn after turn, in order.
    let accepted: Vec<Call> = platform.calls().into_iter().filter(|(_, _, s)| *s == 200).collect();
    assert_eq!(accepted.len(), 3 * 6, "{accepted:?}");
    for (turn, calls) in accepted.chunks(6).enumerate() {
        let answers = |c: &Call| c.1["reply_parameters"]["message_id"].as_i64();
        assert_eq!(answers(&calls[0]), Some(101 + turn as i64), "turn {turn} in order");
        assert_eq!(calls[0].1["text"], "Here is the menu.");
        for (card, call) in CARDS.iter().zip(&calls[1..]) {
            assert!(call.1.to_string().contains(card), "{card} in order: {call:?}");
        }
    }
    assert!(
        store
            .dead_letters(Some(&demo), 10)
            .await
            .expect("dead letters")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_on_the_third_card_sends_each_card_once_on_telegram() {
    let clock = Clock::manual(START);
    let app = spawn(&clock, |_| {}).await;
    let limited = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 30", "parameters": {"retry_after": 30}});
    let platform = Platform::start(telegram_ok(), Some(("Card three", 429, limited))).await;
    telegram_connector(&app, &platform.base);
    let store = store_of(&app).await;
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/tg",
            &TG_SECRET,
            telegram_update(1, "show me the menu")
        )
        .await,
        200
    );
    eventually(15, "the rate limit on the third card", || async {
        (platform.count("Card three").0 == 1).then_some(())
    })
    .await;
    // The platform said 30 s: the delivery waits that long, without being charged an attempt.
    let waiting = eventually(10, "the delivery to wait", || async {
        let jobs = store.pending_jobs(0, 10).await.ok()?;
        jobs.into_iter()
            .find(|j| j.kind == JobKind::Deliver && j.last_error.is_some())
    })
    .await;
    assert_eq!((waiting.run_at, waiting.attempts), (START + 30_000, 0), "{waiting:?}");
    advance_until(&clock, 5_000, 20, "the cards to be sent", || async {
        let r = replies(store.as_ref(), Channel::Telegram, "tg:100000001").await;
        (r.len() == 2 && r.iter().all(|m| m.status == MessageStatus::Sent)).then_some(())
    })
    .await;

    for card in CARDS {
        let expected = if card == "Card three" { (2, 1) } else { (1, 1) };
        assert_eq!(platform.count(card), expected, "{card}: {:?}", platform.calls());
    }
    assert_eq!(platform.count("Here is the menu."), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_on_the_third_card_sends_each_card_once_on_whatsapp() {
    let clock = Clock::manual(START);
    let app = spawn(&clock, |_| {}).await;
    let ok: Value = serde_json::from_slice(&channel_fixture("whatsapp/outbound/response_ok.json")).expect("json");
    let limited: Value =
        serde_json::from_slice(&channel_fixture("whatsapp/outbound/error_130429_throughput.json")).expect("json");
    let platform = Platform::start(ok, Some(("Card three", 429, limited))).await;
    add_connector(
        &app,
        "wa",
        "whatsapp",
        "200000000000002",
        &[
            "access_token=EAAfake",
            &format!("app_secret={META_APP_SECRET}"),
            "verify_token=v",
        ],
        &[&format!("api_base={}", platform.base), "rate_per_chat_per_second=1000"],
    );
    let store = store_of(&app).await;
    let fixture = String::from_utf8(channel_fixture("whatsapp/text_message.json")).expect("utf-8");
    let body = fixture.replace("Hi! Is my order 8812 shipped?", "show me the menu");
    assert_ne!(body, fixture);
    let body = body.into_bytes();
    let signature = meta_signature(&body);
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/wa",
            &[("X-Hub-Signature-256", &signature)],
            body
        )
        .await,
        200
    );
    eventually(15, "the rate limit on the third card", || async {
        (platform.count("Card three").0 == 1).then_some(())
    })
    .await;
    advance_until(&clock, 2_000, 20, "the cards to be sent", || async {
        let r = replies(store.as_ref(), Channel::Whatsapp, "wa:15557654321").await;
        (r.len() == 2 && r.iter().all(|m| m.status == MessageStatus::Sent)).then_some(())
    })
    .await;

    for card in CARDS {
        let expected = if card == "Card three" { (2, 1) } else { (1, 1) };
        assert_eq!(platform.count(card), expected, "{card}: {:?}", platform.calls());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_cannot_get_through_in_its_window_is_dead_lettered_with_the_reason() {
    let clock = Clock::manual(START);
    let app = spawn(&clock, |config| config.delivery.max_age_s = 600).await;
    let platform = Platform::start(telegram_ok(), None).await;
    telegram_connector(&app, &platform.base);
    let store = store_of(&app).await;
    platform.down.store(true, Ordering::SeqCst);
    assert_eq!(
        post(
            &app,
            "/v1/webhooks/demo/tg",
            &TG_SECRET,
            telegram_update(1, "menu please")
        )
        .await,
        200
    );
    let demo = TenantId::parse("demo").expect("id");
    eventually(10, "the first attempt to fail", || async {
        (!platform.calls().is_empty()).then_some(())
    })
    .await;
    // Within the window, still trying.
    advance_until(&clock, MINUTE / 2, 18, "nine minutes", || async {
        (clock.now_ms() >= START + 9 * MINUTE).then_some(())
    })
    .await;
    assert!(
        store
            .dead_letters(Some(&demo), 10)
            .await
            .expect("dead letters")
            .is_empty()
    );
    let trying = store.pending_jobs(0, 10).await.expect("jobs");
    assert!(
        trying.iter().any(|j| j.kind == JobKind::Deliver && j.attempts > 3),
        "{trying:?}"
    );

    let dead = advance_until(&clock, MINUTE / 2, 20, "the delivery's dead letter", || async {
        let dead = store.dead_letters(Some(&demo), 10).await.ok()?;
        dead.into_iter().next()
    })
    .await;
    assert_eq!(dead.kind, JobKind::Deliver);
    assert!(dead.last_error.contains("Bad Gateway"), "{}", dead.last_error);
    let attempts = platform.calls().len();
    assert!(attempts > 3, "retried many times first: {attempts}");
    let r = replies(store.as_ref(), Channel::Telegram, "tg:100000001").await;
    assert!(r.iter().all(|m| m.status == MessageStatus::Queued), "replayable: {r:?}");
    // The turn itself went well: its inbound message stays processed.
    let inbound = store
        .message(&demo, &dead.message)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(inbound.status, MessageStatus::Processed, "{inbound:?}");
    // Given up: the job left the queue (replaying the dead letter queues it again).
    assert!(store.pending_jobs(0, 10).await.expect("jobs").is_empty());
}
