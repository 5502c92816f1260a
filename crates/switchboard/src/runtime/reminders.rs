//! Firing reminders, a kind of due work of the job runtime (`jobs.rs`): due reminders are claimed (one instance gets each), held through the
//! tenant's quiet hours, and stored as a proactive message in the same transaction that marks
//! them fired; web chat users get it pushed, platforms through the outbox.

use crate::app::App;
use crate::runtime::frames::ServerFrame;
use anyhow::Context as _;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use switchboard_core::{Channel, Content, QuietHours};
use switchboard_store::Reminder;

/// Reminders claimed per round of the loop.
const CLAIM_BATCH: u32 = 100;

/// How often the reminders of a suspended tenant look again whether it was resumed.
const SUSPENDED_RECHECK_MS: i64 = 60_000;

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
            Ok(true) => {
                fired += 1;
                crate::runtime::metrics::job("reminder", "sent");
            }
            Ok(false) => crate::runtime::metrics::job("reminder", "held"),
            Err(e) => {
                crate::runtime::metrics::job("reminder", "retry");
                tracing::warn!(tenant = %r.tenant, reminder = r.id, error = %format!("{e:#}"), "cannot fire a reminder")
            }
        }
    }
    Ok(fired)
}

async fn fire_one(app: &App, r: &Reminder, now: i64) -> anyhow::Result<bool> {
    let claimed_at = r.claimed_at.context("a claimed reminder has its claim time")?;
    // A suspended tenant says nothing; its reminders wait and fire (late) once it is resumed.
    if crate::tenant_data::suspended(app.store.as_ref(), &r.tenant).await? {
        app.store
            .hold_reminder(&r.tenant, r.id, now + SUSPENDED_RECHECK_MS)
            .await
            .context("holding the reminder of a suspended tenant")?;
        return Ok(false);
    }
    // Someone who said "stop" gets nothing, reminders included.
    let consent = app.store.latest_consent(&r.tenant, r.channel, &r.user).await?;
    if consent.is_some_and(|c| c.decision.silences()) {
        app.store
            .cancel_reminder(&r.tenant, r.id)
            .await
            .context("cancelling the reminder of a person who opted out")?;
        return Ok(false);
    }
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
        app.hub
            .publish(r.channel, &r.tenant, &r.user, ServerFrame::message(&message));
        crate::runtime::metrics::message(r.tenant.as_str(), r.channel.as_str(), "out", "sent");
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
    use switchboard_core::{MessageId, TenantId};
    use switchboard_store::ReminderStatus;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("zone")
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("instant").as_millisecond()
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
}
