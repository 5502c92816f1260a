//! Handlers: given the routing decision, produce the replies and update the context.
//! One function per handler, chosen by a `match` on the closed set `HandlerKind`.

use crate::engine::route::AWAITING;
use crate::engine::tenants::{HANDOFF_KEY, TenantBot, ask_key, template_name};
use serde_json::{Map, Value, json};
use switchboard_core::{Button, Content, ConversationContext, HandlerKind, IntentSpec, Localized, Mode};
use switchboard_nlu::IntentMatch;

/// The context variable through which a handler that hands the conversation to a person gives
/// the reason; the pipeline moves it to the store.
pub const HANDOFF_VAR: &str = "handoff";

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
    /// The classifier's ranking, best first (the fallback offers them).
    pub matches: &'a [IntentMatch],
}

pub fn run(handler: HandlerKind, turn: &Turn<'_>, ctx: &mut ConversationContext) -> anyhow::Result<Vec<Content>> {
    match handler {
        HandlerKind::SmallTalk => small_talk(turn, ctx),
        HandlerKind::Fallback => fallback(turn, ctx),
        HandlerKind::Handoff => handoff(turn, ctx, "the person asked for a human"),
        // It needs the store: the pipeline runs it (`reminders::handle`), never this function.
        HandlerKind::Reminders => Err(anyhow::anyhow!("the reminders handler runs in the pipeline")),
        // The knowledge handler searches and may stream from a language model, so the pipeline
        // runs it (`knowledge::answer`); it comes here only when no passage answers.
        HandlerKind::Knowledge => fallback(turn, ctx),
        // Forms store submissions: the pipeline runs them (`forms::handle`).
        HandlerKind::Form => Err(anyhow::anyhow!("the form handler runs in the pipeline")),
        // Both store what people answer: the pipeline runs them (`assessment::handle`,
        // `feedback::handle`).
        HandlerKind::Assessment | HandlerKind::Feedback => {
            Err(anyhow::anyhow!("the {} handler runs in the pipeline", handler.as_str()))
        }
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
    // The text first, then the intent's image, cards and list, each its own message.
    let rich =
        switchboard_core::rich::intent_contents(intent.image.as_ref(), &intent.cards, intent.list.as_ref(), &text);
    let mut replies = vec![Content::Text {
        text,
        buttons: intent.buttons.clone(),
    }];
    replies.extend(rich);
    Ok(replies)
}

fn fallback(turn: &Turn<'_>, ctx: &mut ConversationContext) -> anyhow::Result<Vec<Content>> {
    ctx.fallback_streak += 1;
    let spec = &turn.bot.spec;
    let limit = spec.handoff_after_fallbacks;
    if limit > 0 && ctx.fallback_streak >= limit {
        return handoff(turn, ctx, &format!("{limit} fallbacks in a row"));
    }
    let text = render(turn, ctx, "fallback", &spec.fallback)?;
    let buttons = if spec.fallback_suggestions {
        suggestions(turn)
    } else {
        Vec::new()
    };
    Ok(vec![Content::Text { text, buttons }])
}

/// Up to three intents the message came closest to, each as a button whose payload is one of
/// the intent's own examples (so pressing it is understood for sure). Intents far below any
/// threshold are not worth offering.
fn suggestions(turn: &Turn<'_>) -> Vec<Button> {
    let spec = &turn.bot.spec;
    turn.matches
        .iter()
        .filter(|m| m.confidence >= 0.05)
        .filter_map(|m| spec.intent(&m.intent))
        .filter(|i| matches!(i.handler, HandlerKind::SmallTalk))
        .filter_map(|i| {
            let example = i.examples.for_language(turn.language, &spec.default_language).first()?;
            Some(Button {
                title: example.clone(),
                payload: example.clone(),
            })
        })
        .take(3)
        .collect()
}

/// The conversation goes to a person: the bot says so once and then stays silent (routing
/// sees the handoff mode) until an agent hands it back.
fn handoff(turn: &Turn<'_>, ctx: &mut ConversationContext, reason: &str) -> anyhow::Result<Vec<Content>> {
    ctx.mode = Mode::Handoff;
    ctx.fallback_streak = 0;
    ctx.variables.remove(AWAITING);
    ctx.variables
        .insert(HANDOFF_VAR.to_owned(), json!({ "status": "pending", "reason": reason }));
    let spec = &turn.bot.spec;
    let text = if spec.handoff.is_empty() {
        "I'm passing you to a person. Someone will answer here as soon as possible.".to_owned()
    } else {
        render(turn, ctx, HANDOFF_KEY, &spec.handoff)?
    };
    Ok(vec![Content::text(text)])
}

/// Renders one of the texts of `texts` in the turn's language, rotating through them turn by turn.
fn render(turn: &Turn<'_>, ctx: &ConversationContext, key: &str, texts: &Localized) -> anyhow::Result<String> {
    render_with(turn, ctx, key, texts, Value::Null)
}

/// [`render`] with `extra` values (an object) next to the usual ones: every handler's texts
/// see the same names (`bot`, `user`, `vars`, `message`, `intent`, `entities`, `missing`).
pub fn render_with(
    turn: &Turn<'_>,
    ctx: &ConversationContext,
    key: &str,
    texts: &Localized,
    extra: Value,
) -> anyhow::Result<String> {
    let spec = &turn.bot.spec;
    let lang = match texts {
        Localized::ByLanguage(m) if m.get(turn.language).is_some_and(|v| !v.is_empty()) => turn.language,
        _ => spec.default_language.as_str(),
    };
    let count = texts.for_language(lang, &spec.default_language).len().max(1);
    let index = (ctx.turns as usize) % count;
    let name = template_name(key, lang, index);
    let template = turn.bot.templates.get_template(&name)?;
    let mut values = json!({
        "bot": { "name": spec.name },
        "user": { "id": turn.user },
        "vars": ctx.variables,
        "message": { "text": turn.text, "language": turn.language },
        "intent": turn.intent.map(|i| json!({ "name": i.name, "confidence": turn.confidence })),
        "entities": turn.entities,
        "missing": turn.missing,
    });
    if let (Some(all), Value::Object(extra)) = (values.as_object_mut(), extra) {
        all.extend(extra);
    }
    template
        .render(minijinja::value::Serde(&values))
        .map_err(|e| anyhow::anyhow!("rendering {name}: {e:#}"))
}
