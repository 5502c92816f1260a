//! Reminders and tasks through the web chat API, on a clock the tests move: reminders set
//! before a restart fire after it, once; missed ones fire late with a note; quiet hours hold
//! them; list, snooze and cancel; tasks per user.

use crate::helpers::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use switchboard_core::Clock;
use tempfile::TempDir;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// 2026-11-20T10:00:00Z: 11:00 in Berlin, the demo bot's time zone (UTC+1 in November).
const START: i64 = 1_795_168_800_000;

async fn spawn(dir: TempDir, clock: &Clock) -> TestApp {
    TestApp::spawn_clocked(dir, clock.clone(), |_, _| {}).await
}

async fn reply(app: &TestApp, user: &str, text: &str) -> (String, String) {
    let body = app.say(user, text).await;
    let reply = body["replies"][0]["text"].as_str().unwrap_or_default().to_owned();
    let conversation = body["conversation_id"].as_str().unwrap_or_default().to_owned();
    (reply, conversation)
}

/// Bot messages of the conversation that answer no message of the user: fired reminders.
async fn fired(app: &TestApp, conversation: &str) -> Vec<String> {
    app.history("demo", conversation)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "out" && m.get("in_reply_to").is_none())
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Waits until `n` reminders have fired in the conversation and returns them.
async fn wait_fired(app: &TestApp, conversation: &str, n: usize) -> Vec<String> {
    eventually(10, &format!("{n} fired reminders"), || async {
        let f = fired(app, conversation).await;
        (f.len() >= n).then_some(f)
    })
    .await
}

/// Gives the reminder loop (every 50 ms in tests) time for several rounds.
async fn let_the_loop_run() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

#[test]
fn the_start_instant_is_what_the_tests_say() {
    assert_eq!(switchboard_core::clock::rfc3339(START), "2026-11-20T10:00:00.000Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_set_before_a_restart_fires_after_it_once() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (text, conv) = reply(&app, "ana", "remind me to call mom tomorrow at 9").await;
    assert_eq!(text, "OK, I'll remind you to call mom on 2026-11-21 at 09:00.");

    let app = spawn(app.stop().await, &clock).await;
    // 08:59 in Berlin the next day: not yet.
    clock.advance(21 * HOUR + 59 * MINUTE);
    let_the_loop_run().await;
    assert!(fired(&app, &conv).await.is_empty(), "not due yet");

    // Over a WebSocket of the user, the reminder arrives live as well.
    let url = app.ws_url("demo", "ana", "").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
    clock.advance(MINUTE + 5_000);
    let frame = loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let f: Value = serde_json::from_str(t.as_str()).expect("json");
            if f["type"] == "message" {
                break f;
            }
        }
    };
    assert_eq!(frame["text"], "⏰ Reminder: call mom");
    assert_eq!(frame["conversation_id"], conv.as_str());
    assert_eq!(wait_fired(&app, &conv, 1).await, ["⏰ Reminder: call mom"]);

    // Later, and after another restart: still once.
    clock.advance(HOUR);
    let_the_loop_run().await;
    let app = spawn(app.stop().await, &clock).await;
    let_the_loop_run().await;
    assert_eq!(fired(&app, &conv).await, ["⏰ Reminder: call mom"]);
    let (list, _) = reply(&app, "ana", "show my reminders").await;
    assert_eq!(list, "You have no reminders.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_missed_while_the_server_was_down_fires_once_late_with_a_note() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (text, conv) = reply(&app, "bea", "remind me to check the oven in 20 minutes").await;
    assert_eq!(text, "OK, I'll remind you to check the oven on 2026-11-20 at 11:20.");
    let dir = app.stop().await;

    // Down for three hours, well past the time.
    clock.advance(3 * HOUR);
    let app = spawn(dir, &clock).await;
    assert_eq!(
        wait_fired(&app, &conv, 1).await,
        ["⏰ Reminder: check the oven (late: this was due at 11:20)"]
    );
    clock.advance(HOUR);
    let_the_loop_run().await;
    assert_eq!(fired(&app, &conv).await.len(), 1, "fired once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_due_in_the_quiet_hours_waits_until_they_end() {
    // 21:00 in Berlin; the demo bot's quiet hours are 22:00 to 07:00.
    let clock = Clock::manual(START + 10 * HOUR);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (text, conv) = reply(&app, "cai", "remind me to lock the door at 22:30").await;
    assert_eq!(text, "OK, I'll remind you to lock the door on 2026-11-20 at 22:30.");

    clock.advance(HOUR + 31 * MINUTE); // 22:31
    let_the_loop_run().await;
    assert!(fired(&app, &conv).await.is_empty(), "held in the quiet hours");
    clock.advance(8 * HOUR + 28 * MINUTE); // 06:59 the next day
    let_the_loop_run().await;
    assert!(fired(&app, &conv).await.is_empty(), "still quiet");
    clock.advance(MINUTE + 10_000); // 07:00:10
    assert_eq!(
        wait_fired(&app, &conv, 1).await,
        ["⏰ Reminder: lock the door"],
        "on time when the quiet hours end: no late note"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_are_listed_cancelled_and_snoozed() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (_, conv) = reply(&app, "dan", "remind me to call mom tomorrow at 9").await;
    reply(&app, "dan", "remind me to buy milk in 20 minutes").await;
    let (list, _) = reply(&app, "dan", "show my reminders").await;
    assert_eq!(
        list,
        "Your reminders:\n1. buy milk (2026-11-20 11:20)\n2. call mom (2026-11-21 09:00)"
    );
    let (other, _) = reply(&app, "eve", "show my reminders").await;
    assert_eq!(other, "You have no reminders.", "each user sees their own");

    let (cancelled, _) = reply(&app, "dan", "cancel reminder 2").await;
    assert_eq!(cancelled, "Cancelled: call mom.");
    let (again, _) = reply(&app, "dan", "cancel reminder 2").await;
    assert!(again.starts_with("I could not find that reminder"), "{again}");
    let (list, _) = reply(&app, "dan", "show my reminders").await;
    assert_eq!(list, "Your reminders:\n1. buy milk (2026-11-20 11:20)");

    clock.advance(20 * MINUTE + 5_000);
    assert_eq!(wait_fired(&app, &conv, 1).await, ["⏰ Reminder: buy milk"]);
    let (snoozed, _) = reply(&app, "dan", "snooze 10 minutes").await;
    assert_eq!(snoozed, "Snoozed: I'll remind you to buy milk at 11:30.");
    clock.advance(10 * MINUTE);
    assert_eq!(
        wait_fired(&app, &conv, 2).await,
        ["⏰ Reminder: buy milk", "⏰ Reminder: buy milk"]
    );

    // The cancelled one never fires.
    clock.advance(24 * HOUR);
    let_the_loop_run().await;
    assert_eq!(fired(&app, &conv).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_asks_when_and_the_answer_sets_the_reminder() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (ask, conv) = reply(&app, "fay", "remind me to water the plants").await;
    assert_eq!(ask, "Sure. When should I remind you?");
    // A bare time, though it looks like a booking: what to be reminded of comes from the
    // question's turn.
    let (set, _) = reply(&app, "fay", "tomorrow at 9").await;
    assert_eq!(set, "OK, I'll remind you to water the plants on 2026-11-21 at 09:00.");
    clock.advance(22 * HOUR + 5_000);
    assert_eq!(wait_fired(&app, &conv, 1).await, ["⏰ Reminder: water the plants"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_added_listed_and_done_per_user_and_survive_a_restart() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (added, _) = reply(&app, "gus", "add task buy milk").await;
    assert_eq!(added, "Added to your tasks: buy milk.");
    reply(&app, "gus", "add a task to call the bank").await;
    let (list, _) = reply(&app, "gus", "show my tasks").await;
    assert_eq!(list, "Your open tasks:\n1. buy milk\n2. call the bank");
    let (none, _) = reply(&app, "hal", "show my tasks").await;
    assert_eq!(none, "You have no open tasks.");

    let app = spawn(app.stop().await, &clock).await;
    let (done, _) = reply(&app, "gus", "task 1 is done").await;
    assert_eq!(done, "Done: buy milk.");
    let (list, _) = reply(&app, "gus", "show my tasks").await;
    assert_eq!(list, "Your open tasks:\n1. call the bank");
    let (missing, _) = reply(&app, "gus", "task 7 is done").await;
    assert!(missing.starts_with("I could not find that task"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_set_on_telegram_fires_through_telegram() {
    use crate::delivery::{fake_api, post};
    use serde_json::json;
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let ok = json!({"ok": true, "result": {"message_id": 778, "chat": {"id": 100000001}, "date": 1767225601}});
    let (api, calls) = fake_api(vec![(200, ok)]).await;
    add_connector(
        &app,
        "tg",
        "telegram",
        "7000000001",
        &["bot_token=7000000001:FAKE", "webhook_secret=fake_Secret-Token_0001"],
        &[&format!("api_base={api}")],
    );
    let mut update: Value = serde_json::from_slice(&channel_fixture("telegram/text_message.json")).expect("fixture");
    update["message"]["text"] = "remind me to feed the cat in 20 minutes".into();
    let secret = [("X-Telegram-Bot-Api-Secret-Token", "fake_Secret-Token_0001")];
    let status = post(&app, "/v1/webhooks/demo/tg", &secret, update.to_string().into_bytes()).await;
    assert_eq!(status, 200);
    let sent = |calls: &std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>| -> Vec<String> {
        calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p.ends_with("/sendMessage"))
            .map(|(_, b)| b["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    eventually(15, "the confirmation", || async {
        (sent(&calls).len() == 1).then_some(())
    })
    .await;
    assert_eq!(
        sent(&calls)[0],
        "OK, I'll remind you to feed the cat on 2026-11-20 at 11:20."
    );

    let app = spawn(app.stop().await, &clock).await;
    clock.advance(20 * MINUTE + 5_000);
    eventually(15, "the reminder on telegram", || async {
        (sent(&calls).len() == 2).then_some(())
    })
    .await;
    let seen = calls.lock().expect("lock").clone();
    let last = seen
        .iter()
        .rev()
        .find(|(p, _)| p.ends_with("/sendMessage"))
        .expect("a send");
    assert_eq!(last.1["text"], "⏰ Reminder: feed the cat");
    assert_eq!(last.1["chat_id"].to_string().trim_matches('"'), "100000001");
    let_the_loop_run().await;
    assert_eq!(sent(&calls).len(), 2, "sent once");
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_set_in_spanish_fires_in_spanish() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (text, conv) = reply(&app, "ines", "recuérdame llamar a mamá mañana a las 9").await;
    assert_eq!(text, "Vale, te recordaré: llamar a mamá, el 2026-11-21 a las 09:00.");
    clock.advance(22 * HOUR + 5_000);
    assert_eq!(wait_fired(&app, &conv, 1).await, ["⏰ Recordatorio: llamar a mamá"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_reminder_outside_the_24_hour_window_needs_a_template() {
    use crate::delivery::{fake_api, post};
    use serde_json::json;
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let ok: Value = serde_json::from_slice(&channel_fixture("whatsapp/outbound/response_ok.json")).expect("json");
    let (api, calls) = fake_api(vec![(200, ok)]).await;
    let secrets = [
        "access_token=EAAfake",
        "app_secret=fake0meta0app0secret000000000001",
        "verify_token=v",
    ];
    add_connector(
        &app,
        "wa",
        "whatsapp",
        "200000000000002",
        &secrets,
        &[&format!("api_base={api}")],
    );
    let sign = meta_signature;
    let say = |id: &str, text: &str| {
        let mut v: Value = serde_json::from_slice(&channel_fixture("whatsapp/text_message.json")).expect("fixture");
        let m = &mut v["entry"][0]["changes"][0]["value"]["messages"][0];
        m["id"] = json!(id);
        m["text"]["body"] = json!(text);
        v.to_string().into_bytes()
    };
    let sends = || -> Vec<Value> { calls.lock().expect("lock").iter().map(|(_, b)| b.clone()).collect() };
    for (id, text) in [
        ("wamid.R1", "remind me to renew my passport in 2 days"),
        ("wamid.R2", "remind me to book the flight in 3 days"),
    ] {
        let body = say(id, text);
        let status = post(
            &app,
            "/v1/webhooks/demo/wa",
            &[("X-Hub-Signature-256", &sign(&body))],
            body,
        )
        .await;
        assert_eq!(status, 200);
    }
    eventually(15, "both confirmations", || async {
        (sends().len() == 2).then_some(())
    })
    .await;

    // Two days later the person has been silent for more than 24 hours: without a template the
    // reminder is refused here, with the reason, and nothing is sent.
    clock.advance(2 * 24 * HOUR + 5_000);
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let demo = switchboard_core::TenantId::parse("demo").expect("id");
    eventually(15, "the refused reminder", || async {
        let conv = store
            .open_conversation(&demo, switchboard_core::Channel::Whatsapp, "wa:15557654321")
            .await
            .ok()??;
        let history = store.messages_after(&demo, &conv.id, 0, 20).await.ok()?;
        history
            .iter()
            .any(|m| m.in_reply_to.is_none() && m.status == switchboard_core::MessageStatus::Failed)
            .then_some(())
    })
    .await;
    assert_eq!(sends().len(), 2, "nothing sent outside the window without a template");

    // With an approved template configured, the next one goes out as that template.
    add_connector(
        &app,
        "wa",
        "whatsapp",
        "200000000000002",
        &secrets,
        &[
            &format!("api_base={api}"),
            "window_template=reminder_notice",
            "window_template_language=en_US",
        ],
    );
    clock.advance(24 * HOUR);
    let template = eventually(15, "the template send", || async { sends().into_iter().nth(2) }).await;
    assert_eq!(template["type"], "template", "{template}");
    assert_eq!(template["template"]["name"], "reminder_notice");
    assert_eq!(template["template"]["language"]["code"], "en_US");
    let filled = template["template"]["components"][0]["parameters"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(filled.contains("book the flight"), "{template}");
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_reminder_is_a_proactive_message_to_the_stored_conversation() {
    use crate::delivery::fake_api;
    // Bot Framework tokens are signed here with the real time and checked against the server's
    // clock: the clock starts now, and the demo bot runs without its quiet hours so that the
    // reminder may fire whatever the hour of the test run.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .expect("time");
    let clock = Clock::manual(now);
    let app = TestApp::spawn_clocked(tempfile::tempdir().expect("tempdir"), clock.clone(), |config, dir| {
        let bot = std::fs::read_to_string(demo_bot_dir().join("bot.toml")).expect("demo bot");
        let without_quiet_hours: String = bot
            .lines()
            .filter(|l| !l.starts_with("quiet_hours"))
            .map(|l| format!("{l}\n"))
            .collect();
        config.demo.bot_dir = write_bot(dir, "demo-anytime", &without_quiet_hours);
    })
    .await;
    let metadata = crate::webhooks::serve_bot_framework_keys().await;
    let token: Value = serde_json::from_slice(&channel_fixture("teams/outbound/token_response.json")).expect("json");
    let created: Value =
        serde_json::from_slice(&channel_fixture("teams/outbound/resource_response.json")).expect("json");
    let (api, calls) = fake_api(vec![(200, token), (200, created)]).await;
    let app_id = "00000000-1111-2222-3333-444444444444";
    add_connector(
        &app,
        "teams",
        "teams",
        app_id,
        &["app_password=FAKE-client-secret"],
        &[
            &format!("openid_metadata_url={metadata}"),
            &format!("token_url={api}/token"),
        ],
    );
    let service = format!("{api}/teams/");
    let mut activity: Value = serde_json::from_slice(&channel_fixture("teams/message_activity.json")).expect("json");
    activity["text"] = "remind me to stretch in 20 minutes".into();
    activity["serviceUrl"] = service.clone().into();
    let auth = format!(
        "Bearer {}",
        crate::webhooks::bot_framework_token(app_id, &service, 3600)
    );
    let res = app
        .client
        .post(app.url("/v1/webhooks/demo/teams"))
        .header("Authorization", &auth)
        .header("content-type", "application/json")
        .body(activity.to_string())
        .send()
        .await
        .expect("send");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{text}");
    let activities = || -> Vec<(String, Value)> {
        calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p.contains("/v3/conversations/"))
            .cloned()
            .collect()
    };
    eventually(15, "the confirmation", || async {
        (activities().len() == 1).then_some(())
    })
    .await;
    let conversation = activity["conversation"]["id"].as_str().expect("conversation id");
    // The confirmation answers the activity...
    assert!(
        activities()[0]
            .0
            .ends_with(&format!("/activities/{}", activity["id"].as_str().expect("id")))
    );

    clock.advance(20 * MINUTE + 5_000);
    eventually(15, "the reminder", || async { (activities().len() == 2).then_some(()) }).await;
    // ...the reminder is a new activity in the stored conversation (Bot Framework's proactive
    // message: the conversation reference kept from the first activity, no reply id).
    let (path, body) = activities()[1].clone();
    let escaped = conversation.replace(':', "%3A");
    assert_eq!(
        path,
        format!("/teams/v3/conversations/{escaped}/activities"),
        "to the stored service URL"
    );
    assert!(body["replyToId"].is_null(), "{body}");
    assert!(body["text"].as_str().is_some_and(|t| t.contains("stretch")), "{body}");
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_said_stop_gets_no_reminder() {
    let clock = Clock::manual(START);
    let app = spawn(tempfile::tempdir().expect("tempdir"), &clock).await;
    let (_, conv) = reply(&app, "sam", "remind me to water the plants in 20 minutes").await;
    let (stopped, _) = reply(&app, "sam", "stop").await;
    assert!(stopped.contains("won't get any more messages"), "{stopped}");
    clock.advance(30 * MINUTE);
    let_the_loop_run().await;
    assert!(fired(&app, &conv).await.is_empty(), "nothing is sent after stop");
    let (listed, _) = reply(&app, "sam", "start").await;
    assert!(listed.contains("Welcome back"), "{listed}");
    clock.advance(HOUR);
    let_the_loop_run().await;
    assert!(
        fired(&app, &conv).await.is_empty(),
        "the reminder was cancelled, not held"
    );
    app.stop().await;
}
