//! What concerns the person behind a conversation beyond the turn: the consent ledger and the
//! handoff to a human agent.

use super::PgStore;
use super::rows::{CONVERSATION_COLS, channel, conversation_row, corrupt, json, tenant};
use crate::{ConsentDecision, ConsentRecord, ConversationFilter, Result, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::{Channel, Conversation, ConversationId, Handoff, HandoffStatus, TenantId};

pub(super) const LEDGER_COLS: &str = "id, tenant_id, channel, user_id, decision, text_version, text, created_at";

fn ledger_row(r: &PgRow) -> Result<ConsentRecord> {
    ledger_row_at(r, 0)
}

/// A ledger entry whose columns start at `o` in the row.
pub(super) fn ledger_row_at(r: &PgRow, o: usize) -> Result<ConsentRecord> {
    let decision: String = r.try_get(o + 4)?;
    Ok(ConsentRecord {
        id: r.try_get(o)?,
        tenant: tenant(r.try_get(o + 1)?)?,
        channel: channel(r.try_get(o + 2)?)?,
        user: r.try_get(o + 3)?,
        decision: ConsentDecision::parse(&decision).ok_or_else(|| corrupt("consent decision", &decision))?,
        text_version: r.try_get(o + 5)?,
        text: r.try_get(o + 6)?,
        created_at: r.try_get(o + 7)?,
    })
}

pub(super) async fn latest_consent(
    s: &PgStore,
    t: &TenantId,
    channel: Channel,
    user: &str,
) -> Result<Option<ConsentRecord>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {LEDGER_COLS} FROM consent_ledger WHERE tenant_id = $1 AND channel = $2 AND user_id = $3 \
         ORDER BY id DESC LIMIT 1"
    )))
    .bind(t.as_str())
    .bind(channel.as_str())
    .bind(user)
    .fetch_optional(s.pool())
    .await?
    .as_ref()
    .map(ledger_row)
    .transpose()
}

pub(super) async fn ledger(
    s: &PgStore,
    t: &TenantId,
    user: Option<(Channel, &str)>,
    limit: u32,
) -> Result<Vec<ConsentRecord>> {
    let rows = match user {
        Some((channel, user)) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {LEDGER_COLS} FROM consent_ledger WHERE tenant_id = $1 AND channel = $2 AND user_id = $3 \
                 ORDER BY id DESC LIMIT $4"
            )))
            .bind(t.as_str())
            .bind(channel.as_str())
            .bind(user)
            .bind(i64::from(limit))
            .fetch_all(s.pool())
            .await?
        }
        None => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {LEDGER_COLS} FROM consent_ledger WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
            )))
            .bind(t.as_str())
            .bind(i64::from(limit))
            .fetch_all(s.pool())
            .await?
        }
    };
    rows.iter().map(ledger_row).collect()
}

/// An agent takes a handed-over conversation (or takes it over from another agent).
pub(super) async fn take_handoff(
    s: &PgStore,
    t: &TenantId,
    conversation: &ConversationId,
    agent: &str,
) -> Result<Handoff> {
    let now = s.now();
    let mut tx = s.begin().await?;
    // The row lock stands in for SQLite's single writer: a turn or another agent changing the
    // handoff between this read and the write below would otherwise be overwritten.
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONVERSATION_COLS} FROM conversations WHERE id = $1 AND tenant_id = $2 FOR UPDATE"
    )))
    .bind(conversation.as_str())
    .bind(t.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("conversation {conversation}")))?;
    let Some(mut handoff) = conversation_row(&row)?.handoff else {
        return Err(StoreError::Conflict(format!(
            "conversation {conversation} is not handed to a person"
        )));
    };
    handoff.status = HandoffStatus::Assigned;
    handoff.agent = Some(agent.to_owned());
    handoff.taken_at = Some(now);
    sqlx::query("UPDATE conversations SET handoff = $3, updated_at = $4 WHERE id = $1 AND tenant_id = $2")
        .bind(conversation.as_str())
        .bind(t.as_str())
        .bind(json(&handoff)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(handoff)
}

/// The bot answers again. Returns whether the conversation was handed over.
pub(super) async fn release_handoff(s: &PgStore, t: &TenantId, conversation: &ConversationId) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE conversations SET handoff = NULL, updated_at = $3 \
         WHERE id = $1 AND tenant_id = $2 AND handoff IS NOT NULL",
    )
    .bind(conversation.as_str())
    .bind(t.as_str())
    .bind(s.now())
    .execute(s.pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Conversations handed to a person, oldest first (the longest waiting at the top).
pub(super) async fn handoffs(s: &PgStore, t: &TenantId, limit: u32) -> Result<Vec<Conversation>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CONVERSATION_COLS} FROM conversations WHERE tenant_id = $1 AND handoff IS NOT NULL \
         ORDER BY updated_at LIMIT $2"
    )))
    .bind(t.as_str())
    .bind(i64::from(limit))
    .fetch_all(s.pool())
    .await?;
    let mut all = rows.iter().map(conversation_row).collect::<Result<Vec<_>>>()?;
    all.sort_by_key(|c| c.handoff.as_ref().map_or(0, |h| h.since));
    Ok(all)
}

enum Arg {
    Text(String),
    Int(i64),
}

pub(super) async fn conversations(
    s: &PgStore,
    t: &TenantId,
    f: &ConversationFilter,
    limit: u32,
) -> Result<Vec<Conversation>> {
    let mut sql = format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE tenant_id = $1");
    let mut args = vec![Arg::Text(t.as_str().to_owned())];
    let mut arg = |sql: &mut String, clause: &str, v: Arg| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(st) = f.status {
        arg(&mut sql, " AND status = ?", Arg::Text(st.as_str().to_owned()));
    }
    if let Some(c) = f.channel {
        arg(&mut sql, " AND channel = ?", Arg::Text(c.as_str().to_owned()));
    }
    if let Some(u) = &f.user {
        arg(&mut sql, " AND user_id = ?", Arg::Text(u.clone()));
    }
    if let Some(at) = f.since {
        arg(&mut sql, " AND created_at >= ?", Arg::Int(at));
    }
    if let Some(at) = f.until {
        arg(&mut sql, " AND created_at < ?", Arg::Int(at));
    }
    // Ids compare bytewise, as on SQLite, whatever the database's collation: pages continue
    // where the previous one's order left off.
    if let Some((at, id)) = &f.before {
        arg(&mut sql, " AND (created_at < ?", Arg::Int(*at));
        arg(&mut sql, " OR (created_at = ?", Arg::Int(*at));
        arg(&mut sql, " AND id COLLATE \"C\" < ?))", Arg::Text(id.clone()));
    }
    if f.handed_over {
        sql.push_str(" AND handoff IS NOT NULL");
    }
    arg(
        &mut sql,
        " ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT ?",
        Arg::Int(i64::from(limit)),
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
        };
    }
    q.fetch_all(s.pool()).await?.iter().map(conversation_row).collect()
}
