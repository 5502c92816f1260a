//! Sending form submissions, a kind of due work of the job runtime (`jobs.rs`): pending submissions of forms with an HTTP action are claimed (one instance gets
//! each), POSTed signed to the tenant's endpoint, and marked sent, retried later with backoff,
//! or failed for good.
//!
//! The body is JSON `{form, tenant, conversation, user, values, submitted_at, id}`, signed as
//! [`crate::runtime::signed`] says; `Idempotency-Key: <id>` tells the receiver that a retry it already
//! handled is the same submission.

use crate::app::App;
use crate::runtime::signed::{Backoff, Post, Reply, outcome};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchboard_core::clock::rfc3339;
use switchboard_core::{FormAction, TenantId};
use switchboard_store::{SendOutcome, Submission};

/// `[forms]` in the server configuration.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FormsConfig {
    /// How often pending submissions are looked for.
    pub poll_interval_ms: u64,
    /// The endpoint must answer within this time, else the attempt is retried.
    pub timeout_ms: u64,
    /// Retry delay: base * 2^(attempt-1), capped, with jitter; a longer Retry-After wins.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

/// Submissions claimed per round.
const CLAIM_BATCH: u32 = 20;

/// One round: claims what is due and tries each once. Returns how many were sent.
pub async fn send_due(app: &App) -> anyhow::Result<usize> {
    let now = app.clock.now_ms();
    let claimed = app
        .store
        .claim_due_submissions(now, CLAIM_BATCH)
        .await
        .context("claiming due form submissions")?;
    let mut sent = 0;
    for s in claimed {
        let outcome = attempt(app, &s, now).await;
        let result = match &outcome {
            SendOutcome::Sent => "sent",
            SendOutcome::Failed { .. } => "failed",
            SendOutcome::Retry { .. } => "retry",
        };
        if let SendOutcome::Failed { error } | SendOutcome::Retry { error, .. } = &outcome {
            tracing::warn!(tenant = %s.tenant, submission = s.id, form = %s.form, attempt = s.attempts + 1, error, result, "form submission not delivered");
        }
        ::metrics::counter!(crate::runtime::metrics::FORM_SUBMISSIONS, "tenant" => s.tenant.to_string(),
            "form" => s.form.clone(), "result" => result)
        .increment(1);
        crate::runtime::metrics::job("form_submission", result);
        sent += usize::from(matches!(outcome, SendOutcome::Sent));
        let claimed_at = s.claimed_at.unwrap_or(now);
        // Not recorded: the claim lapses and the submission is tried again (at least once).
        if let Err(e) = app.store.finish_submission(&s.tenant, s.id, claimed_at, outcome).await {
            tracing::warn!(tenant = %s.tenant, submission = s.id, error = %e, "cannot record a sending attempt");
        }
    }
    Ok(sent)
}

async fn attempt(app: &App, s: &Submission, now: i64) -> SendOutcome {
    let reply = match app.tenants.get(&s.tenant) {
        Some(bot) => match bot.spec.form(&s.form).map(|f| &f.action) {
            Some(FormAction::Http { url, secret, .. }) => match resolve_secret(app, &s.tenant, secret).await {
                Ok(key) => post(app, s, url, &key, now).await,
                // The operator can still set it: worth another try later.
                Err(e) => Reply::Transient {
                    status: None,
                    error: format!("{e:#}"),
                    retry_after_s: 0,
                },
            },
            _ => Reply::Refused {
                status: None,
                error: format!("the bot has no form {:?} with an http action any more", s.form),
            },
        },
        // Not loaded here (yet): another round, or another instance, may have it.
        None => Reply::Transient {
            status: None,
            error: format!("tenant {} has no bot loaded", s.tenant),
            retry_after_s: 0,
        },
    };
    let cfg = &app.config.forms;
    let backoff = Backoff {
        base_ms: cfg.backoff_base_ms,
        max_ms: cfg.backoff_max_ms,
        max_attempts: s.max_attempts,
    };
    outcome(reply, s.attempts + 1, backoff, now)
}

/// The form's key, looked up when sending: `secret:NAME` is the tenant's sealed secret,
/// `env:NAME` the server's environment variable (bot folders on the server only).
async fn resolve_secret(app: &App, tenant: &TenantId, secret: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(name) = secret.strip_prefix("secret:") {
        let sealed = app
            .store
            .tenant_secret(tenant, name)
            .await?
            .with_context(|| format!("tenant {tenant} has no secret {name:?} (the form's key)"))?;
        return app.sealer.open(&sealed);
    }
    match secret.strip_prefix("env:") {
        Some(name) => std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(String::into_bytes)
            .with_context(|| format!("the environment variable {name} (the form's secret) is not set")),
        None => anyhow::bail!("the form's secret names no key"),
    }
}

async fn post(app: &App, s: &Submission, url: &str, key: &[u8], now: i64) -> Reply {
    let body = serde_json::json!({
        "id": s.id,
        "form": s.form,
        "tenant": s.tenant,
        "conversation": s.conversation,
        "user": s.user,
        "values": s.values,
        "submitted_at": rfc3339(s.created_at),
    });
    let body = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(e) => {
            return Reply::Refused {
                status: None,
                error: format!("cannot encode the submission: {e}"),
            };
        }
    };
    let post = Post {
        url,
        secret: key,
        body,
        headers: &[("idempotency-key", s.id.to_string())],
        timeout: Duration::from_millis(app.config.forms.timeout_ms),
        now,
        allow_private: app.config.server.allow_private_targets,
    };
    crate::runtime::signed::post(&app.tenant_http, post).await
}
