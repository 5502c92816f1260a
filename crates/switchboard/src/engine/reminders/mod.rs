//! Reminders and tasks: the `reminders` handler (create, list, snooze, cancel; add, list and
//! finish tasks). The job runtime fires them (`runtime/reminders.rs`).
//!
//! Reminders live in the store, not in memory, so they survive restarts; the runtime claims due
//! ones atomically (`Store::claim_due_reminders`), so a reminder fires once even with two
//! instances, and the message it becomes is stored in the same transaction that marks it fired.
//! What the conversation needs between turns (the numbers of the last list shown, the text of a
//! reminder still waiting for its time) is kept in the conversation context.

mod parse;

use crate::app::App;
use crate::engine::handlers::Turn;
use crate::engine::route::AWAITING;
use crate::engine::tenants::ask_key;
use anyhow::Context as _;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use parse::{due_at, nth, number, subject};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_core::{BotSpec, Content, ConversationContext, Entity, Localized, Message, ReminderAction};
use switchboard_store::{NewReminder, Reminder, ReminderStatus, Task, TaskStatus};

/// `[reminders]` in the server configuration.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemindersConfig {
    /// How often due reminders are looked for.
    pub poll_interval_ms: u64,
    /// A reminder firing later than this after its time (the server was down) says so.
    pub late_grace_ms: u64,
}

/// The context variable with the handler's state between turns.
const STATE: &str = "reminders";
/// Longest list shown.
const LIST_MAX: u32 = 20;
/// A snooze without a duration.
const DEFAULT_SNOOZE_SECS: i64 = 10 * 60;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct State {
    /// Reminder ids in the order of the last list shown: "cancel reminder 2" means the second.
    listed: Vec<i64>,
    /// Task ids in the order of the last task list shown.
    tasks_listed: Vec<i64>,
    /// What to be reminded of, while the bot asks when.
    pending_text: Option<String>,
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

/// Answers an intent of the `reminders` handler. It runs in the pipeline (not in
/// `handlers::run`) because it reads and writes the store. Writes are keyed by the inbound
/// message, so a retried turn finds what its first attempt stored instead of adding it again.
pub async fn handle(
    app: &App,
    turn: &Turn<'_>,
    message: &Message,
    found: &[Entity],
    ctx: &mut ConversationContext,
) -> anyhow::Result<Vec<Content>> {
    let intent = turn.intent.context("the reminders handler answers intents only")?;
    let action = intent
        .action
        .with_context(|| format!("intent {} has no reminders action", intent.name))?;
    ctx.fallback_streak = 0;
    let tenant = &message.tenant;
    let user = message.user.as_str();
    let spec = &turn.bot.spec;
    let tenant_zone = app.store.tenant_settings(tenant).await?.time_zone;
    let (zone_name, zone) = user_zone(spec, tenant_zone.as_deref(), ctx);
    let now = message.created_at;
    let mut state = State::load(ctx);
    let mut values = json!({
        "found": true, "reminder": null, "reminders": [], "task": null, "tasks": [],
    });
    match action {
        ReminderAction::Create => {
            // The text kept while asking counts only while that question is open: the context
            // drops `awaiting` when it expires, and a new question replaces it.
            let asked = ctx
                .variables
                .get(AWAITING)
                .is_some_and(|a| a["intent"] == intent.name.as_str());
            let kept = state.pending_text.clone().filter(|_| asked);
            let text = subject(turn.text, found).or(kept);
            let due = due_at(turn.entities, now, &zone);
            if due.is_none() && !intent.ask.is_empty() {
                // Ask when, and remember what: the answer ("tomorrow at 9") completes the intent.
                state.pending_text = text;
                state.save(ctx)?;
                ctx.variables.insert(
                    AWAITING.to_owned(),
                    json!({ "intent": intent.name, "entities": turn.entities }),
                );
                let reply = render(turn, ctx, &ask_key(&intent.name), &intent.ask, &values)?;
                return Ok(vec![Content::text(reply)]);
            }
            ctx.variables.remove(AWAITING);
            state.pending_text = None;
            match (due, text) {
                (Some(due), Some(text)) => {
                    let reminder = app
                        .store
                        .add_reminder(
                            tenant,
                            NewReminder {
                                conversation: message.conversation.clone(),
                                text,
                                language: turn.language.to_owned(),
                                time_zone: zone_name,
                                due_at: due,
                                source_message: message.id.clone(),
                            },
                        )
                        .await
                        .context("storing the reminder")?;
                    values["reminder"] = view(&reminder, 0, &zone);
                }
                _ => values["found"] = false.into(),
            }
        }
        ReminderAction::List => {
            let pending = app
                .store
                .reminders(tenant, user, ReminderStatus::Pending, LIST_MAX)
                .await?;
            state.listed = pending.iter().map(|r| r.id).collect();
            values["reminders"] = pending.iter().enumerate().map(|(i, r)| view(r, i + 1, &zone)).collect();
        }
        ReminderAction::Snooze => {
            let target = match number(turn.entities) {
                Some(n) => pick_reminder(app, message, &state, n).await?,
                // No number: the reminder that just fired.
                None => app
                    .store
                    .reminders(tenant, user, ReminderStatus::Fired, 1)
                    .await?
                    .into_iter()
                    .next(),
            };
            // "for 10 minutes" (a duration) or "until 5pm" / "in an hour" (a datetime).
            let until = due_at(turn.entities, now, &zone).unwrap_or(now + DEFAULT_SNOOZE_SECS * 1000);
            let snoozed = match target {
                Some(r) if app.store.snooze_reminder(tenant, r.id, until).await? => {
                    app.store.reminder(tenant, r.id).await?
                }
                _ => None,
            };
            set_reminder(&mut values, snoozed.as_ref(), &zone);
        }
        ReminderAction::Cancel => {
            let target = match number(turn.entities) {
                Some(n) => pick_reminder(app, message, &state, n).await?,
                // No number: only unambiguous with a single pending reminder.
                None => {
                    let pending = app.store.reminders(tenant, user, ReminderStatus::Pending, 2).await?;
                    if pending.len() == 1 {
                        pending.into_iter().next()
                    } else {
                        None
                    }
                }
            };
            let cancelled = match target {
                Some(r) if app.store.cancel_reminder(tenant, r.id).await? => Some(r),
                _ => None,
            };
            set_reminder(&mut values, cancelled.as_ref(), &zone);
        }
        ReminderAction::AddTask => match subject(turn.text, found) {
            Some(text) => {
                let task = app
                    .store
                    .add_task(tenant, user, &text, &message.id)
                    .await
                    .context("storing the task")?;
                values["task"] = task_view(&task, 0);
            }
            None => values["found"] = false.into(),
        },
        ReminderAction::ListTasks => {
            let open = app.store.tasks(tenant, user, Some(TaskStatus::Open), LIST_MAX).await?;
            state.tasks_listed = open.iter().map(|t| t.id).collect();
            values["tasks"] = open.iter().enumerate().map(|(i, t)| task_view(t, i + 1)).collect();
        }
        ReminderAction::DoneTask => {
            let open = app.store.tasks(tenant, user, Some(TaskStatus::Open), LIST_MAX).await?;
            let target = match number(turn.entities) {
                Some(n) => nth(&state.tasks_listed, n)
                    .and_then(|id| open.iter().find(|t| t.id == id))
                    .or_else(|| state.tasks_listed.is_empty().then(|| open.get(n - 1)).flatten()),
                None if open.len() == 1 => open.first(),
                None => None,
            };
            match target {
                Some(t) if app.store.set_task_status(tenant, user, t.id, TaskStatus::Done).await? => {
                    values["task"] = task_view(t, 0);
                }
                _ => values["found"] = false.into(),
            }
        }
    }
    state.save(ctx)?;
    let text = render(turn, ctx, &intent.name, &intent.responses, &values)?;
    Ok(vec![Content::text(text)])
}

fn set_reminder(values: &mut Value, reminder: Option<&Reminder>, zone: &TimeZone) {
    match reminder {
        Some(r) => values["reminder"] = view(r, 0, zone),
        None => values["found"] = false.into(),
    }
}

/// The reminder numbered `n` in the last list shown, or in the current list when none was.
async fn pick_reminder(app: &App, message: &Message, state: &State, n: usize) -> anyhow::Result<Option<Reminder>> {
    if !state.listed.is_empty() {
        return match nth(&state.listed, n) {
            Some(id) => Ok(app.store.reminder(&message.tenant, id).await?),
            None => Ok(None),
        };
    }
    let pending = app
        .store
        .reminders(&message.tenant, &message.user, ReminderStatus::Pending, LIST_MAX)
        .await?;
    Ok(pending.into_iter().nth(n - 1))
}

/// The user's time zone when the conversation knows it, else the tenant's, else the bot's.
fn user_zone(spec: &BotSpec, tenant_zone: Option<&str>, ctx: &ConversationContext) -> (String, TimeZone) {
    let user = ctx.variables.get("timezone").and_then(Value::as_str);
    user.into_iter()
        .chain(tenant_zone)
        .chain([spec.timezone.as_str()])
        .find_map(|name| TimeZone::get(name).ok().map(|z| (name.to_owned(), z)))
        .unwrap_or_else(|| ("UTC".to_owned(), TimeZone::UTC))
}

/// A reminder as the templates see it.
fn view(r: &Reminder, number: usize, zone: &TimeZone) -> Value {
    let due = Timestamp::from_millisecond(r.due_at)
        .map(|t| t.to_zoned(zone.clone()))
        .ok();
    let fmt = |f: &str| due.as_ref().map(|d| d.strftime(f).to_string()).unwrap_or_default();
    json!({
        "number": number,
        "text": r.text,
        "due": fmt("%Y-%m-%d %H:%M"),
        "date": fmt("%Y-%m-%d"),
        "time": fmt("%H:%M"),
        "status": r.status.as_str(),
    })
}

fn task_view(t: &Task, number: usize) -> Value {
    json!({ "number": number, "text": t.text, "status": t.status.as_str() })
}

/// Renders a response of the intent like `handlers` does, with the handler's own values
/// (`reminder`, `reminders`, `task`, `tasks`, `found`) next to the usual ones.
fn render(
    turn: &Turn<'_>,
    ctx: &ConversationContext,
    key: &str,
    texts: &Localized,
    extra: &Value,
) -> anyhow::Result<String> {
    crate::engine::handlers::render_with(turn, ctx, key, texts, extra.clone())
}
