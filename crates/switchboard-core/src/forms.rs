//! The bot definition's forms: `[[form]]` sections. A form collects named slots over several
//! turns (from entities the person mentions, or by asking), optionally confirms them, and ends
//! with an action: storing the record, or sending it to the tenant's endpoint.

use crate::bot::{BUILTIN_ENTITIES, BotError, BotSpec, HandlerKind, Localized};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// `[[form]]` in the bot definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    pub name: String,
    /// Asked in order; the first without a value is the next question.
    #[serde(rename = "slot")]
    pub slots: Vec<SlotSpec>,
    /// The summary shown before the action, with yes/no buttons; without it the form completes
    /// as soon as every slot has a value.
    #[serde(default)]
    pub confirm: Localized,
    /// Said when the form completes (templates see `slots` and `submission`).
    pub done: Localized,
    /// Said when the person cancels; a built-in text when absent.
    #[serde(default)]
    pub cancelled: Localized,
    pub action: FormAction,
}

/// One value a form collects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    pub name: String,
    /// A built-in entity (`email`, `phone`, `datetime`, `date`, `time`, `number`, ...) or one of
    /// the bot's `[[entity]]`, or a list of them (`["email", "phone"]`: whichever is given);
    /// without it the slot takes the message's text.
    #[serde(default)]
    pub entity: Option<SlotEntity>,
    /// The question that asks for the slot.
    pub ask: Localized,
    /// Said (instead of `ask`) when an answer does not pass the checks below.
    #[serde(default)]
    pub invalid: Localized,
    /// Smallest and largest number allowed (number-like entities).
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// A regular expression the value (or the text) must match somewhere; anchor it for a
    /// whole match. Compiled when the bot loads.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The only values accepted (compared ignoring case); offered as buttons when asking.
    #[serde(default)]
    pub values: Vec<String>,
    /// A date or time must lie in the future.
    #[serde(default)]
    pub future: bool,
}

/// `entity = "email"` or `entity = ["email", "phone"]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SlotEntity {
    One(String),
    AnyOf(Vec<String>),
}

impl SlotSpec {
    /// The entities that give the slot a value; none for a free-text slot.
    pub fn entities(&self) -> &[String] {
        match &self.entity {
            None => &[],
            Some(SlotEntity::One(e)) => std::slice::from_ref(e),
            Some(SlotEntity::AnyOf(all)) => all,
        }
    }
}

/// What happens to a completed form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormAction {
    /// The record is stored (`switchboard forms submissions` lists it).
    Store,
    /// The record is stored and POSTed, signed with `secret`, to `url`; retried with backoff.
    Http {
        url: String,
        /// The HMAC key; `env:NAME` reads the environment variable `NAME` when sending.
        secret: String,
        #[serde(default = "default_max_attempts")]
        max_attempts: u32,
    },
}

fn default_max_attempts() -> u32 {
    8
}

/// Entities whose value is a number that `min` and `max` can bound.
const NUMERIC: &[&str] = &["number", "ordinal", "percentage", "duration", "amount"];
/// Entities whose value is a moment that `future` can check.
const MOMENTS: &[&str] = &["datetime", "date", "time"];

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl FormSpec {
    pub fn slot(&self, name: &str) -> Option<&SlotSpec> {
        self.slots.iter().find(|s| s.name == name)
    }

    /// Every text of the form with the key its template is registered under.
    pub fn texts(&self) -> Vec<(String, &Localized)> {
        let mut all = vec![
            (self.key("@confirm"), &self.confirm),
            (self.key("@done"), &self.done),
            (self.key("@cancelled"), &self.cancelled),
        ];
        for s in &self.slots {
            all.push((self.key(&format!("{}:ask", s.name)), &s.ask));
            all.push((self.key(&format!("{}:invalid", s.name)), &s.invalid));
        }
        all
    }

    /// Template key of one of the form's texts. `:` cannot occur in intent names, so these
    /// never clash with an intent's responses.
    pub fn key(&self, part: &str) -> String {
        format!("form:{}:{part}", self.name)
    }

    pub(crate) fn validate(
        &self,
        entities: &HashSet<&str>,
        languages: &[String],
        default: &str,
    ) -> Result<(), BotError> {
        let form = &self.name;
        let bad = |m: String| Err(BotError::Invalid(format!("form {form:?}: {m}")));
        if !valid_name(form) {
            return Err(BotError::Invalid(format!(
                "form name {form:?} must be letters, digits or `_`"
            )));
        }
        if self.slots.is_empty() {
            return bad("needs at least one [[form.slot]]".into());
        }
        if self.done.is_empty() {
            return bad("needs a `done` text".into());
        }
        let mut seen = HashSet::new();
        for s in &self.slots {
            let slot = &s.name;
            if !valid_name(slot) {
                return bad(format!("slot name {slot:?} must be letters, digits or `_`"));
            }
            if !seen.insert(slot.as_str()) {
                return bad(format!("slot {slot:?} is defined twice"));
            }
            if s.ask.is_empty() {
                return bad(format!("slot {slot:?} needs an `ask` text"));
            }
            let used = s.entities();
            if s.entity.is_some() && used.is_empty() {
                return bad(format!("slot {slot:?}: `entity` is an empty list"));
            }
            if let Some(e) = used
                .iter()
                .find(|e| !BUILTIN_ENTITIES.contains(&e.as_str()) && !entities.contains(e.as_str()))
            {
                return bad(format!(
                    "slot {slot:?} uses entity {e:?}, which is neither built in nor declared with [[entity]]"
                ));
            }
            let all_of = |kinds: &[&str]| !used.is_empty() && used.iter().all(|e| kinds.contains(&e.as_str()));
            let numeric = all_of(NUMERIC);
            if (s.min.is_some() || s.max.is_some()) && !numeric {
                return bad(format!(
                    "slot {slot:?}: `min` and `max` need a number-like entity ({})",
                    NUMERIC.join(", ")
                ));
            }
            if let (Some(lo), Some(hi)) = (s.min, s.max)
                && lo > hi
            {
                return bad(format!("slot {slot:?}: `min` {lo} is above `max` {hi}"));
            }
            if s.future && !all_of(MOMENTS) {
                return bad(format!("slot {slot:?}: `future` needs entity datetime, date or time"));
            }
            if s.pattern.as_deref().is_some_and(str::is_empty) {
                return bad(format!("slot {slot:?}: `pattern` is empty"));
            }
            if s.values.iter().any(|v| v.trim().is_empty()) {
                return bad(format!("slot {slot:?} has an empty value in `values`"));
            }
        }
        match &self.action {
            FormAction::Store => {}
            FormAction::Http {
                url,
                secret,
                max_attempts,
            } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                    return bad(format!("action url {url:?} must be an http:// or https:// URL"));
                }
                // The key itself never sits in a definition, which is stored and shown to
                // every reader of the tenant's bot: it is named, and looked up when sending.
                let named = secret
                    .strip_prefix("env:")
                    .or_else(|| secret.strip_prefix("secret:"))
                    .is_some_and(|n| !n.is_empty());
                if !named {
                    return bad(
                        "the http action's `secret` must name the key, not contain it: `secret:NAME` (a tenant \
                         secret set with `PUT /v1/tenants/{tenant}/secrets/NAME`) or `env:NAME`"
                            .into(),
                    );
                }
                if !(1..=100).contains(max_attempts) {
                    return bad(format!("action max_attempts {max_attempts} must be 1 to 100"));
                }
            }
        }
        for (key, texts) in self.texts() {
            for (lang, _) in texts.iter(default) {
                if !languages.iter().any(|l| l == lang) {
                    return bad(format!("{key} uses language {lang:?} not listed in `languages`"));
                }
            }
        }
        Ok(())
    }
}

/// Every form, and every intent's link to one.
pub(crate) fn validate_all(spec: &BotSpec, entities: &HashSet<&str>) -> Result<(), BotError> {
    let mut names = HashSet::new();
    for form in &spec.forms {
        form.validate(entities, &spec.languages, &spec.default_language)?;
        if !names.insert(form.name.as_str()) {
            return Err(BotError::Invalid(format!("form {:?} is defined twice", form.name)));
        }
    }
    for intent in &spec.intents {
        match (intent.handler, intent.form.as_deref()) {
            (HandlerKind::Form, Some(name)) if spec.form(name).is_none() => {
                return Err(BotError::Invalid(format!(
                    "intent {:?} starts form {name:?}, but there is no form of that name",
                    intent.name
                )));
            }
            (HandlerKind::Form, None) => {
                return Err(BotError::Invalid(format!(
                    "intent {:?}: `handler = \"form\"` needs `form = \"<name of a [[form]]>\"`",
                    intent.name
                )));
            }
            (HandlerKind::Form, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(BotError::Invalid(format!(
                    "intent {:?}: `form` goes with `handler = \"form\"`",
                    intent.name
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::BotSpec;

    const BASE: &str = r#"
name = "Test"
fallback = ["?"]

[[intent]]
name = "book"
handler = "form"
form = "booking"
examples = ["book a table"]

[[form]]
name = "booking"
done = ["Booked for {{ slots.people }}."]
action = { kind = "http", url = "https://example.com/hook", secret = "env:HOOK_SECRET" }

[[form.slot]]
name = "people"
entity = "number"
min = 1
max = 12
ask = ["How many people?"]
invalid = ["We take 1 to 12 people."]

[[form.slot]]
name = "when"
entity = "datetime"
future = true
ask = ["When?"]

[[form.slot]]
name = "name"
ask = ["Your name?"]
"#;

    #[test]
    fn a_form_parses_with_its_slots_and_action() {
        let spec = BotSpec::from_toml(BASE).expect("valid");
        let form = spec.form("booking").expect("form");
        assert_eq!(form.slots.len(), 3);
        assert_eq!(form.slot("people").and_then(|s| s.max), Some(12.0));
        assert!(form.slot("when").is_some_and(|s| s.future));
        assert!(form.slot("name").is_some_and(|s| s.entities().is_empty()));
        assert_eq!(
            form.slot("when").map(|s| s.entities().to_vec()),
            Some(vec!["datetime".to_owned()])
        );
        assert!(matches!(
            &form.action,
            super::FormAction::Http { max_attempts: 8, secret, .. } if secret == "env:HOOK_SECRET"
        ));
        assert_eq!(spec.intent("book").and_then(|i| i.form.as_deref()), Some("booking"));
    }

    #[test]
    fn bad_forms_are_rejected_with_a_reason() {
        let cases = [
            (BASE.replace("form = \"booking\"\n", ""), "needs `form"),
            (BASE.replace("form = \"booking\"", "form = \"nope\""), "no form"),
            (
                BASE.replace("entity = \"number\"", "entity = \"colour\""),
                "neither built in",
            ),
            (
                BASE.replace("entity = \"datetime\"", "entity = [\"datetime\", \"email\"]"),
                "`future` needs",
            ),
            (BASE.replace("min = 1", "min = 20"), "above `max`"),
            (BASE.replace("ask = [\"Your name?\"]", ""), "missing field `ask`"),
            (BASE.replace("ask = [\"Your name?\"]", "ask = []"), "needs an `ask`"),
            (
                BASE.replace("https://example.com/hook", "ftp://x"),
                "http:// or https://",
            ),
            (BASE.replace("env:HOOK_SECRET", "env:"), "must name the key"),
            (
                BASE.replace("env:HOOK_SECRET", "plain-key-in-the-file"),
                "must name the key",
            ),
            (BASE.replace("env:HOOK_SECRET", "secret:"), "must name the key"),
            (BASE.replace("name = \"when\"", "name = \"people\""), "defined twice"),
            (BASE.replace("kind = \"http\"", "kind = \"email\""), "unknown variant"),
            (
                format!("{BASE}\n[[form.slot]]\nname = \"x\"\nask = [\"?\"]\nmin = 1\n"),
                "number-like",
            ),
            (
                BASE.replace("ask = [\"When?\"]", "ask.fr = [\"Quand ?\"]"),
                "language \"fr\"",
            ),
        ];
        for (src, why) in cases {
            let err = BotSpec::from_toml(&src).expect_err(why).to_string();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }
}
