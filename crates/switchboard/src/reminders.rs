//! Reminders and tasks: the `reminders` handler (create, list, snooze, cancel; add, list and
//! finish tasks) and the firing loop that turns due reminders into bot messages.
//!
//! Reminders live in the store, not in memory, so they survive restarts; the loop claims due
//! ones atomically (`Store::claim_due_reminders`), so a reminder fires once even with two
//! instances, and the message it becomes is stored in the same transaction that marks it fired.
//! What the conversation needs between turns (the numbers of the last list shown, the text of a
//! reminder still waiting for its time) is kept in the conversation context.

use crate::app::App;
use crate::handlers::Turn;
use crate::route::AWAITING;
use crate::tenants::{ask_key, template_name};
use crate::webchat::ServerFrame;
use anyhow::{Context as _, anyhow};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::Duration;
use switchboard_core::{
    BotSpec, Channel, Content, ConversationContext, Entity, Localized, Message, QuietHours, ReminderAction,
};
use switchboard_store::{NewReminder, Reminder, ReminderStatus, Task, TaskStatus};
use tokio::sync::watch;

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
/// Reminders claimed per round of the loop.
const CLAIM_BATCH: u32 = 100;
/// Longest list shown.
const LIST_MAX: u32 = 20;
/// A snooze without a duration.
const DEFAULT_SNOOZE_SECS: i64 = 10 * 60;
/// A day without a time ("remind me tomorrow") means this hour.
const DEFAULT_HOUR: i8 = 9;

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
    let (zone_name, zone) = user_zone(spec, ctx);
    let now = message.created_at;
    let mut state = State::load(ctx);
    let mut values = json!({
        "found": true, "reminder": null, "reminders": [], "task": null, "tasks": [],
    });
    match action {
        ReminderAction::Create => {
            let text = subject(turn.text, found).or_else(|| state.pending_text.clone());
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

fn nth(ids: &[i64], n: usize) -> Option<i64> {
    n.checked_sub(1).and_then(|i| ids.get(i)).copied()
}

/// "cancel reminder 2", "the second one": a positive whole number.
fn number(entities: &Map<String, Value>) -> Option<usize> {
    ["number", "ordinal"]
        .iter()
        .filter_map(|k| entities.get(*k).and_then(Value::as_f64))
        .find(|n| *n >= 1.0 && n.fract() == 0.0 && *n < 1000.0)
        .map(|n| n as usize)
}

/// The user's time zone when the conversation knows it, else the bot's.
fn user_zone(spec: &BotSpec, ctx: &ConversationContext) -> (String, TimeZone) {
    let user = ctx.variables.get("timezone").and_then(Value::as_str);
    user.into_iter()
        .chain([spec.timezone.as_str()])
        .find_map(|name| TimeZone::get(name).ok().map(|z| (name.to_owned(), z)))
        .unwrap_or_else(|| ("UTC".to_owned(), TimeZone::UTC))
}

/// When the message says: its `datetime` ("tomorrow at 9", "in 20 minutes"; a day alone means
/// 09:00 that day), else its `duration` from now.
fn due_at(entities: &Map<String, Value>, now: i64, zone: &TimeZone) -> Option<i64> {
    if let Some(dt) = entities.get("datetime").filter(|v| !v.is_null()) {
        let at: Timestamp = dt.get("value")?.as_str()?.parse().ok()?;
        if dt.get("grain").and_then(Value::as_str) == Some("day") {
            let day = at.to_zoned(zone.clone()).date();
            return Some(
                day.at(DEFAULT_HOUR, 0, 0, 0)
                    .to_zoned(zone.clone())
                    .ok()?
                    .timestamp()
                    .as_millisecond(),
            );
        }
        return Some(at.as_millisecond());
    }
    let secs = entities.get("duration").and_then(Value::as_f64)?;
    Some(now + (secs.round() as i64) * 1000)
}

/// Ways of asking, stripped from the front of the message to leave what to be reminded of.
/// Longer phrases come before their beginnings.
const LEADS: &[&str] = &[
    "please remind me to",
    "can you remind me to",
    "remind me to",
    "remind me about",
    "remind me of",
    "remind me",
    "set a reminder to",
    "set a reminder for",
    "set a reminder",
    "add a reminder to",
    "reminder to",
    "reminder:",
    "please add a task to",
    "add a task to",
    "add a task:",
    "add a task",
    "add task to",
    "add task:",
    "add task",
    "new task:",
    "new task",
    "add to my tasks",
    "add to my to-do list",
    "todo:",
    "to-do:",
    "task:",
    "recuérdame que",
    "recuérdame",
    "recuerdame que",
    "recuerdame",
    "pon un recordatorio para",
    "añade la tarea",
    "añade una tarea:",
    "añade una tarea",
    "añadir tarea",
    "nueva tarea:",
    "nueva tarea",
    "tarea:",
    "erinnere mich daran,",
    "erinnere mich daran",
    "erinnere mich an",
    "erinnere mich",
    "neue aufgabe:",
    "neue aufgabe",
    "aufgabe hinzufügen:",
    "aufgabe hinzufügen",
    "aufgabe:",
];

/// Words left dangling at either end once the time is cut out ("call mom at" -> "call mom").
const DANGLING: &[&str] = &[
    "at", "on", "in", "by", "for", "to", "que", "a", "las", "el", "um", "am", "zu",
];

/// What to be reminded of (or the task): the message without the time expressions and the
/// way of asking. `None` when nothing is left.
fn subject(text: &str, found: &[Entity]) -> Option<String> {
    let mut kept = String::with_capacity(text.len());
    let mut at = 0;
    let mut spans: Vec<(usize, usize)> = found
        .iter()
        .filter(|e| ["datetime", "date", "time", "duration"].contains(&e.entity.as_str()))
        .map(|e| (e.start, e.end))
        .collect();
    spans.sort_unstable();
    for (start, end) in spans {
        if start < at {
            continue;
        }
        kept.push_str(text.get(at..start)?);
        kept.push(' ');
        at = end;
    }
    kept.push_str(text.get(at..)?);
    let mut s = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    let trim = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || ",.;:!?¡¿".contains(c))
            .to_owned()
    };
    s = trim(&s);
    if let Some(lead) = LEADS.iter().find(|l| starts_with_ignore_case(&s, l)) {
        s = trim(&s[lead.len()..]);
    }
    // Cut dangling words until none is left at either end.
    loop {
        let words: Vec<&str> = s.split(' ').collect();
        let first = words.first().is_some_and(|w| is_dangling(w)) && words.len() > 1;
        let last = words.last().is_some_and(|w| is_dangling(w)) && words.len() > 1;
        if !first && !last {
            break;
        }
        let from = usize::from(first);
        let to = words.len() - usize::from(last);
        s = trim(&words[from..to.max(from)].join(" "));
    }
    (!s.is_empty()).then_some(s)
}

fn is_dangling(word: &str) -> bool {
    DANGLING.iter().any(|d| d.eq_ignore_ascii_case(word))
}

/// Case-insensitive prefix test that is safe on any UTF-8 (non-ASCII bytes compare as-is).
fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix)
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
    let spec = &turn.bot.spec;
    let lang = match texts {
        Localized::ByLanguage(m) if m.get(turn.language).is_some_and(|v| !v.is_empty()) => turn.language,
        _ => spec.default_language.as_str(),
    };
    let count = texts.for_language(lang, &spec.default_language).len().max(1);
    let name = template_name(key, lang, (ctx.turns as usize) % count);
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
    if let (Some(all), Some(extra)) = (values.as_object_mut(), extra.as_object()) {
        all.extend(extra.clone());
    }
    template
        .render(minijinja::value::Serde(&values))
        .map_err(|e| anyhow!("rendering {name}: {e:#}"))
}

/// Fires due reminders every `reminders.poll_interval_ms` until `stop`.
pub async fn run_loop(app: &App, stop: &mut watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(app.config.reminders.poll_interval_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = fire_due(app).await {
                    tracing::warn!(error = %format!("{e:#}"), "firing reminders failed");
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// One round: claims what is due and fires it (or holds it through quiet hours). Returns how
/// many fired. A reminder whose firing fails stays claimed until the claim lapses, then is
/// tried again.
pub async fn fire_due(app: &App) -> anyhow::Result<usize> {
    let now = app.clock.now_ms();
    let claimed = app
        .store
        .claim_due_reminders(now, CLAIM_BATCH)
        .await
        .context("claiming due reminders")?;
    let mut fired = 0;
    for r in claimed {
        match fire_one(app, &r, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(tenant = %r.tenant, reminder = r.id, error = %format!("{e:#}"), "cannot fire a reminder")
            }
        }
    }
    Ok(fired)
}

async fn fire_one(app: &App, r: &Reminder, now: i64) -> anyhow::Result<bool> {
    let claimed_at = r.claimed_at.context("a claimed reminder has its claim time")?;
    let zone = TimeZone::get(&r.time_zone).unwrap_or(TimeZone::UTC);
    let quiet = app
        .tenants
        .get(&r.tenant)
        .and_then(|bot| bot.spec.reminders.quiet_hours.clone());
    if let Some(q) = quiet
        && let Some(until) = quiet_until(&q, now, &zone)?
    {
        app.store
            .hold_reminder(&r.tenant, r.id, until)
            .await
            .context("holding a reminder through quiet hours")?;
        return Ok(false);
    }
    let late = now - r.fire_at > app.config.reminders.late_grace_ms as i64;
    let text = fired_text(r, late.then_some(now), &zone);
    let deliver = !matches!(r.channel, Channel::Webchat | Channel::Api);
    let message = app
        .store
        .fire_reminder(&r.tenant, r.id, claimed_at, Content::text(text), deliver)
        .await
        .context("storing the fired reminder")?;
    let Some(message) = message else {
        return Ok(false);
    };
    if !deliver {
        app.hub.publish(&r.tenant, &r.user, ServerFrame::message(&message));
        crate::metrics::message(r.tenant.as_str(), r.channel.as_str(), "out", "sent");
    }
    Ok(true)
}

/// When the quiet hours around `now` end, if `now` is inside them.
fn quiet_until(q: &QuietHours, now: i64, zone: &TimeZone) -> anyhow::Result<Option<i64>> {
    let (start, end) = q.minutes()?;
    let local = Timestamp::from_millisecond(now)?.to_zoned(zone.clone());
    let minute = local.hour() as u16 * 60 + local.minute() as u16;
    if !QuietHours::contains(start, end, minute) {
        return Ok(None);
    }
    let (h, m) = ((end / 60) as i8, (end % 60) as i8);
    let mut until = local.date().at(h, m, 0, 0).to_zoned(zone.clone())?;
    if until <= local {
        until = local.date().tomorrow()?.at(h, m, 0, 0).to_zoned(zone.clone())?;
    }
    Ok(Some(until.timestamp().as_millisecond()))
}

/// The message a reminder becomes, in the language it was set in; `late_now` adds the note
/// that it is late (the server was down when it was due).
fn fired_text(r: &Reminder, late_now: Option<i64>, zone: &TimeZone) -> String {
    let (head, note) = match r.language.as_str() {
        "es" => ("⏰ Recordatorio", "con retraso: era para las"),
        "de" => ("⏰ Erinnerung", "verspätet: fällig war"),
        _ => ("⏰ Reminder", "late: this was due at"),
    };
    let mut text = format!("{head}: {}", r.text);
    if let Some(now) = late_now
        && let (Ok(due), Ok(now)) = (Timestamp::from_millisecond(r.due_at), Timestamp::from_millisecond(now))
    {
        let (due, now) = (due.to_zoned(zone.clone()), now.to_zoned(zone.clone()));
        let when = if due.date() == now.date() {
            due.strftime("%H:%M").to_string()
        } else {
            due.strftime("%Y-%m-%d %H:%M").to_string()
        };
        text.push_str(&format!(" ({note} {when})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{EntitySource, MessageId, TenantId};

    fn entity(kind: &str, text: &str, raw: &str) -> Entity {
        let start = text.find(raw).expect("raw is in the text");
        Entity {
            entity: kind.into(),
            start,
            end: start + raw.len(),
            raw: raw.into(),
            value: Value::Null,
            source: EntitySource::Builtin,
        }
    }

    #[test]
    fn the_subject_is_the_message_without_the_time_and_the_asking() {
        let cases = [
            ("remind me to call mom tomorrow at 9", Some("tomorrow at 9"), "call mom"),
            (
                "Remind me in 20 minutes to check the oven",
                Some("in 20 minutes"),
                "check the oven",
            ),
            (
                "please remind me to water the plants at 18:00!",
                Some("18:00"),
                "water the plants",
            ),
            (
                "recuérdame llamar a mamá mañana a las 9",
                Some("mañana a las 9"),
                "llamar a mamá",
            ),
            ("Erinnere mich morgen um 9 an den Müll", Some("morgen um 9"), "den Müll"),
            ("add task buy milk", None, "buy milk"),
            ("todo: file taxes", None, "file taxes"),
        ];
        for (text, time, want) in cases {
            let found: Vec<Entity> = time.map(|t| entity("datetime", text, t)).into_iter().collect();
            assert_eq!(subject(text, &found).as_deref(), Some(want), "{text}");
        }
        let found = [entity("datetime", "remind me tomorrow at 9", "tomorrow at 9")];
        assert_eq!(subject("remind me tomorrow at 9", &found), None, "nothing left");
        assert_eq!(subject("", &[]), None);
        // Spans that do not fit the text are ignored rather than trusted.
        let bad = Entity {
            start: 2,
            end: 400,
            ..entity("datetime", "é remind me", "remind")
        };
        assert_eq!(subject("é remind me", &[bad]), None);
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("zone")
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("instant").as_millisecond()
    }

    #[test]
    fn due_times_come_from_the_datetime_or_the_duration() {
        let now = ms("2026-11-20T12:00:00Z");
        let e = |v: Value| v.as_object().cloned().expect("map");
        let at = e(json!({"datetime": {"value": "2026-11-21T09:00:00+01:00", "grain": "hour"}}));
        assert_eq!(due_at(&at, now, &berlin()), Some(ms("2026-11-21T08:00:00Z")));
        let day = e(json!({"datetime": {"value": "2026-11-21T00:00:00+01:00", "grain": "day"}}));
        assert_eq!(
            due_at(&day, now, &berlin()),
            Some(ms("2026-11-21T08:00:00Z")),
            "a day alone means 09:00 local"
        );
        let dur = e(json!({"datetime": null, "duration": 1200}));
        assert_eq!(due_at(&dur, now, &berlin()), Some(now + 1_200_000));
        assert_eq!(due_at(&e(json!({"datetime": null})), now, &berlin()), None);
        let junk = e(json!({"datetime": {"value": "soon", "grain": "hour"}}));
        assert_eq!(due_at(&junk, now, &berlin()), None);
    }

    #[test]
    fn quiet_hours_hold_until_they_end_in_the_local_zone() {
        let q = QuietHours {
            start: "22:00".into(),
            end: "08:00".into(),
        };
        // 23:30 in Berlin (UTC+1 in November): held until 08:00 the next morning.
        let until = quiet_until(&q, ms("2026-11-20T22:30:00Z"), &berlin()).expect("ok");
        assert_eq!(until, Some(ms("2026-11-21T07:00:00Z")));
        // 06:00 local: until 08:00 the same day.
        let until = quiet_until(&q, ms("2026-11-21T05:00:00Z"), &berlin()).expect("ok");
        assert_eq!(until, Some(ms("2026-11-21T07:00:00Z")));
        assert_eq!(
            quiet_until(&q, ms("2026-11-21T11:00:00Z"), &berlin()).expect("ok"),
            None
        );
    }

    fn reminder(due_at: i64, language: &str) -> Reminder {
        Reminder {
            id: 1,
            tenant: TenantId::parse("demo").expect("id"),
            conversation: switchboard_core::ConversationId::generate(),
            user: "ana".into(),
            channel: Channel::Webchat,
            text: "call mom".into(),
            language: language.into(),
            time_zone: "Europe/Berlin".into(),
            due_at,
            fire_at: due_at,
            status: ReminderStatus::Firing,
            source_message: MessageId::generate(),
            message: None,
            claimed_at: Some(due_at),
            created_at: 0,
            fired_at: None,
        }
    }

    #[test]
    fn a_late_reminder_says_when_it_was_due_in_local_time() {
        let due = ms("2026-11-21T08:00:00Z");
        assert_eq!(
            fired_text(&reminder(due, "en"), None, &berlin()),
            "⏰ Reminder: call mom"
        );
        assert_eq!(
            fired_text(&reminder(due, "en"), Some(due + 3_600_000), &berlin()),
            "⏰ Reminder: call mom (late: this was due at 09:00)"
        );
        assert_eq!(
            fired_text(&reminder(due, "de"), Some(due + 86_400_000), &berlin()),
            "⏰ Erinnerung: call mom (verspätet: fällig war 2026-11-21 09:00)"
        );
    }

    #[test]
    fn numbers_pick_from_the_last_list() {
        let e = |v: Value| v.as_object().cloned().expect("map");
        assert_eq!(number(&e(json!({"number": 2}))), Some(2));
        assert_eq!(number(&e(json!({"number": null, "ordinal": 3}))), Some(3));
        assert_eq!(number(&e(json!({"number": 0}))), None);
        assert_eq!(number(&e(json!({"number": 1.5}))), None);
        assert_eq!(nth(&[10, 20, 30], 2), Some(20));
        assert_eq!(nth(&[10], 0), None);
        assert_eq!(nth(&[10], 2), None);
    }
}
