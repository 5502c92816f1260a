//! The turn: language -> context -> intent -> route -> handler -> persist -> deliver.
//! Plain async stages over one inbound message; each stage is timed.

use crate::app::App;
use crate::engine::consent::{self, Gate};
use crate::engine::handlers::HANDOFF_VAR;
use crate::engine::handlers::{self, Turn};
use crate::engine::route::{AWAITING, Decision, route};
use crate::runtime::frames::ServerFrame;
use crate::runtime::hub::TurnOutcome;
use crate::runtime::metrics;
use anyhow::{Context as _, anyhow};
use std::sync::Arc;
use std::time::Instant;
use switchboard_core::{BotSpec, ConversationContext, HandlerKind, HistoryEntry, Message, Mode, Processed};
use switchboard_nlu::entities::EntityContext;
use switchboard_nlu::{IntentMatch, LanguageGuess, detect_language};
use switchboard_store::{ConsentDecision, Erase, Job, StoreError, TurnCommit};

struct Stages {
    at: Instant,
}

impl Stages {
    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        ::metrics::histogram!(metrics::STAGE_SECONDS, "stage" => stage).record((now - self.at).as_secs_f64());
        self.at = now;
    }
}

/// Runs one turn to the end. Errors are retried by the caller; a turn that stored its replies
/// has succeeded whatever happens in delivery.
pub async fn run_turn(app: &App, job: &Job) -> anyhow::Result<Arc<Vec<Message>>> {
    let tenant = &job.tenant;
    let bot = app
        .tenants
        .get(tenant)
        .ok_or_else(|| anyhow!("tenant {tenant} has no bot loaded"))?;
    let mut stages = Stages { at: Instant::now() };
    let input = app
        .store
        .turn_input(tenant, &job.conversation, &job.message)
        .await?
        .with_context(|| format!("message {} of job {} is gone", job.message, job.id))?;
    let (message, conversation) = (input.message, input.conversation);
    stages.lap("load");
    app.hub
        .publish(message.channel, tenant, &message.user, ServerFrame::Typing { on: true });

    let text = message.content.understood_text().to_owned();
    let spec = &bot.spec;
    let settings = app.store.tenant_settings(tenant).await?;
    let guess = detect_language(&text, &served_languages(&spec.languages, &settings.languages));
    stages.lap("language");

    let now = app.clock.now_ms();
    let before = Before {
        mode: conversation.context.mode,
        language: conversation.context.language.clone(),
    };
    let mut ctx = conversation.context;
    if ctx.is_expired(now) {
        ctx.reset_flow();
        // An intent that waited for an answer is part of the flow, not of what is known.
        ctx.variables.remove(AWAITING);
        crate::engine::feedback::close_question(&mut ctx)?;
    }
    // Whether a person owns the conversation is the store's to say (agents change it between
    // turns); the context's mode follows.
    let handed_over = conversation.handoff.is_some();
    if handed_over {
        ctx.mode = Mode::Handoff;
    } else if ctx.mode == Mode::Handoff {
        ctx.reset_flow();
    }
    // "2" on SMS picks the second option the bot's last reply offered as numbered lines.
    let text = crate::engine::numbered::choice(&ctx, &text).unwrap_or(text);
    stages.lap("context");

    // The conversation's language unless the message is reliably in another one.
    let prefer = preferred_language(guess.as_ref(), ctx.language.as_deref(), &spec.default_language);

    if settings.suspended_at.is_some() {
        // Turns queued before the suspension are processed without replies: the message is
        // kept, nothing is said, and nothing is left in the queue to run on resume.
        let processed = Processed {
            handler: "suspended".into(),
            route_reason: "the tenant is suspended".into(),
            ..processed(&guess, &[], prefer)
        };
        let commit = turn_commit(job, &message, processed, Vec::new(), ctx);
        return finish(app, job, &message, commit, before, stages).await;
    }
    let consent_required = settings.consent_required.unwrap_or(spec.consent.required);
    let latest = input.consent;
    if let Gate::Done {
        replies,
        record,
        erase,
        reason,
    } = consent::gate(spec, consent_required, latest.as_ref(), &text, prefer)
    {
        let prefer = prefer.to_owned();
        stages.lap("consent");
        if record.as_ref().is_some_and(|r| r.decision == ConsentDecision::OptedOut) {
            ctx.reset_flow();
        }
        if erase == Erase::Nothing {
            remember(&mut ctx, &text, &replies, None, &prefer, now, spec.context_ttl_minutes);
        }
        let processed = Processed {
            handler: "consent".into(),
            route_reason: reason.into(),
            ..processed(&guess, &[], &prefer)
        };
        let commit = TurnCommit {
            consent: record,
            erase,
            ..turn_commit(job, &message, processed, replies, ctx)
        };
        return finish(app, job, &message, commit, before, stages).await;
    }
    // "/joke" (or "/joke@SomeBot" in a Telegram group) names an intent: no need to guess.
    let command = crate::engine::route::command(&text, spec);
    let matches = match command {
        Some(intent) => vec![IntentMatch {
            intent: intent.to_owned(),
            confidence: 1.0,
            language: prefer.to_owned(),
        }],
        None => bot.model.classify(&text, Some(prefer), 3),
    };
    stages.lap("intent");

    let language = choose_language(
        guess.as_ref(),
        matches.first(),
        ctx.language.as_deref(),
        &spec.default_language,
    );
    let entities = bot.entities.extract(
        &text,
        &entity_context(spec, settings.time_zone.as_deref(), &ctx, message.created_at, &language)?,
    );
    stages.lap("entities");

    // An answer to the satisfaction question (or a thumb) is recorded whatever it resembles.
    let mut feedback = crate::engine::feedback::take_answer(&mut ctx, &message)?;
    let mut decision = match feedback {
        Some(_) => Decision::Handler {
            handler: HandlerKind::Feedback,
            intent: None,
            confidence: 1.0,
            reason: "an answer to the feedback question".to_owned(),
            entities: serde_json::Map::new(),
            missing: Vec::new(),
        },
        None => route(spec, &mut ctx, &matches, &entities),
    };
    if let (Some(intent), Decision::Handler { reason, .. }) = (command, &mut decision) {
        *reason = format!("explicit command /{intent}: {reason}");
    }
    let mut passages = Vec::new();
    let decision = crate::engine::route::knowledge_search(decision, spec, || {
        passages = app
            .knowledge
            .search(tenant, &text, &language, spec.knowledge.max_passages);
        passages.first().map(|p| (p.title.clone(), p.score))
    });
    stages.lap("route");

    let (replies, processed) = match decision {
        Decision::Silent { reason } => (
            Vec::new(),
            Processed {
                handler: "none".into(),
                route_reason: reason.into(),
                entities,
                ..processed(&guess, &matches, &language)
            },
        ),
        Decision::Handler {
            handler,
            intent,
            confidence,
            reason,
            entities: values,
            missing,
        } => {
            let turn = Turn {
                bot: &bot,
                user: &message.user,
                text: &text,
                language: &language,
                intent,
                confidence,
                entities: &values,
                missing: &missing,
                matches: &matches,
            };
            let mut replies = match handler {
                // Reminders read and write the store, which the plain handlers never do.
                HandlerKind::Reminders => {
                    crate::engine::reminders::handle(app, &turn, &message, &entities, &mut ctx).await?
                }
                HandlerKind::Knowledge => {
                    crate::engine::knowledge::answer(app, &turn, &message, passages, &mut ctx).await?
                }
                HandlerKind::SmallTalk => {
                    let mut replies = handlers::run(handler, &turn, &mut ctx)?;
                    crate::engine::smalltalk::reword(app, &turn, &message, &mut replies).await;
                    replies
                }
                HandlerKind::Form => crate::engine::forms::handle(app, &turn, &message, &entities, &mut ctx).await?,
                HandlerKind::Assessment => {
                    crate::engine::assessment::handle(app, &turn, &message, &entities, &mut ctx).await?
                }
                HandlerKind::Feedback => {
                    crate::engine::feedback::handle(app, &turn, &message, feedback.take(), &mut ctx).await?
                }
                _ => handlers::run(handler, &turn, &mut ctx)?,
            };
            // The conversation is resolved: time to ask how it went (once, if the bot asks). An
            // intent still asking for what it needs has resolved nothing yet.
            if intent.is_some_and(|i| i.resolves)
                && missing.is_empty()
                && let Some(question) = crate::engine::feedback::offer(&turn, &mut ctx)?
            {
                replies.push(question);
            }
            // An assessment the expired context left unfinished: offered once to continue.
            if handler != HandlerKind::Assessment
                && let Some(offer) = crate::engine::assessment::offer_resume(&turn, &mut ctx)?
            {
                replies.push(offer);
            }
            (
                replies,
                Processed {
                    handler: handler.as_str().into(),
                    route_reason: reason,
                    intent: intent.map(|i| i.name.clone()),
                    confidence,
                    entities,
                    missing_entities: missing,
                    ..processed(&guess, &matches, &language)
                },
            )
        }
    };
    stages.lap("handler");

    crate::engine::numbered::remember(&mut ctx, message.channel, &replies);
    remember(
        &mut ctx,
        &text,
        &replies,
        processed.intent.clone(),
        &language,
        now,
        spec.context_ttl_minutes,
    );
    // A handler that handed the conversation to a person left the reason in the context; the
    // store keeps the handoff itself.
    let handoff = ctx
        .variables
        .remove(HANDOFF_VAR)
        .filter(|_| !handed_over && ctx.mode == Mode::Handoff)
        .map(|h| h["reason"].as_str().unwrap_or("handed to a person").to_owned());
    let commit = TurnCommit {
        handoff,
        ..turn_commit(job, &message, processed, replies, ctx)
    };
    finish(app, job, &message, commit, before, stages).await
}

fn turn_commit(
    job: &Job,
    message: &Message,
    processed: Processed,
    replies: Vec<switchboard_core::Content>,
    context: ConversationContext,
) -> TurnCommit {
    TurnCommit {
        job_id: job.id,
        conversation: job.conversation.clone(),
        message: job.message.clone(),
        processed,
        replies,
        context,
        // Web chat replies are delivered live; a phone call's are spoken in the webhook's answer.
        deliver: !matches!(
            message.channel,
            switchboard_core::Channel::Webchat | switchboard_core::Channel::Api
        ) && message.metadata.get("voice").and_then(|v| v.as_bool()) != Some(true),
        consent: None,
        erase: Erase::Nothing,
        handoff: None,
    }
}

/// What the conversation was before the turn, to tell what the turn changed.
struct Before {
    mode: Mode,
    language: Option<String>,
}

impl Before {
    fn changes(&self, commit: &TurnCommit) -> crate::runtime::events::TurnChanges {
        let after = &commit.context;
        let mut updated = serde_json::Map::new();
        if after.mode != self.mode {
            updated.insert("mode".into(), serde_json::json!(after.mode));
        }
        if after.language != self.language {
            updated.insert("language".into(), serde_json::json!(after.language));
        }
        crate::runtime::events::TurnChanges {
            handoff: commit.handoff.clone(),
            updated: (!updated.is_empty()).then_some(updated.into()),
            erased: commit.erase != Erase::Nothing,
        }
    }
}

/// Stores the turn, tells the tenant's webhooks and pushes its replies.
async fn finish(
    app: &App,
    job: &Job,
    message: &Message,
    commit: TurnCommit,
    before: Before,
    mut stages: Stages,
) -> anyhow::Result<Arc<Vec<Message>>> {
    let tenant = &job.tenant;
    let mut changes = Some(before.changes(&commit));
    let stored = match app.store.complete_turn(tenant, commit).await {
        Ok(stored) => stored,
        // Completed earlier (by an attempt whose answer was lost): those replies stand, and
        // their events were emitted then.
        Err(StoreError::Conflict(_)) => {
            changes = None;
            app.store.replies_to(tenant, &job.message).await?
        }
        Err(e) => return Err(e.into()),
    };
    stages.lap("persist");

    let stored = Arc::new(stored);
    deliver(app, message, &stored, Ok(stored.clone()));
    stages.lap("deliver");
    // After the person has the replies: the webhooks' write never delays them.
    if let Some(changes) = changes {
        crate::runtime::events::turn_completed(app, message, &stored, changes).await;
    }
    ::metrics::histogram!(metrics::TURN_SECONDS)
        .record((app.clock.now_ms() - message.created_at).max(0) as f64 / 1000.0);
    Ok(stored)
}

/// Pushes the outcome of a turn to whoever is listening on this instance.
pub fn deliver(app: &App, inbound: &Message, replies: &[Message], outcome: TurnOutcome) {
    let tenant = &inbound.tenant;
    let status = if outcome.is_ok() { "read" } else { "failed" };
    app.hub.publish(
        inbound.channel,
        tenant,
        &inbound.user,
        ServerFrame::Receipt {
            id: inbound.id.clone(),
            status,
        },
    );
    for reply in replies {
        app.hub
            .publish(inbound.channel, tenant, &inbound.user, ServerFrame::message(reply));
        if reply.status == switchboard_core::MessageStatus::Sent {
            metrics::message(tenant.as_str(), reply.channel.as_str(), "out", "sent");
        }
    }
    app.hub.publish(
        inbound.channel,
        tenant,
        &inbound.user,
        ServerFrame::Typing { on: false },
    );
    app.hub.resolve(&inbound.id, outcome);
}

fn processed(guess: &Option<LanguageGuess>, matches: &[IntentMatch], language: &str) -> Processed {
    Processed {
        language: language.to_owned(),
        language_confidence: guess
            .as_ref()
            .filter(|g| g.language == language)
            .map_or(0.0, |g| g.confidence),
        intent: None,
        confidence: matches.first().map_or(0.0, |m| m.confidence),
        handler: String::new(),
        route_reason: String::new(),
        entities: Vec::new(),
        missing_entities: Vec::new(),
    }
}

/// The bot's languages the tenant serves: all of them unless its settings name some (a list
/// naming none of the bot's would leave nothing to detect, so it is ignored).
fn served_languages(bot: &[String], tenant: &[String]) -> Vec<String> {
    let served: Vec<String> = bot.iter().filter(|l| tenant.contains(l)).cloned().collect();
    if served.is_empty() { bot.to_vec() } else { served }
}

/// Dates and times are understood in the user's time zone when the conversation knows it
/// (`vars.timezone`, set by whatever learnt it), else in the tenant's (its settings), else in
/// the bot's. "Now" is when the message arrived, so a retried turn reads "tomorrow" as the user
/// meant it.
fn entity_context(
    spec: &BotSpec,
    tenant_zone: Option<&str>,
    ctx: &ConversationContext,
    now_ms: i64,
    language: &str,
) -> anyhow::Result<EntityContext> {
    let user_zone = ctx.variables.get("timezone").and_then(|z| z.as_str());
    let country = spec.country_code();
    user_zone
        .into_iter()
        .chain(tenant_zone)
        .chain([spec.timezone.as_str(), "UTC"])
        .find_map(|zone| EntityContext::new(now_ms, zone, language, country).ok())
        .ok_or_else(|| anyhow!("no time zone can be loaded, not even UTC"))
}

/// The language whose model is asked first: a reliable detection, else the conversation's
/// language, else the bot's default.
pub fn preferred_language<'a>(guess: Option<&'a LanguageGuess>, current: Option<&'a str>, default: &'a str) -> &'a str {
    guess
        .filter(|g| g.reliable)
        .map(|g| g.language.as_str())
        .or(current)
        .unwrap_or(default)
}

/// The language to answer in. A reliable detection wins; then the language of a confidently
/// matched example ("hola" matches a Spanish example); then the conversation's language, which
/// sticks; then the bot's default.
pub fn choose_language(
    guess: Option<&LanguageGuess>,
    top: Option<&IntentMatch>,
    current: Option<&str>,
    default: &str,
) -> String {
    if let Some(g) = guess.filter(|g| g.reliable) {
        return g.language.clone();
    }
    if let Some(m) = top.filter(|m| m.confidence >= 0.6) {
        return m.language.clone();
    }
    current.unwrap_or(default).to_owned()
}

fn remember(
    ctx: &mut ConversationContext,
    text: &str,
    replies: &[switchboard_core::Content],
    intent: Option<String>,
    language: &str,
    now: i64,
    ttl_minutes: u32,
) {
    ctx.push_history(HistoryEntry {
        role: "user".into(),
        text: text.to_owned(),
        intent,
        at: now,
    });
    for r in replies {
        ctx.push_history(HistoryEntry {
            role: "bot".into(),
            text: r.understood_text().to_owned(),
            intent: None,
            at: now,
        });
    }
    ctx.language = Some(language.to_owned());
    ctx.turns += 1;
    ctx.expires_at = Some(now + i64::from(ttl_minutes) * 60_000);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_choice_prefers_evidence_then_sticks() {
        let g = |l: &str, reliable| LanguageGuess {
            language: l.into(),
            confidence: 0.9,
            reliable,
        };
        let m = |l: &str, c| IntentMatch {
            intent: "x".into(),
            confidence: c,
            language: l.into(),
        };
        assert_eq!(
            choose_language(Some(&g("de", true)), Some(&m("es", 1.0)), Some("en"), "en"),
            "de"
        );
        assert_eq!(
            choose_language(Some(&g("de", false)), Some(&m("es", 0.9)), Some("en"), "en"),
            "es"
        );
        assert_eq!(
            choose_language(Some(&g("de", false)), Some(&m("es", 0.3)), Some("es"), "en"),
            "es"
        );
        assert_eq!(choose_language(None, None, None, "en"), "en");
    }
}
