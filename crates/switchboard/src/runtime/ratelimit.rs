//! Outbound pacing per platform account and per chat, so that the platforms' own limits are
//! rarely hit (a 429 from Telegram blocks the whole bot for a while). A generic cell rate
//! (GCRA) per key: sends are spaced at the key's rate, with a small burst allowed so that a
//! reply split in two, or a button acknowledgement followed by the reply, is not held back.
//! Platform 429s are still honoured on top of this (`deliver::RetryAfter`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchboard_core::Channel;

/// Messages per second: (per account, per chat), from the platforms' published guidance.
pub fn default_rates(channel: Channel) -> (f64, f64) {
    match channel {
        Channel::Telegram => (30.0, 1.0),
        Channel::Whatsapp => (80.0, 1.0),
        Channel::Messenger => (40.0, 1.0),
        Channel::Slack => (20.0, 1.0),
        Channel::Discord => (40.0, 1.0),
        Channel::Teams => (15.0, 1.0),
        Channel::Twilio => (10.0, 1.0),
        Channel::Signal => (5.0, 1.0),
        Channel::Webchat | Channel::Api => (f64::INFINITY, f64::INFINITY),
    }
}

/// Keys untouched for this long are forgotten, so the map stays as small as the active chats.
const FORGET_AFTER: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Pacer {
    /// Per key, when it would be idle again at its steady rate (the "theoretical arrival time").
    tat: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// Reserves the next slot for `key` at `per_second` with `burst` sends allowed at once,
    /// returning how long to wait for it.
    pub fn reserve(&self, key: &str, per_second: f64, burst: u32, now: Instant) -> Duration {
        if !per_second.is_finite() || per_second <= 0.0 {
            return Duration::ZERO;
        }
        let interval = Duration::from_secs_f64(1.0 / per_second);
        let Ok(mut map) = self.tat.lock() else {
            return Duration::ZERO;
        };
        if map.len() > 10_000 {
            map.retain(|_, at| now.saturating_duration_since(*at) < FORGET_AFTER);
        }
        let tat = map.get(key).copied().filter(|at| *at > now).unwrap_or(now);
        let allowance = interval * burst.saturating_sub(1);
        let start = tat.checked_sub(allowance).unwrap_or(now).max(now);
        map.insert(key.to_owned(), tat + interval);
        start - now
    }
}

/// Request limits: a key (client IP, API key, tenant) may make `per_second` requests on
/// average with bursts of `burst`. Unlike [`Pacer`] nothing waits: a request over the limit is
/// refused and told when to come back.
#[derive(Default)]
pub struct Limiter {
    tat: Mutex<HashMap<String, Instant>>,
}

/// The outcome of [`Limiter::admit`], for the `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until a request would be allowed (0 when allowed), rounded up.
    pub retry_after_s: u64,
}

impl Limiter {
    /// Takes a slot for `key` if one is free.
    pub fn admit(&self, key: &str, per_second: f64, burst: u32, now: Instant) -> Admission {
        self.decide(key, per_second, burst, now, true)
    }

    /// Whether [`Limiter::admit`] would allow a request now, without taking the slot: for
    /// limits that count only some outcomes (failed authentications), checked before the
    /// request is let in and charged once the outcome is known.
    pub fn peek(&self, key: &str, per_second: f64, burst: u32, now: Instant) -> Admission {
        self.decide(key, per_second, burst, now, false)
    }

    fn decide(&self, key: &str, per_second: f64, burst: u32, now: Instant, take: bool) -> Admission {
        let burst = burst.max(1);
        let open = Admission {
            allowed: true,
            limit: burst,
            remaining: burst,
            retry_after_s: 0,
        };
        if !per_second.is_finite() || per_second <= 0.0 {
            return open;
        }
        let Ok(mut map) = self.tat.lock() else {
            return open;
        };
        if map.len() > 100_000 {
            map.retain(|_, at| *at > now);
        }
        let interval = Duration::from_secs_f64(1.0 / per_second);
        let tat = map.get(key).copied().filter(|at| *at > now).unwrap_or(now);
        let allowance = interval * burst;
        let backlog = tat - now;
        if backlog + interval > allowance {
            let wait = backlog + interval - allowance;
            return Admission {
                allowed: false,
                limit: burst,
                remaining: 0,
                retry_after_s: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            };
        }
        let tat = tat + interval;
        if take {
            map.insert(key.to_owned(), tat);
        }
        let used = (tat - now).as_secs_f64() / interval.as_secs_f64();
        Admission {
            allowed: true,
            limit: burst,
            remaining: burst.saturating_sub(used.ceil() as u32),
            retry_after_s: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_limiter_admits_a_burst_then_refuses_with_a_retry_time() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let first = l.admit("ip", 1.0, 3, t0);
        assert_eq!((first.allowed, first.remaining), (true, 2));
        assert!(l.admit("ip", 1.0, 3, t0).allowed);
        let third = l.admit("ip", 1.0, 3, t0);
        assert_eq!((third.allowed, third.remaining), (true, 0));
        let refused = l.admit("ip", 1.0, 3, t0);
        assert_eq!((refused.allowed, refused.retry_after_s), (false, 1));
        assert!(l.admit("other", 1.0, 3, t0).allowed, "keys are separate");
        assert!(
            l.admit("ip", 1.0, 3, t0 + Duration::from_secs(1)).allowed,
            "a slot frees each second"
        );
        assert!(l.peek("fails", 1.0, 1, t0).allowed);
        assert!(l.peek("fails", 1.0, 1, t0).allowed, "a peek takes nothing");
        assert!(l.admit("fails", 1.0, 1, t0).allowed);
        assert!(!l.peek("fails", 1.0, 1, t0).allowed);
    }

    use super::*;

    #[test]
    fn slots_are_spaced_per_key() {
        let p = Pacer::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(p.reserve("chat-1", 1.0, 1, t0), s(0));
        assert_eq!(p.reserve("chat-1", 1.0, 1, t0), s(1));
        assert_eq!(p.reserve("chat-1", 1.0, 1, t0), s(2));
        assert_eq!(p.reserve("chat-2", 1.0, 1, t0), s(0), "other chats are not held up");
        assert_eq!(p.reserve("chat-1", 1.0, 1, t0 + s(10)), s(0), "idle keys start fresh");
        assert_eq!(p.reserve("x", f64::INFINITY, 1, t0), s(0));
    }

    #[test]
    fn a_burst_goes_at_once_then_the_rate_applies() {
        let p = Pacer::default();
        let t0 = Instant::now();
        let waits: Vec<Duration> = (0..5).map(|_| p.reserve("c", 1.0, 3, t0)).collect();
        let s = Duration::from_secs;
        assert_eq!(waits, [s(0), s(0), s(0), s(1), s(2)]);
    }
}
