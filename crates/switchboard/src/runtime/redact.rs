//! What an error may say once it leaves the code that made it: errors end up in logs,
//! `jobs.last_error`, the dead letters (readable with a read-scope API key) and a reply's
//! `metadata.error` (readable by the tenant), so they must carry neither a connector's secrets
//! (a Telegram bot token is part of the URL it calls, and an HTTP client's error names the URL)
//! nor more of a third party's answer than a short reason.

use regex::Regex;
use std::sync::LazyLock;

pub const REDACTED: &str = "[redacted]";

/// Longest reason kept from a third party's answer.
pub const REASON_MAX: usize = 200;

/// Secrets shorter than this are not searched for: replacing every "ab" would garble the text,
/// and a secret that short protects nothing anyway.
const MIN_SECRET_LEN: usize = 6;

/// A Telegram bot token in a Bot API path (`/bot<bot id>:<token>/method`), whichever connector's.
static BOT_TOKEN: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"bot[0-9]+:[A-Za-z0-9_-]+").ok());

/// `text` without Telegram bot tokens.
pub fn tokens(text: &str) -> String {
    match BOT_TOKEN.as_ref() {
        Some(re) => re.replace_all(text, format!("bot{REDACTED}")).into_owned(),
        None => text.to_owned(),
    }
}

/// `text` without any of `secrets` (and without Telegram bot tokens).
pub fn secrets<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = tokens(text);
    let mut secrets: Vec<&str> = secrets.into_iter().filter(|s| s.len() >= MIN_SECRET_LEN).collect();
    // Longest first: a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        if out.contains(s) {
            out = out.replace(s, REDACTED);
        }
    }
    out
}

/// A third party's words made fit to keep and show: control characters (a forged log line, a
/// terminal escape) become spaces, and at most [`REASON_MAX`] characters remain.
pub fn reason(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(REASON_MAX + 1)
        .collect();
    if out.chars().count() > REASON_MAX {
        out = out.chars().take(REASON_MAX).collect();
        out.push('…');
    }
    out
}

/// An error with its causes, as `{e:#}` shows an `anyhow` error.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_tokens_and_secrets_are_replaced() {
        let e = "error sending request for url (https://api.telegram.org/bot7000000001:AAHfake-Token_x/sendMessage)";
        let clean = tokens(e);
        assert!(!clean.contains("AAHfake"), "{clean}");
        assert!(
            clean.contains("https://api.telegram.org/bot[redacted]/sendMessage"),
            "{clean}"
        );

        let clean = secrets(
            "Bearer xoxb-very-secret and xoxb-very-secret-longer, key ab",
            ["xoxb-very-secret", "xoxb-very-secret-longer", "ab", ""],
        );
        assert_eq!(clean, "Bearer [redacted] and [redacted], key ab");
    }

    #[test]
    fn reasons_are_short_and_on_one_line() {
        assert_eq!(reason("bad\r\nrequest\u{1b}[31m"), "bad  request [31m");
        let long = reason(&"x".repeat(5_000));
        assert_eq!(long.chars().count(), REASON_MAX + 1);
        assert!(long.ends_with('…'));
        assert_eq!(reason("short"), "short");
        assert_eq!(reason(&"é".repeat(REASON_MAX)), "é".repeat(REASON_MAX));
    }
}
