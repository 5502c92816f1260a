//! Dates and times as chat users type them, resolved against the message's time in the user's
//! time zone: "tomorrow at 5pm", "next Monday", "Feb 29", "on the 31st", "at 9", "in 2 hours",
//! "mañana a las 5", "nächsten Freitag um 17 Uhr".
//!
//! Days and clock times are found separately; a day next to a time ("tomorrow at 5pm",
//! "5pm on Friday") also yields the pair, which, being longer, wins over its parts.

use super::calendar::{ClockTime, Day, Which, at_time, resolve_day};
use super::number::compile;
use super::{EntityContext, Lang, builtin, duration, lang, standalone};
use jiff::civil::Weekday;
use jiff::{SignedDuration, ToSpan, Zoned};
use regex::{Captures, Regex};
use serde_json::json;
use std::sync::LazyLock;
use switchboard_core::Entity;

struct Span<T> {
    start: usize,
    end: usize,
    what: T,
}

struct Patterns {
    offsets: Regex,
    weekday: Regex,
    dates: Vec<Regex>,
    nth: Option<Regex>,
    times: Vec<Regex>,
    relative: Regex,
}

#[rustfmt::skip]
const MONTHS: &[(&str, i8)] = &[
    ("january", 1), ("jan", 1), ("february", 2), ("feb", 2), ("march", 3), ("mar", 3), ("april", 4),
    ("apr", 4), ("may", 5), ("june", 6), ("jun", 6), ("july", 7), ("jul", 7), ("august", 8),
    ("aug", 8), ("september", 9), ("sept", 9), ("sep", 9), ("october", 10), ("oct", 10),
    ("november", 11), ("nov", 11), ("december", 12), ("dec", 12),
    // Spanish
    ("enero", 1), ("febrero", 2), ("marzo", 3), ("abril", 4), ("mayo", 5), ("junio", 6), ("julio", 7),
    ("agosto", 8), ("septiembre", 9), ("setiembre", 9), ("octubre", 10), ("noviembre", 11),
    ("diciembre", 12),
    // German
    ("januar", 1), ("jänner", 1), ("februar", 2), ("märz", 3), ("maerz", 3), ("mär", 3), ("mai", 5),
    ("juni", 6), ("juli", 7), ("oktober", 10), ("okt", 10), ("dezember", 12), ("dez", 12),
];

#[rustfmt::skip]
const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Monday), ("tuesday", Weekday::Tuesday), ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday), ("friday", Weekday::Friday), ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday), ("lunes", Weekday::Monday), ("martes", Weekday::Tuesday),
    ("miércoles", Weekday::Wednesday), ("miercoles", Weekday::Wednesday),
    ("jueves", Weekday::Thursday), ("viernes", Weekday::Friday), ("sábado", Weekday::Saturday),
    ("sabado", Weekday::Saturday), ("domingo", Weekday::Sunday), ("montag", Weekday::Monday),
    ("dienstag", Weekday::Tuesday), ("mittwoch", Weekday::Wednesday),
    ("donnerstag", Weekday::Thursday), ("freitag", Weekday::Friday), ("samstag", Weekday::Saturday),
    ("sonntag", Weekday::Sunday),
];

fn names<T>(table: &[(&str, T)], keep: impl Fn(&str) -> bool) -> String {
    let mut n: Vec<&str> = table.iter().map(|(k, _)| *k).filter(|k| keep(k)).collect();
    n.sort_by_key(|k| std::cmp::Reverse(k.len()));
    n.join("|")
}

fn patterns(lang: Lang) -> &'static Patterns {
    static ALL: LazyLock<[Patterns; 3]> = LazyLock::new(|| [Lang::En, Lang::Es, Lang::De].map(build));
    &ALL[lang as usize]
}

fn build(lang: Lang) -> Patterns {
    let months = names(MONTHS, |_| true);
    let weekdays = names(WEEKDAYS, |_| true);
    let iso = r"\b(?P<year>[0-9]{4})-(?P<mnum>[0-9]{2})-(?P<day>[0-9]{2})\b".to_owned();
    // Shared by every language: ISO dates, 24-hour and am/pm times.
    let hhmm = r"(?:\bat\s+)?\b(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})\b".to_owned();
    let ampm = r"(?:\bat\s+)?\b(?P<h>[0-9]{1,2})(?::(?P<m>[0-9]{2}))?\s?(?P<ap>[ap]\.m\.|[ap]m)".to_owned();
    let (offsets, weekday, dates, nth, times, relative) = match lang {
        Lang::En => (
            r"\b(?:(?:the\s+)?day\s+after\s+tomorrow|(?:the\s+)?day\s+before\s+yesterday|today|tonight|tomorrow|tmrw|yesterday)\b",
            format!(r"\b(?:(?P<pre>next|this|last|coming)\s+)?(?P<wd>{weekdays})\b"),
            vec![
                iso,
                format!(r"\b(?P<mon>{months})\.?\s+(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<year>[0-9]{{4}})\b)?"),
                format!(r"\b(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{months})\b(?:,?\s+(?P<year>[0-9]{{4}})\b)?"),
            ],
            Some(r"\bthe\s+(?P<day>[0-9]{1,2})(?:st|nd|rd|th)\b"),
            vec![
                ampm,
                hhmm,
                r"\bat\s+(?P<h>[0-9]{1,2})\b".to_owned(),
                r"(?:\bat\s+)?\b(?P<h>[0-9]{1,2})\s+o'?clock\b".to_owned(),
                r"(?:\bat\s+)?\b(?P<w>noon|midday|midnight)\b".to_owned(),
            ],
            format!(r"\bin\s+(?P<d>{})|\b(?P<ago>{})\s+ago\b", duration::pattern(lang), duration::pattern(lang)),
        ),
        Lang::Es => (
            r"\b(?:pasado\s+mañana|anteayer|antes\s+de\s+ayer|hoy|mañana|ayer)\b",
            format!(
                r"\b(?:el\s+)?(?:(?P<pre>próximo|proximo|este|pasado)\s+)?(?P<wd>{weekdays})(?:\s+(?P<post>que\s+viene|próximo|proximo|pasado))?\b"
            ),
            vec![
                iso,
                format!(r"\b(?P<day>[0-9]{{1,2}})\s+de\s+(?P<mon>{months})\b(?:\s+(?:de\s+)?(?P<year>[0-9]{{4}})\b)?"),
                r"\b(?P<day>[0-9]{1,2})/(?P<mnum>[0-9]{1,2})/(?P<year>[0-9]{4})\b".to_owned(),
            ],
            Some(r"\bel\s+día\s+(?P<day>[0-9]{1,2})\b"),
            vec![
                ampm,
                hhmm,
                r"\ba\s+las?\s+(?P<h>[0-9]{1,2})(?::(?P<m>[0-9]{2}))?(?:\s+(?:de\s+la\s+)?(?P<ap>mañana|tarde|noche))?\b"
                    .to_owned(),
                r"\b(?:al\s+|a\s+)?(?P<w>mediodía|medianoche)\b".to_owned(),
            ],
            format!(
                r"\b(?:en|dentro\s+de)\s+(?P<d>{})|\bhace\s+(?P<ago>{})",
                duration::pattern(lang),
                duration::pattern(lang)
            ),
        ),
        Lang::De => (
            r"\b(?:übermorgen|vorgestern|heute|morgen|gestern)\b",
            format!(
                r"\b(?:(?P<pre>nächsten|nächster|nächste|naechsten|kommenden|kommender|diesen|dieser|letzten|letzter|am)\s+)?(?P<wd>{weekdays})\b"
            ),
            vec![
                iso,
                format!(r"\b(?P<day>[0-9]{{1,2}})\.?\s*(?P<mon>{months})\b(?:\s+(?P<year>[0-9]{{4}})\b)?"),
                r"\b(?P<day>[0-9]{1,2})\.(?P<mnum>[0-9]{1,2})\.(?P<year>[0-9]{4})\b".to_owned(),
            ],
            None,
            vec![
                ampm,
                r"(?:\bum\s+)?\b(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?\s*uhr\b".to_owned(),
                r"(?:\bum\s+)?\b(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})\b".to_owned(),
                r"\bum\s+(?P<h>[0-9]{1,2})\b".to_owned(),
                r"(?:\bum\s+)?\b(?P<w>mittag|mitternacht)\b".to_owned(),
            ],
            format!(r"\bin\s+(?P<d>{})|\bvor\s+(?P<ago>{})", duration::pattern(lang), duration::pattern(lang)),
        ),
    };
    let ci = |p: &str| compile(&format!("(?i){p}"));
    Patterns {
        offsets: ci(offsets),
        weekday: ci(&weekday),
        dates: dates.iter().map(|p| ci(p)).collect(),
        nth: nth.map(ci),
        times: times.iter().map(|p| ci(p)).collect(),
        relative: ci(&relative),
    }
}

pub(super) fn find(text: &str, ctx: &EntityContext, out: &mut Vec<Entity>) {
    let lang = lang(ctx);
    let p = patterns(lang);
    let now = ctx.now.to_zoned(ctx.time_zone.clone());
    let days = days(text, lang, p);
    let times = times(text, p);
    for d in &days {
        if let Some(date) = resolve_day(d.what, now.date())
            && let Ok(start) = date.to_zoned(now.time_zone().clone())
        {
            out.push(value(text, d.start, d.end, &start, "day"));
        }
    }
    for t in &times {
        if let Some(z) = at_time(None, t.what, &now) {
            out.push(value(text, t.start, t.end, &z, grain(t.what)));
        }
    }
    for d in &days {
        for t in &times {
            let (gap_start, gap_end) = if d.end <= t.start {
                (d.end, t.start)
            } else {
                (t.end, d.start)
            };
            if gap_end < gap_start || !joins(text.get(gap_start..gap_end).unwrap_or("x")) {
                continue;
            }
            let date = resolve_day(d.what, now.date());
            if let Some(z) = date.and_then(|date| at_time(Some(date), t.what, &now)) {
                let (start, end) = (d.start.min(t.start), d.end.max(t.end));
                out.push(value(text, start, end, &z, grain(t.what)));
            }
        }
    }
    relative(text, lang, p, &now, out);
}

/// What may stand between a day and a time of the same expression: "tomorrow, 5pm",
/// "5pm on Friday".
fn joins(gap: &str) -> bool {
    let g = gap.trim_matches(|c: char| c.is_whitespace() || c == ',').to_lowercase();
    gap.len() <= 12 && ["", "on", "at", "el", "am", "um", "a las", "a la"].contains(&g.as_str())
}

fn value(text: &str, start: usize, end: usize, at: &Zoned, grain: &str) -> Entity {
    let rfc3339 = at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    builtin(
        "datetime",
        text,
        start,
        end,
        json!({ "value": rfc3339, "grain": grain }),
    )
}

fn grain(t: ClockTime) -> &'static str {
    if t.minutes_written { "minute" } else { "hour" }
}

fn days(text: &str, lang: Lang, p: &Patterns) -> Vec<Span<Day>> {
    let mut days = Vec::new();
    let mut push = |start: usize, end: usize, what: Day| {
        if standalone(text, start, end) {
            days.push(Span { start, end, what });
        }
    };
    for m in p.offsets.find_iter(text) {
        let word = m.as_str().to_lowercase();
        // German "Morgen" is also the morning: "guten Morgen", "heute Morgen".
        let before = text[..m.start()].to_lowercase();
        if lang == Lang::De && word == "morgen" && ["guten ", "heute ", "gestern "].iter().any(|b| before.ends_with(b))
        {
            continue;
        }
        let offset = match word.as_str() {
            w if w.contains("after") || w.starts_with("pasado") || w == "übermorgen" => 2,
            w if w.contains("before") || w.contains("antes") || w == "anteayer" || w == "vorgestern" => -2,
            "tomorrow" | "tmrw" | "mañana" | "morgen" => 1,
            "yesterday" | "ayer" | "gestern" => -1,
            _ => 0,
        };
        push(m.start(), m.end(), Day::Offset(offset));
    }
    for c in p.weekday.captures_iter(text) {
        let (Some(m), Some(wd)) = (c.get(0), c.name("wd")) else {
            continue;
        };
        let Some(weekday) = lookup(WEEKDAYS, wd.as_str()) else {
            continue;
        };
        let modifier = c.name("pre").or(c.name("post")).map(|m| m.as_str().to_lowercase());
        let which = match modifier.as_deref() {
            Some("next" | "coming" | "próximo" | "proximo" | "que viene" | "nächsten" | "nächster" | "nächste")
            | Some("naechsten" | "kommenden" | "kommender") => Which::Next,
            Some("last" | "pasado" | "letzten" | "letzter") => Which::Last,
            _ => Which::Coming,
        };
        push(m.start(), m.end(), Day::Weekday(weekday, which));
    }
    for re in &p.dates {
        for c in re.captures_iter(text) {
            if let (Some(m), Some(date)) = (c.get(0), calendar_date(&c)) {
                push(m.start(), m.end(), date);
            }
        }
    }
    for c in p.nth.iter().flat_map(|re| re.captures_iter(text)) {
        let (Some(m), Some(day)) = (c.get(0), c.name("day").and_then(|d| d.as_str().parse().ok())) else {
            continue;
        };
        if (1..=31).contains(&day) {
            push(m.start(), m.end(), Day::Nth(day));
        }
    }
    days
}

fn calendar_date(c: &Captures<'_>) -> Option<Day> {
    let day: i8 = c.name("day")?.as_str().parse().ok()?;
    let month = match (c.name("mon"), c.name("mnum")) {
        (Some(name), _) => lookup(MONTHS, name.as_str())?,
        (None, Some(n)) => n.as_str().parse().ok()?,
        (None, None) => return None,
    };
    let year = match c.name("year") {
        Some(y) => Some(y.as_str().parse().ok()?),
        None => None,
    };
    ((1..=31).contains(&day) && (1..=12).contains(&month)).then_some(Day::Date { year, month, day })
}

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    let lower = name.to_lowercase();
    table.iter().find(|(k, _)| *k == lower).map(|(_, v)| *v)
}

fn times(text: &str, p: &Patterns) -> Vec<Span<ClockTime>> {
    let mut times = Vec::new();
    for re in &p.times {
        for c in re.captures_iter(text) {
            let Some(m) = c.get(0) else { continue };
            if !standalone(text, m.start(), m.end()) {
                continue;
            }
            if let Some(what) = clock_time(&c) {
                times.push(Span {
                    start: m.start(),
                    end: m.end(),
                    what,
                });
            }
        }
    }
    times
}

fn clock_time(c: &Captures<'_>) -> Option<ClockTime> {
    if let Some(w) = c.name("w") {
        let noon = ["noon", "midday", "mediodía", "mittag"].contains(&w.as_str().to_lowercase().as_str());
        return Some(ClockTime {
            hour: if noon { 12 } else { 0 },
            minute: 0,
            ambiguous: false,
            minutes_written: false,
        });
    }
    let h = c.name("h")?;
    let mut hour: i8 = h.as_str().parse().ok()?;
    let minute: i8 = c.name("m").map_or(Some(0), |m| m.as_str().parse().ok())?;
    let marker = c.name("ap").map(|m| m.as_str().to_lowercase());
    let pm = match marker.as_deref() {
        Some(m) if m.starts_with('p') || m == "tarde" || m == "noche" => Some(true),
        Some(_) => Some(false),
        None => None,
    };
    if let Some(pm) = pm {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    // "09:30" and "17:00" say which half of the day; "9:30" and "at 9" do not.
    let ambiguous = pm.is_none() && (1..=12).contains(&hour) && !h.as_str().starts_with('0');
    (hour <= 23 && minute <= 59).then_some(ClockTime {
        hour,
        minute,
        ambiguous,
        minutes_written: c.name("m").is_some(),
    })
}

/// "in 2 hours" (an instant), "in 3 days" (a day), "2 days ago".
fn relative(text: &str, lang: Lang, p: &Patterns, now: &Zoned, out: &mut Vec<Entity>) {
    for c in p.relative.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        let (amount, sign) = match (c.name("d"), c.name("ago")) {
            (Some(d), _) => (d, 1.0),
            (None, Some(a)) => (a, -1.0),
            _ => continue,
        };
        if !standalone(text, m.start(), m.end()) {
            continue;
        }
        let Some((secs, unit)) = duration::measure(lang, amount.as_str()) else {
            continue;
        };
        let whole_days = unit >= 86_400.0 && secs % 86_400.0 == 0.0;
        let at = if whole_days {
            let days = (sign * secs / 86_400.0) as i64;
            let date = now.date().checked_add(days.days()).ok();
            date.and_then(|d| d.to_zoned(now.time_zone().clone()).ok())
        } else {
            SignedDuration::try_from_secs_f64(sign * secs)
                .ok()
                .and_then(|d| now.checked_add(d).ok())
        };
        if let Some(at) = at {
            let grain = if whole_days { "day" } else { "minute" };
            out.push(value(text, m.start(), m.end(), &at, grain));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    fn dt(text: &str, ctx: &super::super::EntityContext) -> (String, String) {
        let v = one(text, ctx, "datetime");
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        (s("value"), s("grain"))
    }

    fn day(v: &str) -> (String, String) {
        (v.to_owned(), "day".to_owned())
    }

    // The reference "now" is Friday 2026-11-20, 10:00.
    #[test]
    fn relative_days_and_weekdays_in_berlin() {
        let c = ctx_in("Europe/Berlin", "en");
        assert_eq!(dt("today", &c), day("2026-11-20T00:00:00+01:00"));
        assert_eq!(dt("see you tomorrow!", &c), day("2026-11-21T00:00:00+01:00"));
        assert_eq!(dt("yesterday", &c), day("2026-11-19T00:00:00+01:00"));
        assert_eq!(dt("the day after tomorrow", &c), day("2026-11-22T00:00:00+01:00"));
        assert_eq!(dt("next Monday", &c), day("2026-11-23T00:00:00+01:00"));
        assert_eq!(dt("on Monday", &c), day("2026-11-23T00:00:00+01:00"));
        // On a Friday, "next Friday" is a week away and "Friday" is today.
        assert_eq!(dt("next Friday", &c), day("2026-11-27T00:00:00+01:00"));
        assert_eq!(dt("friday", &c), day("2026-11-20T00:00:00+01:00"));
        assert_eq!(dt("last Friday", &c), day("2026-11-13T00:00:00+01:00"));
        assert_eq!(dt("last Monday", &c), day("2026-11-16T00:00:00+01:00"));
    }

    #[test]
    fn clock_times_take_their_next_occurrence() {
        let c = ctx_in("Europe/Berlin", "en");
        // "5pm" and "17:00" are the same instant.
        assert_eq!(dt("5pm", &c).0, "2026-11-20T17:00:00+01:00");
        assert_eq!(dt("17:00", &c).0, "2026-11-20T17:00:00+01:00");
        assert_eq!(dt("5 p.m.", &c).0, "2026-11-20T17:00:00+01:00");
        assert_eq!(dt("5pm", &c).1, "hour");
        assert_eq!(dt("17:30", &c), ("2026-11-20T17:30:00+01:00".into(), "minute".into()));
        // At 10:00, "at 9" is 21:00 today, "at 11" is 11:00, "9am" is tomorrow.
        assert_eq!(dt("at 9", &c).0, "2026-11-20T21:00:00+01:00");
        assert_eq!(dt("at 11", &c).0, "2026-11-20T11:00:00+01:00");
        assert_eq!(dt("9am", &c).0, "2026-11-21T09:00:00+01:00");
        assert_eq!(dt("09:00", &c).0, "2026-11-21T09:00:00+01:00");
        assert_eq!(dt("12am", &c).0, "2026-11-21T00:00:00+01:00");
        assert_eq!(dt("at noon", &c).0, "2026-11-20T12:00:00+01:00");
        assert_eq!(dt("midnight", &c).0, "2026-11-21T00:00:00+01:00");
        assert!(found("25:00 and 13pm", &c, "datetime").is_empty());
    }

    #[test]
    fn days_with_times() {
        let c = ctx_in("Europe/Berlin", "en");
        assert_eq!(
            dt("tomorrow at 5pm", &c),
            ("2026-11-21T17:00:00+01:00".into(), "hour".into())
        );
        assert_eq!(dt("5pm tomorrow", &c).0, "2026-11-21T17:00:00+01:00");
        assert_eq!(dt("next Monday at 9:30", &c).0, "2026-11-23T09:30:00+01:00");
        assert_eq!(dt("at 3pm on Friday", &c).0, "2026-11-20T15:00:00+01:00");
        // Today at an ambiguous hour that has passed in the morning: the evening.
        assert_eq!(dt("today at 9", &c).0, "2026-11-20T21:00:00+01:00");
        assert_eq!(dt("tomorrow at 9", &c).0, "2026-11-21T09:00:00+01:00");
    }

    #[test]
    fn the_users_time_zone_decides() {
        let ny = ctx_in("America/New_York", "en");
        assert_eq!(dt("tomorrow at 5pm", &ny).0, "2026-11-21T17:00:00-05:00");
        assert_eq!(
            dt("in 2 hours", &ny),
            ("2026-11-20T12:00:00-05:00".into(), "minute".into())
        );
        // The same instant seen from Berlin is 16:00; tomorrow there starts at its own midnight.
        let berlin_now = at("2026-11-20T16:00", "Europe/Berlin", "en");
        assert_eq!(berlin_now.now, ny.now);
        assert_eq!(dt("tomorrow", &berlin_now).0, "2026-11-21T00:00:00+01:00");
        let late = at("2026-11-20T23:30", "America/New_York", "en");
        assert_eq!(dt("tomorrow", &late).0, "2026-11-21T00:00:00-05:00");
    }

    #[test]
    fn relative_offsets() {
        let c = ctx_in("Europe/Berlin", "en");
        assert_eq!(
            dt("in 2 hours", &c),
            ("2026-11-20T12:00:00+01:00".into(), "minute".into())
        );
        assert_eq!(dt("in 30 minutes", &c).0, "2026-11-20T10:30:00+01:00");
        assert_eq!(dt("in a week", &c), day("2026-11-27T00:00:00+01:00"));
        assert_eq!(dt("3 days ago", &c), day("2026-11-17T00:00:00+01:00"));
        // The relative date swallows the duration it contains.
        assert!(found("in 2 hours", &c, "duration").is_empty());
    }

    #[test]
    fn spanish_and_german() {
        let es = ctx_in("Europe/Madrid", "es");
        assert_eq!(dt("mañana", &es).0, "2026-11-21T00:00:00+01:00");
        assert_eq!(dt("pasado mañana", &es).0, "2026-11-22T00:00:00+01:00");
        assert_eq!(dt("mañana a las 5 de la tarde", &es).0, "2026-11-21T17:00:00+01:00");
        assert_eq!(dt("el próximo viernes", &es).0, "2026-11-27T00:00:00+01:00");
        assert_eq!(dt("el lunes que viene", &es).0, "2026-11-23T00:00:00+01:00");
        assert_eq!(dt("el 24 de diciembre", &es).0, "2026-12-24T00:00:00+01:00");
        assert_eq!(dt("en 2 horas", &es).0, "2026-11-20T12:00:00+01:00");
        let de = ctx_in("Europe/Berlin", "de");
        assert_eq!(dt("morgen um 17 Uhr", &de).0, "2026-11-21T17:00:00+01:00");
        assert_eq!(dt("übermorgen", &de).0, "2026-11-22T00:00:00+01:00");
        assert_eq!(dt("nächsten Freitag", &de).0, "2026-11-27T00:00:00+01:00");
        assert_eq!(dt("am Montag um 9:30", &de).0, "2026-11-23T09:30:00+01:00");
        assert_eq!(dt("24. Dezember", &de).0, "2026-12-24T00:00:00+01:00");
        assert_eq!(dt("29.02.2028", &de).0, "2028-02-29T00:00:00+01:00");
        assert_eq!(dt("in 2 Stunden", &de).0, "2026-11-20T12:00:00+01:00");
        // "Guten Morgen" greets; it is not tomorrow.
        assert!(found("Guten Morgen!", &de, "datetime").is_empty());
    }
}
