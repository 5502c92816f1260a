//! How each kind of queued job is retried: how many attempts, for how long, how far apart.

use crate::config::Config;
use crate::runtime::queue::backoff_ms;
use switchboard_store::{Job, JobKind};

/// How a kind of job is retried. Turns fail fast: a person waits for the answer, and a turn
/// that fails a few times will not get better by waiting. Deliveries wait out a platform's
/// outage, for hours if need be; their conversation's next turns do not wait for them (they
/// hold only the conversation's delivery lane, see `runtime/queue.rs`).
pub struct RetryPolicy {
    max_attempts: u32,
    /// Given up once a failure comes this long after the job was queued.
    max_age_ms: Option<i64>,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
}

impl RetryPolicy {
    pub fn of(config: &Config, kind: JobKind) -> RetryPolicy {
        match kind {
            JobKind::Turn => RetryPolicy {
                max_attempts: config.queue.max_attempts,
                max_age_ms: None,
                backoff_base_ms: config.queue.backoff_base_ms,
                backoff_max_ms: config.queue.backoff_max_ms,
            },
            JobKind::Deliver => RetryPolicy {
                max_attempts: config.delivery.max_attempts,
                max_age_ms: Some(i64::try_from(config.delivery.max_age_s.saturating_mul(1000)).unwrap_or(i64::MAX)),
                backoff_base_ms: config.delivery.backoff_base_ms,
                backoff_max_ms: config.delivery.backoff_max_ms,
            },
        }
    }

    fn deadline(&self, job: &Job) -> Option<i64> {
        self.max_age_ms.map(|age| job.created_at.saturating_add(age))
    }

    /// Whether a job that has failed `attempts` times, the last at `now`, goes to the dead letters.
    pub fn gives_up(&self, job: &Job, attempts: u32, now: i64) -> bool {
        attempts >= self.max_attempts || self.deadline(job).is_some_and(|d| now >= d)
    }

    /// When to try again after the `attempts`th failure: the last try falls on the deadline
    /// rather than past it, so that a platform back just in time still gets the reply.
    pub fn retry_at(&self, job: &Job, attempts: u32, now: i64) -> i64 {
        let delay = backoff_ms(attempts, self.backoff_base_ms, self.backoff_max_ms);
        let at = now.saturating_add(delay as i64);
        self.deadline(job).map_or(at, |d| at.min(d))
    }
}
