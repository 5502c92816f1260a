//! Entities: the pieces of information in a message that an intent needs — a day, an amount, a
//! phone number, a size from the bot's own list.
//!
//! Built-in recognisers (numbers, ordinals, amounts, percentages, dates and times, durations,
//! e-mail addresses, phone numbers, URLs) plus the bot's `[[entity]]` definitions (regular
//! expressions, lookup lists with synonyms). Everything is compiled once per bot; extraction is
//! pure: "now", the time zone and the language come in with [`EntityContext`].
//!
//! Every recogniser proposes candidates; overlaps are then resolved once for all: the longest
//! span wins, and on an equal span the bot's own entities beat the built-ins ("may" declared as
//! a lookup value is the bot's, not a month).

mod calendar;
mod contact;
mod custom;
mod datetime;
mod duration;
mod number;

use serde_json::{Map, Value};
use std::cmp::Reverse;
use switchboard_core::{BotSpec, EntitySpec};

pub use jiff::Timestamp;
pub use jiff::tz::TimeZone;
pub use switchboard_core::{Entity, EntitySource};

#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    #[error("entity {name:?}: invalid pattern: {source}")]
    Pattern { name: String, source: Box<regex::Error> },
    #[error("unknown time zone {0:?} (expected an IANA name such as \"Europe/Berlin\")")]
    TimeZone(String),
}

/// What extraction needs to know besides the text.
#[derive(Clone, Debug)]
pub struct EntityContext {
    /// When the message was sent: "tomorrow" and "in 2 hours" count from here.
    pub now: Timestamp,
    /// The user's time zone: "5pm" is 5 pm there.
    pub time_zone: TimeZone,
    /// ISO 639-1 code of the message's language: decides the words ("mañana") and whether
    /// "1.500" is fifteen hundred (de, es) or one and a half (en).
    pub language: String,
    /// Country calling code (digits, "49") for phone numbers written without one.
    pub country_code: Option<String>,
}

impl EntityContext {
    pub fn new(
        now_ms: i64,
        time_zone: &str,
        language: &str,
        country_code: Option<&str>,
    ) -> Result<EntityContext, EntityError> {
        Ok(EntityContext {
            // Outside jiff's range (±9999 years) only by a broken clock: take the epoch.
            now: Timestamp::from_millisecond(now_ms).unwrap_or(Timestamp::UNIX_EPOCH),
            time_zone: time_zone_named(time_zone)?,
            language: language.to_owned(),
            country_code: country_code.map(|c| c.trim_start_matches('+').to_owned()),
        })
    }
}

/// The IANA time zone `name`, from the system's database or the copy built into the binary.
pub fn time_zone_named(name: &str) -> Result<TimeZone, EntityError> {
    TimeZone::get(name).map_err(|_| EntityError::TimeZone(name.to_owned()))
}

/// The extractor of one bot: its own entities compiled, plus the built-ins.
#[derive(Debug, Default)]
pub struct Entities {
    custom: Vec<custom::Custom>,
}

impl Entities {
    /// Compiles the bot's entity definitions. A bad pattern is reported with its entity's name.
    pub fn new(specs: &[EntitySpec]) -> Result<Entities, EntityError> {
        let custom = specs.iter().map(custom::Custom::compile).collect::<Result<_, _>>()?;
        Ok(Entities { custom })
    }

    /// [`Entities::new`] for a bot's definition, also checking its time zone: the two checks
    /// the definition's own validation cannot make without these libraries.
    pub fn for_bot(spec: &BotSpec) -> Result<Entities, EntityError> {
        time_zone_named(&spec.timezone)?;
        Entities::new(&spec.entities)
    }

    /// Every entity in `text`, in text order, without overlaps.
    pub fn extract(&self, text: &str, ctx: &EntityContext) -> Vec<Entity> {
        let mut found = Vec::new();
        number::find(text, ctx, &mut found);
        datetime::find(text, ctx, &mut found);
        duration::find(text, ctx, &mut found);
        contact::find(text, ctx, &mut found);
        for c in &self.custom {
            c.find(text, &mut found);
        }
        resolve(found, text.len())
    }
}

/// Keeps the longest of overlapping candidates; on an equal span the bot's own entity, then
/// the one proposed first (recognisers run in a deliberate order).
fn resolve(mut found: Vec<Entity>, len: usize) -> Vec<Entity> {
    found.retain(|e| e.start < e.end && e.end <= len);
    found.sort_by_key(|e| (Reverse(e.end - e.start), e.source == EntitySource::Builtin));
    let mut taken = vec![false; len];
    let mut kept = Vec::new();
    for e in found {
        let span = &mut taken[e.start..e.end];
        if span.iter().any(|t| *t) {
            continue;
        }
        span.fill(true);
        kept.push(e);
    }
    kept.sort_by_key(|e| e.start);
    kept
}

/// Whether `entity` gives a value for the entity an intent calls `name`. `date` accepts any
/// `datetime`, `time` one that names at least the hour.
pub fn satisfies(name: &str, entity: &Entity) -> bool {
    match name {
        "date" => entity.entity == "datetime",
        "time" => {
            entity.entity == "datetime"
                && entity
                    .value
                    .get("grain")
                    .and_then(Value::as_str)
                    .is_some_and(|g| g != "day")
        }
        _ => entity.entity == name,
    }
}

/// The value of each of `names` that `found` provides (the first entity that satisfies it).
pub fn values_for<'a>(names: impl IntoIterator<Item = &'a str>, found: &[Entity]) -> Map<String, Value> {
    names
        .into_iter()
        .filter_map(|n| {
            let e = found.iter().find(|e| satisfies(n, e))?;
            Some((n.to_owned(), e.value.clone()))
        })
        .collect()
}

/// A built-in entity over `text[start..end]`.
fn builtin(entity: &str, text: &str, start: usize, end: usize, value: Value) -> Entity {
    Entity {
        entity: entity.to_owned(),
        start,
        end,
        raw: text.get(start..end).unwrap_or_default().to_owned(),
        value,
        source: EntitySource::Builtin,
    }
}

/// True when `text[start..end]` is not glued to letters or digits on either side (a regex `\b`
/// cannot say this next to `$`, `+` or `%`).
fn standalone(text: &str, start: usize, end: usize) -> bool {
    let before = text.get(..start).and_then(|s| s.chars().next_back());
    let after = text.get(end..).and_then(|s| s.chars().next());
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// The languages with word lists; others get English words (digits work in any language).
fn lang(ctx: &EntityContext) -> Lang {
    match ctx.language.as_str() {
        "es" => Lang::Es,
        "de" => Lang::De,
        _ => Lang::En,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    En,
    Es,
    De,
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// 2026-11-20 (a Friday) 10:00 in `zone`.
    pub fn ctx_in(zone: &str, language: &str) -> EntityContext {
        at("2026-11-20T10:00", zone, language)
    }

    pub fn at(civil: &str, zone: &str, language: &str) -> EntityContext {
        let tz = time_zone_named(zone).expect("zone");
        let dt: jiff::civil::DateTime = civil.parse().expect("civil time");
        EntityContext {
            now: dt.to_zoned(tz.clone()).expect("in range").timestamp(),
            time_zone: tz,
            language: language.into(),
            country_code: Some("49".into()),
        }
    }

    /// The entities of `text` with the name `kind`, as (raw, value).
    pub fn found(text: &str, ctx: &EntityContext, kind: &str) -> Vec<(String, Value)> {
        Entities::default()
            .extract(text, ctx)
            .into_iter()
            .filter(|e| e.entity == kind)
            .map(|e| (e.raw, e.value))
            .collect()
    }

    /// The value of the single `kind` entity of `text`.
    pub fn one(text: &str, ctx: &EntityContext, kind: &str) -> Value {
        let all = Entities::default().extract(text, ctx);
        let found: Vec<_> = all.iter().filter(|e| e.entity == kind).collect();
        assert_eq!(found.len(), 1, "{text:?}: expected one {kind}, got {all:?}");
        found[0].value.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use proptest::prelude::*;
    use switchboard_core::{EntityKind, LookupValue};

    fn sizes() -> Entities {
        Entities::new(&[
            EntitySpec {
                name: "size".into(),
                kind: EntityKind::Lookup,
                pattern: None,
                values: vec![LookupValue {
                    value: "large".into(),
                    synonyms: vec!["big".into(), "xl".into()],
                }],
            },
            EntitySpec {
                name: "order".into(),
                kind: EntityKind::Regex,
                pattern: Some(r"#([0-9]{4,})".into()),
                values: vec![],
            },
        ])
        .expect("compiles")
    }

    #[test]
    fn a_message_yields_each_entity_once_in_text_order() {
        let ctx = ctx_in("Europe/Berlin", "en");
        let found = sizes().extract("a big one for order #12345 tomorrow at 5pm, mail ana@example.com", &ctx);
        let names: Vec<_> = found.iter().map(|e| (e.entity.as_str(), e.raw.as_str())).collect();
        assert_eq!(
            names,
            [
                ("size", "big"),
                ("number", "one"),
                ("order", "#12345"),
                ("datetime", "tomorrow at 5pm"),
                ("email", "ana@example.com")
            ]
        );
        assert_eq!(found[0].value, "large");
        assert_eq!(found[0].source, EntitySource::Lookup);
        assert_eq!(found[2].value, "12345");
        assert_eq!(found[3].value["value"], "2026-11-21T17:00:00+01:00");
    }

    #[test]
    fn the_bots_entity_beats_a_built_in_on_the_same_span() {
        let spec = EntitySpec {
            name: "pack".into(),
            kind: EntityKind::Lookup,
            pattern: None,
            values: vec![LookupValue {
                value: "dozen".into(),
                synonyms: vec!["a dozen".into()],
            }],
        };
        let found = Entities::new(&[spec])
            .expect("compiles")
            .extract("a dozen", &ctx_in("UTC", "en"));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].entity.as_str(), &found[0].value),
            ("pack", &Value::from("dozen"))
        );
    }

    #[test]
    fn a_bad_pattern_names_its_entity() {
        let spec = EntitySpec {
            name: "ticket".into(),
            kind: EntityKind::Regex,
            pattern: Some("([a-z]+".into()),
            values: vec![],
        };
        let err = Entities::new(&[spec]).expect_err("bad regex").to_string();
        assert!(err.contains("\"ticket\""), "{err}");
    }

    #[test]
    fn time_zones_are_checked() {
        assert!(EntityContext::new(0, "Europe/Berlin", "en", None).is_ok());
        assert!(matches!(
            EntityContext::new(0, "Mars/Olympus", "en", None),
            Err(EntityError::TimeZone(_))
        ));
    }

    #[test]
    fn required_names_are_satisfied_by_their_entities() {
        let ctx = ctx_in("Europe/Berlin", "en");
        let day = Entities::default().extract("tomorrow", &ctx);
        let hour = Entities::default().extract("tomorrow at 5pm", &ctx);
        assert!(satisfies("date", &day[0]) && !satisfies("time", &day[0]));
        assert!(satisfies("time", &hour[0]) && satisfies("datetime", &hour[0]));
        let values = values_for(["date", "email", "time"], &day);
        assert_eq!(values.keys().collect::<Vec<_>>(), ["date"]);
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "tomorrow at 5pm",
            "next Friday",
            "1,5",
            "1.500",
            "$5",
            "€10,50",
            "15%",
            "+49 30 1234567",
            "ana@EXAMPLE.com",
            "example.com/x).",
            "in 2 hours",
            "1h30",
            "the 31st",
            "Feb 29",
            "at 9",
            "😀",
            "👩‍👩‍👧",
            "שלום",
            "مرحبا",
            "\u{200f}",
            "İ",
            "ß",
            "e\u{301}",
            " ",
            "\n",
            "-",
            "#",
            "0",
            "mañana a las 5",
            "nächsten Montag um 17 Uhr",
            "twenty-one",
            "a dozen",
            "XL",
            "big",
        ]);
        prop_oneof![
            any::<String>(),
            prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat()),
            prop::collection::vec(
                prop_oneof![any::<char>().prop_map(String::from), Just("9".to_owned())],
                0..60
            )
            .prop_map(|v| v.concat()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn extraction_never_panics_and_spans_match_the_text(text in text_strategy(), lang in prop::sample::select(vec!["en", "es", "de", "fr"])) {
            let ctx = ctx_in("America/New_York", lang);
            let found = sizes().extract(&text, &ctx);
            let mut last_end = 0;
            for e in &found {
                prop_assert_eq!(text.get(e.start..e.end), Some(e.raw.as_str()));
                prop_assert!(e.start >= last_end, "overlap in {:?}", found);
                last_end = e.end;
            }
        }
    }

    #[test]
    fn long_and_empty_inputs() {
        let ctx = ctx_in("Europe/Berlin", "de");
        assert!(sizes().extract("", &ctx).is_empty());
        let long = "😀 morgen um 9 Uhr 1.500,25 € ‏שלום +49 30 1234567 ".repeat(250);
        assert!(long.len() > 10 * 1024);
        let found = sizes().extract(&long, &ctx);
        // A day with its time, an amount and a phone number per repetition.
        assert_eq!(found.len(), 750);
        assert!(found.iter().all(|e| long.get(e.start..e.end) == Some(e.raw.as_str())));
    }
}
