//! Feedback: satisfaction (CSAT, 1-5) asked once per conversation after it was resolved (an
//! intent with `resolves = true` answered, or an assessment gave its result) or when an intent
//! of the `feedback` handler asks, and thumbs up/down sent as button payloads at any time. Each
//! answer is stored (`Store::add_feedback`); after a score one optional comment is asked for.
//!
//! Payloads: `csat:<1-5>`, `thumbs:up`, `thumbs:down`, and `thumbs:up:<msg_…>` to say which bot
//! message a thumb is about. Typed answers count only while the question is open ("4",
//! "skip"). What is open lives in the context variable `feedback`.

use crate::app::App;
use crate::engine::assessment::text::{self, FEEDBACK_ASK, FEEDBACK_COMMENT, FEEDBACK_THANKS, Say, say};
use crate::engine::handlers::Turn;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::{Button, Content, ConversationContext, Localized, Message, MessageId, Mode};
use switchboard_store::{FeedbackKind, NewFeedback};

/// The context variable with what was asked.
const STATE: &str = "feedback";

/// What the conversation waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Open {
    #[default]
    Nothing,
    Score,
    /// The comment on the feedback with this id.
    Comment(i64),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct State {
    /// Asked once already: never again unprompted in this conversation.
    asked: bool,
    open: Open,
}

impl State {
    fn load(ctx: &ConversationContext) -> State {
        ctx.variables
            .get(STATE)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    fn save(&self, ctx: &mut ConversationContext) -> anyhow::Result<()> {
        ctx.variables.insert(STATE.to_owned(), serde_json::to_value(self)?);
        Ok(())
    }
}

/// After the context expired, a question left open is no longer what a message answers: "3"
/// a day later means something else.
pub fn close_question(ctx: &mut ConversationContext) -> anyhow::Result<()> {
    let mut state = State::load(ctx);
    if state.open != Open::Nothing {
        state.open = Open::Nothing;
        state.save(ctx)?;
    }
    Ok(())
}

/// A message that answers feedback.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Score(i64),
    Thumb { up: bool, message: Option<MessageId> },
    Comment(String),
    Skip,
}

/// Whether this message answers feedback; called before routing. Only in normal mode: a human
/// owns a handed-off conversation and an assessment reads its own answers. A typed message that
/// is not the answer the conversation waited for closes the question, so it never traps anyone.
pub fn take_answer(ctx: &mut ConversationContext, message: &Message) -> anyhow::Result<Option<Answer>> {
    if ctx.mode != Mode::Normal {
        return Ok(None);
    }
    let mut state = State::load(ctx);
    let answer = match &message.content {
        Content::Postback { payload, .. } => payload_answer(payload),
        Content::Text { text, .. } => match state.open {
            Open::Nothing => None,
            Open::Score => score(text).map(Answer::Score),
            Open::Comment(_) if text::is_skip(text) => Some(Answer::Skip),
            Open::Comment(_) => Some(Answer::Comment(text.trim().chars().take(1000).collect())),
        },
        // Images, cards and lists are what the bot sends, never answers.
        Content::Image { .. } | Content::Cards { .. } | Content::List { .. } => None,
    };
    if answer.is_none() && state.open != Open::Nothing {
        state.open = Open::Nothing;
        state.save(ctx)?;
    }
    Ok(answer)
}

fn payload_answer(payload: &str) -> Option<Answer> {
    let mut parts = payload.trim().splitn(3, ':');
    match (parts.next()?, parts.next()?, parts.next()) {
        ("csat", n, None) => n.parse().ok().filter(|n| (1..=5).contains(n)).map(Answer::Score),
        ("thumbs", dir @ ("up" | "down"), about) => Some(Answer::Thumb {
            up: dir == "up",
            message: about.and_then(|m| MessageId::parse(m).ok()),
        }),
        _ => None,
    }
}

/// "4", "4/5", "4 stars": a leading whole number from 1 to 5.
fn score(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let rest = t[digits.len()..].trim_start();
    let plausible = rest.is_empty() || rest.starts_with('/') || rest.split_whitespace().count() <= 2;
    digits.parse().ok().filter(|n| (1..=5).contains(n) && plausible)
}

/// The satisfaction question after a resolved conversation: once per conversation, only with
/// `[feedback] after_resolved`, never while a human or an assessment owns the conversation.
pub fn offer(turn: &Turn<'_>, ctx: &mut ConversationContext) -> anyhow::Result<Option<Content>> {
    let wanted = turn.bot.spec.feedback.as_ref().is_some_and(|f| f.after_resolved);
    let mut state = State::load(ctx);
    if !wanted || state.asked || ctx.mode != Mode::Normal {
        return Ok(None);
    }
    state.asked = true;
    state.open = Open::Score;
    state.save(ctx)?;
    Ok(Some(question(turn, ctx)?))
}

fn question(turn: &Turn<'_>, ctx: &ConversationContext) -> anyhow::Result<Content> {
    let text = own_or_builtin(turn, ctx, FEEDBACK_ASK, Say::FeedbackAsk)?;
    let buttons = (1..=5)
        .map(|n| Button {
            title: n.to_string(),
            payload: format!("csat:{n}"),
        })
        .collect();
    Ok(Content::Text { text, buttons })
}

/// The bot's own text for `key` when `[feedback]` has one, else the built-in one.
fn own_or_builtin(turn: &Turn<'_>, ctx: &ConversationContext, key: &str, builtin: Say) -> anyhow::Result<String> {
    let own: Option<&Localized> = turn.bot.spec.feedback.as_ref().map(|f| match builtin {
        Say::FeedbackAsk => &f.ask,
        Say::FeedbackComment => &f.comment,
        _ => &f.thanks,
    });
    match own.filter(|t| !t.is_empty()) {
        Some(texts) => text::render(turn, ctx, key, texts, json!({})),
        None => Ok(say(builtin, turn.language).to_owned()),
    }
}

/// The `feedback` handler: an intent asks the question (on request, even if asked before); an
/// answer taken before routing is stored.
pub async fn handle(
    app: &App,
    turn: &Turn<'_>,
    message: &Message,
    answer: Option<Answer>,
    ctx: &mut ConversationContext,
) -> anyhow::Result<Vec<Content>> {
    ctx.fallback_streak = 0;
    let mut state = State::load(ctx);
    let Some(answer) = answer else {
        state.asked = true;
        state.open = Open::Score;
        state.save(ctx)?;
        return Ok(vec![question(turn, ctx)?]);
    };
    let tenant = &message.tenant;
    let add = |kind, score, about| NewFeedback {
        conversation: message.conversation.clone(),
        kind,
        score,
        message: about,
        source_message: message.id.clone(),
    };
    let comment_wanted = turn.bot.spec.feedback.as_ref().is_none_or(|f| f.ask_comment);
    state.open = Open::Nothing;
    let reply = match answer {
        Answer::Score(n) => {
            let stored = app
                .store
                .add_feedback(tenant, add(FeedbackKind::Csat, n, None))
                .await
                .context("storing the satisfaction score")?;
            state.asked = true;
            if comment_wanted {
                state.open = Open::Comment(stored.id);
                state.save(ctx)?;
                return Ok(vec![Content::text(own_or_builtin(
                    turn,
                    ctx,
                    FEEDBACK_COMMENT,
                    Say::FeedbackComment,
                )?)]);
            }
            FEEDBACK_THANKS
        }
        Answer::Thumb { up, message: about } => {
            app.store
                .add_feedback(tenant, add(FeedbackKind::Thumbs, i64::from(up), about))
                .await
                .context("storing the thumb")?;
            FEEDBACK_THANKS
        }
        Answer::Comment(comment) => {
            if let Open::Comment(id) = State::load(ctx).open {
                app.store
                    .set_feedback_comment(tenant, id, &comment)
                    .await
                    .context("storing the comment")?;
            }
            FEEDBACK_THANKS
        }
        Answer::Skip => FEEDBACK_THANKS,
    };
    state.save(ctx)?;
    Ok(vec![Content::text(own_or_builtin(
        turn,
        ctx,
        reply,
        Say::FeedbackThanks,
    )?)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_and_typed_scores() {
        assert_eq!(payload_answer("csat:4"), Some(Answer::Score(4)));
        assert_eq!(payload_answer("csat:6"), None);
        assert_eq!(payload_answer("csat:x"), None);
        assert_eq!(
            payload_answer("thumbs:down"),
            Some(Answer::Thumb {
                up: false,
                message: None
            })
        );
        let id = MessageId::generate();
        assert_eq!(
            payload_answer(&format!("thumbs:up:{id}")),
            Some(Answer::Thumb {
                up: true,
                message: Some(id)
            })
        );
        assert_eq!(payload_answer("thumbs:sideways"), None);
        assert_eq!(payload_answer("tell me a joke"), None);
        for (typed, want) in [
            ("4", Some(4)),
            (" 5 stars", Some(5)),
            ("3/5", Some(3)),
            ("0", None),
            ("6", None),
        ] {
            assert_eq!(score(typed), want, "{typed}");
        }
        assert_eq!(
            score("2 people tomorrow at 8 on the terrace"),
            None,
            "a sentence is not a score"
        );
        assert_eq!(score("great"), None);
    }
}
