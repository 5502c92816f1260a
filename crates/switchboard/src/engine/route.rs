//! Routing: which handler answers this turn, and why. Strategies in priority order, each a
//! small check; the first that applies decides.

use serde_json::{Map, Value};
use switchboard_core::{BotSpec, ConversationContext, Entity, HandlerKind, IntentSpec, Mode};
use switchboard_nlu::IntentMatch;
use switchboard_nlu::entities::values_for;

/// The context variable that holds an intent waiting for required entities, with the values
/// it has so far: `{"intent": "book", "entities": {"size": "large"}}`.
pub const AWAITING: &str = "awaiting";

#[derive(Debug, PartialEq)]
pub enum Decision<'a> {
    /// A human owns the conversation: the bot says nothing.
    Silent { reason: &'static str },
    Handler {
        handler: HandlerKind,
        intent: Option<&'a IntentSpec>,
        confidence: f32,
        reason: String,
        /// Every entity the intent names, with its value or null, this turn's and the ones an
        /// earlier turn gave while the intent waited for them.
        entities: Map<String, Value>,
        /// Required entities still without a value.
        missing: Vec<String>,
    },
}

pub fn route<'a>(
    spec: &'a BotSpec,
    ctx: &mut ConversationContext,
    matches: &[IntentMatch],
    found: &[Entity],
) -> Decision<'a> {
    if let Some(d) = active_mode(ctx) {
        return d;
    }
    if let Some(d) = answers_reminder_question(spec, ctx, found) {
        return d;
    }
    if let Some(d) = confident_intent(spec, ctx, matches, found) {
        return d;
    }
    if let Some(d) = completes_awaited_intent(spec, ctx, found) {
        return d;
    }
    let best = matches.first();
    Decision::Handler {
        handler: HandlerKind::Fallback,
        intent: None,
        confidence: best.map_or(0.0, |m| m.confidence),
        reason: match best {
            Some(m) => format!("best intent {} at {:.2} is below its threshold", m.intent, m.confidence),
            None => "no intent matched".to_owned(),
        },
        entities: Map::new(),
        missing: Vec::new(),
    }
}

/// The intent a command names: `/name`, or `/name@bot` as Telegram writes commands in groups,
/// alone or followed by words, where `name` is an intent of the bot (case-insensitive).
pub fn command<'a>(text: &str, spec: &'a BotSpec) -> Option<&'a str> {
    let word = text.trim_start().strip_prefix('/')?.split_whitespace().next()?;
    let name = word.split('@').next()?;
    spec.intents
        .iter()
        .find(|i| i.name.eq_ignore_ascii_case(name))
        .map(|i| i.name.as_str())
}

/// Knowledge search, after every intent strategy and before the fallback: when the turn would
/// go to the fallback, `search` gives the best passage's title and score, which answers if the
/// score reaches the bot's `knowledge.min_score`. The search only runs when it can matter.
pub fn knowledge_search<'a>(
    decision: Decision<'a>,
    spec: &BotSpec,
    search: impl FnOnce() -> Option<(String, f32)>,
) -> Decision<'a> {
    let Decision::Handler {
        handler: HandlerKind::Fallback,
        intent: None,
        confidence,
        mut reason,
        entities,
        missing,
    } = decision
    else {
        return decision;
    };
    let min = spec.knowledge.min_score;
    match spec.knowledge.enabled.then(search).flatten() {
        Some((title, score)) if score >= min => {
            return Decision::Handler {
                handler: HandlerKind::Knowledge,
                intent: None,
                confidence,
                reason: format!("knowledge: best passage '{title}' at score {score:.2} >= {min:.2}"),
                entities,
                missing,
            };
        }
        Some((title, score)) => reason.push_str(&format!(
            "; knowledge: best passage '{title}' at score {score:.2} < {min:.2}"
        )),
        None if spec.knowledge.enabled => reason.push_str("; knowledge: no passage found"),
        None => {}
    }
    Decision::Handler {
        handler: HandlerKind::Fallback,
        intent: None,
        confidence,
        reason,
        entities,
        missing,
    }
}

fn active_mode<'a>(ctx: &mut ConversationContext) -> Option<Decision<'a>> {
    match ctx.mode {
        Mode::Normal => None,
        Mode::Handoff => Some(Decision::Silent {
            reason: "a human owns the conversation",
        }),
        // The form handler reads every message while a form runs: values, corrections, cancel,
        // and questions of their own (answered, then the form goes on).
        Mode::Form => Some(Decision::Handler {
            handler: HandlerKind::Form,
            intent: None,
            confidence: 1.0,
            reason: "a form is in progress".to_owned(),
            entities: Map::new(),
            missing: Vec::new(),
        }),
        Mode::Assessment => Some(Decision::Handler {
            handler: HandlerKind::Assessment,
            intent: None,
            confidence: 1.0,
            reason: "an assessment owns the conversation".to_owned(),
            entities: Map::new(),
            missing: Vec::new(),
        }),
        // No handler runs workflows apart from forms: start over rather than leave the user
        // stuck in a mode nobody answers.
        Mode::Workflow => {
            ctx.reset_flow();
            None
        }
    }
}

fn confident_intent<'a>(
    spec: &'a BotSpec,
    ctx: &ConversationContext,
    matches: &[IntentMatch],
    found: &[Entity],
) -> Option<Decision<'a>> {
    let best = matches.first()?;
    let intent = spec.intent(&best.intent)?;
    let threshold = spec.threshold_for(intent);
    (best.confidence >= threshold).then(|| {
        let reason = format!(
            "intent {} at {:.2} >= threshold {threshold:.2}",
            intent.name, best.confidence
        );
        with_entities(intent, ctx, found, best.confidence, reason)
    })
}

/// The answer to "For which day?": a message that is no confident intent of its own but gives
/// a required entity the waiting intent lacks.
fn completes_awaited_intent<'a>(
    spec: &'a BotSpec,
    ctx: &ConversationContext,
    found: &[Entity],
) -> Option<Decision<'a>> {
    let name = ctx.variables.get(AWAITING)?.get("intent")?.as_str()?;
    let intent = spec.intent(name)?;
    let fresh = values_for(intent.required.iter().map(String::as_str), found);
    if fresh.is_empty() {
        return None;
    }
    let reason = format!("completes intent {name}, which was waiting for entities");
    Some(with_entities(intent, ctx, found, 1.0, reason))
}

/// The answer to "When should I remind you?": a bare time ("tomorrow at 9", "in 2 hours") looks
/// like other intents that mention times (a booking, opening hours), so while a reminder waits
/// for its time, a message that gives it completes the reminder first.
fn answers_reminder_question<'a>(
    spec: &'a BotSpec,
    ctx: &ConversationContext,
    found: &[Entity],
) -> Option<Decision<'a>> {
    let name = ctx.variables.get(AWAITING)?.get("intent")?.as_str()?;
    spec.intent(name).filter(|i| i.handler == HandlerKind::Reminders)?;
    completes_awaited_intent(spec, ctx, found)
}

fn with_entities<'a>(
    intent: &'a IntentSpec,
    ctx: &ConversationContext,
    found: &[Entity],
    confidence: f32,
    mut reason: String,
) -> Decision<'a> {
    let mut entities = Map::new();
    // Values given while this intent waited count, unless this message says otherwise.
    if let Some(earlier) = ctx
        .variables
        .get(AWAITING)
        .filter(|a| a["intent"] == intent.name.as_str())
        && let Some(earlier) = earlier.get("entities").and_then(Value::as_object)
    {
        entities.extend(
            earlier
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    entities.extend(values_for(intent.entity_names(), found));
    for name in intent.entity_names() {
        entities.entry(name).or_insert(Value::Null);
    }
    let missing: Vec<String> = intent
        .required
        .iter()
        .filter(|r| entities.get(*r).is_none_or(Value::is_null))
        .cloned()
        .collect();
    if !missing.is_empty() {
        reason.push_str(&format!("; missing required entities: {}", missing.join(", ")));
    }
    Decision::Handler {
        handler: intent.handler,
        intent: Some(intent),
        confidence,
        reason,
        entities,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BotSpec {
        BotSpec::from_toml(
            "name = \"t\"\nthreshold = 0.5\nfallback = [\"?\"]\n[[intent]]\nname = \"greet\"\nexamples = [\"hi\"]\nresponses = [\"hi\"]\n\
             [[intent]]\nname = \"hours\"\nthreshold = 0.2\nexamples = [\"open\"]\nresponses = [\"9-5\"]\n",
        )
        .expect("spec")
    }

    #[test]
    fn commands_name_intents() {
        let s = spec();
        assert_eq!(command("/hours", &s), Some("hours"));
        assert_eq!(command("  /HOURS please", &s), Some("hours"));
        assert_eq!(command("/greet@SwitchboardBot", &s), Some("greet"));
        assert_eq!(command("/unknown", &s), None);
        assert_eq!(command("hours", &s), None);
        assert_eq!(command("/", &s), None);
        assert_eq!(command("", &s), None);
        assert_eq!(command("a/hours", &s), None);
    }

    fn m(intent: &str, confidence: f32) -> IntentMatch {
        IntentMatch {
            intent: intent.into(),
            confidence,
            language: "en".into(),
        }
    }

    #[test]
    fn handoff_silences_the_bot_whatever_the_intent() {
        let spec = spec();
        let mut ctx = ConversationContext {
            mode: Mode::Handoff,
            ..Default::default()
        };
        assert!(matches!(
            route(&spec, &mut ctx, &[m("greet", 1.0)], &[]),
            Decision::Silent { .. }
        ));
    }

    #[test]
    fn thresholds_global_and_per_intent() {
        let spec = spec();
        let mut ctx = ConversationContext::default();
        let pick = |ctx: &mut ConversationContext, ms: &[IntentMatch]| match route(&spec, ctx, ms, &[]) {
            Decision::Handler { handler, intent, .. } => (handler, intent.map(|i| i.name.clone())),
            Decision::Silent { .. } => panic!("not silent"),
        };
        assert_eq!(
            pick(&mut ctx, &[m("greet", 0.6)]),
            (HandlerKind::SmallTalk, Some("greet".into()))
        );
        assert_eq!(pick(&mut ctx, &[m("greet", 0.4)]), (HandlerKind::Fallback, None));
        assert_eq!(
            pick(&mut ctx, &[m("hours", 0.25)]),
            (HandlerKind::SmallTalk, Some("hours".into()))
        );
        assert_eq!(pick(&mut ctx, &[]), (HandlerKind::Fallback, None));
    }

    #[test]
    fn a_mode_without_its_handler_starts_over() {
        let spec = spec();
        let mut ctx = ConversationContext {
            mode: Mode::Workflow,
            handler: Some("signup".into()),
            ..Default::default()
        };
        let d = route(&spec, &mut ctx, &[m("greet", 0.9)], &[]);
        assert!(matches!(
            d,
            Decision::Handler {
                handler: HandlerKind::SmallTalk,
                ..
            }
        ));
        assert_eq!((ctx.mode, ctx.handler), (Mode::Normal, None));
    }

    #[test]
    fn knowledge_answers_between_a_confident_intent_and_the_fallback() {
        let spec = spec();
        let mut ctx = ConversationContext::default();
        let handler = |d: &Decision<'_>| match d {
            Decision::Handler { handler, reason, .. } => (*handler, reason.clone()),
            Decision::Silent { .. } => panic!("not silent"),
        };
        // A confident intent wins: the search does not even run.
        let d = knowledge_search(route(&spec, &mut ctx, &[m("greet", 0.9)], &[]), &spec, || {
            panic!("searched although an intent answers")
        });
        assert_eq!(handler(&d).0, HandlerKind::SmallTalk);
        let low = [m("greet", 0.1)];
        let d = knowledge_search(route(&spec, &mut ctx, &low, &[]), &spec, || {
            Some(("Returns".into(), 3.5))
        });
        assert_eq!(
            handler(&d),
            (
                HandlerKind::Knowledge,
                "knowledge: best passage 'Returns' at score 3.50 >= 2.00".into()
            )
        );
        let d = knowledge_search(route(&spec, &mut ctx, &low, &[]), &spec, || {
            Some(("Returns".into(), 1.0))
        });
        let (h, reason) = handler(&d);
        assert_eq!(h, HandlerKind::Fallback);
        assert!(
            reason.ends_with("; knowledge: best passage 'Returns' at score 1.00 < 2.00"),
            "{reason}"
        );
        let d = knowledge_search(route(&spec, &mut ctx, &low, &[]), &spec, || None);
        assert!(handler(&d).1.ends_with("knowledge: no passage found"));
    }

    fn booking() -> BotSpec {
        BotSpec::from_toml(
            "name = \"t\"\nfallback = [\"?\"]\n[[intent]]\nname = \"book\"\nexamples = [\"book\"]\nresponses = [\"ok\"]\n\
             entities = [\"size\"]\nrequired = [\"date\"]\nask = [\"Which day?\"]\n\
             [[entity]]\nname = \"size\"\nkind = \"lookup\"\nvalues = [\"large\"]\n",
        )
        .expect("spec")
    }

    fn entity(name: &str, value: Value) -> Entity {
        Entity {
            entity: name.into(),
            start: 0,
            end: 1,
            raw: "x".into(),
            value,
            source: switchboard_core::EntitySource::Builtin,
        }
    }

    fn outcome(d: Decision<'_>) -> (Option<String>, Map<String, Value>, Vec<String>, String) {
        match d {
            Decision::Handler {
                intent,
                entities,
                missing,
                reason,
                ..
            } => (intent.map(|i| i.name.clone()), entities, missing, reason),
            Decision::Silent { .. } => panic!("not silent"),
        }
    }

    #[test]
    fn missing_required_entities_are_reported_and_an_answer_completes_them() {
        let spec = booking();
        let mut ctx = ConversationContext::default();
        let size = entity("size", "large".into());
        let (intent, values, missing, reason) = outcome(route(&spec, &mut ctx, &[m("book", 0.9)], &[size]));
        assert_eq!(intent.as_deref(), Some("book"));
        assert_eq!(missing, ["date"]);
        assert!(reason.contains("missing required entities: date"), "{reason}");
        assert_eq!(
            values,
            serde_json::json!({"size": "large", "date": null})
                .as_object()
                .cloned()
                .expect("map")
        );

        // Unclear on its own, but it gives the missing date: the waiting intent completes,
        // keeping the size from before.
        ctx.variables.insert(
            AWAITING.into(),
            serde_json::json!({"intent": "book", "entities": values}),
        );
        let day = entity(
            "datetime",
            serde_json::json!({"value": "2026-11-21T00:00:00Z", "grain": "day"}),
        );
        let (intent, values, missing, _) = outcome(route(&spec, &mut ctx, &[m("book", 0.1)], &[day]));
        assert_eq!(intent.as_deref(), Some("book"));
        assert!(missing.is_empty());
        assert_eq!(values["size"], "large");
        assert_eq!(values["date"]["grain"], "day");

        // Without the entity it waits for, the message goes to the fallback as usual.
        let (intent, ..) = outcome(route(&spec, &mut ctx, &[m("book", 0.1)], &[]));
        assert_eq!(intent, None);
    }

    #[test]
    fn a_reminder_waiting_for_its_time_takes_the_answer_before_a_confident_intent() {
        let spec = BotSpec::from_toml(
            "name = \"t\"\nfallback = [\"?\"]\n[[intent]]\nname = \"remind\"\nhandler = \"reminders\"\naction = \"create\"\n\
             examples = [\"remind me\"]\nresponses = [\"ok\"]\nrequired = [\"datetime\"]\nask = [\"When?\"]\n\
             [[intent]]\nname = \"hours\"\nexamples = [\"opening hours\"]\nresponses = [\"9-5\"]\n",
        )
        .expect("spec");
        let day = entity(
            "datetime",
            serde_json::json!({"value": "2026-11-21T09:00:00Z", "grain": "hour"}),
        );
        let mut ctx = ConversationContext::default();
        // Nothing asked: the confident intent answers.
        let (intent, ..) = outcome(route(&spec, &mut ctx, &[m("hours", 0.9)], std::slice::from_ref(&day)));
        assert_eq!(intent.as_deref(), Some("hours"));
        ctx.variables.insert(
            AWAITING.into(),
            serde_json::json!({"intent": "remind", "entities": {"datetime": null}}),
        );
        let (intent, _, missing, _) = outcome(route(&spec, &mut ctx, &[m("hours", 0.9)], &[day]));
        assert_eq!((intent.as_deref(), missing.len()), (Some("remind"), 0));
        // A message without a time is not an answer.
        let (intent, ..) = outcome(route(&spec, &mut ctx, &[m("hours", 0.9)], &[]));
        assert_eq!(intent.as_deref(), Some("hours"));
    }
}
