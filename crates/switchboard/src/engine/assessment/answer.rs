//! Reading an answer to one question: a button's payload, an option's label or number, a
//! list of them, a number in range, or text. Pure, so every kind is tested on its own.

use super::text::{Say, normal, number_between, say};
use serde_json::{Value, json};
use switchboard_core::{Entity, OptionSpec, QuestionKind, QuestionSpec};

/// The longest free-text answer kept, in characters.
const TEXT_MAX: usize = 1000;

/// Why an answer does not fit its question; `message` says it in the user's language.
#[derive(Debug, PartialEq)]
pub struct Invalid {
    pub message: String,
}

/// The answer as it is stored: an option's value, a list of values, a number or a text.
pub fn read(q: &QuestionSpec, text: &str, found: &[Entity], lang: &str) -> Result<Value, Invalid> {
    let invalid = |message: String| Err(Invalid { message });
    match q.kind {
        QuestionKind::Single => match option(q, text) {
            Some(o) => Ok(json!(o.value)),
            None => invalid(say(Say::PickOne, lang).to_owned()),
        },
        QuestionKind::Multiple => match options(q, text) {
            Some(values) => Ok(json!(values)),
            None => invalid(say(Say::PickSome, lang).to_owned()),
        },
        QuestionKind::Scale | QuestionKind::Number => {
            let whole = q.kind == QuestionKind::Scale;
            match number_in(text, found) {
                Some(n)
                    if (!whole || n.fract() == 0.0)
                        && q.min.is_none_or(|min| n >= min)
                        && q.max.is_none_or(|max| n <= max) =>
                {
                    Ok(super::number(n))
                }
                _ => invalid(number_between(lang, q.min, q.max)),
            }
        }
        QuestionKind::Text => {
            let t = text.trim();
            if t.is_empty() {
                return invalid(say(Say::Words, lang).to_owned());
            }
            Ok(json!(t.chars().take(TEXT_MAX).collect::<String>()))
        }
    }
}

/// The option a part of an answer names: its value (a button's payload), one of its labels in
/// any language, or its number in the list (from 1).
fn option<'a>(q: &'a QuestionSpec, text: &str) -> Option<&'a OptionSpec> {
    let said = normal(text);
    if said.is_empty() {
        return None;
    }
    if let Ok(n) = said.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| q.options.get(i));
    }
    q.options
        .iter()
        .find(|o| normal(&o.value) == said || o.label.iter("").any(|(_, label)| normal(label) == said))
}

/// Several options: the whole answer as one, else its parts split at commas and "and" (each
/// part must name an option). Values come in the options' order, each once.
fn options(q: &QuestionSpec, text: &str) -> Option<Vec<String>> {
    if let Some(o) = option(q, text) {
        return Some(vec![o.value.clone()]);
    }
    let lower = format!(" {} ", text.to_lowercase());
    let mut spaced = lower;
    for word in [" and ", " y ", " und ", " & "] {
        spaced = spaced.replace(word, ",");
    }
    let mut chosen = Vec::new();
    for part in spaced.split([',', ';', '/']).map(str::trim).filter(|p| !p.is_empty()) {
        chosen.push(option(q, part)?);
    }
    if chosen.is_empty() {
        return None;
    }
    Some(
        q.options
            .iter()
            .filter(|o| chosen.iter().any(|c| c.value == o.value))
            .map(|o| o.value.clone())
            .collect(),
    )
}

/// The message as a number ("7", "7,5"), else the one number the entity extraction found in it
/// ("about seven hours").
fn number_in(text: &str, found: &[Entity]) -> Option<f64> {
    if let Ok(n) = text.trim().replace(',', ".").parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    let mut numbers = found.iter().filter(|e| e.entity == "number");
    let only = numbers.next()?;
    if numbers.next().is_some() {
        return None;
    }
    only.value.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Localized;

    fn question(kind: QuestionKind) -> QuestionSpec {
        let opt = |value: &str, en: &str, es: &str, score| OptionSpec {
            value: value.into(),
            label: Localized::ByLanguage([("en".into(), vec![en.into()]), ("es".into(), vec![es.into()])].into()),
            score,
        };
        QuestionSpec {
            id: "q".into(),
            kind,
            text: Localized::List(vec!["?".into()]),
            options: match kind {
                QuestionKind::Single | QuestionKind::Multiple => vec![
                    opt("work", "Work", "Trabajo", 1.0),
                    opt("money", "Money", "Dinero", 2.0),
                    opt("health", "Health", "Salud", 3.0),
                ],
                _ => Vec::new(),
            },
            min: matches!(kind, QuestionKind::Scale | QuestionKind::Number).then_some(1.0),
            max: matches!(kind, QuestionKind::Scale | QuestionKind::Number).then_some(5.0),
            weight: 1.0,
        }
    }

    #[test]
    fn choices_by_payload_label_in_any_language_or_number() {
        let q = question(QuestionKind::Single);
        for said in ["money", "Money", "  dinero! ", "2"] {
            assert_eq!(read(&q, said, &[], "en"), Ok(json!("money")), "{said}");
        }
        for said in ["4", "0", "cash", "money, work", ""] {
            let err = read(&q, said, &[], "en").expect_err(said);
            assert_eq!(err.message, "Please choose one of the options.");
        }
        assert_eq!(
            read(&q, "nope", &[], "de").expect_err("invalid").message,
            "Bitte wähle eine der Optionen."
        );
    }

    #[test]
    fn several_choices_in_the_options_order() {
        let q = question(QuestionKind::Multiple);
        assert_eq!(read(&q, "health", &[], "en"), Ok(json!(["health"])));
        assert_eq!(read(&q, "3, 1", &[], "en"), Ok(json!(["work", "health"])));
        assert_eq!(read(&q, "Money and work", &[], "en"), Ok(json!(["work", "money"])));
        assert_eq!(read(&q, "salud y dinero", &[], "es"), Ok(json!(["money", "health"])));
        assert!(
            read(&q, "money, cats", &[], "en").is_err(),
            "every part must be an option"
        );
        assert!(read(&q, ",", &[], "en").is_err());
    }

    #[test]
    fn numbers_in_range() {
        let scale = question(QuestionKind::Scale);
        assert_eq!(read(&scale, "4", &[], "en"), Ok(json!(4)));
        let err = read(&scale, "7", &[], "en").expect_err("out of range");
        assert_eq!(err.message, "Please answer with a number from 1 to 5.");
        assert!(read(&scale, "2.5", &[], "en").is_err(), "a scale takes whole numbers");
        assert!(read(&scale, "lots", &[], "en").is_err());
        let number = question(QuestionKind::Number);
        assert_eq!(read(&number, "2,5", &[], "en"), Ok(json!(2.5)));
        assert_eq!(
            read(&number, "0", &[], "es").expect_err("below").message,
            "Por favor, responde con un número de 1 a 5."
        );
        let three = Entity {
            entity: "number".into(),
            start: 6,
            end: 11,
            raw: "three".into(),
            value: json!(3),
            source: switchboard_core::EntitySource::Builtin,
        };
        assert_eq!(
            read(&number, "about three", std::slice::from_ref(&three), "en"),
            Ok(json!(3))
        );
        assert!(
            read(&number, "three or four", &[three.clone(), three], "en").is_err(),
            "ambiguous"
        );
    }

    #[test]
    fn text_is_kept_trimmed_and_bounded() {
        let q = question(QuestionKind::Text);
        assert_eq!(read(&q, "  all good ", &[], "en"), Ok(json!("all good")));
        let long = read(&q, &"x".repeat(5000), &[], "en").expect("long");
        assert_eq!(long.as_str().map(|s| s.chars().count()), Some(TEXT_MAX));
        assert!(read(&q, "   ", &[], "en").is_err());
    }
}
