//! Reading a request: what to be reminded of (the message without its time and its way of
//! asking), when, and which numbered item.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use switchboard_core::Entity;

/// A day without a time ("remind me tomorrow") means this hour.
const DEFAULT_HOUR: i8 = 9;

pub(super) fn nth(ids: &[i64], n: usize) -> Option<i64> {
    n.checked_sub(1).and_then(|i| ids.get(i)).copied()
}

/// "cancel reminder 2", "the second one": a positive whole number.
pub(super) fn number(entities: &Map<String, Value>) -> Option<usize> {
    ["number", "ordinal"]
        .iter()
        .filter_map(|k| entities.get(*k).and_then(Value::as_f64))
        .find(|n| *n >= 1.0 && n.fract() == 0.0 && *n < 1000.0)
        .map(|n| n as usize)
}

/// When the message says: its `datetime` ("tomorrow at 9", "in 20 minutes"; a day alone means
/// 09:00 that day), else its `duration` from now.
pub(super) fn due_at(entities: &Map<String, Value>, now: i64, zone: &TimeZone) -> Option<i64> {
    if let Some(dt) = entities.get("datetime").filter(|v| !v.is_null()) {
        let at: Timestamp = dt.get("value")?.as_str()?.parse().ok()?;
        if dt.get("grain").and_then(Value::as_str) == Some("day") {
            let day = at.to_zoned(zone.clone()).date();
            return Some(
                day.at(DEFAULT_HOUR, 0, 0, 0)
                    .to_zoned(zone.clone())
                    .ok()?
                    .timestamp()
                    .as_millisecond(),
            );
        }
        return Some(at.as_millisecond());
    }
    let secs = entities.get("duration").and_then(Value::as_f64)?;
    Some(now + (secs.round() as i64) * 1000)
}

/// Ways of asking, stripped from the front of the message to leave what to be reminded of.
/// Longer phrases come before their beginnings.
const LEADS: &[&str] = &[
    "please remind me to",
    "can you remind me to",
    "remind me to",
    "remind me about",
    "remind me of",
    "remind me",
    "set a reminder to",
    "set a reminder for",
    "set a reminder",
    "add a reminder to",
    "reminder to",
    "reminder:",
    "please add a task to",
    "add a task to",
    "add a task:",
    "add a task",
    "add task to",
    "add task:",
    "add task",
    "new task:",
    "new task",
    "add to my tasks",
    "add to my to-do list",
    "todo:",
    "to-do:",
    "task:",
    "recuérdame que",
    "recuérdame",
    "recuerdame que",
    "recuerdame",
    "pon un recordatorio para",
    "añade la tarea",
    "añade una tarea:",
    "añade una tarea",
    "añadir tarea",
    "nueva tarea:",
    "nueva tarea",
    "tarea:",
    "erinnere mich daran,",
    "erinnere mich daran",
    "erinnere mich an",
    "erinnere mich",
    "neue aufgabe:",
    "neue aufgabe",
    "aufgabe hinzufügen:",
    "aufgabe hinzufügen",
    "aufgabe:",
];

/// Words left dangling at either end once the time is cut out ("call mom at" -> "call mom").
const DANGLING: &[&str] = &[
    "at", "on", "in", "by", "for", "to", "que", "a", "las", "el", "um", "am", "zu",
];

/// What to be reminded of (or the task): the message without the time expressions and the
/// way of asking. `None` when nothing is left.
pub(super) fn subject(text: &str, found: &[Entity]) -> Option<String> {
    let mut kept = String::with_capacity(text.len());
    let mut at = 0;
    let mut spans: Vec<(usize, usize)> = found
        .iter()
        .filter(|e| ["datetime", "date", "time", "duration"].contains(&e.entity.as_str()))
        .map(|e| (e.start, e.end))
        .collect();
    spans.sort_unstable();
    for (start, end) in spans {
        if start < at {
            continue;
        }
        kept.push_str(text.get(at..start)?);
        kept.push(' ');
        at = end;
    }
    kept.push_str(text.get(at..)?);
    let mut s = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    let trim = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || ",.;:!?¡¿".contains(c))
            .to_owned()
    };
    s = trim(&s);
    if let Some(lead) = LEADS.iter().find(|l| starts_with_ignore_case(&s, l)) {
        s = trim(&s[lead.len()..]);
    }
    // Cut dangling words until none is left at either end.
    loop {
        let words: Vec<&str> = s.split(' ').collect();
        let first = words.first().is_some_and(|w| is_dangling(w)) && words.len() > 1;
        let last = words.last().is_some_and(|w| is_dangling(w)) && words.len() > 1;
        if !first && !last {
            break;
        }
        let from = usize::from(first);
        let to = words.len() - usize::from(last);
        s = trim(&words[from..to.max(from)].join(" "));
    }
    (!s.is_empty()).then_some(s)
}

fn is_dangling(word: &str) -> bool {
    DANGLING.iter().any(|d| d.eq_ignore_ascii_case(word))
}

/// Case-insensitive prefix test that is safe on any UTF-8 (non-ASCII bytes compare as-is).
fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchboard_core::EntitySource;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("zone")
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("instant").as_millisecond()
    }

    fn entity(kind: &str, text: &str, raw: &str) -> Entity {
        let start = text.find(raw).expect("raw is in the text");
        Entity {
            entity: kind.into(),
            start,
            end: start + raw.len(),
            raw: raw.into(),
            value: Value::Null,
            source: EntitySource::Builtin,
        }
    }

    #[test]
    fn the_subject_is_the_message_without_the_time_and_the_asking() {
        let cases = [
            ("remind me to call mom tomorrow at 9", Some("tomorrow at 9"), "call mom"),
            (
                "Remind me in 20 minutes to check the oven",
                Some("in 20 minutes"),
                "check the oven",
            ),
            (
                "please remind me to water the plants at 18:00!",
                Some("18:00"),
                "water the plants",
            ),
            (
                "recuérdame llamar a mamá mañana a las 9",
                Some("mañana a las 9"),
                "llamar a mamá",
            ),
            ("Erinnere mich morgen um 9 an den Müll", Some("morgen um 9"), "den Müll"),
            ("add task buy milk", None, "buy milk"),
            ("todo: file taxes", None, "file taxes"),
        ];
        for (text, time, want) in cases {
            let found: Vec<Entity> = time.map(|t| entity("datetime", text, t)).into_iter().collect();
            assert_eq!(subject(text, &found).as_deref(), Some(want), "{text}");
        }
        let found = [entity("datetime", "remind me tomorrow at 9", "tomorrow at 9")];
        assert_eq!(subject("remind me tomorrow at 9", &found), None, "nothing left");
        assert_eq!(subject("", &[]), None);
        // Spans that do not fit the text are ignored rather than trusted.
        let bad = Entity {
            start: 2,
            end: 400,
            ..entity("datetime", "é remind me", "remind")
        };
        assert_eq!(subject("é remind me", &[bad]), None);
    }

    #[test]
    fn due_times_come_from_the_datetime_or_the_duration() {
        let now = ms("2026-11-20T12:00:00Z");
        let e = |v: Value| v.as_object().cloned().expect("map");
        let at = e(json!({"datetime": {"value": "2026-11-21T09:00:00+01:00", "grain": "hour"}}));
        assert_eq!(due_at(&at, now, &berlin()), Some(ms("2026-11-21T08:00:00Z")));
        let day = e(json!({"datetime": {"value": "2026-11-21T00:00:00+01:00", "grain": "day"}}));
        assert_eq!(
            due_at(&day, now, &berlin()),
            Some(ms("2026-11-21T08:00:00Z")),
            "a day alone means 09:00 local"
        );
        let dur = e(json!({"datetime": null, "duration": 1200}));
        assert_eq!(due_at(&dur, now, &berlin()), Some(now + 1_200_000));
        assert_eq!(due_at(&e(json!({"datetime": null})), now, &berlin()), None);
        let junk = e(json!({"datetime": {"value": "soon", "grain": "hour"}}));
        assert_eq!(due_at(&junk, now, &berlin()), None);
    }

    #[test]
    fn numbers_pick_from_the_last_list() {
        let e = |v: Value| v.as_object().cloned().expect("map");
        assert_eq!(number(&e(json!({"number": 2}))), Some(2));
        assert_eq!(number(&e(json!({"number": null, "ordinal": 3}))), Some(3));
        assert_eq!(number(&e(json!({"number": 0}))), None);
        assert_eq!(number(&e(json!({"number": 1.5}))), None);
        assert_eq!(nth(&[10, 20, 30], 2), Some(20));
        assert_eq!(nth(&[10], 0), None);
        assert_eq!(nth(&[10], 2), None);
    }
}
