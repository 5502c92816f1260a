//! Outbound event webhooks: endpoints per tenant, the fan-out of events to them, and the
//! claim-and-finish cycle of sending each delivery.

use super::WriteCtx;
use super::rows::*;
use crate::{
    DeliveryAttempt, DeliveryStatus, EVENT_CLAIM_LEASE_MS, EventDelivery, EventEndpoint, NewEvent, NewEventEndpoint,
    Result, SendOutcome, StoreError,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use switchboard_core::TenantId;

const ENDPOINT_COLS: &str = "id, tenant_id, url, secret_sealed, events, enabled, created_at";

fn endpoint_row(r: &Row<'_>) -> Result<EventEndpoint> {
    let events: String = r.get(4)?;
    Ok(EventEndpoint {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        url: r.get(2)?,
        secret_sealed: r.get(3)?,
        events: serde_json::from_str(&events)?,
        enabled: r.get(5)?,
        created_at: r.get(6)?,
    })
}

const DELIVERY_COLS: &str = "id, tenant_id, endpoint_id, event_id, event_type, payload, status, attempts, \
     next_attempt_at, claimed_at, last_status_code, last_error, created_at, sent_at";

fn delivery_row(r: &Row<'_>) -> Result<EventDelivery> {
    let payload: String = r.get(5)?;
    let status: String = r.get(6)?;
    Ok(EventDelivery {
        id: r.get(0)?,
        tenant: tenant(r.get(1)?)?,
        endpoint: r.get(2)?,
        event_id: r.get(3)?,
        event_type: r.get(4)?,
        payload: serde_json::from_str(&payload)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status", &status))?,
        attempts: r.get::<_, i64>(7)?.max(0) as u32,
        next_attempt_at: r.get(8)?,
        claimed_at: r.get(9)?,
        last_status_code: r.get::<_, Option<i64>>(10)?.and_then(|c| u16::try_from(c).ok()),
        last_error: r.get(11)?,
        created_at: r.get(12)?,
        sent_at: r.get(13)?,
    })
}

pub(super) fn create_endpoint(conn: &Connection, t: &TenantId, e: NewEventEndpoint, now: i64) -> Result<EventEndpoint> {
    // Inserting from the tenants table refuses an unknown tenant with NotFound, not a
    // constraint error.
    let n = conn
        .prepare_cached(
            "INSERT INTO event_endpoints (id, tenant_id, url, secret_sealed, events, enabled, created_at) \
             SELECT ?1, id, ?3, ?4, ?5, 1, ?6 FROM tenants WHERE id = ?2",
        )?
        .execute(params![e.id, t.as_str(), e.url, e.secret_sealed, json(&e.events)?, now])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("tenant {t}")));
    }
    get_endpoint(conn, t, &e.id)?.ok_or_else(|| StoreError::NotFound(format!("endpoint {}", e.id)))
}

pub(super) fn endpoints(conn: &Connection, t: &TenantId) -> Result<Vec<EventEndpoint>> {
    query_all(
        conn,
        &format!("SELECT {ENDPOINT_COLS} FROM event_endpoints WHERE tenant_id = ?1 ORDER BY created_at, id"),
        params![t.as_str()],
        endpoint_row,
    )
}

pub(super) fn get_endpoint(conn: &Connection, t: &TenantId, id: &str) -> Result<Option<EventEndpoint>> {
    query_opt(
        conn,
        &format!("SELECT {ENDPOINT_COLS} FROM event_endpoints WHERE id = ?1 AND tenant_id = ?2"),
        params![id, t.as_str()],
        endpoint_row,
    )
}

pub(super) fn delete_endpoint(conn: &Connection, t: &TenantId, id: &str) -> Result<bool> {
    conn.prepare_cached("DELETE FROM event_deliveries WHERE endpoint_id = ?1 AND tenant_id = ?2")?
        .execute(params![id, t.as_str()])?;
    let n = conn
        .prepare_cached("DELETE FROM event_endpoints WHERE id = ?1 AND tenant_id = ?2")?
        .execute(params![id, t.as_str()])?;
    Ok(n > 0)
}

pub(super) fn enqueue(
    ctx: &mut WriteCtx<'_>,
    t: &TenantId,
    only: Option<&str>,
    events: Vec<NewEvent>,
) -> Result<usize> {
    let mut stmt = ctx.conn.prepare_cached(
        "INSERT INTO event_deliveries (tenant_id, endpoint_id, event_id, event_type, payload, status, \
           next_attempt_at, created_at) \
         SELECT e.tenant_id, e.id, ?3, ?4, ?5, 'pending', ?6, ?6 FROM event_endpoints e \
         WHERE e.tenant_id = ?1 AND e.enabled = 1 AND (CASE WHEN ?2 IS NULL \
           THEN EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = ?4) ELSE e.id = ?2 END)",
    )?;
    let mut queued = 0;
    for ev in events {
        queued += stmt.execute(params![
            t.as_str(),
            only,
            ev.id,
            ev.event_type,
            json(&ev.payload)?,
            ctx.now
        ])?;
    }
    Ok(queued)
}

pub(super) fn claim_due(conn: &Connection, now: i64, limit: u32) -> Result<Vec<EventDelivery>> {
    // One UPDATE ... RETURNING in the writer's transaction: selection and claim cannot
    // interleave with another instance's claim.
    query_all(
        conn,
        &format!(
            "UPDATE event_deliveries SET claimed_at = ?1 WHERE id IN ( \
               SELECT id FROM event_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1 \
                 AND (claimed_at IS NULL OR claimed_at <= ?1 - ?2) \
               ORDER BY next_attempt_at, id LIMIT ?3) \
             RETURNING {DELIVERY_COLS}"
        ),
        params![now, EVENT_CLAIM_LEASE_MS, limit],
        delivery_row,
    )
}

pub(super) fn finish(
    conn: &Connection,
    t: &TenantId,
    id: i64,
    claimed_at: i64,
    attempt: DeliveryAttempt,
    now: i64,
) -> Result<bool> {
    let (status, next, error, sent_at) = match attempt.outcome {
        SendOutcome::Sent => (DeliveryStatus::Sent, None, None, Some(now)),
        SendOutcome::Failed { error } => (DeliveryStatus::Failed, None, Some(error), None),
        SendOutcome::Retry { at, error } => (DeliveryStatus::Pending, Some(at), Some(error), None),
    };
    let endpoint: Option<String> = conn
        .prepare_cached(
            "UPDATE event_deliveries SET status = ?4, next_attempt_at = ?5, last_error = coalesce(?6, last_error), \
             last_status_code = ?7, sent_at = ?8, attempts = attempts + 1, claimed_at = NULL \
             WHERE id = ?1 AND tenant_id = ?2 AND status = 'pending' AND claimed_at = ?3 RETURNING endpoint_id",
        )?
        .query_row(
            params![
                id,
                t.as_str(),
                claimed_at,
                status.as_str(),
                next,
                error,
                attempt.status_code,
                sent_at
            ],
            |r| r.get(0),
        )
        .optional()?;
    let Some(endpoint) = endpoint else {
        return Ok(false);
    };
    if attempt.disable_endpoint {
        conn.prepare_cached("UPDATE event_endpoints SET enabled = 0 WHERE id = ?1 AND tenant_id = ?2")?
            .execute(params![endpoint, t.as_str()])?;
        conn.prepare_cached(
            "UPDATE event_deliveries SET status = 'failed', next_attempt_at = NULL, \
             last_error = 'the endpoint is disabled (it answered 410 Gone)' \
             WHERE endpoint_id = ?1 AND tenant_id = ?2 AND status = 'pending'",
        )?
        .execute(params![endpoint, t.as_str()])?;
    }
    Ok(true)
}

pub(super) fn deliveries(conn: &Connection, t: &TenantId, endpoint: &str, limit: u32) -> Result<Vec<EventDelivery>> {
    query_all(
        conn,
        &format!(
            "SELECT {DELIVERY_COLS} FROM event_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2 \
             ORDER BY id DESC LIMIT ?3"
        ),
        params![t.as_str(), endpoint, limit],
        delivery_row,
    )
}
