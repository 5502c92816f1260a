//! What a form says besides the bot's own texts: built-in phrases in the bot languages we have
//! words for, the words that cancel, confirm or refuse, and rendering of the form's templates.

use crate::engine::handlers::Turn;
use serde_json::{Map, Value};
use switchboard_core::{ConversationContext, Localized};

/// Words that end a form, when a short message starts with one.
const CANCEL: &[&str] = &[
    "cancel",
    "stop",
    "quit",
    "exit",
    "cancelar",
    "cancela",
    "parar",
    "salir",
    "abbrechen",
    "stopp",
    "beenden",
];
const CANCEL_PHRASES: &[&str] = &["never mind", "forget it", "olvídalo", "vergiss es"];
const YES: &[&str] = &[
    "yes",
    "y",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "correct",
    "confirm",
    "right",
    "sí",
    "si",
    "claro",
    "vale",
    "correcto",
    "confirmar",
    "ja",
    "jawohl",
    "genau",
    "richtig",
    "bestätigen",
    "passt",
];
const NO: &[&str] = &["no", "n", "nope", "nah", "nein"];

/// Lower-cased words, punctuation dropped.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A short message that starts with `list`'s words ("cancel", "cancel the booking", "yes please").
fn starts_short(text: &str, list: &[&str], max_words: usize) -> bool {
    let w = words(text);
    !w.is_empty() && w.len() <= max_words && list.contains(&w[0].as_str())
}

pub fn is_cancel(text: &str) -> bool {
    let joined = words(text).join(" ");
    starts_short(text, CANCEL, 4) || CANCEL_PHRASES.iter().any(|p| joined == *p)
}

pub fn is_yes(text: &str) -> bool {
    starts_short(text, YES, 3)
}

pub fn is_no(text: &str) -> bool {
    starts_short(text, NO, 3)
}

/// A built-in phrase in `lang`, English for languages without one.
pub fn builtin(lang: &str, what: Builtin) -> &'static str {
    use Builtin::*;
    match (what, lang) {
        (Cancelled, "es") => "Vale, lo dejamos aquí.",
        (Cancelled, "de") => "Okay, ich habe abgebrochen.",
        (Cancelled, _) => "OK, I've cancelled that.",
        (NotValid, "es") => "Perdona, esa respuesta no es válida.",
        (NotValid, "de") => "Entschuldigung, das ist keine gültige Antwort.",
        (NotValid, _) => "Sorry, that is not a valid answer.",
        (Yes, "es") => "Sí",
        (Yes, "de") => "Ja",
        (Yes, _) => "Yes",
        (No, "es") => "No",
        (No, "de") => "Nein",
        (No, _) => "No",
    }
}

#[derive(Clone, Copy)]
pub enum Builtin {
    Cancelled,
    NotValid,
    Yes,
    No,
}

/// "Got it: email is now x@y.com." in the person's language.
pub fn corrected(lang: &str, slot: &str, value: &str) -> String {
    let slot = slot.replace('_', " ");
    match lang {
        "es" => format!("Entendido: {slot} ahora es {value}."),
        "de" => format!("Verstanden: {slot} ist jetzt {value}."),
        _ => format!("Got it: {slot} is now {value}."),
    }
}

/// Renders one of a form's texts (registered under `key`) in the turn's language, with the
/// usual values plus `form`, `slots` and anything in `extra`.
pub fn render(
    turn: &Turn<'_>,
    ctx: &ConversationContext,
    key: &str,
    texts: &Localized,
    slots: &Map<String, Value>,
    extra: Value,
) -> anyhow::Result<String> {
    let mut values = Map::new();
    values.insert("slots".to_owned(), Value::Object(slots.clone()));
    if let Value::Object(extra) = extra {
        values.extend(extra);
    }
    crate::engine::handlers::render_with(turn, ctx, key, texts, Value::Object(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_yes_and_no_are_short_messages_that_start_with_them() {
        for t in [
            "cancel",
            "Cancel!",
            "stop please",
            "cancelar",
            "abbrechen",
            "never mind",
            "quit the booking",
        ] {
            assert!(is_cancel(t), "{t}");
        }
        for t in [
            "the bus stop on main street near the station",
            "can you tell me the hours",
            "",
        ] {
            assert!(!is_cancel(t), "{t}");
        }
        assert!(is_yes("Yes, please") && is_yes("sí") && is_yes("ja genau"));
        assert!(!is_yes("yes but change the time to 8 and the name"));
        assert!(is_no("no") && is_no("Nein!") && !is_no("now"));
    }
}
