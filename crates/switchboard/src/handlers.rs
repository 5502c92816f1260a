//! Handlers: given the routing decision, produce the replies and update the context.
//! One function per handler, chosen by a `match` on the closed set `HandlerKind`.

use crate::route::AWAITING;
use crate::tenants::{TenantBot, ask_key, template_name};
use serde_json::{Map, Value, json};
use switchboard_core::{Content, ConversationContext, HandlerKind, IntentSpec, Localized};

/// What a handler gets to see of the turn.
pub struct Turn<'a> {
    pub bot: &'a TenantBot,
    pub user: &'a str,
    pub text: &'a str,
    pub language: &'a str,
    pub intent: Option<&'a IntentSpec>,
    pub confidence: f32,
    /// The intent's entities, each with its value or null.
    pub entities: &'a Map<String, Value>,
    /// Required entities without a value.
    pub missing: &'a [String],
}

pub fn run(handler: HandlerKind, turn: &Turn<'_>, ctx: &mut ConversationContext) -> anyhow::Result<Vec<Content>> {
    match handler {
        HandlerKind::SmallTalk => small_talk(turn, ctx),
        HandlerKind::Fallback => fallback(turn, ctx),
        // The knowledge handler searches and may stream from a language model, so the pipeline
        // runs it (`knowledge::answer`); it comes here only when no passage answers.
        HandlerKind::Knowledge => fallback(turn, ctx),
    }
}

fn small_talk(turn: &Turn<'_>, ctx: &mut ConversationContext) -> anyhow::Result<Vec<Content>> {
    ctx.fallback_streak = 0;
    let Some(intent) = turn.intent else {
        return fallback(turn, ctx);
    };
    // A required entity is missing and the bot knows how to ask for it: ask, and remember what
    // is known so that the answer completes the intent.
    if !turn.missing.is_empty() && !intent.ask.is_empty() {
        ctx.variables.insert(
            AWAITING.to_owned(),
            json!({ "intent": intent.name, "entities": turn.entities }),
        );
        let text = render(turn, ctx, &ask_key(&intent.name), &intent.ask)?;
        return Ok(vec![Content::text(text)]);
    }
    ctx.variables.remove(AWAITING);
    let text = render(turn, ctx, &intent.name, &intent.responses)?;
    Ok(vec![Content::Text {
        text,
        buttons: intent.buttons.clone(),
    }])
}

fn fallback(turn: &Turn<'_>, ctx: &mut ConversationContext) -> anyhow::Result<Vec<Content>> {
    ctx.fallback_streak += 1;
    Ok(vec![Content::text(render(
        turn,
        ctx,
        "fallback",
        &turn.bot.spec.fallback,
    )?)])
}

/// Renders one of the texts of `texts` in the turn's language, rotating through them turn by turn.
fn render(turn: &Turn<'_>, ctx: &ConversationContext, key: &str, texts: &Localized) -> anyhow::Result<String> {
    let spec = &turn.bot.spec;
    let lang = match texts {
        Localized::ByLanguage(m) if m.get(turn.language).is_some_and(|v| !v.is_empty()) => turn.language,
        _ => spec.default_language.as_str(),
    };
    let count = texts.for_language(lang, &spec.default_language).len().max(1);
    let index = (ctx.turns as usize) % count;
    let name = template_name(key, lang, index);
    let template = turn.bot.templates.get_template(&name)?;
    let values = json!({
        "bot": { "name": spec.name },
        "user": { "id": turn.user },
        "vars": ctx.variables,
        "message": { "text": turn.text, "language": turn.language },
        "intent": turn.intent.map(|i| json!({ "name": i.name, "confidence": turn.confidence })),
        "entities": turn.entities,
        "missing": turn.missing,
    });
    template
        .render(minijinja::value::Serde(&values))
        .map_err(|e| anyhow::anyhow!("rendering {name}: {e:#}"))
}
