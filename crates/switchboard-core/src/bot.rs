//! The bot definition: the file a person edits to teach a tenant's bot. See the README for the
//! format; `examples/demo-bot/bot.toml` is the reference example.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("cannot read bot definition {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("bot definition is not valid TOML: {0}")]
    Syntax(String),
    #[error("bot definition is invalid: {0}")]
    Invalid(String),
}

/// Texts in the bot's default language (a plain list) or per language (`responses.es = [...]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Localized {
    List(Vec<String>),
    ByLanguage(BTreeMap<String, Vec<String>>),
}

impl Default for Localized {
    fn default() -> Self {
        Localized::List(Vec::new())
    }
}

impl Localized {
    /// The texts for `lang`, or for `default_lang` when there are none in `lang`.
    pub fn for_language<'a>(&'a self, lang: &str, default_lang: &str) -> &'a [String] {
        match self {
            Localized::List(v) => v,
            Localized::ByLanguage(m) => m
                .get(lang)
                .filter(|v| !v.is_empty())
                .or_else(|| m.get(default_lang))
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        }
    }

    /// Every text with its language.
    pub fn iter<'a>(&'a self, default_lang: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let pairs: Vec<(&str, &str)> = match self {
            Localized::List(v) => v.iter().map(|t| (default_lang, t.as_str())).collect(),
            Localized::ByLanguage(m) => m
                .iter()
                .flat_map(|(l, v)| v.iter().map(move |t| (l.as_str(), t.as_str())))
                .collect(),
        };
        pairs.into_iter()
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Localized::List(v) => v.is_empty(),
            Localized::ByLanguage(m) => m.values().all(Vec::is_empty),
        }
    }
}

/// Which handler answers an intent. A closed set: adding a handler means adding a variant and
/// a match arm, nothing registers itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    #[default]
    SmallTalk,
    Fallback,
}

impl HandlerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerKind::SmallTalk => "small_talk",
            HandlerKind::Fallback => "fallback",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentSpec {
    pub name: String,
    #[serde(default)]
    pub handler: HandlerKind,
    /// Minimum confidence for this intent; the bot's `threshold` when absent.
    #[serde(default)]
    pub threshold: Option<f32>,
    /// Example utterances the matcher learns from.
    pub examples: Localized,
    /// Reply templates (minijinja syntax); one is chosen per turn.
    #[serde(default)]
    pub responses: Localized,
    /// Buttons offered with the reply: `[{ title = "...", payload = "..." }]`.
    #[serde(default)]
    pub buttons: Vec<crate::Button>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSpec {
    pub name: String,
    #[serde(default = "default_language")]
    pub default_language: String,
    /// Languages the bot speaks; detection is restricted to them.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Global minimum confidence for an intent to be chosen.
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    /// Minutes of silence after which the conversation context starts over.
    #[serde(default = "default_ttl")]
    pub context_ttl_minutes: u32,
    /// What the bot says when no intent is confident enough.
    pub fallback: Localized,
    #[serde(default, rename = "intent")]
    pub intents: Vec<IntentSpec>,
}

fn default_language() -> String {
    "en".to_owned()
}
fn default_threshold() -> f32 {
    0.35
}
fn default_ttl() -> u32 {
    60
}

impl BotSpec {
    pub const FILE_NAME: &'static str = "bot.toml";

    pub fn from_toml(src: &str) -> Result<BotSpec, BotError> {
        let mut spec: BotSpec = toml::from_str(src).map_err(|e| BotError::Syntax(e.to_string()))?;
        if spec.languages.is_empty() {
            spec.languages.push(spec.default_language.clone());
        }
        spec.validate()?;
        Ok(spec)
    }

    /// Reads `<dir>/bot.toml`. Returns the spec and its source text (stored with the tenant).
    pub fn load_dir(dir: &Path) -> Result<(BotSpec, String), BotError> {
        let path = dir.join(Self::FILE_NAME);
        let src = std::fs::read_to_string(&path).map_err(|source| BotError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok((Self::from_toml(&src)?, src))
    }

    pub fn intent(&self, name: &str) -> Option<&IntentSpec> {
        self.intents.iter().find(|i| i.name == name)
    }

    pub fn threshold_for(&self, intent: &IntentSpec) -> f32 {
        intent.threshold.unwrap_or(self.threshold)
    }

    fn validate(&self) -> Result<(), BotError> {
        let bad = |m: String| Err(BotError::Invalid(m));
        if self.name.trim().is_empty() {
            return bad("`name` is empty".into());
        }
        if !self.languages.contains(&self.default_language) {
            return bad(format!(
                "`default_language` {:?} is not in `languages` {:?}",
                self.default_language, self.languages
            ));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return bad(format!("`threshold` {} is not between 0 and 1", self.threshold));
        }
        if self.fallback.is_empty() {
            return bad("`fallback` needs at least one text".into());
        }
        let mut seen = HashSet::new();
        for intent in &self.intents {
            let name = &intent.name;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                return bad(format!("intent name {name:?} must be letters, digits, `_` or `.`"));
            }
            if !seen.insert(name.as_str()) {
                return bad(format!("intent {name:?} is defined twice"));
            }
            if intent.examples.is_empty() {
                return bad(format!("intent {name:?} has no examples"));
            }
            if intent.handler == HandlerKind::SmallTalk && intent.responses.is_empty() {
                return bad(format!("intent {name:?} is small talk but has no responses"));
            }
            if let Some(t) = intent.threshold
                && !(0.0..=1.0).contains(&t)
            {
                return bad(format!("intent {name:?}: threshold {t} is not between 0 and 1"));
            }
            for (lang, _) in intent
                .examples
                .iter(&self.default_language)
                .chain(intent.responses.iter(&self.default_language))
            {
                if !self.languages.iter().any(|l| l == lang) {
                    return bad(format!(
                        "intent {name:?} uses language {lang:?} not listed in `languages`"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
name = "Test"
languages = ["en", "es"]
fallback.en = ["Sorry?"]
fallback.es = ["¿Perdón?"]

[[intent]]
name = "greet"
examples = ["hello", "hi"]
responses.en = ["Hello!"]
responses.es = ["¡Hola!"]
"#;

    #[test]
    fn parses_localized_texts_with_fallback_to_default_language() {
        let spec = BotSpec::from_toml(SPEC).expect("valid");
        let greet = spec.intent("greet").expect("greet");
        assert_eq!(greet.responses.for_language("es", "en"), ["¡Hola!"]);
        assert_eq!(greet.responses.for_language("fr", "en"), ["Hello!"]);
        assert_eq!(greet.examples.for_language("es", "en"), ["hello", "hi"]);
        assert_eq!(spec.threshold, 0.35);
    }

    #[test]
    fn rejects_bad_definitions_with_a_reason() {
        let cases = [
            ("name = \"x\"\n", "fallback"),
            (
                &SPEC.replace("examples = [\"hello\", \"hi\"]", "examples = []"),
                "no examples",
            ),
            (
                &format!("{SPEC}\n[[intent]]\nname = \"greet\"\nexamples = [\"yo\"]\nresponses = [\"a\"]\n"),
                "twice",
            ),
            (&SPEC.replace("responses.es", "responses.de"), "not listed"),
            (
                &SPEC.replace("name = \"greet\"", "name = \"greet\"\nfoo = 1"),
                "unknown field",
            ),
        ];
        for (src, why) in cases {
            let err = BotSpec::from_toml(src).expect_err(why).to_string();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }
}
