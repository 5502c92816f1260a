//! Checks of `[[assessment]]`, `[feedback]` and the intents that start assessments, when the
//! bot loads: every mistake is reported with where it is.

use super::QuestionSpec;
use crate::QuestionKind;
use crate::bot::{BotError, BotSpec, HandlerKind, Localized};
use std::collections::HashSet;

/// Letters, digits and `_`: safe in template keys and stored results.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl QuestionSpec {
    fn validate(&self, at: &str) -> Result<(), String> {
        let id = &self.id;
        if !is_name(id) {
            return Err(format!("{at}: question id {id:?} must be letters, digits or `_`"));
        }
        if self.text.is_empty() {
            return Err(format!("{at}, question {id:?}: `text` is empty"));
        }
        if !self.weight.is_finite() || self.weight < 0.0 {
            return Err(format!("{at}, question {id:?}: `weight` must be 0 or more"));
        }
        let bounds = self.min.is_some() || self.max.is_some();
        match self.kind {
            QuestionKind::Single | QuestionKind::Multiple => {
                if self.options.is_empty() {
                    return Err(format!("{at}, question {id:?}: a choice needs `options`"));
                }
                if bounds {
                    return Err(format!(
                        "{at}, question {id:?}: `min`/`max` go with scale and number questions"
                    ));
                }
                let mut seen = HashSet::new();
                for o in &self.options {
                    if o.value.trim().is_empty() || o.label.is_empty() {
                        return Err(format!(
                            "{at}, question {id:?}: an option has an empty `value` or `label`"
                        ));
                    }
                    if !seen.insert(o.value.as_str()) {
                        return Err(format!("{at}, question {id:?}: option {:?} is there twice", o.value));
                    }
                    if !o.score.is_finite() {
                        return Err(format!("{at}, question {id:?}: option {:?} has a bad score", o.value));
                    }
                }
            }
            QuestionKind::Scale => {
                let (Some(min), Some(max)) = (self.min, self.max) else {
                    return Err(format!("{at}, question {id:?}: a scale needs `min` and `max`"));
                };
                if min.fract() != 0.0 || max.fract() != 0.0 || min >= max || max - min > 10.0 {
                    return Err(format!(
                        "{at}, question {id:?}: a scale goes between whole numbers, `min` below `max`, at most 11 steps"
                    ));
                }
            }
            QuestionKind::Text | QuestionKind::Number => {
                if !self.options.is_empty() {
                    return Err(format!("{at}, question {id:?}: only choices have `options`"));
                }
                if self.kind == QuestionKind::Text && bounds {
                    return Err(format!("{at}, question {id:?}: a text question has no `min`/`max`"));
                }
                if let (Some(min), Some(max)) = (self.min, self.max)
                    && min > max
                {
                    return Err(format!("{at}, question {id:?}: `min` is above `max`"));
                }
            }
        }
        if !self.options.is_empty() && self.kind == QuestionKind::Scale {
            return Err(format!("{at}, question {id:?}: only choices have `options`"));
        }
        Ok(())
    }
}

/// Checks the assessments, the feedback texts and the intents that start them.
pub fn validate(spec: &BotSpec) -> Result<(), BotError> {
    validate_inner(spec).map_err(BotError::Invalid)
}

fn validate_inner(spec: &BotSpec) -> Result<(), String> {
    let languages = |at: &str, texts: &[&Localized]| -> Result<(), String> {
        for t in texts {
            for (lang, _) in t.iter(&spec.default_language) {
                if !spec.languages.iter().any(|l| l == lang) {
                    return Err(format!("{at} uses language {lang:?} not listed in `languages`"));
                }
            }
        }
        Ok(())
    };
    let mut names = HashSet::new();
    for a in &spec.assessments {
        let at = format!("assessment {:?}", a.name);
        if !is_name(&a.name) {
            return Err(format!("{at}: the name must be letters, digits or `_`"));
        }
        if !names.insert(a.name.as_str()) {
            return Err(format!("{at} is defined twice"));
        }
        if a.questions.is_empty() {
            return Err(format!("{at} has no questions"));
        }
        let mut ids = HashSet::new();
        for q in &a.questions {
            q.validate(&at)?;
            if !ids.insert(q.id.as_str()) {
                return Err(format!("{at}: question id {:?} is used twice", q.id));
            }
            let mut texts = vec![&q.text];
            texts.extend(q.options.iter().map(|o| &o.label));
            languages(&format!("{at}, question {:?}", q.id), &texts)?;
        }
        languages(&at, &[&a.intro])?;
        for (i, b) in a.bands.iter().enumerate() {
            let band = format!("{at}, band {}", i + 1);
            if !b.min.is_finite() || !b.max.is_finite() || b.min > b.max {
                return Err(format!("{band}: `min` must not be above `max`"));
            }
            if b.label.is_empty() || b.text.is_empty() {
                return Err(format!("{band}: needs a `label` and a `text`"));
            }
            if let Some(other) = a.bands[..i].iter().position(|o| o.min <= b.max && b.min <= o.max) {
                return Err(format!("{band} overlaps band {}", other + 1));
            }
            languages(&band, &[&b.label, &b.text])?;
        }
    }
    if let Some(f) = &spec.feedback {
        languages("[feedback]", &[&f.ask, &f.comment, &f.thanks])?;
    }
    for intent in &spec.intents {
        let at = format!("intent {:?}", intent.name);
        match (&intent.assessment, intent.handler) {
            (Some(name), HandlerKind::Assessment) => {
                if !names.contains(name.as_str()) {
                    return Err(format!("{at} starts assessment {name:?}, which is not defined"));
                }
            }
            (None, HandlerKind::Assessment) => {
                return Err(format!(
                    "{at}: `handler = \"assessment\"` needs `assessment = \"<name>\"`"
                ));
            }
            (Some(_), _) => return Err(format!("{at}: `assessment` goes with `handler = \"assessment\"`")),
            (None, _) => {}
        }
    }
    Ok(())
}
