//! Prometheus metrics. Names are constants so that the code and the docs agree.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub const MESSAGES: &str = "switchboard_messages_total";
pub const STAGE_SECONDS: &str = "switchboard_pipeline_stage_seconds";
pub const TURN_SECONDS: &str = "switchboard_turn_seconds";
pub const QUEUE_DEPTH: &str = "switchboard_queue_depth";
pub const QUEUE_IN_FLIGHT: &str = "switchboard_queue_in_flight";
pub const RETRIES: &str = "switchboard_queue_retries_total";
pub const DEAD_LETTERS: &str = "switchboard_dead_letters_total";
pub const HTTP_REQUESTS: &str = "switchboard_http_requests_total";
pub const WS_CONNECTIONS: &str = "switchboard_websocket_connections";
pub const BOT_RELOADS: &str = "switchboard_bot_reloads_total";
pub const LLM_TOKENS: &str = "switchboard_llm_tokens_total";
pub const LLM_REQUESTS: &str = "switchboard_llm_requests_total";
pub const FORM_SUBMISSIONS: &str = "switchboard_form_submissions_total";
pub const EVENT_DELIVERIES: &str = "switchboard_event_deliveries_total";
pub const EVENTS_DROPPED: &str = "switchboard_events_dropped_total";
pub const JOBS: &str = "switchboard_jobs_total";

const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process-wide recorder, installed once (tests start several servers in one process).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(MESSAGES, "Messages by tenant, channel, direction and status.");
    describe_histogram!(
        STAGE_SECONDS,
        metrics::Unit::Seconds,
        "Time spent in each pipeline stage."
    );
    describe_histogram!(
        TURN_SECONDS,
        metrics::Unit::Seconds,
        "Time from a message's arrival to its replies being stored."
    );
    describe_gauge!(QUEUE_DEPTH, "Jobs waiting or running.");
    describe_gauge!(QUEUE_IN_FLIGHT, "Jobs running now.");
    describe_counter!(RETRIES, "Failed turn and delivery attempts that will be retried.");
    describe_counter!(DEAD_LETTERS, "Turns and deliveries moved to the dead letters.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests by route and status.");
    describe_gauge!(WS_CONNECTIONS, "Open web chat WebSockets.");
    describe_counter!(
        BOT_RELOADS,
        "Bot definitions reloaded after a change, by tenant and result."
    );
    describe_counter!(
        LLM_TOKENS,
        "Language model tokens used for knowledge answers, by tenant and kind (prompt, completion)."
    );
    describe_counter!(
        FORM_SUBMISSIONS,
        "Forms by tenant, form and result: completed, cancelled, and sending attempts (sent, retry, failed)."
    );
    describe_counter!(
        EVENT_DELIVERIES,
        "Attempts to send events to tenants' webhooks, by result (sent, retry, failed, gone)."
    );
    describe_counter!(
        EVENTS_DROPPED,
        "Events that could not be queued for tenants' webhooks, by tenant."
    );
    describe_counter!(
        JOBS,
        "Attempts of every kind of job (turn, deliver, reminder, form_submission, event_delivery) by \
         result: done, wait (told to wait by the platform), retry, dead; for due work sent, held, \
         cancelled, retry, failed."
    );
    describe_counter!(
        LLM_REQUESTS,
        "Knowledge answers that tried the language model, by tenant and result (ok, error, breaker_open)."
    );
}

pub fn message(tenant: &str, channel: &str, direction: &str, status: &'static str) {
    metrics::counter!(MESSAGES, "tenant" => tenant.to_owned(), "channel" => channel.to_owned(),
        "direction" => direction.to_owned(), "status" => status)
    .increment(1);
}

/// One attempt of a job of the runtime (`jobs.rs`) and how it ended.
pub fn job(kind: &'static str, result: &'static str) {
    metrics::counter!(JOBS, "kind" => kind, "result" => result).increment(1);
}
