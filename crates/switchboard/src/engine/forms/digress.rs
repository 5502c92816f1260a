//! Questions in the middle of a form: a message that is no value for the form but a confident
//! intent of another handler, or a question the knowledge base answers, gets that answer; the
//! form then asks its question again.

use crate::app::App;
use crate::engine::handlers::{self, Turn};
use switchboard_core::{Content, ConversationContext, Entity, HandlerKind, Message};

/// A confident intent that is not the form's own, or a question: not an answer to type in.
pub(super) fn asks_something_else(turn: &Turn<'_>) -> bool {
    turn.text.trim_end().ends_with('?') || confident_other_intent(turn).is_some()
}

fn confident_other_intent<'a>(turn: &Turn<'a>) -> Option<&'a switchboard_core::IntentSpec> {
    let spec = &turn.bot.spec;
    let best = turn.matches.first()?;
    let intent = spec.intent(&best.intent)?;
    let other = !matches!(intent.handler, HandlerKind::Form | HandlerKind::Fallback);
    (other && best.confidence >= spec.threshold_for(intent)).then_some(intent)
}

/// Answers a message that belongs elsewhere: a confident intent of another handler, else a
/// knowledge passage that reaches the bot's `min_score`. `None` when it is neither.
pub(super) async fn answer(
    app: &App,
    turn: &Turn<'_>,
    message: &Message,
    found: &[Entity],
    ctx: &mut ConversationContext,
) -> anyhow::Result<Option<Vec<Content>>> {
    let spec = &turn.bot.spec;
    if let Some(intent) = confident_other_intent(turn) {
        let entities = switchboard_nlu::entities::values_for(intent.entity_names(), found);
        let confidence = turn.matches.first().map_or(1.0, |m| m.confidence);
        let other = Turn {
            intent: Some(intent),
            confidence,
            entities: &entities,
            missing: &[],
            ..*turn
        };
        let replies = match intent.handler {
            HandlerKind::Reminders => crate::engine::reminders::handle(app, &other, message, found, ctx).await?,
            HandlerKind::Knowledge => crate::engine::knowledge::answer(app, &other, message, Vec::new(), ctx).await?,
            h => handlers::run(h, &other, ctx)?,
        };
        return Ok(Some(replies));
    }
    if !spec.knowledge.enabled {
        return Ok(None);
    }
    let mut passages = app
        .knowledge
        .search(&turn.bot.id, turn.text, turn.language, spec.knowledge.max_passages);
    passages.retain(|p| p.score >= spec.knowledge.min_score);
    if passages.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        crate::engine::knowledge::answer(app, turn, message, passages, ctx).await?,
    ))
}
