//! `[consent]` in the bot definition, and the words people use to answer it or to stop and
//! start messages. Pure: the pipeline decides, the store keeps the ledger.

use crate::Localized;
use serde::{Deserialize, Serialize};

/// `[consent]`: what the bot asks before anything else, and what it says to the answers. Every
/// text has a built-in English default; `version` names the wording a person agreed to, and
/// changing it asks everyone again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsentSpec {
    /// Ask for consent before anything else is processed.
    pub required: bool,
    pub version: String,
    pub text: Localized,
    /// Titles of the two buttons.
    pub accept: Localized,
    pub decline: Localized,
    /// Said after a grant, a refusal, "stop" and "start".
    pub granted: Localized,
    pub refused: Localized,
    pub stopped: Localized,
    pub started: Localized,
}

/// The payloads of the consent buttons.
pub const ACCEPT_PAYLOAD: &str = "/consent accept";
pub const DECLINE_PAYLOAD: &str = "/consent decline";

/// Which text of [`ConsentSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentText {
    Ask,
    Accept,
    Decline,
    Granted,
    Refused,
    Stopped,
    Started,
}

impl ConsentSpec {
    pub fn version(&self) -> &str {
        if self.version.is_empty() { "1" } else { &self.version }
    }

    /// The first text of `which` in `lang` (else `default_lang`, else built-in English).
    pub fn text(&self, which: ConsentText, lang: &str, default_lang: &str) -> String {
        let (own, builtin) = match which {
            ConsentText::Ask => (
                &self.text,
                "Before we start: we store the messages of this conversation to answer you. Do you agree?",
            ),
            ConsentText::Accept => (&self.accept, "I agree"),
            ConsentText::Decline => (&self.decline, "No, thanks"),
            ConsentText::Granted => (&self.granted, "Thank you. How can I help?"),
            ConsentText::Refused => (
                &self.refused,
                "Understood: nothing of this conversation is kept and I won't write to you. Send START if you change your mind.",
            ),
            ConsentText::Stopped => (
                &self.stopped,
                "You won't get any more messages from us. Send START to receive them again.",
            ),
            ConsentText::Started => (&self.started, "Welcome back: you will get our messages again."),
        };
        own.for_language(lang, default_lang)
            .first()
            .cloned()
            .unwrap_or_else(|| builtin.to_owned())
    }
}

/// What a message says about consent, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentWord {
    Accept,
    Decline,
    Stop,
    Start,
}

const STOP: &[&str] = &[
    "stop",
    "stopall",
    "unsubscribe",
    "opt out",
    "optout",
    "parar",
    "baja",
    "darme de baja",
    "stopp",
    "abmelden",
    "abbestellen",
];
const START: &[&str] = &["start", "unstop", "subscribe", "opt in", "alta", "empezar", "anmelden"];
const ACCEPT: &[&str] = &[
    "yes",
    "y",
    "ok",
    "okay",
    "i agree",
    "agree",
    "accept",
    "i accept",
    "sí",
    "si",
    "acepto",
    "de acuerdo",
    "ja",
    "einverstanden",
    "akzeptieren",
    "zustimmen",
];
const DECLINE: &[&str] = &[
    "no",
    "n",
    "no thanks",
    "no, thanks",
    "decline",
    "i decline",
    "disagree",
    "refuse",
    "no acepto",
    "rechazar",
    "nein",
    "ablehnen",
    "nein danke",
];

/// Reads the whole message as one of the words (case, surrounding spaces and end punctuation
/// ignored): "STOP" stops, "please stop spamming me" is a sentence, not a command.
pub fn consent_word(text: &str) -> Option<ConsentWord> {
    match text {
        ACCEPT_PAYLOAD => return Some(ConsentWord::Accept),
        DECLINE_PAYLOAD => return Some(ConsentWord::Decline),
        _ => {}
    }
    let t = text
        .trim()
        .trim_end_matches(['.', '!', '?', '¡', '¿'])
        .trim()
        .to_lowercase();
    let is = |list: &[&str]| list.contains(&t.as_str());
    if is(STOP) {
        Some(ConsentWord::Stop)
    } else if is(START) {
        Some(ConsentWord::Start)
    } else if is(ACCEPT) {
        Some(ConsentWord::Accept)
    } else if is(DECLINE) {
        Some(ConsentWord::Decline)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_messages_only() {
        assert_eq!(consent_word("STOP"), Some(ConsentWord::Stop));
        assert_eq!(consent_word("  Unsubscribe. "), Some(ConsentWord::Stop));
        assert_eq!(consent_word("Abmelden!"), Some(ConsentWord::Stop));
        assert_eq!(consent_word("start"), Some(ConsentWord::Start));
        assert_eq!(consent_word("Sí"), Some(ConsentWord::Accept));
        assert_eq!(consent_word(ACCEPT_PAYLOAD), Some(ConsentWord::Accept));
        assert_eq!(consent_word("nein"), Some(ConsentWord::Decline));
        assert_eq!(consent_word("please stop spamming me"), None);
        assert_eq!(consent_word(""), None);
    }

    #[test]
    fn texts_fall_back_to_the_default_language_then_built_in() {
        let spec: ConsentSpec =
            toml::from_str("required = true\ntext.en = [\"Agree?\"]\ntext.de = [\"Einverstanden?\"]").expect("parses");
        assert_eq!(spec.text(ConsentText::Ask, "de", "en"), "Einverstanden?");
        assert_eq!(spec.text(ConsentText::Ask, "es", "en"), "Agree?");
        assert_eq!(spec.text(ConsentText::Accept, "es", "en"), "I agree");
        assert_eq!(spec.version(), "1");
    }
}
