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

#[cfg(test)]
mod tests {
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
