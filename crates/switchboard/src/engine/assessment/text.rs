//! What assessments and feedback say: the bot's own texts (templates, registered with the
//! tenant's other templates under the keys below) and the built-in ones in English, Spanish and
//! German for what a bot need not write itself (re-asking, cancelling, resuming).

use crate::engine::handlers::Turn;
use serde_json::Value;
use switchboard_core::{BotSpec, ConversationContext, Localized};

/// Template keys start with `@`, which no intent name can, so they never collide with one.
pub fn intro_key(assessment: &str) -> String {
    format!("@assessment:{assessment}:intro")
}
pub fn question_key(assessment: &str, question: &str) -> String {
    format!("@assessment:{assessment}:q:{question}")
}
pub fn band_key(assessment: &str, band: usize) -> String {
    format!("@assessment:{assessment}:band:{band}")
}
pub const FEEDBACK_ASK: &str = "@feedback:ask";
pub const FEEDBACK_COMMENT: &str = "@feedback:comment";
pub const FEEDBACK_THANKS: &str = "@feedback:thanks";

/// Every template text of the bot's assessments and feedback, with its key.
pub fn templates(spec: &BotSpec) -> Vec<(String, &Localized)> {
    let mut all = Vec::new();
    for a in &spec.assessments {
        all.push((intro_key(&a.name), &a.intro));
        all.extend(a.questions.iter().map(|q| (question_key(&a.name, &q.id), &q.text)));
        all.extend(a.bands.iter().enumerate().map(|(i, b)| (band_key(&a.name, i), &b.text)));
    }
    if let Some(f) = &spec.feedback {
        all.push((FEEDBACK_ASK.to_owned(), &f.ask));
        all.push((FEEDBACK_COMMENT.to_owned(), &f.comment));
        all.push((FEEDBACK_THANKS.to_owned(), &f.thanks));
    }
    all
}

/// The first text in the user's language (else the bot's default) as it is written, for labels.
pub fn plain<'a>(texts: &'a Localized, lang: &str, spec: &BotSpec) -> &'a str {
    texts
        .for_language(lang, &spec.default_language)
        .first()
        .map_or("", String::as_str)
}

/// Renders one of `texts` (registered under `key`) in the turn's language, rotating turn by
/// turn like responses, with `extra` values next to the usual ones.
pub fn render(
    turn: &Turn<'_>,
    ctx: &ConversationContext,
    key: &str,
    texts: &Localized,
    extra: Value,
) -> anyhow::Result<String> {
    crate::engine::handlers::render_with(turn, ctx, key, texts, extra)
}

/// Built-in texts. A closed set, each said in English, Spanish or German (English otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Say {
    Resumed,
    Cancelled,
    PickOne,
    PickSome,
    SeveralHint,
    Words,
    Gone,
    /// The result when the score falls in no band; `{score}` is replaced.
    Score,
    /// `{answered}` and `{total}` are replaced.
    Unfinished,
    Continue,
    FeedbackAsk,
    FeedbackComment,
    FeedbackThanks,
}

pub fn say(what: Say, lang: &str) -> &'static str {
    match (what, lang) {
        (Say::Resumed, "es") => "¡Hola de nuevo! Seguimos donde lo dejamos.",
        (Say::Resumed, "de") => "Willkommen zurück! Wir machen da weiter, wo wir aufgehört haben.",
        (Say::Resumed, _) => "Welcome back! Let's continue where we left off.",
        (Say::Cancelled, "es") => "Vale, he parado el cuestionario.",
        (Say::Cancelled, "de") => "Okay, ich habe den Fragebogen abgebrochen.",
        (Say::Cancelled, _) => "OK, I've stopped the questionnaire.",
        (Say::PickOne, "es") => "Por favor, elige una de las opciones.",
        (Say::PickOne, "de") => "Bitte wähle eine der Optionen.",
        (Say::PickOne, _) => "Please choose one of the options.",
        (Say::PickSome, "es") => "Por favor, elige una o más opciones, separadas por comas.",
        (Say::PickSome, "de") => "Bitte wähle eine oder mehrere Optionen, durch Kommas getrennt.",
        (Say::PickSome, _) => "Please choose one or more of the options, separated by commas.",
        (Say::SeveralHint, "es") => "(una o más, p. ej. 1, 3)",
        (Say::SeveralHint, "de") => "(eine oder mehrere, z. B. 1, 3)",
        (Say::SeveralHint, _) => "(one or more, e.g. 1, 3)",
        (Say::Words, "es") => "Por favor, responde con unas palabras.",
        (Say::Words, "de") => "Bitte antworte mit ein paar Worten.",
        (Say::Words, _) => "Please answer in a few words.",
        (Say::Gone, "es") => "Ese cuestionario ya no está disponible.",
        (Say::Gone, "de") => "Diesen Fragebogen gibt es nicht mehr.",
        (Say::Gone, _) => "That questionnaire is no longer available.",
        (Say::Score, "es") => "¡Gracias! Esa era la última pregunta. Tu puntuación: {score}.",
        (Say::Score, "de") => "Danke! Das war die letzte Frage. Deine Punktzahl: {score}.",
        (Say::Score, _) => "Thank you, that was the last question. Your score: {score}.",
        (Say::Unfinished, "es") => {
            "Tienes un cuestionario sin terminar ({answered} de {total} respondidas). ¿Continuamos?"
        }
        (Say::Unfinished, "de") => {
            "Du hast einen unvollständigen Fragebogen ({answered} von {total} beantwortet). Weitermachen?"
        }
        (Say::Unfinished, _) => "You have an unfinished questionnaire ({answered} of {total} answered). Continue?",
        (Say::Continue, "es") => "Continuar",
        (Say::Continue, "de") => "Weiter",
        (Say::Continue, _) => "Continue",
        (Say::FeedbackAsk, "es") => "¿Qué tan satisfecho estás con esta conversación? (1 = nada, 5 = mucho)",
        (Say::FeedbackAsk, "de") => "Wie zufrieden bist du mit diesem Gespräch? (1 = gar nicht, 5 = sehr)",
        (Say::FeedbackAsk, _) => "How satisfied are you with this conversation? (1 = not at all, 5 = very)",
        (Say::FeedbackComment, "es") => "¡Gracias! ¿Algo que podamos mejorar? (o di \"omitir\")",
        (Say::FeedbackComment, "de") => "Danke! Was können wir besser machen? (oder sag \"überspringen\")",
        (Say::FeedbackComment, _) => "Thanks! Anything we could do better? (or say \"skip\")",
        (Say::FeedbackThanks, "es") => "¡Gracias por tu opinión!",
        (Say::FeedbackThanks, "de") => "Danke für dein Feedback!",
        (Say::FeedbackThanks, _) => "Thank you for your feedback!",
    }
}

/// "Please answer with a number from 1 to 5." and its kin.
pub fn number_between(lang: &str, min: Option<f64>, max: Option<f64>) -> String {
    let n = |v: f64| crate::engine::assessment::number(v).to_string();
    match (lang, min, max) {
        ("es", Some(a), Some(b)) => format!("Por favor, responde con un número de {} a {}.", n(a), n(b)),
        ("de", Some(a), Some(b)) => format!("Bitte antworte mit einer Zahl von {} bis {}.", n(a), n(b)),
        (_, Some(a), Some(b)) => format!("Please answer with a number from {} to {}.", n(a), n(b)),
        ("es", Some(a), None) => format!("Por favor, responde con un número desde {}.", n(a)),
        ("de", Some(a), None) => format!("Bitte antworte mit einer Zahl ab {}.", n(a)),
        (_, Some(a), None) => format!("Please answer with a number of at least {}.", n(a)),
        ("es", None, Some(b)) => format!("Por favor, responde con un número hasta {}.", n(b)),
        ("de", None, Some(b)) => format!("Bitte antworte mit einer Zahl bis {}.", n(b)),
        (_, None, Some(b)) => format!("Please answer with a number up to {}.", n(b)),
        ("es", None, None) => "Por favor, responde con un número.".to_owned(),
        ("de", None, None) => "Bitte antworte mit einer Zahl.".to_owned(),
        (_, None, None) => "Please answer with a number.".to_owned(),
    }
}

/// Normalised for comparing with words and labels: lower case, without surrounding spaces,
/// quotes and closing punctuation.
pub fn normal(text: &str) -> String {
    text.trim()
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '.' | '!' | '?' | '¡' | '¿') || c.is_whitespace())
        .to_lowercase()
}

/// Words that leave an assessment, in every language the built-in texts speak: a one-word
/// message is too short to tell its language reliably. ("stop", "parar" and "stopp" alone are
/// the opt-out words, handled before any mode.)
pub fn is_cancel(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "cancel",
        "quit",
        "exit",
        "cancelar",
        "salir",
        "detener",
        "abbrechen",
        "beenden",
    ];
    WORDS.contains(&normal(text).as_str())
}

/// Words that skip the optional comment after a feedback score.
pub fn is_skip(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "skip",
        "no",
        "nothing",
        "no thanks",
        "omitir",
        "nada",
        "no gracias",
        "überspringen",
        "nein",
        "nichts",
        "nein danke",
    ];
    WORDS.contains(&normal(text).as_str())
}
