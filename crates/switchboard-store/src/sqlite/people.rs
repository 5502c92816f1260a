//! What concerns the person behind a conversation beyond the turn: the consent ledger and the
//! handoff to a human agent.

use super::rows::{CONVERSATION_COLS, channel, conversation_row, query_all, query_opt};
use crate::{ConsentDecision, ConsentRecord, NewConsent, Result, StoreError};
use rusqlite::{Connection, Row, params};
use switchboard_core::{Channel, Conversation, ConversationId, Handoff, HandoffStatus, TenantId};

const LEDGER_COLS: &str = "id, tenant_id, channel, user_id, decision, text_version, text, created_at";

fn ledger_row(r: &Row<'_>) -> Result<ConsentRecord> {
    let decision: String = r.get(4)?;
    Ok(ConsentRecord {
        id: r.get(0)?,
        tenant: super::rows::tenant(r.get(1)?)?,
        channel: channel(r.get(2)?)?,
        user: r.get(3)?,
        decision: ConsentDecision::parse(&decision)
            .ok_or_else(|| super::rows::corrupt("consent decision", &decision))?,
        text_version: r.get(5)?,
        text: r.get(6)?,
        created_at: r.get(7)?,
    })
}

pub(super) fn record_consent(
    conn: &Connection,
    tenant: &TenantId,
    channel: Channel,
    user: &str,
    c: &NewConsent,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO consent_ledger (tenant_id, channel, user_id, decision, text_version, text, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        tenant.as_str(),
        channel.as_str(),
        user,
        c.decision.as_str(),
        c.text_version,
        c.text,
        now
    ])?;
    Ok(())
}

pub(super) fn latest_consent(
    conn: &Connection,
    tenant: &TenantId,
    channel: Channel,
    user: &str,
) -> Result<Option<ConsentRecord>> {
    query_opt(
        conn,
        &format!(
            "SELECT {LEDGER_COLS} FROM consent_ledger WHERE tenant_id = ?1 AND channel = ?2 AND user_id = ?3 \
             ORDER BY id DESC LIMIT 1"
        ),
        params![tenant.as_str(), channel.as_str(), user],
        ledger_row,
    )
}

pub(super) fn ledger(
    conn: &Connection,
    tenant: &TenantId,
    user: Option<(Channel, &str)>,
    limit: u32,
) -> Result<Vec<ConsentRecord>> {
    match user {
        Some((channel, user)) => query_all(
            conn,
            &format!(
                "SELECT {LEDGER_COLS} FROM consent_ledger WHERE tenant_id = ?1 AND channel = ?2 AND user_id = ?3 \
                 ORDER BY id DESC LIMIT ?4"
            ),
            params![tenant.as_str(), channel.as_str(), user, limit],
            ledger_row,
        ),
        None => query_all(
            conn,
            &format!("SELECT {LEDGER_COLS} FROM consent_ledger WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2"),
            params![tenant.as_str(), limit],
            ledger_row,
        ),
    }
}

/// Hands an open conversation to a person unless it already is. Returns whether it changed.
pub(super) fn open_handoff(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    reason: &str,
    now: i64,
) -> Result<bool> {
    let handoff = Handoff {
        status: HandoffStatus::Pending,
        reason: reason.to_owned(),
        agent: None,
        since: now,
        taken_at: None,
    };
    let n = conn
        .prepare_cached(
            "UPDATE conversations SET handoff = ?3, updated_at = ?4 \
             WHERE id = ?1 AND tenant_id = ?2 AND handoff IS NULL AND status = 'open'",
        )?
        .execute(params![
            conversation.as_str(),
            tenant.as_str(),
            serde_json::to_string(&handoff)?,
            now
        ])?;
    Ok(n == 1)
}

fn current(conn: &Connection, tenant: &TenantId, conversation: &ConversationId) -> Result<Conversation> {
    query_opt(
        conn,
        &format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = ?1 AND tenant_id = ?2"),
        params![conversation.as_str(), tenant.as_str()],
        conversation_row,
    )?
    .ok_or_else(|| StoreError::NotFound(format!("conversation {conversation}")))
}

/// An agent takes a handed-over conversation (or takes it over from another agent).
pub(super) fn take_handoff(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    agent: &str,
    now: i64,
) -> Result<Handoff> {
    let c = current(conn, tenant, conversation)?;
    let Some(mut handoff) = c.handoff else {
        return Err(StoreError::Conflict(format!(
            "conversation {conversation} is not handed to a person"
        )));
    };
    handoff.status = HandoffStatus::Assigned;
    handoff.agent = Some(agent.to_owned());
    handoff.taken_at = Some(now);
    conn.prepare_cached("UPDATE conversations SET handoff = ?3, updated_at = ?4 WHERE id = ?1 AND tenant_id = ?2")?
        .execute(params![
            conversation.as_str(),
            tenant.as_str(),
            serde_json::to_string(&handoff)?,
            now
        ])?;
    Ok(handoff)
}

/// The bot answers again. Returns whether the conversation was handed over.
pub(super) fn release_handoff(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE conversations SET handoff = NULL, updated_at = ?3 \
             WHERE id = ?1 AND tenant_id = ?2 AND handoff IS NOT NULL",
        )?
        .execute(params![conversation.as_str(), tenant.as_str(), now])?;
    Ok(n == 1)
}

/// Conversations handed to a person, oldest first (the longest waiting at the top).
pub(super) fn handoffs(conn: &Connection, tenant: &TenantId, limit: u32) -> Result<Vec<Conversation>> {
    let mut all = query_all(
        conn,
        &format!(
            "SELECT {CONVERSATION_COLS} FROM conversations WHERE tenant_id = ?1 AND handoff IS NOT NULL \
             ORDER BY updated_at LIMIT ?2"
        ),
        params![tenant.as_str(), limit],
        conversation_row,
    )?;
    all.sort_by_key(|c| c.handoff.as_ref().map_or(0, |h| h.since));
    Ok(all)
}

pub(super) fn conversations(
    conn: &Connection,
    tenant: &TenantId,
    f: &crate::ConversationFilter,
    limit: u32,
) -> Result<Vec<Conversation>> {
    let mut sql = format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE tenant_id = ?1");
    let mut args: Vec<rusqlite::types::Value> = vec![tenant.as_str().to_owned().into()];
    let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(s) = f.status {
        arg(&mut sql, " AND status = ?", s.as_str().to_owned().into());
    }
    if let Some(c) = f.channel {
        arg(&mut sql, " AND channel = ?", c.as_str().to_owned().into());
    }
    if let Some(u) = &f.user {
        arg(&mut sql, " AND user_id = ?", u.clone().into());
    }
    if let Some(t) = f.since {
        arg(&mut sql, " AND created_at >= ?", t.into());
    }
    if let Some(t) = f.until {
        arg(&mut sql, " AND created_at < ?", t.into());
    }
    if let Some((at, id)) = &f.before {
        arg(&mut sql, " AND (created_at < ?", (*at).into());
        arg(&mut sql, " OR (created_at = ?", (*at).into());
        arg(&mut sql, " AND id < ?))", id.clone().into());
    }
    if f.handed_over {
        sql.push_str(" AND handoff IS NOT NULL");
    }
    arg(
        &mut sql,
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        i64::from(limit).into(),
    );
    query_all(conn, &sql, rusqlite::params_from_iter(args), conversation_row)
}
