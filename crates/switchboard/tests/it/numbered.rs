//! On channels that show options as numbered lines (Signal here), a bare number answers with
//! the option's payload, as pressing a button would.

use crate::helpers::*;
use crate::webhooks::post;
use serde_json::json;
use switchboard_core::{Channel, Clock, Direction};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_picks_the_numbered_option_of_the_last_reply() {
    let app = TestApp::spawn().await;
    add_connector(
        &app,
        "sig",
        "signal",
        "+15550002222",
        &["shared_secret=s3cret"],
        &["api_base=http://127.0.0.1:9"],
    );
    let secret = [("X-Switchboard-Signal-Secret", "s3cret")];
    let say = |ms: u64, text: &str| {
        let body = json!({"envelope": {"source": "+15557654321", "sourceNumber": "+15557654321",
            "sourceName": "Sam", "sourceDevice": 1, "timestamp": ms,
            "dataMessage": {"timestamp": ms, "message": text}}, "account": "+15550002222"});
        serde_json::to_vec(&body).expect("json")
    };
    assert_eq!(
        post(&app, "/v1/webhooks/demo/sig", &secret, say(1_000, "what can you do"))
            .await
            .0,
        200
    );
    let store = switchboard::app::open_store(&test_config(app.dir.path()), Clock::System)
        .await
        .expect("store");
    let history = history_of(store.as_ref(), Channel::Signal, "sig:+15557654321", 2).await;
    let offered = match &history[1].content {
        switchboard_core::Content::Text { buttons, .. } => buttons.clone(),
        other => panic!("expected buttons: {other:?}"),
    };
    assert!(!offered.is_empty());
    assert_eq!(
        post(&app, "/v1/webhooks/demo/sig", &secret, say(2_000, "1")).await.0,
        200
    );
    let history = history_of(store.as_ref(), Channel::Signal, "sig:+15557654321", 4).await;
    let answered = history
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .nth(1)
        .and_then(|m| m.processed.clone())
        .expect("the second message was handled");
    // "1" was understood as the first option's payload: the same intent as typing it.
    assert_eq!(
        answered.intent.as_deref(),
        Some("joke"),
        "{answered:?} for {:?}",
        offered[0]
    );
    app.stop().await;
}
