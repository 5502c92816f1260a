//! A bot's intent model: one classifier per language, trained from the bot definition's
//! examples. A message is classified by every language's model (a bot speaks a handful); the
//! conversation's language wins unless another language is clearly more confident, which is how
//! "hola" in an English conversation is recognised as Spanish.

use crate::classifier::{Buffers, Classifier, ModelError, Reader, put_u32};
use crate::linear::TrainOptions;
use switchboard_core::BotSpec;

#[derive(Clone, Debug, PartialEq)]
pub struct IntentMatch {
    pub intent: String,
    pub confidence: f32,
    /// The language of the model that matched.
    pub language: String,
}

#[derive(Clone, Debug, Default)]
pub struct IntentModel {
    languages: Vec<(String, Classifier)>,
}

/// How much more confident another language's model must be to override the preferred one.
const SWITCH_MARGIN: f32 = 0.1;

const MAGIC: &[u8; 8] = b"SBINTENT";

impl IntentModel {
    pub fn train(spec: &BotSpec) -> IntentModel {
        let mut languages = Vec::new();
        for lang in &spec.languages {
            let examples: Vec<(&str, &str)> = spec
                .intents
                .iter()
                .flat_map(|i| {
                    i.examples
                        .iter(&spec.default_language)
                        .filter(|(l, _)| l == lang)
                        .map(|(_, text)| (text, i.name.as_str()))
                })
                .collect();
            if !examples.is_empty() {
                languages.push((lang.clone(), Classifier::train(examples, &TrainOptions::default())));
            }
        }
        IntentModel { languages }
    }

    /// The intents ranked by confidence, best first, at most `top` of them, from the model of
    /// `prefer` (the conversation's language) unless another language's is clearly better.
    pub fn classify(&self, text: &str, prefer: Option<&str>, top: usize) -> Vec<IntentMatch> {
        let mut b = Buffers::default();
        let mut scored = Vec::new();
        let mut best: Option<(f32, usize, Vec<crate::Scored>)> = None;
        for (i, (lang, model)) in self.languages.iter().enumerate() {
            model.predict(text, top, &mut b, &mut scored);
            let Some(first) = scored.first() else { continue };
            let bonus = if prefer == Some(lang.as_str()) {
                SWITCH_MARGIN
            } else {
                0.0
            };
            let score = first.confidence + bonus;
            if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, i, scored.clone()));
            }
        }
        let Some((_, i, scored)) = best else {
            return Vec::new();
        };
        let (lang, model) = &self.languages[i];
        scored
            .into_iter()
            .filter(|s| s.confidence > 0.0)
            .map(|s| IntentMatch {
                intent: model.labels[s.label as usize].clone(),
                confidence: s.confidence,
                language: lang.clone(),
            })
            .collect()
    }

    /// The languages with a model.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.languages.iter().map(|(l, _)| l.as_str())
    }

    pub fn memory_bytes(&self) -> usize {
        self.languages.iter().map(|(l, c)| l.len() + c.memory_bytes()).sum()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        put_u32(&mut out, self.languages.len() as u32);
        for (lang, model) in &self.languages {
            put_u32(&mut out, lang.len() as u32);
            out.extend_from_slice(lang.as_bytes());
            let bytes = model.to_bytes();
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<IntentModel, ModelError> {
        let mut r = Reader(bytes);
        if r.take(8)? != MAGIC {
            return Err(ModelError::Magic);
        }
        let n = r.count(12)?;
        let mut languages = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.count(1)?;
            let lang = std::str::from_utf8(r.take(len)?).map_err(|_| ModelError::Corrupt("a language is not UTF-8"))?;
            let size = usize::try_from(r.u64()?).map_err(|_| ModelError::Corrupt("model size"))?;
            languages.push((lang.to_owned(), Classifier::from_bytes(r.take(size)?)?));
        }
        if !r.0.is_empty() {
            return Err(ModelError::Corrupt("trailing bytes"));
        }
        Ok(IntentModel { languages })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BotSpec {
        BotSpec::from_toml(
            r#"
name = "t"
languages = ["en", "es"]
fallback = ["?"]
[[intent]]
name = "greet"
examples.en = ["hello", "hi there", "good morning", "hey"]
examples.es = ["hola", "buenos días", "buenas tardes"]
responses = ["hi"]
[[intent]]
name = "hours"
examples.en = ["when are you open", "what are your opening hours", "what time do you close"]
examples.es = ["¿a qué hora abrís?", "¿cuál es el horario?"]
responses = ["9-5"]
[[intent]]
name = "joke"
examples = ["tell me a joke", "make me laugh", "say something funny"]
responses = ["ha"]
"#,
        )
        .expect("valid spec")
    }

    #[test]
    fn matches_examples_paraphrases_typos_and_languages() {
        let m = IntentModel::train(&spec());
        let top = |t: &str| m.classify(t, Some("en"), 3).into_iter().next().expect("a match");
        assert_eq!(top("hello").intent, "greet");
        assert!(top("hello").confidence > 0.5, "{}", top("hello").confidence);
        assert_eq!(top("helo").intent, "greet");
        assert_eq!(top("what are the opening hours?").intent, "hours");
        assert_eq!(top("could you tell me a joke").intent, "joke");
        let hola = top("hola");
        assert_eq!((hola.intent.as_str(), hola.language.as_str()), ("greet", "es"));
        let horario = top("¿cuál es el horario de hoy?");
        assert_eq!((horario.intent.as_str(), horario.language.as_str()), ("hours", "es"));
    }

    #[test]
    fn unrelated_text_scores_low() {
        let m = IntentModel::train(&spec());
        let conf = m
            .classify("my parcel arrived damaged yesterday", Some("en"), 1)
            .first()
            .map_or(0.0, |x| x.confidence);
        assert!(conf < 0.35, "confidence {conf}");
        assert!(m.classify("", None, 3).is_empty());
        assert!(m.classify("!!!", None, 3).is_empty());
    }

    #[test]
    fn ranks_are_sorted_and_bounded_and_the_model_round_trips() {
        let m = IntentModel::train(&spec());
        let r = m.classify("hello, when are you open", Some("en"), 2);
        assert_eq!(r.len(), 2);
        assert!(r[0].confidence >= r[1].confidence);
        let back = IntentModel::from_bytes(&m.to_bytes()).expect("loads");
        assert_eq!(back.classify("hello, when are you open", Some("en"), 2), r);
        assert_eq!(back.languages().collect::<Vec<_>>(), ["en", "es"]);
        assert!(IntentModel::from_bytes(&m.to_bytes()[..30]).is_err());
    }
}
