//! The bot definition's part for reminders and tasks: what an intent of the `reminders`
//! handler does (`action`), and the tenant's quiet hours.

use crate::bot::BotError;
use serde::{Deserialize, Serialize};

/// What an intent with `handler = "reminders"` does. A closed set, matched in the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderAction {
    /// "remind me to call mom tomorrow at 9"
    Create,
    /// "what are my reminders"
    List,
    /// "snooze 10 minutes", "snooze reminder 2 for an hour"
    Snooze,
    /// "cancel reminder 2"
    Cancel,
    /// "add task buy milk"
    AddTask,
    /// "show my tasks"
    ListTasks,
    /// "task 2 is done"
    DoneTask,
}

impl ReminderAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderAction::Create => "create",
            ReminderAction::List => "list",
            ReminderAction::Snooze => "snooze",
            ReminderAction::Cancel => "cancel",
            ReminderAction::AddTask => "add_task",
            ReminderAction::ListTasks => "list_tasks",
            ReminderAction::DoneTask => "done_task",
        }
    }
}

/// `[reminders]` in the bot definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersSpec {
    /// Reminders due inside these hours (in the user's time zone) wait until they end.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

/// `quiet_hours = { start = "22:00", end = "08:00" }`; a window may run past midnight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

impl QuietHours {
    /// Start and end as minutes after midnight.
    pub fn minutes(&self) -> Result<(u16, u16), BotError> {
        Ok((clock_minutes(&self.start)?, clock_minutes(&self.end)?))
    }

    /// Whether the local time `minute` (after midnight) falls inside the window.
    pub fn contains(start: u16, end: u16, minute: u16) -> bool {
        if start <= end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }
}

/// "HH:MM" (24-hour) as minutes after midnight.
fn clock_minutes(s: &str) -> Result<u16, BotError> {
    let bad = || BotError::Invalid(format!("quiet hours: {s:?} is not a time like \"22:00\""));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || s.trim().len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl RemindersSpec {
    pub fn validate(&self) -> Result<(), BotError> {
        if let Some(q) = &self.quiet_hours {
            let (start, end) = q.minutes()?;
            if start == end {
                return Err(BotError::Invalid("quiet hours start and end at the same time".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_parse_and_wrap_past_midnight() {
        let q = QuietHours {
            start: "22:00".into(),
            end: "08:00".into(),
        };
        let (start, end) = q.minutes().expect("valid");
        assert_eq!((start, end), (1320, 480));
        assert!(QuietHours::contains(start, end, 23 * 60));
        assert!(QuietHours::contains(start, end, 0));
        assert!(QuietHours::contains(start, end, 7 * 60 + 59));
        assert!(!QuietHours::contains(start, end, 8 * 60));
        assert!(!QuietHours::contains(start, end, 12 * 60));
        assert!(QuietHours::contains(720, 780, 750), "a window inside one day");
        assert!(!QuietHours::contains(720, 780, 780));
        for bad in ["24:00", "9:00", "09:60", "nine", "09-00", ""] {
            let q = QuietHours {
                start: bad.into(),
                end: "08:00".into(),
            };
            assert!(q.minutes().is_err(), "{bad:?}");
        }
    }
}
