//! Forms: multi-turn flows defined by `[[form]]` in the bot definition. An intent of the `form`
//! handler starts one; while it runs (`Mode::Form`) each message may fill the slot asked for,
//! any other slot it mentions, correct a slot filled before, cancel, or be a question of its own
//! (a confident intent or a knowledge answer), which is answered before the question is asked
//! again. A completed form is stored as a submission and, for an HTTP action, sent by the
//! background sender (`submit.rs`).
//!
//! Everything the form knows between turns is in the conversation context (`state`), never in
//! memory, so a form survives restarts and can continue on another instance.

pub mod cli;
mod digress;
mod slots;
mod texts;

pub use crate::runtime::signed::signature;
pub use slots::Patterns;

use crate::app::App;
use crate::engine::handlers::{self, Turn};
use crate::engine::route::AWAITING;
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use slots::{Answer, display, entity_for};
use switchboard_core::{
    Button, Content, ConversationContext, Entity, FormAction, FormSpec, HandlerKind, Message, Mode, SlotSpec,
};
use switchboard_store::{NewSubmission, SubmissionStatus};
use texts::Builtin;

/// `ctx.handler` while a form runs.
const HANDLER: &str = "form";

/// The form's progress, kept in `ctx.state`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct State {
    form: String,
    /// Slot name -> value, for the slots filled so far.
    values: Map<String, Value>,
    /// Every slot is filled and the summary was shown: waiting for yes or no.
    confirming: bool,
}

/// What one message did to the form.
#[derive(Default)]
struct Effects {
    filled: bool,
    /// Notes for slots filled before and changed by this message.
    corrections: Vec<String>,
    /// A slot whose answer failed its checks.
    invalid: Option<String>,
}

/// Starts a form (an intent of the `form` handler) or continues the one running. Runs in the
/// pipeline because it reads and writes the store.
pub async fn handle(
    app: &App,
    turn: &Turn<'_>,
    message: &Message,
    found: &[Entity],
    ctx: &mut ConversationContext,
) -> anyhow::Result<Vec<Content>> {
    ctx.fallback_streak = 0;
    let spec = &turn.bot.spec;
    let starting = turn.intent.filter(|i| i.handler == HandlerKind::Form);
    let mut state = match starting {
        Some(intent) => {
            let form = intent
                .form
                .clone()
                .with_context(|| format!("intent {} starts no form", intent.name))?;
            ctx.variables.remove(AWAITING);
            State {
                form,
                ..State::default()
            }
        }
        None => serde_json::from_value(ctx.state.clone()).unwrap_or_default(),
    };
    let Some(form) = spec.form(&state.form) else {
        // The bot was edited and the form is gone: the flow starts over.
        ctx.reset_flow();
        return handlers::run(HandlerKind::Fallback, turn, ctx);
    };
    ctx.mode = Mode::Form;
    ctx.handler = Some(HANDLER.to_owned());
    let now = message.created_at;

    if starting.is_none() && texts::is_cancel(turn.text) {
        return cancel(turn, ctx, form, &state);
    }
    let current = form.slots.iter().find(|s| !state.values.contains_key(&s.name));
    let effects = apply(turn, form, &mut state, current, found, now, starting.is_some());
    let mut replies: Vec<Content> = effects.corrections.iter().map(Content::text).collect();

    if let Some(slot) = effects.invalid.as_deref().and_then(|s| form.slot(s)) {
        replies.extend(invalid(turn, ctx, form, slot, &state)?);
        return save(ctx, &state, replies);
    }
    let progressed = effects.filled || !effects.corrections.is_empty();
    if starting.is_none() && !progressed {
        if state.confirming && texts::is_yes(turn.text) {
            return complete(app, turn, message, ctx, form, &state).await;
        }
        if state.confirming && texts::is_no(turn.text) {
            return cancel(turn, ctx, form, &state);
        }
        if let Some(answer) = digress::answer(app, turn, message, found, ctx).await? {
            if ctx.mode != Mode::Form {
                // A person took over (handoff): the form ends here.
                ctx.state = Value::Null;
                ctx.handler = None;
                return Ok(answer);
            }
            replies.extend(answer);
        } else if let Some(slot) = current {
            // Neither a value nor a question of its own: say so and ask again.
            replies.extend(invalid(turn, ctx, form, slot, &state)?);
            return save(ctx, &state, replies);
        }
    }
    match form.slots.iter().find(|s| !state.values.contains_key(&s.name)) {
        Some(next) => replies.push(ask(turn, ctx, form, next, &state)?),
        None if !form.confirm.is_empty() => {
            state.confirming = true;
            replies.push(confirm(turn, ctx, form, &state)?);
        }
        None => return complete(app, turn, message, ctx, form, &state).await,
    }
    save(ctx, &state, replies)
}

/// Fills slots from the message: the slot asked for first, then other empty ones, then changes
/// to filled ones (a correction). Each entity fills one slot at most.
fn apply(
    turn: &Turn<'_>,
    form: &FormSpec,
    state: &mut State,
    current: Option<&SlotSpec>,
    found: &[Entity],
    now: i64,
    starting: bool,
) -> Effects {
    let patterns = &turn.bot.forms;
    let mut effects = Effects::default();
    let mut taken = Vec::new();
    let empty: Vec<&SlotSpec> = current
        .into_iter()
        .chain(
            form.slots
                .iter()
                .filter(|s| Some(s.name.as_str()) != current.map(|c| c.name.as_str())),
        )
        .filter(|s| !state.values.contains_key(&s.name))
        .collect();
    for slot in empty {
        let Some((i, e)) = entity_for(slot, found, &taken) else {
            continue;
        };
        taken.push(i);
        match slots::check(&form.name, slot, patterns, e.value.clone(), now) {
            Answer::Value(v) => {
                state.values.insert(slot.name.clone(), v);
                effects.filled = true;
            }
            Answer::Invalid => {
                effects.invalid.get_or_insert_with(|| slot.name.clone());
            }
            Answer::Nothing => {}
        }
    }
    let filled: Vec<&SlotSpec> = form
        .slots
        .iter()
        .filter(|s| state.values.contains_key(&s.name))
        .collect();
    for slot in filled {
        let Some((i, e)) = entity_for(slot, found, &taken) else {
            continue;
        };
        taken.push(i);
        match slots::check(&form.name, slot, patterns, e.value.clone(), now) {
            Answer::Value(v) if state.values.get(&slot.name) != Some(&v) => {
                effects
                    .corrections
                    .push(texts::corrected(turn.language, &slot.name, &display(&v)));
                state.values.insert(slot.name.clone(), v);
            }
            // A correction is checked like an answer; the value before stays.
            Answer::Invalid => {
                effects.invalid.get_or_insert_with(|| slot.name.clone());
            }
            Answer::Value(_) | Answer::Nothing => {}
        }
    }
    // A slot without an entity takes the message itself, unless the message did something else
    // (a correction, a value for another slot) or is a question of its own, or started the form.
    if let Some(slot) = current.filter(|s| s.entities().is_empty())
        && !starting
        && !effects.filled
        && effects.corrections.is_empty()
        && effects.invalid.is_none()
        && !digress::asks_something_else(turn)
    {
        match slots::free_text(&form.name, slot, patterns, turn.text, now) {
            Answer::Value(v) => {
                state.values.insert(slot.name.clone(), v);
                effects.filled = true;
            }
            Answer::Invalid => effects.invalid = Some(slot.name.clone()),
            Answer::Nothing => {}
        }
    }
    effects
}

fn save(ctx: &mut ConversationContext, state: &State, replies: Vec<Content>) -> anyhow::Result<Vec<Content>> {
    ctx.state = serde_json::to_value(state)?;
    Ok(replies)
}

fn ask(
    turn: &Turn<'_>,
    ctx: &ConversationContext,
    form: &FormSpec,
    slot: &SlotSpec,
    state: &State,
) -> anyhow::Result<Content> {
    let key = form.key(&format!("{}:ask", slot.name));
    let text = texts::render(turn, ctx, &key, &slot.ask, &state.values, json!({ "form": form.name }))?;
    let buttons = slot
        .values
        .iter()
        .map(|v| Button {
            title: v.clone(),
            payload: v.clone(),
        })
        .collect();
    Ok(Content::Text { text, buttons })
}

/// The slot's `invalid` text, or a built-in note followed by the question.
fn invalid(
    turn: &Turn<'_>,
    ctx: &ConversationContext,
    form: &FormSpec,
    slot: &SlotSpec,
    state: &State,
) -> anyhow::Result<Vec<Content>> {
    if slot.invalid.is_empty() {
        let note = texts::builtin(turn.language, Builtin::NotValid);
        return Ok(vec![Content::text(note), ask(turn, ctx, form, slot, state)?]);
    }
    let key = form.key(&format!("{}:invalid", slot.name));
    let text = texts::render(
        turn,
        ctx,
        &key,
        &slot.invalid,
        &state.values,
        json!({ "form": form.name }),
    )?;
    let mut reply = ask(turn, ctx, form, slot, state)?;
    if let Content::Text { text: t, .. } = &mut reply {
        *t = text;
    }
    Ok(vec![reply])
}

fn confirm(turn: &Turn<'_>, ctx: &ConversationContext, form: &FormSpec, state: &State) -> anyhow::Result<Content> {
    let text = texts::render(
        turn,
        ctx,
        &form.key("@confirm"),
        &form.confirm,
        &state.values,
        json!({ "form": form.name }),
    )?;
    let button = |b: Builtin, payload: &str| Button {
        title: texts::builtin(turn.language, b).to_owned(),
        payload: payload.to_owned(),
    };
    Ok(Content::Text {
        text,
        buttons: vec![button(Builtin::Yes, "yes"), button(Builtin::No, "no")],
    })
}

fn cancel(
    turn: &Turn<'_>,
    ctx: &mut ConversationContext,
    form: &FormSpec,
    state: &State,
) -> anyhow::Result<Vec<Content>> {
    let text = if form.cancelled.is_empty() {
        texts::builtin(turn.language, Builtin::Cancelled).to_owned()
    } else {
        let key = form.key("@cancelled");
        texts::render(
            turn,
            ctx,
            &key,
            &form.cancelled,
            &state.values,
            json!({ "form": form.name }),
        )?
    };
    ctx.reset_flow();
    ::metrics::counter!(crate::runtime::metrics::FORM_SUBMISSIONS, "tenant" => turn.bot.id.to_string(),
        "form" => form.name.clone(), "result" => "cancelled")
    .increment(1);
    Ok(vec![Content::text(text)])
}

/// Stores the submission (keyed by this message, so a retried turn stores it once) and says
/// the form's `done` text; the sender loop takes it from there for an HTTP action.
async fn complete(
    app: &App,
    turn: &Turn<'_>,
    message: &Message,
    ctx: &mut ConversationContext,
    form: &FormSpec,
    state: &State,
) -> anyhow::Result<Vec<Content>> {
    let (status, max_attempts) = match &form.action {
        FormAction::Store => (SubmissionStatus::Stored, 0),
        FormAction::Http { max_attempts, .. } => (SubmissionStatus::Pending, *max_attempts),
    };
    let submission = app
        .store
        .add_form_submission(
            &message.tenant,
            NewSubmission {
                conversation: message.conversation.clone(),
                form: form.name.clone(),
                values: Value::Object(state.values.clone()),
                status,
                max_attempts,
                source_message: message.id.clone(),
            },
        )
        .await
        .with_context(|| format!("storing a submission of form {}", form.name))?;
    ::metrics::counter!(crate::runtime::metrics::FORM_SUBMISSIONS, "tenant" => turn.bot.id.to_string(),
        "form" => form.name.clone(), "result" => "completed")
    .increment(1);
    let extra = json!({
        "form": form.name,
        "submission": { "id": submission.id, "status": submission.status.as_str() },
    });
    let text = texts::render(turn, ctx, &form.key("@done"), &form.done, &state.values, extra)?;
    ctx.reset_flow();
    Ok(vec![Content::text(text)])
}
