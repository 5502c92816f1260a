//! A tenant's traffic per UTC day and channel, and its most frequent intents.

use super::rows::{channel, query_all};
use crate::{DayStats, IntentCount, Result};
use rusqlite::{Connection, params};
use std::collections::HashMap;
use switchboard_core::TenantId;

const DAY: &str = "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')";

pub(super) fn days(conn: &Connection, t: &TenantId, since: i64, until: i64) -> Result<Vec<DayStats>> {
    let mut stats = query_all(
        conn,
        &format!(
            "SELECT {DAY} AS day, channel, \
               SUM(direction = 'in'), SUM(direction = 'out'), \
               COUNT(DISTINCT CASE WHEN direction = 'in' THEN conversation_id END), \
               SUM(direction = 'in' AND json_extract(processed, '$.handler') = 'fallback'), \
               SUM(direction = 'in' AND json_extract(processed, '$.handler') = 'handoff') \
             FROM messages WHERE tenant_id = ?1 AND created_at >= ?2 AND created_at < ?3 \
             GROUP BY day, channel ORDER BY day, channel"
        ),
        params![t.as_str(), since, until],
        |r| {
            let n = |i| r.get::<_, Option<i64>>(i).map(|v| v.unwrap_or(0).max(0) as u64);
            Ok(DayStats {
                day: r.get(0)?,
                channel: channel(r.get(1)?)?,
                inbound: n(2)?,
                outbound: n(3)?,
                conversations: n(4)?,
                fallbacks: n(5)?,
                handoffs: n(6)?,
                avg_response_ms: None,
                max_response_ms: None,
            })
        },
    )?;
    // The first reply to each inbound message, by the reply's day and channel.
    let latency = query_all(
        conn,
        "SELECT strftime('%Y-%m-%d', r.created_at / 1000, 'unixepoch') AS day, r.channel, \
           AVG(r.created_at - i.created_at), MAX(r.created_at - i.created_at) \
         FROM messages r JOIN messages i ON i.id = r.in_reply_to \
         WHERE r.tenant_id = ?1 AND r.reply_index = 0 AND r.created_at >= ?2 AND r.created_at < ?3 \
         GROUP BY day, r.channel",
        params![t.as_str(), since, until],
        |r| Ok(((r.get::<_, String>(0)?, channel(r.get(1)?)?), (r.get(2)?, r.get(3)?))),
    )?;
    let latency: HashMap<_, (Option<f64>, Option<i64>)> = latency.into_iter().collect();
    for s in &mut stats {
        if let Some((avg, max)) = latency.get(&(s.day.clone(), s.channel)) {
            s.avg_response_ms = *avg;
            s.max_response_ms = *max;
        }
    }
    Ok(stats)
}

pub(super) fn intents(conn: &Connection, t: &TenantId, since: i64, until: i64, limit: u32) -> Result<Vec<IntentCount>> {
    query_all(
        conn,
        "SELECT json_extract(processed, '$.intent') AS intent, COUNT(*) AS n FROM messages \
         WHERE tenant_id = ?1 AND created_at >= ?2 AND created_at < ?3 AND direction = 'in' AND intent IS NOT NULL \
         GROUP BY intent ORDER BY n DESC, intent LIMIT ?4",
        params![t.as_str(), since, until, limit],
        |r| {
            Ok(IntentCount {
                intent: r.get(0)?,
                count: r.get::<_, i64>(1)?.max(0) as u64,
            })
        },
    )
}
