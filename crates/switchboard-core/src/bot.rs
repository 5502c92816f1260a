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
    /// Hands the conversation to a person: the bot goes silent until it is handed back.
    Handoff,
    /// Reminders and tasks; the intent's `action` says which operation.
    Reminders,
    /// Answers from the tenant's knowledge documents (also tried when no intent is confident).
    Knowledge,
    /// Starts the intent's `form` and, while it is active, collects its slots.
    Form,
    /// Starts (or resumes) the questionnaire the intent names with `assessment`.
    Assessment,
    /// Asks for the person's satisfaction (CSAT), and records answers to it.
    Feedback,
}

impl HandlerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerKind::SmallTalk => "small_talk",
            HandlerKind::Fallback => "fallback",
            HandlerKind::Handoff => "handoff",
            HandlerKind::Reminders => "reminders",
            HandlerKind::Knowledge => "knowledge",
            HandlerKind::Form => "form",
            HandlerKind::Assessment => "assessment",
            HandlerKind::Feedback => "feedback",
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
    /// Entities the intent uses (built-in or declared with `[[entity]]`); their values are
    /// given to the reply templates as `entities.<name>`.
    #[serde(default)]
    pub entities: Vec<String>,
    /// Entities the intent cannot do without; missing ones are recorded with the turn.
    #[serde(default)]
    pub required: Vec<String>,
    /// What to ask when a required entity is missing ("For which day?"); without it the
    /// intent's responses answer anyway.
    #[serde(default)]
    pub ask: Localized,
    /// What an intent of the `reminders` handler does.
    #[serde(default)]
    pub action: Option<crate::ReminderAction>,
    /// The `[[form]]` an intent of the `form` handler starts.
    #[serde(default)]
    pub form: Option<String>,
    /// The `[[assessment]]` an intent of the `assessment` handler starts.
    #[serde(default)]
    pub assessment: Option<String>,
    /// Answering this intent resolves the conversation: `[feedback]` may ask for satisfaction.
    #[serde(default)]
    pub resolves: bool,
    /// Rich replies sent after the text one: `image = { url, caption }`, `[[intent.card]]`,
    /// `list = { button, items = [{ title, description, payload }] }`.
    #[serde(default)]
    pub image: Option<crate::ImageSpec>,
    #[serde(default, rename = "card")]
    pub cards: Vec<crate::Card>,
    #[serde(default)]
    pub list: Option<crate::ListSpec>,
}

impl IntentSpec {
    /// Every entity the intent names, `entities` first, then required ones not listed there.
    pub fn entity_names(&self) -> impl Iterator<Item = &str> {
        let extra = self.required.iter().filter(|r| !self.entities.contains(r));
        self.entities.iter().chain(extra).map(String::as_str)
    }
}

/// Entities every bot has without declaring them. `date` is any `datetime`; `time` is a
/// `datetime` that names an hour.
pub const BUILTIN_ENTITIES: &[&str] = &[
    "number",
    "ordinal",
    "amount",
    "percentage",
    "datetime",
    "date",
    "time",
    "duration",
    "email",
    "phone",
    "url",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// Matches a regular expression; the value is the first capture group, or the whole match.
    Regex,
    /// One of a list of values or their synonyms, as whole words, ignoring case.
    Lookup,
}

/// An entity of the bot's own: `[[entity]]` in the bot definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    pub name: String,
    pub kind: EntityKind,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub values: Vec<LookupValue>,
}

/// A lookup value: `"small"` or `{ value = "large", synonyms = ["big", "xl"] }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawLookupValue")]
pub struct LookupValue {
    pub value: String,
    pub synonyms: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLookupValue {
    Plain(String),
    WithSynonyms {
        value: String,
        #[serde(default)]
        synonyms: Vec<String>,
    },
}

impl From<RawLookupValue> for LookupValue {
    fn from(raw: RawLookupValue) -> Self {
        match raw {
            RawLookupValue::Plain(value) => LookupValue {
                value,
                synonyms: Vec::new(),
            },
            RawLookupValue::WithSynonyms { value, synonyms } => LookupValue { value, synonyms },
        }
    }
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
    /// The fallback offers the closest intents as buttons (their first example), so a person
    /// who was not understood can pick what they meant.
    #[serde(default = "yes")]
    pub fallback_suggestions: bool,
    /// After this many fallbacks in a row the conversation goes to a person (0: never).
    #[serde(default = "default_handoff_after")]
    pub handoff_after_fallbacks: u32,
    /// What the bot says when it hands the conversation to a person; a built-in English text
    /// when absent.
    #[serde(default)]
    pub handoff: Localized,
    #[serde(default, rename = "intent")]
    pub intents: Vec<IntentSpec>,
    /// IANA time zone in which "tomorrow at 5pm" is understood, unless the conversation
    /// stores the user's own (`vars.timezone`). Checked when the bot is loaded.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Country calling code ("49", "+1") for phone numbers written without one.
    #[serde(default)]
    pub default_country_code: Option<String>,
    #[serde(default, rename = "entity")]
    pub entities: Vec<EntitySpec>,
    /// Reminders and tasks: quiet hours.
    #[serde(default)]
    pub reminders: crate::RemindersSpec,
    #[serde(default)]
    pub knowledge: KnowledgeSpec,
    /// Questionnaires, started by intents of the `assessment` handler.
    #[serde(default, rename = "assessment")]
    pub assessments: Vec<crate::AssessmentSpec>,
    /// Satisfaction questions; none are asked without this section.
    #[serde(default)]
    pub feedback: Option<crate::FeedbackSpec>,
    #[serde(default, rename = "form")]
    pub forms: Vec<crate::FormSpec>,
    /// Consent asked before anything else, and the texts for "stop" and "start".
    #[serde(default)]
    pub consent: crate::ConsentSpec,
    #[serde(default)]
    pub small_talk: SmallTalkSpec,
}

/// `[small_talk]`: whether the language model (when the server has one) may word the replies
/// of these small-talk intents. The intent's own response is the model's guide and the answer
/// whenever the model cannot be used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmallTalkSpec {
    pub llm: bool,
    /// Who the bot is, in a sentence or two, for the model.
    pub persona: String,
    pub intents: Vec<String>,
}

/// `[knowledge]`: answering from the documents in the bot's `knowledge/` folder when no intent
/// is confident, before the fallback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeSpec {
    /// Search the knowledge base at all (it is only searched when it has documents).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Lowest BM25 score of the best passage for it to answer; below it the fallback answers.
    #[serde(default = "default_min_score")]
    pub min_score: f32,
    /// Passages given to the language model (the extractive answer uses the best one).
    #[serde(default = "default_max_passages")]
    pub max_passages: usize,
}

impl Default for KnowledgeSpec {
    fn default() -> Self {
        KnowledgeSpec {
            enabled: true,
            min_score: default_min_score(),
            max_passages: default_max_passages(),
        }
    }
}

impl KnowledgeSpec {
    fn validate(&self) -> Result<(), BotError> {
        if !self.min_score.is_finite() || self.min_score < 0.0 {
            return Err(BotError::Invalid("`knowledge.min_score` must be 0 or more".into()));
        }
        if !(1..=10).contains(&self.max_passages) {
            return Err(BotError::Invalid("`knowledge.max_passages` must be 1 to 10".into()));
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}
fn default_min_score() -> f32 {
    2.0
}
fn default_max_passages() -> usize {
    3
}

fn default_handoff_after() -> u32 {
    3
}

fn default_timezone() -> String {
    "UTC".to_owned()
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

    pub fn form(&self, name: &str) -> Option<&crate::FormSpec> {
        self.forms.iter().find(|f| f.name == name)
    }

    pub fn assessment(&self, name: &str) -> Option<&crate::AssessmentSpec> {
        self.assessments.iter().find(|a| a.name == name)
    }

    pub fn threshold_for(&self, intent: &IntentSpec) -> f32 {
        intent.threshold.unwrap_or(self.threshold)
    }

    /// The default country calling code as digits ("+49" -> "49").
    pub fn country_code(&self) -> Option<&str> {
        self.default_country_code.as_deref().map(|c| c.trim_start_matches('+'))
    }

    fn validate_entities(&self) -> Result<(), BotError> {
        let bad = |m: String| Err(BotError::Invalid(m));
        if let Some(cc) = self.country_code()
            && (!(1..=3).contains(&cc.len()) || !cc.bytes().all(|b| b.is_ascii_digit()) || cc.starts_with('0'))
        {
            return bad(format!(
                "`default_country_code` {cc:?} is not a calling code like \"49\" or \"+1\""
            ));
        }
        let mut seen = HashSet::new();
        for e in &self.entities {
            let name = &e.name;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return bad(format!("entity name {name:?} must be letters, digits or `_`"));
            }
            if BUILTIN_ENTITIES.contains(&name.as_str()) {
                return bad(format!("entity {name:?} is a built-in entity"));
            }
            if !seen.insert(name.as_str()) {
                return bad(format!("entity {name:?} is defined twice"));
            }
            match e.kind {
                EntityKind::Regex if e.pattern.as_deref().is_none_or(str::is_empty) || !e.values.is_empty() => {
                    return bad(format!("regex entity {name:?} needs a `pattern` and no `values`"));
                }
                EntityKind::Lookup if e.values.is_empty() || e.pattern.is_some() => {
                    return bad(format!("lookup entity {name:?} needs `values` and no `pattern`"));
                }
                _ => {}
            }
            let words = e
                .values
                .iter()
                .flat_map(|v| std::iter::once(&v.value).chain(&v.synonyms));
            if words.into_iter().any(|w| w.trim().is_empty()) {
                return bad(format!("entity {name:?} has an empty value or synonym"));
            }
        }
        for intent in &self.intents {
            for used in intent.entity_names() {
                if !BUILTIN_ENTITIES.contains(&used) && !seen.contains(used) {
                    return bad(format!(
                        "intent {:?} uses entity {used:?}, which is neither built in nor declared with [[entity]]",
                        intent.name
                    ));
                }
            }
            if !intent.ask.is_empty() && intent.required.is_empty() {
                return bad(format!("intent {:?} has `ask` but no `required` entities", intent.name));
            }
        }
        crate::forms::validate_all(self, &seen)
    }

    fn validate(&self) -> Result<(), BotError> {
        let bad = |m: String| Err(BotError::Invalid(m));
        if self.name.trim().is_empty() {
            return bad("`name` is empty".into());
        }
        self.knowledge.validate()?;
        for i in &self.intents {
            crate::rich::validate(&i.name, i.image.as_ref(), &i.cards, i.list.as_ref()).map_err(BotError::Invalid)?;
        }
        for name in &self.small_talk.intents {
            match self.intent(name) {
                Some(i) if i.handler == HandlerKind::SmallTalk => {}
                _ => {
                    return bad(format!(
                        "`small_talk.intents` names {name:?}, which is no small_talk intent"
                    ));
                }
            }
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
            if (intent.handler == HandlerKind::Reminders) != intent.action.is_some() {
                return bad(format!(
                    "intent {name:?}: `action` goes with `handler = \"reminders\"`, and that handler needs one"
                ));
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
                .chain(intent.ask.iter(&self.default_language))
            {
                if !self.languages.iter().any(|l| l == lang) {
                    return bad(format!(
                        "intent {name:?} uses language {lang:?} not listed in `languages`"
                    ));
                }
            }
        }
        self.reminders.validate()?;
        crate::assessment::validate(self)?;
        self.validate_entities()
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
    fn entities_are_declared_and_checked() {
        let src = format!(
            "timezone = \"Europe/Berlin\"\ndefault_country_code = \"+49\"\n{SPEC}entities = [\"size\"]\nrequired = [\"datetime\"]\n\
             ask = [\"When?\"]\n[[entity]]\nname = \"size\"\nkind = \"lookup\"\n\
             values = [\"small\", {{ value = \"large\", synonyms = [\"big\", \"xl\"] }}]\n\
             [[entity]]\nname = \"order\"\nkind = \"regex\"\npattern = \"#(\\\\d+)\"\n"
        );
        let spec = BotSpec::from_toml(&src).expect("valid");
        assert_eq!(spec.timezone, "Europe/Berlin");
        assert_eq!(spec.country_code(), Some("49"));
        assert_eq!(spec.entities[0].values[1].synonyms, ["big", "xl"]);
        assert_eq!(spec.entities[0].values[0].value, "small");
        assert_eq!(spec.entities[1].pattern.as_deref(), Some("#(\\d+)"));
        let greet = spec.intent("greet").expect("greet");
        assert_eq!(greet.entity_names().collect::<Vec<_>>(), ["size", "datetime"]);
        assert_eq!(BotSpec::from_toml(SPEC).expect("valid").timezone, "UTC");
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
            (
                &format!("{SPEC}required = [\"colour\"]\n"),
                "neither built in nor declared",
            ),
            (&format!("{SPEC}ask = [\"Which?\"]\n"), "no `required`"),
            (&format!("default_country_code = \"0049\"\n{SPEC}"), "calling code"),
            (
                &format!("{SPEC}[[entity]]\nname = \"number\"\nkind = \"regex\"\npattern = \"x\"\n"),
                "built-in",
            ),
            (
                &format!("{SPEC}[[entity]]\nname = \"size\"\nkind = \"lookup\"\npattern = \"x\"\n"),
                "needs `values`",
            ),
            (
                &format!("{SPEC}[[entity]]\nname = \"size\"\nkind = \"regex\"\n"),
                "needs a `pattern`",
            ),
        ];
        for (src, why) in cases {
            let err = BotSpec::from_toml(src).expect_err(why).to_string();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }
}
