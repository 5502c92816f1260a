//! The one job runtime: everything queued in the store runs here, each kind by one `match`.
//!
//! Two shapes of job share it. Queued jobs (turns and platform deliveries) sit in the `jobs`
//! table, are indexed in memory by the scheduler (`runtime/queue.rs`) so that one
//! conversation's jobs run one at a time in order, and are retried with their kind's policy
//! (`runtime/retry.rs`) until they are done or dead-lettered (replayable from the API and the
//! CLI). Due work (reminders, form submissions, event deliveries) is kept with its own record
//! and becomes due at a time; one loop claims it with a lease (`claimed_at`: a claim whose
//! instance died lapses and is taken again), runs each, and records sent, retry at a time with
//! the kind's backoff, or failed for good. Every attempt of every kind is counted in
//! `switchboard_jobs_total{kind, result}`.

use crate::app::App;
use crate::engine::pipeline;
use crate::runtime::metrics;
use crate::runtime::queue::Finish;
use crate::runtime::retry::RetryPolicy;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use switchboard_store::{Job, JobKind};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Work that becomes due at a time and is claimed from its own table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Reminders,
    Submissions,
    EventDeliveries,
}

impl Due {
    const ALL: [Due; 3] = [Due::Reminders, Due::Submissions, Due::EventDeliveries];

    fn name(self) -> &'static str {
        match self {
            Due::Reminders => "reminder",
            Due::Submissions => "form_submission",
            Due::EventDeliveries => "event_delivery",
        }
    }

    fn poll_interval_ms(self, app: &App) -> u64 {
        match self {
            Due::Reminders => app.config.reminders.poll_interval_ms,
            Due::Submissions => app.config.forms.poll_interval_ms,
            Due::EventDeliveries => app.config.events.poll_interval_ms,
        }
    }

    /// One round: claims what is due and runs it. Returns how many went out.
    pub async fn round(self, app: &App) -> anyhow::Result<usize> {
        match self {
            Due::Reminders => crate::runtime::reminders::fire_due(app).await,
            Due::Submissions => crate::runtime::submissions::send_due(app).await,
            Due::EventDeliveries => crate::runtime::events::send_due(app).await,
        }
    }
}

/// Runs rounds of `due` work every poll interval of its kind until `stop`.
async fn due_loop(app: &App, due: Due, stop: &mut watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(due.poll_interval_ms(app).max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = due.round(app).await {
                    tracing::warn!(kind = due.name(), error = %format!("{e:#}"), "a round of due work failed");
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// The queue workers and the pollers, until `stop` turns true.
pub fn start_background(app: &Arc<App>, stop: watch::Receiver<bool>) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for _ in 0..app.config.queue.workers.max(1) {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            app.workers.fetch_add(1, Ordering::Relaxed);
            loop {
                tokio::select! {
                    job = app.queue.next() => process(&app, job).await,
                    _ = stop.changed() => break,
                }
            }
            app.workers.fetch_sub(1, Ordering::Relaxed);
        });
    }
    if let Some(mut feed) = app.store.job_feed() {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            loop {
                tokio::select! {
                    job = feed.recv() => match job {
                        Some(job) => app.queue.push([job]),
                        None => break,
                    },
                    _ = stop.changed() => break,
                }
            }
        });
    }
    {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(app.config.queue.poll_interval_ms.max(10)));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        match app.store.pending_jobs(app.queue.poll_after(), 1000).await {
                            Ok(jobs) if !jobs.is_empty() => app.queue.push(jobs),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "polling the queue failed"),
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }
    set.spawn(crate::ingress::discord_gateway::run_all(app.clone(), stop.clone()));
    if app.config.bots.reload_interval_ms > 0 {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(app.config.bots.reload_interval_ms));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        app.tenants.reload_changed(app.store.as_ref()).await;
                        app.knowledge.refresh(&app.tenants).await;
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }
    for due in Due::ALL {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move { due_loop(&app, due, &mut stop).await });
    }
    {
        let (app, mut stop) = (app.clone(), stop);
        set.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => app.metrics.run_upkeep(),
                    _ = stop.changed() => break,
                }
            }
        });
    }
    set
}

/// Runs one job's attempt and records its outcome: done, retry later, or dead letter.
async fn process(app: &Arc<App>, job: Job) {
    let timeout = Duration::from_millis(app.config.queue.turn_timeout_ms);
    let attempt = AssertUnwindSafe(async {
        match job.kind {
            JobKind::Turn => pipeline::run_turn(app, &job).await.map(|_| ()),
            JobKind::Deliver => crate::runtime::deliver::run(app, &job).await,
        }
    })
    .catch_unwind();
    let error = match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(Ok(_))) => {
            metrics::job(job.kind.as_str(), "done");
            app.queue.finish(&job, Finish::Done);
            return;
        }
        Ok(Ok(Err(e))) => {
            let now = app.clock.now_ms();
            if let Some(wait) = e.downcast_ref::<crate::runtime::deliver::RetryAfter>()
                && !RetryPolicy::of(&app.config, job.kind).gives_up(&job, 0, now)
            {
                // The platform said when: no attempt is charged for being told to wait.
                metrics::job(job.kind.as_str(), "wait");
                let run_at = now + wait.0.max(1) as i64 * 1000;
                let error = e.to_string();
                if let Err(e) = app
                    .store
                    .retry_job(&job.tenant, job.id, job.attempts, run_at, &error)
                    .await
                {
                    tracing::error!(job = job.id, error = %e, "cannot record the retry");
                }
                app.queue.finish(
                    &job,
                    Finish::Retry {
                        run_at,
                        attempts: job.attempts,
                        error,
                    },
                );
                return;
            }
            format!("{e:#}")
        }
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("the turn panicked: {what}")
        }
        Err(_) => format!("the turn took longer than {} ms", timeout.as_millis()),
    };
    // Logged, stored with the job and shown with the dead letters: a bot token that slipped
    // into an error (deliveries redact their own connector's secrets) goes no further.
    let error = crate::runtime::redact::tokens(&error);
    let attempts = job.attempts + 1;
    let tenant = &job.tenant;
    let policy = RetryPolicy::of(&app.config, job.kind);
    let now = app.clock.now_ms();
    if policy.gives_up(&job, attempts, now) {
        let kind = job.kind.as_str();
        tracing::error!(job = job.id, kind, %tenant, message = %job.message, attempts, error, "job failed for good: dead letter");
        ::metrics::counter!(metrics::DEAD_LETTERS, "tenant" => tenant.to_string()).increment(1);
        metrics::job(kind, "dead");
        match app.store.dead_letter_job(tenant, job.id, attempts, &error).await {
            Ok(_) => {
                // A delivery's replies stay queued, to go out if the dead letter is replayed;
                // only a turn leaves someone waiting for an answer.
                if job.kind == JobKind::Turn
                    && let Ok(Some(inbound)) = app.store.message(tenant, &job.message).await
                {
                    metrics::message(tenant.as_str(), inbound.channel.as_str(), "in", "failed");
                    pipeline::deliver(app, &inbound, &[], Err(error));
                }
                app.queue.finish(&job, Finish::Done);
            }
            Err(e) => {
                tracing::error!(job = job.id, error = %e, "cannot dead-letter the job; retrying it later");
                let run_at = app.clock.now_ms() + app.config.queue.backoff_max_ms as i64;
                app.queue.finish(
                    &job,
                    Finish::Retry {
                        run_at,
                        attempts,
                        error: e.to_string(),
                    },
                );
            }
        }
        return;
    }
    let run_at = policy.retry_at(&job, attempts, now);
    let delay_ms = run_at - now;
    tracing::warn!(job = job.id, kind = job.kind.as_str(), %tenant, attempts, delay_ms, error, "job failed; retrying");
    ::metrics::counter!(metrics::RETRIES, "tenant" => tenant.to_string()).increment(1);
    metrics::job(job.kind.as_str(), "retry");
    if let Err(e) = app.store.retry_job(tenant, job.id, attempts, run_at, &error).await {
        tracing::error!(job = job.id, error = %e, "cannot record the retry");
    }
    app.queue.finish(
        &job,
        Finish::Retry {
            run_at,
            attempts,
            error,
        },
    );
}
