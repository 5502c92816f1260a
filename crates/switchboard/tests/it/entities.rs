use crate::helpers::*;
use serde_json::json;
use switchboard::config::TenantConfig;
use switchboard_core::{Clock, ConversationId, Direction, TenantId};

const PIZZA_BOT: &str = r#"
name = "Pizza"
timezone = "America/New_York"
default_country_code = "+1"
fallback = ["Sorry?"]

[[entity]]
name = "size"
kind = "lookup"
values = ["small", { value = "large", synonyms = ["big", "xl"] }]

[[intent]]
name = "order"
examples = ["order a pizza", "i want a pizza", "a pizza please", "can i order a pizza"]
entities = ["size", "phone"]
required = ["size", "time"]
ask = ["When should we deliver?"]
responses = ["A {{ entities.size }} pizza at {{ entities.time.value }}."]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_are_stored_with_the_turn_and_a_missing_one_is_asked_for() {
    let app = TestApp::spawn_with(|config, dir| {
        config.tenants.push(TenantConfig {
            id: "pizza".into(),
            name: "Pizza".into(),
            bot_dir: write_bot(dir, "pizza", PIZZA_BOT),
        });
    })
    .await;

    let (status, first) = app
        .post(
            "pizza",
            json!({"user": "ana", "text": "I want a BIG pizza, call 415-555-0132"}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["replies"][0]["text"], "When should we deliver?");

    let (status, second) = app.post("pizza", json!({"user": "ana", "text": "at 7pm"})).await;
    assert_eq!(status, 200, "{second}");
    let reply = second["replies"][0]["text"].as_str().expect("text");
    assert!(
        reply.starts_with("A large pizza at ") && reply.contains("T19:00:00-0"),
        "{reply}"
    );

    let conv = first["conversation_id"].as_str().expect("conversation id");
    let history = app.history("pizza", conv).await;
    let texts: Vec<&str> = history.iter().map(|m| m["text"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        texts[..3],
        [
            "I want a BIG pizza, call 415-555-0132",
            "When should we deliver?",
            "at 7pm"
        ]
    );

    // What the pipeline understood is kept with each inbound message.
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let tenant = TenantId::parse("pizza").expect("id");
    let conv = ConversationId::parse(conv).expect("id");
    let stored = store.messages_after(&tenant, &conv, 0, 10).await.expect("messages");
    let inbound: Vec<_> = stored
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .filter_map(|m| m.processed.clone())
        .collect();
    assert_eq!(inbound.len(), 2);

    let asked = &inbound[0];
    assert_eq!(asked.intent.as_deref(), Some("order"));
    assert_eq!(asked.missing_entities, ["time"]);
    assert!(
        asked.route_reason.contains("missing required entities: time"),
        "{}",
        asked.route_reason
    );
    let found: Vec<_> = asked
        .entities
        .iter()
        .map(|e| (e.entity.as_str(), e.raw.as_str(), e.value.clone()))
        .collect();
    assert_eq!(
        found,
        [
            ("size", "BIG", json!("large")),
            ("phone", "415-555-0132", json!("+14155550132"))
        ]
    );

    let completed = &inbound[1];
    assert_eq!(completed.intent.as_deref(), Some("order"));
    assert!(completed.missing_entities.is_empty());
    assert!(
        completed.route_reason.contains("completes intent order"),
        "{}",
        completed.route_reason
    );
    assert_eq!(completed.entities[0].entity, "datetime");
    assert_eq!(completed.entities[0].value["grain"], "hour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_bot_asks_for_the_day_of_a_booking() {
    let app = TestApp::spawn().await;
    let asked = app.say("lea", "I'd like to book a table on the terrace").await;
    assert_eq!(
        asked["replies"][0]["text"],
        "Happy to book a table. For which day and time?"
    );
    // The booking is a form: the answer fills its time, and the next question follows.
    let booked = app.say("lea", "tomorrow at 8pm").await;
    assert_eq!(booked["replies"][0]["text"], "For how many people?");
}
