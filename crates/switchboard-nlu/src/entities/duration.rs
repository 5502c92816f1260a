//! Durations: "2 hours", "30 min", "1h30", "a week", "half an hour", "zwei Stunden", as seconds.

use super::number::{DIGITS, compile, parse_digits, word_value, words_pattern};
use super::{EntityContext, Lang, builtin, lang, standalone};
use regex::Regex;
use serde_json::json;
use std::sync::LazyLock;
use switchboard_core::Entity;

const UNITS_EN: &str = "fortnights?|weeks?|wks?|days?|hours?|hrs?|h|minutes?|mins?|seconds?|secs?";
const UNITS_ES: &str = "semanas?|días?|dias?|horas?|h|minutos?|min|segundos?|seg";
const UNITS_DE: &str = "wochen|woche|tagen|tage|tag|stunden|stunde|std|h|minuten|minute|min|sekunden|sekunde|sek";

/// "1h30", "2h 15m": hours and minutes glued together, as timers and calendars write them.
const COMPACT: &str = r"[0-9]{1,3}\s?h\s?[0-9]{1,2}(?:\s?m(?:in)?)?";

fn units(lang: Lang) -> &'static str {
    match lang {
        Lang::En => UNITS_EN,
        Lang::Es => UNITS_ES,
        Lang::De => UNITS_DE,
    }
}

/// A quantity: digits, number words, an article ("a week") or a half ("half an hour").
fn quantity(lang: Lang) -> String {
    let (half, articles) = match lang {
        Lang::En => (r"half\s+an?", "an?|one"),
        Lang::Es => (r"media|medio", "una?"),
        Lang::De => (r"(?:eine\s+)?halbe?", "eine[nr]?|ein"),
    };
    format!("(?:{DIGITS}|{half}|{}|{articles})", words_pattern(lang))
}

/// One "quantity unit" pair, without capture groups so that other patterns can embed it.
fn component(lang: Lang) -> String {
    format!(r"(?:{COMPACT}|{}\s*(?:{})\b)", quantity(lang), units(lang))
}

/// A duration, possibly in parts: "1 hour and 30 minutes", "2 Stunden 15 Minuten".
pub(super) fn pattern(lang: Lang) -> String {
    let and = match lang {
        Lang::En => "and",
        Lang::Es => "y",
        Lang::De => "und",
    };
    let c = component(lang);
    format!(r"(?:{c}(?:(?:\s*,\s*|\s+{and}\s+|\s+){c})*)")
}

struct Patterns {
    whole: Regex,
    part: Regex,
}

fn patterns(lang: Lang) -> &'static Patterns {
    static ALL: LazyLock<[Patterns; 3]> = LazyLock::new(|| {
        [Lang::En, Lang::Es, Lang::De].map(|l| Patterns {
            whole: compile(&format!(r"(?i)\b{}", pattern(l))),
            part: compile(&format!(
                r"(?i)(?P<ch>[0-9]{{1,3}})\s?h\s?(?P<cm>[0-9]{{1,2}})|(?P<q>{})\s*(?P<u>{})\b",
                quantity(l),
                units(l)
            )),
        })
    });
    &ALL[lang as usize]
}

/// The length of a text matched by [`pattern`], in seconds, with its smallest unit in seconds
/// ("in 24 hours" is an instant, "in 1 day" a date).
pub(super) fn measure(lang: Lang, text: &str) -> Option<(f64, f64)> {
    let mut total: Option<(f64, f64)> = None;
    for c in patterns(lang).part.captures_iter(text) {
        let (secs, unit) = if let (Some(h), Some(m)) = (c.name("ch"), c.name("cm")) {
            let secs = h.as_str().parse::<f64>().ok()? * 3600.0 + m.as_str().parse::<f64>().ok()? * 60.0;
            (secs, 60.0)
        } else {
            let unit = unit_seconds(c.name("u")?.as_str())?;
            (quantity_value(lang, c.name("q")?.as_str())? * unit, unit)
        };
        total = Some(total.map_or((secs, unit), |(t, u)| (t + secs, u.min(unit))));
    }
    total.filter(|(t, _)| t.is_finite())
}

fn quantity_value(lang: Lang, q: &str) -> Option<f64> {
    let lower = q.to_lowercase();
    if ["half", "medi", "halb"].iter().any(|h| lower.contains(h)) {
        return Some(0.5);
    }
    if lower.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_digits(q, lang);
    }
    word_value(lang, q).or(Some(1.0))
}

fn unit_seconds(unit: &str) -> Option<f64> {
    let u = unit.to_lowercase();
    let table: [(&[&str], f64); 6] = [
        (&["fortnight"], 14.0 * 86400.0),
        (&["w", "semana"], 7.0 * 86400.0),
        (&["d", "día", "tag"], 86400.0),
        (&["h", "std", "stund"], 3600.0),
        (&["min"], 60.0),
        (&["s"], 1.0),
    ];
    table
        .iter()
        .find(|(prefixes, _)| prefixes.iter().any(|p| u.starts_with(p)))
        .map(|(_, s)| *s)
}

pub(super) fn find(text: &str, ctx: &EntityContext, out: &mut Vec<Entity>) {
    let lang = lang(ctx);
    for m in patterns(lang).whole.find_iter(text) {
        if !standalone(text, m.start(), m.end()) {
            continue;
        }
        if let Some((secs, _)) = measure(lang, m.as_str()) {
            // Whole seconds: nobody types a duration finer than that.
            out.push(builtin(
                "duration",
                text,
                m.start(),
                m.end(),
                json!(secs.round() as i64),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn durations_in_seconds() {
        let en = ctx_in("UTC", "en");
        let d = |t: &str| one(t, &en, "duration");
        assert_eq!(d("2 hours"), json!(7200));
        assert_eq!(d("30 min"), json!(1800));
        assert_eq!(d("1h30"), json!(5400));
        assert_eq!(d("2h 15m"), json!(8100));
        assert_eq!(d("a week"), json!(604_800));
        assert_eq!(d("half an hour"), json!(1800));
        assert_eq!(d("1.5 hours"), json!(5400));
        assert_eq!(d("two days"), json!(172_800));
        assert_eq!(d("1 hour and 30 minutes"), json!(5400));
        assert_eq!(d("90 seconds"), json!(90));
        assert_eq!(one("dos horas", &ctx_in("UTC", "es"), "duration"), json!(7200));
        assert_eq!(one("media hora", &ctx_in("UTC", "es"), "duration"), json!(1800));
        assert_eq!(one("zwei Stunden", &ctx_in("UTC", "de"), "duration"), json!(7200));
        assert_eq!(one("eine halbe Stunde", &ctx_in("UTC", "de"), "duration"), json!(1800));
        assert_eq!(one("3 Tage", &ctx_in("UTC", "de"), "duration"), json!(259_200));
        assert!(found("the hour is late", &en, "duration").is_empty());
    }
}
