//! Slot values: what a message gives for a slot, whether it passes the slot's checks, and how
//! a value reads back to the person.

use anyhow::Context as _;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use switchboard_core::{BotSpec, Entity, SlotSpec};
use switchboard_nlu::entities::satisfies;

/// The slots' `pattern`s, compiled once when the bot loads (a bad one is reported then).
#[derive(Default)]
pub struct Patterns(HashMap<(String, String), Regex>);

impl Patterns {
    pub fn compile(spec: &BotSpec) -> anyhow::Result<Patterns> {
        let mut all = HashMap::new();
        for form in &spec.forms {
            for slot in &form.slots {
                if let Some(p) = &slot.pattern {
                    let re = Regex::new(p)
                        .with_context(|| format!("form {:?}, slot {:?}: `pattern` {p:?}", form.name, slot.name))?;
                    all.insert((form.name.clone(), slot.name.clone()), re);
                }
            }
        }
        Ok(Patterns(all))
    }

    fn get(&self, form: &str, slot: &str) -> Option<&Regex> {
        self.0.get(&(form.to_owned(), slot.to_owned()))
    }
}

/// What a message says for one slot.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Value(Value),
    /// A value of the right kind that fails the slot's checks ("40 people" when 12 is the most).
    Invalid,
    Nothing,
}

/// The value an entity slot gets from `entity`, checked. `now_ms` is when the message arrived.
pub fn check(form: &str, slot: &SlotSpec, patterns: &Patterns, value: Value, now_ms: i64) -> Answer {
    // Numbers come out of extraction as floats; "4 people" is 4, in templates and payloads.
    let value = match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::from(f as i64),
        _ => value,
    };
    if slot.min.is_some() || slot.max.is_some() {
        let Some(n) = number(&value) else {
            return Answer::Invalid;
        };
        if slot.min.is_some_and(|lo| n < lo) || slot.max.is_some_and(|hi| n > hi) {
            return Answer::Invalid;
        }
    }
    if slot.future && !in_future(&value, now_ms) {
        return Answer::Invalid;
    }
    let shown = display(&value);
    if let Some(re) = patterns.get(form, &slot.name)
        && !re.is_match(&shown)
    {
        return Answer::Invalid;
    }
    if !slot.values.is_empty() {
        return match slot.values.iter().find(|v| v.eq_ignore_ascii_case(shown.trim())) {
            Some(v) => Answer::Value(Value::String(v.clone())),
            None => Answer::Invalid,
        };
    }
    Answer::Value(value)
}

/// The answer to a slot without an entity: the message's text, checked.
pub fn free_text(form: &str, slot: &SlotSpec, patterns: &Patterns, text: &str, now_ms: i64) -> Answer {
    let text = text.trim();
    if text.is_empty() {
        return Answer::Nothing;
    }
    // Long enough for an address or a note; a whole pasted page is not an answer.
    let text: String = text.chars().take(500).collect();
    check(form, slot, patterns, Value::String(text), now_ms)
}

/// The first entity of the message that gives `slot` a value and is not taken by another slot.
pub fn entity_for<'e>(slot: &SlotSpec, found: &'e [Entity], taken: &[usize]) -> Option<(usize, &'e Entity)> {
    let names = slot.entities();
    found
        .iter()
        .enumerate()
        .find(|(i, e)| !taken.contains(i) && names.iter().any(|n| satisfies(n, e)))
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64().or_else(|| value.get("value").and_then(Value::as_f64))
}

/// A date (grain `day`) counts as future until the day is over; a time must be after `now`.
fn in_future(value: &Value, now_ms: i64) -> bool {
    let Some(at) = value
        .get("value")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    else {
        return false;
    };
    let day = value.get("grain").and_then(Value::as_str) == Some("day");
    let end = at.as_millisecond() + if day { 86_400_000 } else { 0 };
    end > now_ms
}

/// A value as the person reads it: dates as `2026-11-21 19:00` (or the day alone), amounts
/// with their currency, numbers without a needless `.0`.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Object(o) => match (o.get("value"), o.get("grain"), o.get("currency")) {
            (Some(Value::String(v)), Some(grain), _) => {
                let day = v.get(..10).unwrap_or(v);
                match (grain.as_str(), v.get(11..16)) {
                    (Some("day"), _) | (_, None) => day.to_owned(),
                    (_, Some(time)) => format!("{day} {time}"),
                }
            }
            (Some(v), None, Some(Value::String(c))) => format!("{} {c}", display(v)),
            _ => value.to_string(),
        },
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slot(toml: &str) -> SlotSpec {
        toml::from_str(&format!("name = \"s\"\nask = [\"?\"]\n{toml}")).expect("slot")
    }

    /// 2026-11-20T10:00:00Z
    const NOW: i64 = 1_795_168_800_000;

    fn patterns(slot: &SlotSpec) -> Patterns {
        let mut p = Patterns::default();
        if let Some(re) = &slot.pattern {
            p.0.insert(("f".into(), "s".into()), Regex::new(re).expect("regex"));
        }
        p
    }

    fn run(slot: &SlotSpec, value: Value) -> Answer {
        check("f", slot, &patterns(slot), value, NOW)
    }

    #[test]
    fn numbers_are_bounded() {
        let s = slot("entity = \"number\"\nmin = 1\nmax = 12");
        assert_eq!(run(&s, json!(4.0)), Answer::Value(json!(4)));
        assert_eq!(run(&s, json!(2.5)), Answer::Value(json!(2.5)));
        assert_eq!(run(&s, json!(12)), Answer::Value(json!(12)));
        assert_eq!(run(&s, json!(40)), Answer::Invalid);
        assert_eq!(run(&s, json!(0)), Answer::Invalid);
        let money = slot("entity = \"amount\"\nmax = 100");
        assert_eq!(run(&money, json!({"value": 500, "currency": "EUR"})), Answer::Invalid);
    }

    #[test]
    fn future_dates_count_until_the_day_is_over() {
        let s = slot("entity = \"datetime\"\nfuture = true");
        let at = |v: &str, grain: &str| json!({"value": v, "grain": grain});
        assert!(matches!(
            run(&s, at("2026-11-21T19:00:00+01:00", "hour")),
            Answer::Value(_)
        ));
        assert_eq!(run(&s, at("2026-11-20T09:00:00+01:00", "hour")), Answer::Invalid);
        // Today, as a day: still possible.
        assert!(matches!(
            run(&s, at("2026-11-20T00:00:00+01:00", "day")),
            Answer::Value(_)
        ));
        assert_eq!(run(&s, at("2026-11-19T00:00:00+01:00", "day")), Answer::Invalid);
        assert_eq!(run(&s, json!("not a date")), Answer::Invalid);
    }

    #[test]
    fn patterns_and_allowed_values() {
        let s = slot("pattern = '^[A-Z]{2}[0-9]{4}$'");
        let p = patterns(&s);
        assert_eq!(free_text("f", &s, &p, " AB1234 ", NOW), Answer::Value(json!("AB1234")));
        assert_eq!(free_text("f", &s, &p, "AB12", NOW), Answer::Invalid);
        assert_eq!(free_text("f", &s, &p, "  ", NOW), Answer::Nothing);
        let s = slot("values = [\"Haircut\", \"Colour\"]");
        assert_eq!(
            free_text("f", &s, &patterns(&s), "haircut", NOW),
            Answer::Value(json!("Haircut"))
        );
        assert_eq!(free_text("f", &s, &patterns(&s), "a massage", NOW), Answer::Invalid);
    }

    #[test]
    fn values_read_back_as_people_write_them() {
        assert_eq!(display(&json!(4.0)), "4");
        assert_eq!(display(&json!(2.5)), "2.5");
        assert_eq!(
            display(&json!({"value": "2026-11-21T19:00:00+01:00", "grain": "hour"})),
            "2026-11-21 19:00"
        );
        assert_eq!(
            display(&json!({"value": "2026-11-21T00:00:00+01:00", "grain": "day"})),
            "2026-11-21"
        );
        assert_eq!(display(&json!({"value": 10.5, "currency": "EUR"})), "10.5 EUR");
        assert_eq!(display(&json!("ana@example.com")), "ana@example.com");
    }

    #[test]
    fn bad_patterns_are_reported_at_load() {
        let spec = BotSpec::from_toml(
            "name = \"t\"\nfallback = [\"?\"]\n[[form]]\nname = \"f\"\ndone = [\"ok\"]\naction = { kind = \"store\" }\n\
             [[form.slot]]\nname = \"code\"\nask = [\"?\"]\npattern = \"(\"\n",
        )
        .expect("spec");
        let err = Patterns::compile(&spec)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("form \"f\", slot \"code\""), "{err}");
    }
}
