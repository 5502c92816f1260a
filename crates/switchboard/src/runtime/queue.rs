//! The in-process scheduler over the durable queue table.
//!
//! The store holds every job; this keeps an index of them in memory so that workers never poll
//! the database on the hot path. It is fed in commit order by the store's job feed, recovers
//! everything pending at start-up, and picks up jobs written by other processes by polling for
//! ids above the highest it has seen. On PostgreSQL concurrent transactions commit in any order,
//! so a job can appear after one with a higher id: the ids skipped over are remembered for a
//! while (`GAP_TTL`), a job with such an id is still taken, and polling starts below the lowest.
//!
//! Ordering: a conversation's jobs form a FIFO and only its head may run, so one conversation's
//! messages are handled one at a time, in arrival order, while different conversations run in
//! parallel. A head job waiting out a retry delay holds its conversation back: order is kept
//! even across failures. A conversation has two such lanes: its turns, and the delivery of its
//! replies through a platform, so that a platform that is down delays the replies (still in
//! order) but not the next turns.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use switchboard_core::{Clock, ConversationId};
use switchboard_store::{Job, JobKind, Priority};
use tokio::sync::Notify;

use crate::runtime::metrics;

/// How long an id skipped over may still turn up: longer than any write's transaction. Ids of
/// writes that rolled back never turn up and are forgotten after this.
const GAP_TTL: Duration = Duration::from_secs(60);
/// Of the ids skipped by a jump, only the last this many are remembered: writes in flight at
/// once are far fewer (a pool's connections per instance), and a jump over every id ever
/// completed (the first job seen after start-up) need not be remembered whole. The very first
/// jobs of a new database are covered too: job 3 may commit before jobs 1 and 2.
const GAP_WINDOW: i64 = 1_000;

/// How often waiting workers read a manual clock again (tests move it in jumps).
const MANUAL_CLOCK_RECHECK_MS: u64 = 20;

/// A conversation's turns (`false`) or deliveries (`true`).
type Lane = (ConversationId, bool);

fn lane(job: &Job) -> Lane {
    (job.conversation.clone(), job.kind == JobKind::Deliver)
}

#[derive(Default)]
struct ConvQueue {
    jobs: VecDeque<Job>,
    busy: bool,
}

#[derive(Default)]
struct State {
    convs: HashMap<Lane, ConvQueue>,
    /// Conversations whose head job may run now, by priority (index = `Priority as usize`).
    ready: [VecDeque<Lane>; 3],
    /// Conversations whose head job waits for its retry time.
    delayed: BinaryHeap<Reverse<(i64, Lane)>>,
    max_seen: i64,
    /// Ids below `max_seen` not seen yet, with when they were skipped (wall time: test clocks
    /// jump by days).
    gaps: BTreeMap<i64, std::time::Instant>,
    depth: usize,
    in_flight: usize,
}

pub struct Scheduler {
    state: Mutex<State>,
    notify: Notify,
    clock: Clock,
}

/// How a job's attempt ended, as the scheduler needs to know it.
pub enum Finish {
    /// Done (completed or dead-lettered): the conversation moves on.
    Done,
    /// Failed, to be tried again at `run_at`.
    Retry { run_at: i64, attempts: u32, error: String },
}

impl State {
    fn schedule(&mut self, id: &Lane, now: i64) {
        let Some(q) = self.convs.get(id) else { return };
        let Some(head) = q.jobs.front() else {
            self.convs.remove(id);
            return;
        };
        if head.run_at <= now {
            self.ready[head.priority as usize].push_back(id.clone());
        } else {
            self.delayed.push(Reverse((head.run_at, id.clone())));
        }
    }

    fn promote(&mut self, now: i64) {
        while let Some(Reverse((at, _))) = self.delayed.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, id))) = self.delayed.pop() else {
                break;
            };
            let runnable = self
                .convs
                .get(&id)
                .is_some_and(|q| !q.busy && q.jobs.front().is_some_and(|j| j.run_at <= now));
            if runnable {
                self.schedule(&id, now);
            }
        }
    }

    fn pop_ready(&mut self) -> Option<Job> {
        for prio in [Priority::Interactive, Priority::Normal, Priority::Bulk] {
            while let Some(id) = self.ready[prio as usize].pop_front() {
                if let Some(q) = self.convs.get_mut(&id)
                    && !q.busy
                    && let Some(job) = q.jobs.front()
                {
                    q.busy = true;
                    self.in_flight += 1;
                    return Some(job.clone());
                }
            }
        }
        None
    }
}

impl Scheduler {
    pub fn new(clock: Clock) -> Scheduler {
        Scheduler {
            state: Mutex::default(),
            notify: Notify::new(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the index half-updated in a way that
        // matters more than stopping the queue would; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds jobs not seen before (ids above the highest seen), in id order.
    pub fn push(&self, jobs: impl IntoIterator<Item = Job>) {
        let now = self.clock.now_ms();
        let mut s = self.lock();
        let mut added = 0;
        let seen_at = std::time::Instant::now();
        for job in jobs {
            if job.id <= s.max_seen {
                if s.gaps.remove(&job.id).is_none() {
                    continue;
                }
            } else {
                for id in (s.max_seen + 1).max(job.id - GAP_WINDOW)..job.id {
                    s.gaps.insert(id, seen_at);
                }
                s.max_seen = job.id;
            }
            s.depth += 1;
            added += 1;
            let id = lane(&job);
            let q = s.convs.entry(id.clone()).or_default();
            let was_idle = q.jobs.is_empty() && !q.busy;
            q.jobs.push_back(job);
            if was_idle {
                s.schedule(&id, now);
            }
        }
        ::metrics::gauge!(metrics::QUEUE_DEPTH).set(s.depth as f64);
        drop(s);
        for _ in 0..added {
            self.notify.notify_one();
        }
    }

    pub fn max_seen(&self) -> i64 {
        self.lock().max_seen
    }

    /// Where polling for new jobs starts: below the lowest id still awaited, else above the
    /// highest seen.
    pub fn poll_after(&self) -> i64 {
        let mut s = self.lock();
        let now = std::time::Instant::now();
        s.gaps.retain(|_, at| now.duration_since(*at) < GAP_TTL);
        s.gaps.keys().next().map_or(s.max_seen, |id| id - 1)
    }

    pub fn depth(&self) -> (usize, usize) {
        let s = self.lock();
        (s.depth, s.in_flight)
    }

    /// Waits for the next runnable job and marks its conversation busy.
    pub async fn next(&self) -> Job {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let now = self.clock.now_ms();
                let mut s = self.lock();
                s.promote(now);
                if let Some(job) = s.pop_ready() {
                    ::metrics::gauge!(metrics::QUEUE_IN_FLIGHT).set(s.in_flight as f64);
                    return job;
                }
                s.delayed.peek().map(|Reverse((at, _))| (*at - now).max(1) as u64)
            };
            // A manual clock moves without telling anyone: look again soon rather than sleep
            // through the time a test just skipped.
            let wait = match self.clock {
                Clock::Manual(_) => wait.map(|ms| ms.min(MANUAL_CLOCK_RECHECK_MS)),
                Clock::System => wait,
            };
            match wait {
                Some(ms) => {
                    let _ = tokio::time::timeout(Duration::from_millis(ms), notified).await;
                }
                None => notified.await,
            }
        }
    }

    /// Reports how the running head `job` of its lane ended.
    pub fn finish(&self, job: &Job, how: Finish) {
        let conversation = &lane(job);
        let now = self.clock.now_ms();
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if let Some(q) = s.convs.get_mut(conversation) {
            q.busy = false;
            match how {
                Finish::Done => {
                    q.jobs.pop_front();
                    s.depth = s.depth.saturating_sub(1);
                }
                Finish::Retry {
                    run_at,
                    attempts,
                    error,
                } => {
                    if let Some(head) = q.jobs.front_mut() {
                        head.run_at = run_at;
                        head.attempts = attempts;
                        head.last_error = Some(error);
                    }
                }
            }
            s.schedule(conversation, now);
        }
        ::metrics::gauge!(metrics::QUEUE_DEPTH).set(s.depth as f64);
        ::metrics::gauge!(metrics::QUEUE_IN_FLIGHT).set(s.in_flight as f64);
        drop(s);
        self.notify.notify_one();
    }
}

/// Retry delay for the `attempt`th failure (1-based): exponential, capped, with jitter in the
/// upper half so that retries of many failed jobs spread out but never come back at once.
pub fn backoff_ms(attempt: u32, base_ms: u64, max_ms: u64) -> u64 {
    let exp = base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(32))
        .min(max_ms);
    let half = exp / 2;
    half + rand::random_range(0..=half.max(1)).min(exp - half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{MessageId, TenantId};
    use switchboard_store::JobKind;

    fn job(id: i64, conv: &ConversationId, priority: Priority) -> Job {
        Job {
            id,
            tenant: TenantId::parse("t").expect("id"),
            kind: JobKind::Turn,
            conversation: conv.clone(),
            message: MessageId::generate(),
            priority,
            attempts: 0,
            run_at: 0,
            last_error: None,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn one_job_per_conversation_at_a_time_in_order() {
        let s = Scheduler::new(Clock::manual(1000));
        let (a, b) = (ConversationId::generate(), ConversationId::generate());
        s.push([
            job(1, &a, Priority::Normal),
            job(2, &a, Priority::Normal),
            job(3, &b, Priority::Normal),
        ]);
        let first = s.next().await;
        let second = s.next().await;
        assert_eq!((first.id, second.id), (1, 3), "a's second job waits for its first");
        s.finish(&first, Finish::Done);
        assert_eq!(s.next().await.id, 2);
        assert_eq!(s.depth(), (2, 2));
    }

    #[tokio::test]
    async fn interactive_goes_before_bulk_and_duplicates_are_ignored() {
        let s = Scheduler::new(Clock::manual(1000));
        let (a, b) = (ConversationId::generate(), ConversationId::generate());
        s.push([job(1, &a, Priority::Bulk), job(2, &b, Priority::Interactive)]);
        s.push([job(2, &b, Priority::Interactive), job(1, &a, Priority::Bulk)]);
        assert_eq!(s.next().await.id, 2);
        assert_eq!(s.next().await.id, 1);
        assert_eq!(s.depth().0, 2);
    }

    /// PostgreSQL commits concurrent writes in any order: job 3 can be announced before job 2.
    #[tokio::test]
    async fn a_job_committed_after_a_higher_id_is_still_taken_once() {
        let s = Scheduler::new(Clock::manual(1000));
        let (a, b, c) = (
            ConversationId::generate(),
            ConversationId::generate(),
            ConversationId::generate(),
        );
        s.push([job(1, &a, Priority::Normal)]);
        s.push([job(4, &b, Priority::Normal)]);
        assert_eq!(s.poll_after(), 1, "polling looks again from below the ids skipped");
        s.push([job(3, &c, Priority::Normal)]);
        s.push([job(3, &c, Priority::Normal), job(4, &b, Priority::Normal)]);
        assert_eq!(s.depth().0, 3, "late job 3 taken once, seen ones ignored");
        assert_eq!(s.poll_after(), 1, "2 is still awaited");
        s.push([job(2, &a, Priority::Normal)]);
        assert_eq!(s.poll_after(), 4);
        let mut ids = Vec::new();
        for _ in 0..3 {
            let j = s.next().await;
            ids.push(j.id);
            s.finish(&j, Finish::Done);
        }
        ids.push(s.next().await.id);
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn the_first_jobs_of_a_new_database_may_commit_out_of_order() {
        let s = Scheduler::new(Clock::manual(1000));
        let (a, b) = (ConversationId::generate(), ConversationId::generate());
        s.push([job(3, &a, Priority::Normal)]);
        assert_eq!(s.poll_after(), 0, "1 and 2 are awaited");
        s.push([job(1, &b, Priority::Normal), job(2, &a, Priority::Normal)]);
        assert_eq!(s.depth().0, 3);
        assert_eq!(s.poll_after(), 3);
        // A jump over a long history (start-up) remembers only the last ids below it.
        s.push([job(1_000_000, &b, Priority::Normal)]);
        assert_eq!(s.poll_after(), 1_000_000 - GAP_WINDOW - 1);
    }

    #[tokio::test]
    async fn a_retried_head_holds_its_conversation_until_due() {
        let clock = Clock::manual(1000);
        let s = Scheduler::new(clock.clone());
        let a = ConversationId::generate();
        s.push([job(1, &a, Priority::Normal), job(2, &a, Priority::Normal)]);
        let head = s.next().await;
        assert_eq!(head.id, 1);
        s.finish(
            &head,
            Finish::Retry {
                run_at: 1500,
                attempts: 1,
                error: "x".into(),
            },
        );
        let early = tokio::time::timeout(Duration::from_millis(50), s.next()).await;
        assert!(early.is_err(), "nothing runs before the retry is due");
        clock.advance(500);
        let retried = s.next().await;
        assert_eq!((retried.id, retried.attempts), (1, 1));
    }

    #[tokio::test]
    async fn a_stalled_delivery_does_not_hold_up_the_next_turn() {
        let s = Scheduler::new(Clock::manual(1000));
        let a = ConversationId::generate();
        let mut deliver = job(1, &a, Priority::Interactive);
        deliver.kind = JobKind::Deliver;
        s.push([deliver, job(2, &a, Priority::Interactive)]);
        let first = s.next().await;
        let second = s.next().await;
        assert_eq!(
            (first.kind, second.kind),
            (JobKind::Deliver, JobKind::Turn),
            "both lanes run"
        );
        s.finish(
            &first,
            Finish::Retry {
                run_at: 10_000,
                attempts: 1,
                error: "platform down".into(),
            },
        );
        s.finish(&second, Finish::Done);
        assert_eq!(s.depth(), (1, 0));
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for attempt in 1..10 {
            let exp = (100u64 << (attempt - 1)).min(5000);
            let d = backoff_ms(attempt, 100, 5000);
            assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d}");
        }
        assert!(backoff_ms(64, 100, 5000) <= 5000, "no overflow past the cap");
    }
}
