//! A tenant's contacts, message search, traffic per UTC day and channel, and most frequent
//! intents.

use super::rows::{MESSAGE_COLS, channel, message_row};
use crate::{Contact, DayStats, IntentCount, Result};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;
use switchboard_core::{Message, TenantId};

/// The UTC date of a time in epoch ms. The integer division truncates like SQLite's
/// `created_at / 1000`, so both backends put a message on the same day.
macro_rules! utc_day {
    ($col:literal) => {
        concat!(
            "to_char(to_timestamp(",
            $col,
            " / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        )
    };
}
pub(super) use utc_day;

fn counter(r: &PgRow, i: usize) -> Result<u64> {
    Ok(r.try_get::<Option<i64>, _>(i)?.unwrap_or(0).max(0) as u64)
}

/// Contacts, most recently active first, with the language of their latest conversation.
pub(super) async fn contacts(pool: &PgPool, t: &TenantId, limit: u32) -> Result<Vec<Contact>> {
    // SQLite reads the bare `context` of the row holding MAX(updated_at); PostgreSQL has no bare
    // columns, so the latest conversation's language is picked explicitly.
    let rows = sqlx::query(
        "SELECT channel, user_id, COUNT(*), \
           (array_agg((context::jsonb)->>'language' ORDER BY updated_at DESC))[1], \
           MIN(created_at), MAX(updated_at) \
         FROM conversations WHERE tenant_id = $1 GROUP BY channel, user_id \
         ORDER BY MAX(updated_at) DESC LIMIT $2",
    )
    .bind(t.as_str())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Contact {
                channel: channel(r.try_get(0)?)?,
                user: r.try_get(1)?,
                conversations: counter(r, 2)?,
                language: r.try_get(3)?,
                first_seen: r.try_get(4)?,
                last_seen: r.try_get(5)?,
            })
        })
        .collect()
}

/// Messages whose content contains `text`, case-insensitively, newest first.
pub(super) async fn search(pool: &PgPool, t: &TenantId, text: &str, limit: u32) -> Result<Vec<Message>> {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    // ILIKE stands in for SQLite's LIKE, which ignores ASCII case.
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLS} FROM messages WHERE tenant_id = $1 AND content ILIKE $2 ESCAPE '\\' \
         ORDER BY created_at DESC, seq DESC LIMIT $3"
    )))
    .bind(t.as_str())
    .bind(format!("%{escaped}%"))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(message_row)
    .collect()
}

pub(super) async fn days(pool: &PgPool, t: &TenantId, since: i64, until: i64) -> Result<Vec<DayStats>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        utc_day!("created_at"),
        " AS day, channel, \
           COUNT(*) FILTER (WHERE direction = 'in'), COUNT(*) FILTER (WHERE direction = 'out'), \
           COUNT(DISTINCT CASE WHEN direction = 'in' THEN conversation_id END), \
           COUNT(*) FILTER (WHERE direction = 'in' AND (processed::jsonb)->>'handler' = 'fallback'), \
           COUNT(*) FILTER (WHERE direction = 'in' AND (processed::jsonb)->>'handler' = 'handoff') \
         FROM messages WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
         GROUP BY 1, 2 ORDER BY 1, 2"
    ))
    .bind(t.as_str())
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let mut stats = rows
        .iter()
        .map(|r| {
            Ok(DayStats {
                day: r.try_get(0)?,
                channel: channel(r.try_get(1)?)?,
                inbound: counter(r, 2)?,
                outbound: counter(r, 3)?,
                conversations: counter(r, 4)?,
                fallbacks: counter(r, 5)?,
                handoffs: counter(r, 6)?,
                avg_response_ms: None,
                max_response_ms: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The first reply to each inbound message, by the reply's day and channel.
    let latency = sqlx::query(concat!(
        "SELECT ",
        utc_day!("r.created_at"),
        " AS day, r.channel, \
           AVG(r.created_at - i.created_at)::DOUBLE PRECISION, MAX(r.created_at - i.created_at) \
         FROM messages r JOIN messages i ON i.id = r.in_reply_to \
         WHERE r.tenant_id = $1 AND r.reply_index = 0 AND r.created_at >= $2 AND r.created_at < $3 \
         GROUP BY 1, 2"
    ))
    .bind(t.as_str())
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    let mut by_day: HashMap<_, (Option<f64>, Option<i64>)> = HashMap::new();
    for r in &latency {
        by_day.insert(
            (r.try_get::<String, _>(0)?, channel(r.try_get(1)?)?),
            (r.try_get(2)?, r.try_get(3)?),
        );
    }
    for s in &mut stats {
        if let Some((avg, max)) = by_day.get(&(s.day.clone(), s.channel)) {
            s.avg_response_ms = *avg;
            s.max_response_ms = *max;
        }
    }
    Ok(stats)
}

pub(super) async fn intents(
    pool: &PgPool,
    t: &TenantId,
    since: i64,
    until: i64,
    limit: u32,
) -> Result<Vec<IntentCount>> {
    // Ties go by the intent's bytes, as on SQLite, whatever the database's collation.
    let rows = sqlx::query(
        "SELECT intent, n FROM ( \
           SELECT (processed::jsonb)->>'intent' AS intent, COUNT(*) AS n FROM messages \
           WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 AND direction = 'in' \
           GROUP BY 1) counted \
         WHERE intent IS NOT NULL ORDER BY n DESC, intent COLLATE \"C\" LIMIT $4",
    )
    .bind(t.as_str())
    .bind(since)
    .bind(until)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IntentCount {
                intent: r.try_get(0)?,
                count: counter(r, 1)?,
            })
        })
        .collect()
}
