//! Routing: which handler answers this turn, and why. Strategies in priority order, each a
//! small check; the first that applies decides.

use switchboard_core::{BotSpec, ConversationContext, HandlerKind, IntentSpec, Mode};
use switchboard_nlu::IntentMatch;

#[derive(Debug, PartialEq)]
pub enum Decision<'a> {
    /// A human owns the conversation: the bot says nothing.
    Silent { reason: &'static str },
    Handler {
        handler: HandlerKind,
        intent: Option<&'a IntentSpec>,
        confidence: f32,
        reason: String,
    },
}

pub fn route<'a>(spec: &'a BotSpec, ctx: &mut ConversationContext, matches: &[IntentMatch]) -> Decision<'a> {
    if let Some(d) = active_mode(ctx) {
        return d;
    }
    if let Some(d) = confident_intent(spec, matches) {
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
    }
}

fn active_mode<'a>(ctx: &mut ConversationContext) -> Option<Decision<'a>> {
    match ctx.mode {
        Mode::Normal => None,
        Mode::Handoff => Some(Decision::Silent {
            reason: "a human owns the conversation",
        }),
        // No multi-turn handler is loaded for these modes in this build: start over rather than
        // leave the user stuck in a mode nobody answers.
        Mode::Assessment | Mode::Workflow | Mode::Form => {
            ctx.reset_flow();
            None
        }
    }
}

fn confident_intent<'a>(spec: &'a BotSpec, matches: &[IntentMatch]) -> Option<Decision<'a>> {
    let best = matches.first()?;
    let intent = spec.intent(&best.intent)?;
    let threshold = spec.threshold_for(intent);
    (best.confidence >= threshold).then(|| Decision::Handler {
        handler: intent.handler,
        intent: Some(intent),
        confidence: best.confidence,
        reason: format!(
            "intent {} at {:.2} >= threshold {threshold:.2}",
            intent.name, best.confidence
        ),
    })
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
            route(&spec, &mut ctx, &[m("greet", 1.0)]),
            Decision::Silent { .. }
        ));
    }

    #[test]
    fn thresholds_global_and_per_intent() {
        let spec = spec();
        let mut ctx = ConversationContext::default();
        let pick = |ctx: &mut ConversationContext, ms: &[IntentMatch]| match route(&spec, ctx, ms) {
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
            mode: Mode::Form,
            handler: Some("signup".into()),
            ..Default::default()
        };
        let d = route(&spec, &mut ctx, &[m("greet", 0.9)]);
        assert!(matches!(
            d,
            Decision::Handler {
                handler: HandlerKind::SmallTalk,
                ..
            }
        ));
        assert_eq!((ctx.mode, ctx.handler), (Mode::Normal, None));
    }
}
