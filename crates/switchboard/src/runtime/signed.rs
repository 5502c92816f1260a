//! Signed POSTs to tenants' endpoints, shared by form submissions and event webhooks: the
//! signature, what an endpoint's answer means, and when to try again.
//!
//! `X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` lets the
//! receiver check that a request comes from us and is recent.

use crate::runtime::queue::backoff_ms;
use hmac::{KeyInit, Mac};
use std::time::Duration;
use switchboard_store::SendOutcome;

/// `X-Switchboard-Signature` for `body` sent at `t` (unix seconds).
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; empty keys are refused before anything is sent.
    let mut mac = match <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return format!("t={t},v1="),
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What an endpoint's answer means for what was sent.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Ok {
        status: u16,
    },
    /// Not worth sending again (a 4xx other than 408 and 429).
    Refused {
        status: Option<u16>,
        error: String,
    },
    /// Worth another try: 5xx, 408, 429, timeouts, no connection.
    Transient {
        status: Option<u16>,
        error: String,
        retry_after_s: u64,
    },
}

impl Reply {
    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Reply::Ok { status } => Some(*status),
            Reply::Refused { status, .. } | Reply::Transient { status, .. } => *status,
        }
    }
}

/// One signed request: the JSON `body` to `url`, with `headers` besides the signature.
pub struct Post<'a> {
    pub url: &'a str,
    pub secret: &'a [u8],
    pub body: Vec<u8>,
    pub headers: &'a [(&'static str, String)],
    pub timeout: Duration,
    /// Epoch milliseconds: the signature's time.
    pub now: i64,
    /// `server.allow_private_targets`: the URL may name a non-public address.
    pub allow_private: bool,
}

pub async fn post(http: &reqwest::Client, p: Post<'_>) -> Reply {
    if let Err(error) = crate::runtime::egress::check_url(p.url, p.allow_private) {
        return Reply::Refused { status: None, error };
    }
    let mut req = http
        .post(p.url)
        .timeout(p.timeout)
        .header("content-type", "application/json")
        .header(
            "x-switchboard-signature",
            signature(p.secret, p.now.div_euclid(1000), &p.body),
        );
    for (name, value) in p.headers {
        req = req.header(*name, value);
    }
    let res = match req.body(p.body).send().await {
        Ok(res) => res,
        Err(e) => {
            return Reply::Transient {
                status: None,
                error: format!("{}: {e}", p.url),
                retry_after_s: 0,
            };
        }
    };
    let status = res.status().as_u16();
    if res.status().is_success() {
        return Reply::Ok { status };
    }
    let retry_after_s = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
        .min(86_400);
    let text = crate::runtime::egress::body(res, 4 * crate::runtime::redact::REASON_MAX).await;
    let error = format!(
        "HTTP {status}: {}",
        crate::runtime::redact::reason(&String::from_utf8_lossy(&text))
    );
    match status {
        // Not followed (see `egress`), and repeating the request will not change the answer.
        300..=399 => Reply::Refused {
            status: Some(status),
            error: format!("HTTP {status}: redirects are not followed; give the final URL"),
        },
        408 | 429 => Reply::Transient {
            status: Some(status),
            error,
            retry_after_s,
        },
        400..=499 => Reply::Refused {
            status: Some(status),
            error,
        },
        _ => Reply::Transient {
            status: Some(status),
            error,
            retry_after_s,
        },
    }
}

/// How to retry: `[forms]` and `[events]` both say it this way.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base_ms: u64,
    pub max_ms: u64,
    pub max_attempts: u32,
}

/// What the `attempt`th try (1-based) comes to: sent, failed for good, or retried after a
/// backoff with jitter (a longer Retry-After wins).
pub fn outcome(reply: Reply, attempt: u32, backoff: Backoff, now: i64) -> SendOutcome {
    match reply {
        Reply::Ok { .. } => SendOutcome::Sent,
        Reply::Refused { error, .. } => SendOutcome::Failed { error },
        Reply::Transient { error, .. } if attempt >= backoff.max_attempts => SendOutcome::Failed {
            error: format!("gave up after {attempt} attempts: {error}"),
        },
        Reply::Transient {
            error, retry_after_s, ..
        } => {
            let wait = backoff_ms(attempt, backoff.base_ms, backoff.max_ms).max(retry_after_s * 1000);
            SendOutcome::Retry {
                at: now + wait as i64,
                error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_an_hmac_of_the_time_and_the_body() {
        // Checked against `printf '1795168800.{"a":1}' | openssl dgst -sha256 -hmac s3cret`.
        assert_eq!(
            signature(b"s3cret", 1_795_168_800, br#"{"a":1}"#),
            "t=1795168800,v1=d2798453b753e709e87ffdf615db2bf502265325f19190981ad55a2f9cb1e6b3"
        );
    }

    #[test]
    fn transient_answers_back_off_until_the_attempts_run_out() {
        let b = Backoff {
            base_ms: 1_000,
            max_ms: 60_000,
            max_attempts: 3,
        };
        let transient = |retry_after_s| Reply::Transient {
            status: Some(503),
            error: "HTTP 503".into(),
            retry_after_s,
        };
        match outcome(transient(0), 1, b, 10_000) {
            SendOutcome::Retry { at, .. } => assert!((10_500..=11_000).contains(&at), "{at}"),
            other => panic!("{other:?}"),
        }
        match outcome(transient(600), 2, b, 0) {
            SendOutcome::Retry { at, .. } => assert_eq!(at, 600_000, "Retry-After wins"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(outcome(transient(0), 3, b, 0), SendOutcome::Failed { .. }));
        let refused = Reply::Refused {
            status: Some(400),
            error: "HTTP 400".into(),
        };
        assert!(matches!(outcome(refused, 1, b, 0), SendOutcome::Failed { .. }));
        assert_eq!(outcome(Reply::Ok { status: 204 }, 1, b, 0), SendOutcome::Sent);
    }
}
