//! Language model usage per tenant and UTC day.

use super::rows::query_all;
use crate::{LlmUsage, Result};
use rusqlite::{Connection, params};
use switchboard_core::TenantId;

/// Days are UTC dates (`YYYY-MM-DD`), the same for every instance whatever its time zone.
fn day(at_ms: i64) -> String {
    switchboard_core::clock::rfc3339(at_ms).chars().take(10).collect()
}

pub(super) fn add(conn: &Connection, tenant: &TenantId, at: i64, prompt: u64, completion: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO llm_usage (tenant_id, day, requests, prompt_tokens, completion_tokens) VALUES (?1, ?2, 1, ?3, ?4) \
         ON CONFLICT (tenant_id, day) DO UPDATE SET requests = requests + 1, \
         prompt_tokens = prompt_tokens + excluded.prompt_tokens, \
         completion_tokens = completion_tokens + excluded.completion_tokens",
    )?
    .execute(params![tenant.as_str(), day(at), prompt as i64, completion as i64])?;
    Ok(())
}

pub(super) fn list(conn: &Connection, tenant: &TenantId, limit: u32) -> Result<Vec<LlmUsage>> {
    query_all(
        conn,
        "SELECT day, requests, prompt_tokens, completion_tokens FROM llm_usage WHERE tenant_id = ?1 \
         ORDER BY day DESC LIMIT ?2",
        params![tenant.as_str(), limit],
        |r| {
            Ok(LlmUsage {
                day: r.get(0)?,
                requests: r.get::<_, i64>(1)?.max(0) as u64,
                prompt_tokens: r.get::<_, i64>(2)?.max(0) as u64,
                completion_tokens: r.get::<_, i64>(3)?.max(0) as u64,
            })
        },
    )
}
