//! Assessments: questionnaires from the bot definition (`[[assessment]]`), asked one question
//! at a time while the conversation is in `Mode::Assessment`, scored at the end, the result
//! stored (`Store::add_assessment_result`).
//!
//! Everything between turns lives in the conversation context, never in memory: the mode and
//! `state` say an assessment owns the conversation, and the answers so far are in the variable
//! `assessment`. The pipeline forgets the mode when the context expires but keeps variables, so
//! a person who comes back later and starts the same assessment again continues from the first
//! unanswered question, on any instance.

mod answer;
pub mod cli;
pub mod text;

use crate::app::App;
use crate::engine::handlers::Turn;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_core::{
    AssessmentSpec, Button, Content, ConversationContext, Entity, Message, Mode, QuestionKind, QuestionSpec,
};
use switchboard_store::NewAssessmentResult;
use text::{Say, plain, say};

/// The context variable with the answers of the assessment in progress.
pub const PROGRESS: &str = "assessment";
/// `ConversationContext::handler` while an assessment owns the conversation.
const HANDLER: &str = "assessment";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Progress {
    name: String,
    /// Question id -> answer, as stored in the result.
    answers: Map<String, Value>,
    /// Continuing was offered since the assessment lost the conversation.
    offered: bool,
}

impl Progress {
    fn load(ctx: &ConversationContext) -> Option<Progress> {
        ctx.variables
            .get(PROGRESS)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    fn save(&self, ctx: &mut ConversationContext) -> anyhow::Result<()> {
        ctx.variables.insert(PROGRESS.to_owned(), serde_json::to_value(self)?);
        Ok(())
    }

    /// The first question without an answer, with its position (from 0).
    fn next<'a>(&self, a: &'a AssessmentSpec) -> Option<(usize, &'a QuestionSpec)> {
        a.questions
            .iter()
            .enumerate()
            .find(|(_, q)| !self.answers.contains_key(&q.id))
    }
}

/// A whole number as an integer (so "7" is shown, not "7.0"), else the float.
pub fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// Starts (from an intent of the `assessment` handler) or continues (in `Mode::Assessment`) an
/// assessment. It runs in the pipeline because the result goes to the store, keyed by the
/// message that gave the last answer, so a retried turn stores it once.
pub async fn handle(
    app: &App,
    turn: &Turn<'_>,
    message: &Message,
    found: &[Entity],
    ctx: &mut ConversationContext,
) -> anyhow::Result<Vec<Content>> {
    ctx.fallback_streak = 0;
    let spec = &turn.bot.spec;
    let lang = turn.language;
    let name = match turn.intent {
        Some(intent) => intent
            .assessment
            .clone()
            .with_context(|| format!("intent {} names no assessment", intent.name))?,
        None => ctx.state["assessment"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| Progress::load(ctx).map(|p| p.name))
            .unwrap_or_default(),
    };
    let Some(a) = spec.assessment(&name) else {
        // The bot was edited while the person was answering: nothing left to ask.
        leave(ctx);
        return Ok(vec![Content::text(say(Say::Gone, lang))]);
    };
    let mut progress = Progress::load(ctx)
        .filter(|p| p.name == a.name)
        .unwrap_or_else(|| Progress {
            name: a.name.clone(),
            ..Progress::default()
        });
    progress.offered = false;
    let mut replies = Vec::new();
    if turn.intent.is_some() {
        ctx.mode = Mode::Assessment;
        ctx.handler = Some(HANDLER.to_owned());
        ctx.state = json!({ "assessment": a.name });
        if progress.answers.is_empty() {
            if !a.intro.is_empty() {
                replies.push(Content::text(text::render(
                    turn,
                    ctx,
                    &text::intro_key(&a.name),
                    &a.intro,
                    json!({}),
                )?));
            }
        } else {
            replies.push(Content::text(say(Say::Resumed, lang)));
        }
    } else {
        let said = match &message.content {
            Content::Postback { payload, .. } => payload.as_str(),
            // People send text or press buttons; anything else reads as its text.
            other => other.understood_text(),
        };
        if text::is_cancel(said) {
            leave(ctx);
            return Ok(vec![Content::text(say(Say::Cancelled, lang))]);
        }
        if let Some((position, q)) = progress.next(a) {
            match answer::read(q, said, found, lang) {
                Ok(value) => {
                    progress.answers.insert(q.id.clone(), value);
                }
                Err(invalid) => return Ok(vec![ask(turn, ctx, a, position, q, Some(&invalid.message))?]),
            }
        }
    }
    match progress.next(a) {
        Some((position, q)) => {
            progress.save(ctx)?;
            replies.push(ask(turn, ctx, a, position, q, None)?);
        }
        None => {
            replies.push(finish(app, turn, message, ctx, a, &progress).await?);
            if let Some(csat) = crate::engine::feedback::offer(turn, ctx)? {
                replies.push(csat);
            }
        }
    }
    Ok(replies)
}

/// Once after an unfinished assessment lost the conversation (its context expired), a button to
/// continue it: the command naming the intent that starts it, so pressing it always starts it.
pub fn offer_resume(turn: &Turn<'_>, ctx: &mut ConversationContext) -> anyhow::Result<Option<Content>> {
    let Some(mut progress) = Progress::load(ctx) else {
        return Ok(None);
    };
    let spec = &turn.bot.spec;
    let starter = spec
        .intents
        .iter()
        .find(|i| i.assessment.as_deref() == Some(progress.name.as_str()));
    let (Some(a), Some(starter)) = (spec.assessment(&progress.name), starter) else {
        return Ok(None);
    };
    if ctx.mode != Mode::Normal || progress.offered || progress.answers.is_empty() {
        return Ok(None);
    }
    progress.offered = true;
    progress.save(ctx)?;
    let answered = a
        .questions
        .iter()
        .filter(|q| progress.answers.contains_key(&q.id))
        .count();
    let text = say(Say::Unfinished, turn.language)
        .replace("{answered}", &answered.to_string())
        .replace("{total}", &a.questions.len().to_string());
    Ok(Some(Content::Text {
        text,
        buttons: vec![Button {
            title: say(Say::Continue, turn.language).to_owned(),
            payload: format!("/{}", starter.name),
        }],
    }))
}

/// The assessment no longer owns the conversation and its answers are forgotten.
fn leave(ctx: &mut ConversationContext) {
    ctx.reset_flow();
    ctx.variables.remove(PROGRESS);
}

/// The question with its progress ("[2/5] ..."), its choices as buttons, and before it why the
/// last answer did not fit, if it did not.
fn ask(
    turn: &Turn<'_>,
    ctx: &ConversationContext,
    a: &AssessmentSpec,
    position: usize,
    q: &QuestionSpec,
    problem: Option<&str>,
) -> anyhow::Result<Content> {
    let spec = &turn.bot.spec;
    let lang = turn.language;
    let question = text::render(turn, ctx, &text::question_key(&a.name, &q.id), &q.text, json!({}))?;
    let mut text = format!("[{}/{}] {question}", position + 1, a.questions.len());
    if q.kind == QuestionKind::Multiple {
        text = format!("{text} {}", say(Say::SeveralHint, lang));
    }
    if let Some(problem) = problem {
        text = format!("{problem}\n{text}");
    }
    let buttons = match q.kind {
        QuestionKind::Single | QuestionKind::Multiple => q
            .options
            .iter()
            .map(|o| Button {
                title: plain(&o.label, lang, spec).to_owned(),
                payload: o.value.clone(),
            })
            .collect(),
        QuestionKind::Scale => {
            let (min, max) = (q.min.unwrap_or(0.0) as i64, q.max.unwrap_or(0.0) as i64);
            (min..=max)
                .map(|n| Button {
                    title: n.to_string(),
                    payload: n.to_string(),
                })
                .collect()
        }
        QuestionKind::Text | QuestionKind::Number => Vec::new(),
    };
    Ok(Content::Text { text, buttons })
}

/// Scores the answers, stores the result and says what it means.
async fn finish(
    app: &App,
    turn: &Turn<'_>,
    message: &Message,
    ctx: &mut ConversationContext,
    a: &AssessmentSpec,
    progress: &Progress,
) -> anyhow::Result<Content> {
    let spec = &turn.bot.spec;
    let score: f64 = a
        .questions
        .iter()
        .filter_map(|q| progress.answers.get(&q.id).map(|v| q.score(v)))
        .sum();
    let band = a
        .bands
        .iter()
        .enumerate()
        .find(|(_, b)| b.min <= score && score <= b.max);
    let label = band.map(|(_, b)| plain(&b.label, &spec.default_language, spec).to_owned());
    app.store
        .add_assessment_result(
            &message.tenant,
            NewAssessmentResult {
                conversation: message.conversation.clone(),
                assessment: a.name.clone(),
                answers: Value::Object(progress.answers.clone()),
                score,
                band: label,
                source_message: message.id.clone(),
            },
        )
        .await
        .with_context(|| format!("storing the result of assessment {}", a.name))?;
    leave(ctx);
    let text = match band {
        Some((i, b)) => {
            let values = json!({
                "score": number(score),
                "max_score": number(a.max_score()),
                "band": { "label": plain(&b.label, turn.language, spec) },
                "answers": progress.answers,
            });
            text::render(turn, ctx, &text::band_key(&a.name, i), &b.text, values)?
        }
        None => say(Say::Score, turn.language).replace("{score}", &number(score).to_string()),
    };
    Ok(Content::text(text))
}
