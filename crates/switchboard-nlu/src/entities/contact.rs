//! E-mail addresses, phone numbers and URLs.
//!
//! Phone numbers are normalised to E.164 by hand rather than with a port of libphonenumber:
//! its metadata makes it a heavy build for what the bots need, which is a stable key for a
//! number the user typed. The rules: a number written with `+` or the `00` international
//! prefix keeps its digits (8 to 15 of them); a national number (starting with the trunk `0`,
//! or a 10-digit North American number when the bot's country code is 1) gets the bot's
//! `default_country_code` in place of the trunk `0`. Numbers are not checked against each
//! country's numbering plan.

use super::number::compile;
use super::{EntityContext, builtin, standalone};
use regex::Regex;
use serde_json::json;
use std::sync::LazyLock;
use switchboard_core::Entity;

pub(super) fn find(text: &str, ctx: &EntityContext, out: &mut Vec<Entity>) {
    emails(text, out);
    phones(text, ctx, out);
    urls(text, out);
}

fn emails(text: &str, out: &mut Vec<Entity>) {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b"));
    for m in RE.find_iter(text) {
        let Some((local, domain)) = m.as_str().split_once('@') else {
            continue;
        };
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            continue;
        }
        // The domain is case-insensitive; the local part belongs to the mail server.
        let value = format!("{local}@{}", domain.to_ascii_lowercase());
        out.push(builtin("email", text, m.start(), m.end(), json!(value)));
    }
}

fn phones(text: &str, ctx: &EntityContext, out: &mut Vec<Entity>) {
    static INTERNATIONAL: LazyLock<Regex> = LazyLock::new(|| compile(r"(?:\+|\b00)[1-9][0-9 ()./\-]{5,22}[0-9]"));
    // No dots in national numbers: "01.02.2026" is a date.
    static NATIONAL: LazyLock<Regex> =
        LazyLock::new(|| compile(r"(?:\(0[0-9]{1,5}\)|\b0[0-9]{1,5})[0-9 /\-]{4,16}[0-9]"));
    static NANP: LazyLock<Regex> =
        LazyLock::new(|| compile(r"(?:\([2-9][0-9]{2}\)\s?|\b[2-9][0-9]{2}[\s.\-])[2-9][0-9]{2}[\s.\-][0-9]{4}\b"));
    for m in INTERNATIONAL.find_iter(text) {
        if !standalone(text, m.start(), m.end()) {
            continue;
        }
        // "+49 (0)30 ...": the trunk 0 some people keep in brackets is not dialled from abroad.
        let digits: String = m
            .as_str()
            .replace("(0)", "")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let digits = digits.strip_prefix("00").unwrap_or(&digits);
        if (8..=15).contains(&digits.len()) {
            out.push(builtin("phone", text, m.start(), m.end(), json!(format!("+{digits}"))));
        }
    }
    let Some(cc) = ctx.country_code.as_deref() else {
        return;
    };
    let national = NATIONAL.find_iter(text);
    let nanp = NANP.find_iter(text).filter(|_| cc == "1");
    for m in national.chain(nanp) {
        let before = text[..m.start()].chars().next_back();
        if !standalone(text, m.start(), m.end()) || matches!(before, Some('+' | '0'..='9')) {
            continue;
        }
        let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
        let number = format!("{cc}{}", digits.strip_prefix('0').unwrap_or(&digits));
        if (8..=15).contains(&number.len()) {
            out.push(builtin("phone", text, m.start(), m.end(), json!(format!("+{number}"))));
        }
    }
}

/// Top-level domains a URL without a scheme may end in: a closed list, so that "e.g.",
/// "file.txt" or "v1.2" are not taken for addresses.
const TLDS: &str = "com|org|net|edu|gov|io|co|ai|app|dev|info|biz|me|tv|eu|de|es|fr|it|nl|be|at|ch|uk|us|ca|mx|ar|cl|br|pt|pl|se|no|dk|fi|ie|in|jp|cn|au|nz|ru|shop|online|site|xyz|tech|cloud";

fn urls(text: &str, out: &mut Vec<Entity>) {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        compile(&format!(
            r"(?i)\bhttps?://[^\s<>\x22]+|\b(?:www\.)?(?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+(?:{TLDS})\b(?::[0-9]{{1,5}})?(?:/[^\s<>\x22]*)?"
        ))
    });
    for m in RE.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        // The domain of an e-mail address is not a link.
        if matches!(before, Some('@' | '.' | '/')) || before.is_some_and(char::is_alphanumeric) {
            continue;
        }
        let raw = trim_trailing_punctuation(m.as_str());
        let end = m.start() + raw.len();
        let has_scheme = raw.len() > 7 && raw.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("http://"))
            || raw.get(..8).is_some_and(|p| p.eq_ignore_ascii_case("https://"));
        if has_scheme && !raw.contains("://") || raw.ends_with("://") {
            continue;
        }
        let (scheme, rest) = match raw.split_once("://") {
            Some((s, r)) if has_scheme => (s.to_ascii_lowercase(), r),
            _ => ("https".to_owned(), raw),
        };
        // The host is case-insensitive; the path is not.
        let (host, path) = rest.find(['/', '?', '#']).map_or((rest, ""), |i| rest.split_at(i));
        let value = format!("{scheme}://{}{path}", host.to_ascii_lowercase());
        out.push(builtin("url", text, m.start(), end, json!(value)));
    }
}

/// "see example.com/x)." ends at "x": sentence punctuation and an unmatched closing bracket
/// belong to the sentence, not the link.
fn trim_trailing_punctuation(url: &str) -> &str {
    let mut s = url;
    loop {
        let Some(last) = s.chars().next_back() else { return s };
        let unmatched = |open: char, close: char| last == close && s.matches(open).count() < s.matches(close).count();
        if ".,;:!?'\"".contains(last) || unmatched('(', ')') || unmatched('[', ']') || unmatched('{', '}') {
            s = &s[..s.len() - last.len_utf8()];
        } else {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn emails_keep_the_local_part_and_lowercase_the_domain() {
        let c = ctx_in("UTC", "en");
        assert_eq!(
            one("write to Ana.Lopez+bots@Example.COM.", &c, "email"),
            json!("Ana.Lopez+bots@example.com")
        );
        assert_eq!(one("x@mail.example.co.uk", &c, "email"), json!("x@mail.example.co.uk"));
        assert!(found("a@b, @home, foo@bar", &c, "email").is_empty());
        assert!(found("ana@example.com", &c, "url").is_empty());
    }

    #[test]
    fn phone_numbers_in_e164() {
        let c = ctx_in("Europe/Berlin", "de");
        let p = |t: &str| one(t, &c, "phone");
        assert_eq!(p("+49 30 1234567"), json!("+49301234567"));
        assert_eq!(p("ruf an: +49 (0)30 123-4567"), json!("+49301234567"));
        assert_eq!(p("0049 30 1234567"), json!("+49301234567"));
        assert_eq!(p("030 1234567"), json!("+49301234567"));
        assert_eq!(p("(030) 123 45 67"), json!("+49301234567"));
        assert_eq!(p("0176/12345678"), json!("+4917612345678"));
        assert_eq!(p("+1 (415) 555-0132"), json!("+14155550132"));
        assert!(found("+12 34", &c, "phone").is_empty());
        assert!(found("01.02.2026 and 12345678", &c, "phone").is_empty());
        assert!(found("+1234567890123456789", &c, "phone").is_empty());
        let mut us = ctx_in("America/New_York", "en");
        us.country_code = Some("1".into());
        assert_eq!(one("call (415) 555-0132", &us, "phone"), json!("+14155550132"));
        assert_eq!(one("415-555-0132", &us, "phone"), json!("+14155550132"));
        // Without a default country code, only international numbers are recognised.
        us.country_code = None;
        assert!(found("030 1234567", &us, "phone").is_empty());
    }

    #[test]
    fn urls_with_or_without_scheme() {
        let c = ctx_in("UTC", "en");
        let u = |t: &str| found(t, &c, "url");
        assert_eq!(
            u("see example.com/x."),
            [("example.com/x".into(), json!("https://example.com/x"))]
        );
        assert_eq!(
            u("(see https://Example.com/A?b=1)"),
            [("https://Example.com/A?b=1".into(), json!("https://example.com/A?b=1"))]
        );
        assert_eq!(
            u("http://localhost:8080/x, ok"),
            [("http://localhost:8080/x".into(), json!("http://localhost:8080/x"))]
        );
        assert_eq!(
            u("www.acme.de!"),
            [("www.acme.de".into(), json!("https://www.acme.de"))]
        );
        assert_eq!(
            u("wiki: https://en.wikipedia.org/wiki/Foo_(bar)"),
            [(
                "https://en.wikipedia.org/wiki/Foo_(bar)".into(),
                json!("https://en.wikipedia.org/wiki/Foo_(bar)")
            )]
        );
        assert!(u("e.g. file.txt or v1.2 or http://").is_empty());
    }
}
