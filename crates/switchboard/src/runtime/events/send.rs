//! Sending events, a kind of due work of the job runtime (`jobs.rs`): due event deliveries are claimed (one instance gets each), POSTed signed to
//! their endpoint, and marked sent, retried later with backoff, or failed for good. An endpoint
//! that answers 410 Gone is disabled.
//!
//! Headers: `X-Switchboard-Signature` (see [`crate::runtime::signed`]), `X-Switchboard-Event: <type>`,
//! `X-Switchboard-Delivery: <delivery id>` and `Idempotency-Key: <event id>`, the same on every
//! retry.

use crate::app::App;
use crate::runtime::signed::{Backoff, Post, Reply, outcome};
use anyhow::Context as _;
use std::time::Duration;
use switchboard_store::{DeliveryAttempt, EventDelivery, SendOutcome};

/// Deliveries claimed per round.
const CLAIM_BATCH: u32 = 50;

/// One round: claims what is due and tries each once. Endpoints are served side by side, so
/// that a slow one does not hold up the others; each endpoint's deliveries go one after the
/// other, in the order the events happened. Returns how many were sent.
pub async fn send_due(app: &App) -> anyhow::Result<usize> {
    let now = app.clock.now_ms();
    let claimed = app
        .store
        .claim_due_event_deliveries(now, CLAIM_BATCH)
        .await
        .context("claiming due event deliveries")?;
    let mut per_endpoint: Vec<Vec<EventDelivery>> = Vec::new();
    for d in claimed {
        match per_endpoint.iter_mut().find(|g| g[0].endpoint == d.endpoint) {
            Some(group) => group.push(d),
            None => per_endpoint.push(vec![d]),
        }
    }
    let rounds = per_endpoint.into_iter().map(|group| send_in_order(app, group, now));
    Ok(futures_util::future::join_all(rounds).await.into_iter().sum())
}

async fn send_in_order(app: &App, deliveries: Vec<EventDelivery>, now: i64) -> usize {
    let mut sent = 0;
    for d in deliveries {
        let attempt = attempt(app, &d, now).await;
        let result = match (&attempt.outcome, attempt.disable_endpoint) {
            (_, true) => "gone",
            (SendOutcome::Sent, _) => "sent",
            (SendOutcome::Failed { .. }, _) => "failed",
            (SendOutcome::Retry { .. }, _) => "retry",
        };
        if let SendOutcome::Failed { error } | SendOutcome::Retry { error, .. } = &attempt.outcome {
            tracing::warn!(tenant = %d.tenant, delivery = d.id, endpoint = %d.endpoint, event = %d.event_type,
                attempt = d.attempts + 1, error, result, "event not delivered");
        }
        ::metrics::counter!(crate::runtime::metrics::EVENT_DELIVERIES, "result" => result).increment(1);
        crate::runtime::metrics::job("event_delivery", result);
        sent += usize::from(matches!(attempt.outcome, SendOutcome::Sent));
        if attempt.disable_endpoint {
            app.events.invalidate(&d.tenant);
        }
        let claimed_at = d.claimed_at.unwrap_or(now);
        // Not recorded: the claim lapses and the delivery is tried again (at least once).
        if let Err(e) = app
            .store
            .finish_event_delivery(&d.tenant, d.id, claimed_at, attempt)
            .await
        {
            tracing::warn!(tenant = %d.tenant, delivery = d.id, error = %e, "cannot record a delivery attempt");
        }
    }
    sent
}

async fn attempt(app: &App, d: &EventDelivery, now: i64) -> DeliveryAttempt {
    let reply = match app.store.event_endpoint(&d.tenant, &d.endpoint).await {
        Ok(Some(ep)) if ep.enabled => match app.sealer.open(&ep.secret_sealed) {
            Ok(secret) => post(app, d, &ep.url, &secret, now).await,
            // A master key mix-up the operator can fix: worth another try later.
            Err(e) => Reply::Transient {
                status: None,
                error: format!("the endpoint's secret cannot be opened: {e:#}"),
                retry_after_s: 0,
            },
        },
        Ok(_) => Reply::Refused {
            status: None,
            error: "the endpoint is disabled or deleted".into(),
        },
        Err(e) => Reply::Transient {
            status: None,
            error: format!("reading the endpoint: {e}"),
            retry_after_s: 0,
        },
    };
    let status_code = reply.status();
    // The receiver says the URL is gone for good: nothing more goes there.
    if status_code == Some(410) {
        return DeliveryAttempt {
            outcome: SendOutcome::Failed {
                error: "HTTP 410: the endpoint is gone; it is disabled".into(),
            },
            status_code,
            disable_endpoint: true,
        };
    }
    let cfg = &app.config.events;
    let backoff = Backoff {
        base_ms: cfg.backoff_base_ms,
        max_ms: cfg.backoff_max_ms,
        max_attempts: cfg.max_attempts,
    };
    DeliveryAttempt {
        outcome: outcome(reply, d.attempts + 1, backoff, now),
        status_code,
        disable_endpoint: false,
    }
}

async fn post(app: &App, d: &EventDelivery, url: &str, secret: &[u8], now: i64) -> Reply {
    let body = match serde_json::to_vec(&d.payload) {
        Ok(b) => b,
        Err(e) => {
            return Reply::Refused {
                status: None,
                error: format!("cannot encode the event: {e}"),
            };
        }
    };
    let headers = [
        ("x-switchboard-event", d.event_type.clone()),
        ("x-switchboard-delivery", d.id.to_string()),
        ("idempotency-key", d.event_id.clone()),
    ];
    let post = Post {
        url,
        secret,
        body,
        headers: &headers,
        timeout: Duration::from_millis(app.config.events.timeout_ms),
        now,
        allow_private: app.config.server.allow_private_targets,
    };
    crate::runtime::signed::post(&app.tenant_http, post).await
}
