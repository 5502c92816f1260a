//! The bot definition's questionnaires (`[[assessment]]`) and satisfaction questions
//! (`[feedback]`): their format, validation at load, and the scoring rules, which are pure and
//! therefore live here next to the format they read.

use crate::bot::Localized;
use serde::{Deserialize, Serialize};

mod validate;
pub use validate::validate;

/// `[[assessment]]`: a questionnaire asked one question at a time, scored at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentSpec {
    /// What intents name it by (`assessment = "<name>"`).
    pub name: String,
    /// Said before the first question (optional).
    #[serde(default)]
    pub intro: Localized,
    #[serde(rename = "question")]
    pub questions: Vec<QuestionSpec>,
    /// Score ranges and what they mean; the first band containing the score is the result.
    #[serde(default, rename = "band")]
    pub bands: Vec<BandSpec>,
}

/// The closed set of question kinds; the handler matches on it to ask and to read answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// One of `options` (buttons).
    Single,
    /// One or more of `options` ("1, 3"); the scores of all chosen ones add up.
    Multiple,
    /// A whole number from `min` to `max` (buttons); the number is the score.
    Scale,
    /// Any text; not scored.
    Text,
    /// A number, checked against `min`/`max` when given; not scored.
    Number,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionSpec {
    /// Unique in its assessment; the key of the answer in the stored result.
    pub id: String,
    pub kind: QuestionKind,
    /// The question (a template, like responses).
    pub text: Localized,
    #[serde(default)]
    pub options: Vec<OptionSpec>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// The question's score is multiplied by this.
    #[serde(default = "one")]
    pub weight: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionSpec {
    /// What is stored, and the button's payload.
    pub value: String,
    /// The button's title; the first text in the user's language.
    pub label: Localized,
    #[serde(default)]
    pub score: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandSpec {
    /// Inclusive score range.
    pub min: f64,
    pub max: f64,
    /// Stored with the result (first text of the default language) and given to the text.
    pub label: Localized,
    /// The closing message (a template that sees `score`, `max_score`, `band` and `answers`).
    pub text: Localized,
}

/// `[feedback]`: satisfaction (CSAT 1-5) asked once per conversation after it was resolved,
/// or when an intent of the `feedback` handler asks for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackSpec {
    /// Ask after an intent with `resolves = true` and after an assessment's result.
    #[serde(default = "yes")]
    pub after_resolved: bool,
    /// After a score, ask once for a comment (which the person may skip).
    #[serde(default = "yes")]
    pub ask_comment: bool,
    /// The question; built-in texts (en, es, de) when absent.
    #[serde(default)]
    pub ask: Localized,
    #[serde(default)]
    pub comment: Localized,
    #[serde(default)]
    pub thanks: Localized,
}

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

impl AssessmentSpec {
    /// The highest score the assessment can give.
    pub fn max_score(&self) -> f64 {
        self.questions.iter().map(QuestionSpec::max_score).sum()
    }

    /// The band a score falls in.
    pub fn band(&self, score: f64) -> Option<&BandSpec> {
        self.bands.iter().find(|b| b.min <= score && score <= b.max)
    }

    pub fn question(&self, id: &str) -> Option<&QuestionSpec> {
        self.questions.iter().find(|q| q.id == id)
    }
}

impl QuestionSpec {
    /// The score of an answer as the handler stores it: an option's value, a list of them, or
    /// a number.
    pub fn score(&self, answer: &serde_json::Value) -> f64 {
        let option = |v: &serde_json::Value| {
            self.options
                .iter()
                .find(|o| v.as_str() == Some(o.value.as_str()))
                .map_or(0.0, |o| o.score)
        };
        let raw = match self.kind {
            QuestionKind::Single => option(answer),
            QuestionKind::Multiple => answer.as_array().map_or(0.0, |a| a.iter().map(option).sum()),
            QuestionKind::Scale => answer.as_f64().unwrap_or(0.0),
            QuestionKind::Text | QuestionKind::Number => 0.0,
        };
        raw * self.weight
    }

    fn max_score(&self) -> f64 {
        let best = match self.kind {
            QuestionKind::Single => self.options.iter().map(|o| o.score).fold(0.0, f64::max),
            QuestionKind::Multiple => self.options.iter().map(|o| o.score.max(0.0)).sum(),
            QuestionKind::Scale => self.max.unwrap_or(0.0),
            QuestionKind::Text | QuestionKind::Number => 0.0,
        };
        best * self.weight
    }
}

#[cfg(test)]
mod tests {
    use crate::BotSpec;
    use serde_json::json;

    const BOT: &str = r#"
name = "T"
languages = ["en", "es"]
fallback = ["?"]

[[intent]]
name = "check"
handler = "assessment"
assessment = "mood"
examples = ["check my mood"]

[[assessment]]
name = "mood"
intro = ["Three questions."]
[[assessment.question]]
id = "feeling"
kind = "single"
text.en = ["How do you feel?"]
text.es = ["¿Cómo te sientes?"]
options = [
  { value = "good", label.en = ["Good"], label.es = ["Bien"], score = 2 },
  { value = "bad", label = ["Bad"], score = 0 },
]
weight = 2
[[assessment.question]]
id = "energy"
kind = "scale"
text = ["Energy from 1 to 5?"]
min = 1
max = 5
[[assessment.question]]
id = "worries"
kind = "multiple"
text = ["What worries you?"]
options = [{ value = "work", label = ["Work"], score = 1 }, { value = "money", label = ["Money"], score = 2 }]
[[assessment.question]]
id = "sleep"
kind = "number"
text = ["Hours of sleep?"]
min = 0
max = 24
[[assessment.question]]
id = "note"
kind = "text"
text = ["Anything else?"]
[[assessment.band]]
min = 0
max = 6
label = ["Low"]
text = ["Score {{ score }}: low."]
[[assessment.band]]
min = 7
max = 12
label = ["High"]
text = ["Score {{ score }}: high."]
"#;

    #[test]
    fn scores_add_up_with_weights_and_fall_in_bands() {
        let spec = BotSpec::from_toml(BOT).expect("valid");
        let a = &spec.assessments[0];
        let q = |id: &str| a.question(id).expect("question");
        assert_eq!(q("feeling").score(&json!("good")), 4.0, "2 x weight 2");
        assert_eq!(q("feeling").score(&json!("bad")), 0.0);
        assert_eq!(q("energy").score(&json!(3)), 3.0);
        assert_eq!(q("worries").score(&json!(["work", "money"])), 3.0);
        assert_eq!(q("sleep").score(&json!(8)), 0.0, "numbers are not scored");
        assert_eq!(q("note").score(&json!("fine")), 0.0);
        assert_eq!(a.max_score(), 4.0 + 5.0 + 3.0);
        let label = |s: f64| a.band(s).map(|b| b.label.for_language("en", "en")[0].clone());
        assert_eq!(label(0.0).as_deref(), Some("Low"));
        assert_eq!(label(6.0).as_deref(), Some("Low"));
        assert_eq!(label(7.0).as_deref(), Some("High"));
        assert_eq!(label(12.0).as_deref(), Some("High"));
        assert_eq!(label(6.5), None, "between bands");
        assert_eq!(label(13.0), None);
    }

    #[test]
    fn rejects_bad_assessments_with_a_reason() {
        let cases = [
            (BOT.replace("kind = \"scale\"", "kind = \"slider\""), "unknown variant `slider`"),
            (BOT.replace("id = \"energy\"", "id = \"feeling\""), "used twice"),
            (
                format!("{BOT}[[assessment]]\nname = \"mood\"\n[[assessment.question]]\nid = \"x\"\nkind = \"text\"\ntext = [\"?\"]\n"),
                "defined twice",
            ),
            (
                BOT.replace(
                    "options = [{ value = \"work\", label = [\"Work\"], score = 1 }, { value = \"money\", label = [\"Money\"], score = 2 }]",
                    "options = []",
                ),
                "needs `options`",
            ),
            (BOT.replace("max = 12", "max = 2"), "`min` must not be above `max`"),
            (BOT.replace("min = 7", "min = 6"), "overlaps band 1"),
            (BOT.replace("assessment = \"mood\"", "assessment = \"stress\""), "not defined"),
            (BOT.replace("assessment = \"mood\"\n", ""), "needs `assessment"),
            (BOT.replace("max = 5", "max = 50"), "at most 11 steps"),
            (BOT.replace("text.es", "text.de"), "not listed"),
            (BOT.replace("label = [\"Low\"]", "label = []"), "needs a `label`"),
            (BOT.replace("{ value = \"bad\"", "{ value = \"good\""), "twice"),
        ];
        for (src, why) in cases {
            let err = BotSpec::from_toml(&src).expect_err(why).to_string();
            assert!(err.contains(why), "{err} should mention {why}");
        }
    }

    #[test]
    fn feedback_defaults() {
        let spec = BotSpec::from_toml(&format!("{BOT}[feedback]\n")).expect("valid");
        let f = spec.feedback.expect("feedback");
        assert!(f.after_resolved && f.ask_comment && f.ask.is_empty());
        assert!(BotSpec::from_toml(BOT).expect("valid").feedback.is_none());
    }
}
