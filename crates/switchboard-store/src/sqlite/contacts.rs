//! End users (contacts), message search and uploaded bot definitions.

use super::rows::{MESSAGE_COLS, channel, message_row, query_all};
use crate::{Contact, Result};
use rusqlite::{Connection, params};
use switchboard_core::{Message, TenantId};

/// Contacts, most recently active first. SQLite takes the bare `context` column from the row
/// holding `MAX(updated_at)`: the latest conversation's language.
pub(super) fn contacts(conn: &Connection, t: &TenantId, limit: u32) -> Result<Vec<Contact>> {
    query_all(
        conn,
        "SELECT channel, user_id, COUNT(*), json_extract(context, '$.language'), MIN(created_at), MAX(updated_at) \
         FROM conversations WHERE tenant_id = ?1 GROUP BY channel, user_id ORDER BY MAX(updated_at) DESC LIMIT ?2",
        params![t.as_str(), limit],
        |r| {
            Ok(Contact {
                channel: channel(r.get(0)?)?,
                user: r.get(1)?,
                conversations: r.get::<_, i64>(2)?.max(0) as u64,
                language: r.get(3)?,
                first_seen: r.get(4)?,
                last_seen: r.get(5)?,
            })
        },
    )
}

/// Messages whose content contains `text` (ASCII case-insensitive), newest first.
pub(super) fn search(conn: &Connection, t: &TenantId, text: &str, limit: u32) -> Result<Vec<Message>> {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    query_all(
        conn,
        &format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE tenant_id = ?1 AND content LIKE ?2 ESCAPE '\\' \
             ORDER BY created_at DESC, seq DESC LIMIT ?3"
        ),
        params![t.as_str(), format!("%{escaped}%"), limit],
        message_row,
    )
}

const VERSION_COLS: &str = "id, tenant_id, source, created_by, created_at, activated_at";

fn version_row(r: &rusqlite::Row<'_>) -> Result<crate::BotVersion> {
    Ok(crate::BotVersion {
        id: r.get(0)?,
        tenant: super::rows::tenant(r.get(1)?)?,
        source: r.get(2)?,
        created_by: r.get(3)?,
        created_at: r.get(4)?,
        activated_at: r.get(5)?,
    })
}

pub(super) fn add_version(
    conn: &Connection,
    t: &TenantId,
    source: &str,
    by: &str,
    now: i64,
) -> Result<crate::BotVersion> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO bot_versions (tenant_id, source, created_by, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )?
        .query_row(params![t.as_str(), source, by, now], |r| r.get::<_, i64>(0));
    let id = match inserted {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            return Err(crate::StoreError::NotFound(format!("tenant {t}")));
        }
        r => r?,
    };
    Ok(crate::BotVersion {
        id,
        tenant: t.clone(),
        source: source.to_owned(),
        created_by: by.to_owned(),
        created_at: now,
        activated_at: None,
    })
}

pub(super) fn versions(conn: &Connection, t: &TenantId, limit: u32) -> Result<Vec<crate::BotVersion>> {
    query_all(
        conn,
        &format!("SELECT {VERSION_COLS} FROM bot_versions WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2"),
        params![t.as_str(), limit],
        version_row,
    )
}

pub(super) fn version(conn: &Connection, t: &TenantId, id: i64) -> Result<Option<crate::BotVersion>> {
    super::rows::query_opt(
        conn,
        &format!("SELECT {VERSION_COLS} FROM bot_versions WHERE tenant_id = ?1 AND id = ?2"),
        params![t.as_str(), id],
        version_row,
    )
}

pub(super) fn mark_activated(conn: &Connection, t: &TenantId, id: i64, now: i64) -> Result<bool> {
    let n = conn
        .prepare_cached("UPDATE bot_versions SET activated_at = ?3 WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![t.as_str(), id, now])?;
    Ok(n == 1)
}
