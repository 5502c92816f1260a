//! Reminder and task rows.

use super::rows::*;
use crate::{Reminder, ReminderStatus, Result, Task, TaskStatus};
use sqlx::Row;
use sqlx::postgres::PgRow;

pub(super) const REMINDER_COLS: &str = "id, tenant_id, conversation_id, user_id, channel, text, language, time_zone, \
     due_at, fire_at, status, source_message, message_id, claimed_at, created_at, fired_at";

pub(super) fn reminder_row(r: &PgRow) -> Result<Reminder> {
    let status: String = r.try_get(10)?;
    let message: Option<String> = r.try_get(12)?;
    Ok(Reminder {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        conversation: conversation_id(r.try_get(2)?)?,
        user: r.try_get(3)?,
        channel: channel(r.try_get(4)?)?,
        text: r.try_get(5)?,
        language: r.try_get(6)?,
        time_zone: r.try_get(7)?,
        due_at: r.try_get(8)?,
        fire_at: r.try_get(9)?,
        status: ReminderStatus::parse(&status).ok_or_else(|| corrupt("reminder status", &status))?,
        source_message: message_id(r.try_get(11)?)?,
        message: message.map(message_id).transpose()?,
        claimed_at: r.try_get(13)?,
        created_at: r.try_get(14)?,
        fired_at: r.try_get(15)?,
    })
}

pub(super) const TASK_COLS: &str = "id, tenant_id, user_id, text, status, created_at, done_at";

pub(super) fn task_row(r: &PgRow) -> Result<Task> {
    let status: String = r.try_get(4)?;
    Ok(Task {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        user: r.try_get(2)?,
        text: r.try_get(3)?,
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", &status))?,
        created_at: r.try_get(5)?,
        done_at: r.try_get(6)?,
    })
}
