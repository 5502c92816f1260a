//! Outbound event webhooks: endpoints per tenant, the fan-out of events to them, and the
//! claim-and-finish cycle of sending each delivery.

use super::PgStore;
use super::rows::{corrupt, json, tenant};
use crate::{
    DeliveryAttempt, DeliveryStatus, EVENT_CLAIM_LEASE_MS, EventDelivery, EventEndpoint, NewEvent, NewEventEndpoint,
    Result, SendOutcome, StoreError,
};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use switchboard_core::TenantId;

const ENDPOINT_COLS: &str = "id, tenant_id, url, secret_sealed, events, enabled, created_at";

fn endpoint_row(r: &PgRow) -> Result<EventEndpoint> {
    let events: String = r.try_get(4)?;
    Ok(EventEndpoint {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        url: r.try_get(2)?,
        secret_sealed: r.try_get(3)?,
        events: serde_json::from_str(&events)?,
        enabled: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

const DELIVERY_COLS: &str = "id, tenant_id, endpoint_id, event_id, event_type, payload, status, attempts, \
     next_attempt_at, claimed_at, last_status_code, last_error, created_at, sent_at";

fn delivery_row(r: &PgRow) -> Result<EventDelivery> {
    let payload: String = r.try_get(5)?;
    let status: String = r.try_get(6)?;
    Ok(EventDelivery {
        id: r.try_get(0)?,
        tenant: tenant(r.try_get(1)?)?,
        endpoint: r.try_get(2)?,
        event_id: r.try_get(3)?,
        event_type: r.try_get(4)?,
        payload: serde_json::from_str(&payload)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status", &status))?,
        attempts: u32::try_from(r.try_get::<i64, _>(7)?.max(0)).unwrap_or(u32::MAX),
        next_attempt_at: r.try_get(8)?,
        claimed_at: r.try_get(9)?,
        last_status_code: r.try_get::<Option<i64>, _>(10)?.and_then(|c| u16::try_from(c).ok()),
        last_error: r.try_get(11)?,
        created_at: r.try_get(12)?,
        sent_at: r.try_get(13)?,
    })
}

pub(super) async fn create_endpoint(s: &PgStore, t: &TenantId, e: NewEventEndpoint) -> Result<EventEndpoint> {
    // Inserting from the tenants table refuses an unknown tenant with NotFound, not a
    // constraint error.
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO event_endpoints (id, tenant_id, url, secret_sealed, events, enabled, created_at) \
         SELECT $1, id, $3, $4, $5, TRUE, $6 FROM tenants WHERE id = $2 \
         RETURNING {ENDPOINT_COLS}"
    )))
    .bind(&e.id)
    .bind(t.as_str())
    .bind(&e.url)
    .bind(&e.secret_sealed)
    .bind(json(&e.events)?)
    .bind(s.now())
    .fetch_optional(s.pool())
    .await?;
    match row {
        Some(r) => endpoint_row(&r),
        None => Err(StoreError::NotFound(format!("tenant {t}"))),
    }
}

pub(super) async fn endpoints(s: &PgStore, t: &TenantId) -> Result<Vec<EventEndpoint>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLS} FROM event_endpoints WHERE tenant_id = $1 ORDER BY created_at, id COLLATE \"C\""
    )))
    .bind(t.as_str())
    .fetch_all(s.pool())
    .await?
    .iter()
    .map(endpoint_row)
    .collect()
}

pub(super) async fn get_endpoint(s: &PgStore, t: &TenantId, id: &str) -> Result<Option<EventEndpoint>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLS} FROM event_endpoints WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(t.as_str())
    .fetch_optional(s.pool())
    .await?
    .as_ref()
    .map(endpoint_row)
    .transpose()
}

pub(super) async fn delete_endpoint(s: &PgStore, t: &TenantId, id: &str) -> Result<bool> {
    let mut tx = s.begin().await?;
    // Endpoint before deliveries, the order a gone answer locks them in (see `finish`).
    sqlx::query("SELECT 1 FROM event_endpoints WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
        .bind(id)
        .bind(t.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM event_deliveries WHERE endpoint_id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(t.as_str())
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query("DELETE FROM event_endpoints WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(t.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n > 0)
}

pub(super) async fn enqueue(s: &PgStore, t: &TenantId, only: Option<&str>, events: Vec<NewEvent>) -> Result<usize> {
    let now = s.now();
    let mut tx = s.begin().await?;
    // FOR SHARE holds each endpoint's `enabled` until the commit: an endpoint being disabled
    // (410 Gone) either gets nothing from this write or sees its deliveries and fails them too,
    // never a pending delivery left behind on a disabled endpoint.
    let mut queued = 0u64;
    for ev in events {
        queued += sqlx::query(
            "INSERT INTO event_deliveries (tenant_id, endpoint_id, event_id, event_type, payload, status, \
               next_attempt_at, created_at) \
             SELECT e.tenant_id, e.id, $3, $4, $5, 'pending', $6, $6 FROM event_endpoints e \
             WHERE e.tenant_id = $1 AND e.enabled AND (CASE WHEN $2::text IS NULL \
               THEN (e.events::jsonb) ? $4 ELSE e.id = $2 END) \
             FOR SHARE OF e",
        )
        .bind(t.as_str())
        .bind(only)
        .bind(&ev.id)
        .bind(&ev.event_type)
        .bind(json(&ev.payload)?)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(usize::try_from(queued).unwrap_or(usize::MAX))
}

pub(super) async fn claim_due(s: &PgStore, now: i64, limit: u32) -> Result<Vec<EventDelivery>> {
    // SKIP LOCKED lets claimers on other connections pass over the rows this one is taking;
    // a row claimed and committed meanwhile is re-checked against the lease and left out.
    let rows = sqlx::query(AssertSqlSafe(format!(
        "UPDATE event_deliveries SET claimed_at = $1 WHERE id IN ( \
           SELECT id FROM event_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (claimed_at IS NULL OR claimed_at <= $1 - $2) \
           ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING {DELIVERY_COLS}"
    )))
    .bind(now)
    .bind(EVENT_CLAIM_LEASE_MS)
    .bind(i64::from(limit))
    .fetch_all(s.pool())
    .await?;
    let mut claimed = rows.iter().map(delivery_row).collect::<Result<Vec<_>>>()?;
    claimed.sort_by_key(|d| (d.next_attempt_at, d.id));
    Ok(claimed)
}

pub(super) async fn finish(
    s: &PgStore,
    t: &TenantId,
    id: i64,
    claimed_at: i64,
    attempt: DeliveryAttempt,
) -> Result<bool> {
    let now = s.now();
    let (status, next, error, sent_at) = match attempt.outcome {
        SendOutcome::Sent => (DeliveryStatus::Sent, None, None, Some(now)),
        SendOutcome::Failed { error } => (DeliveryStatus::Failed, None, Some(error), None),
        SendOutcome::Retry { at, error } => (DeliveryStatus::Pending, Some(at), Some(error), None),
    };
    let mut tx = s.begin().await?;
    if attempt.disable_endpoint {
        // The endpoint is locked before the delivery: two gone answers for one endpoint at once
        // would otherwise each hold a delivery the other's failing of the rest waits on.
        sqlx::query(
            "SELECT 1 FROM event_endpoints WHERE tenant_id = $2 AND id = \
               (SELECT endpoint_id FROM event_deliveries WHERE id = $1 AND tenant_id = $2) FOR UPDATE",
        )
        .bind(id)
        .bind(t.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    }
    let endpoint: Option<String> = sqlx::query_scalar(
        "UPDATE event_deliveries SET status = $4, next_attempt_at = $5, last_error = coalesce($6, last_error), \
         last_status_code = $7, sent_at = $8, attempts = attempts + 1, claimed_at = NULL \
         WHERE id = $1 AND tenant_id = $2 AND status = 'pending' AND claimed_at = $3 RETURNING endpoint_id",
    )
    .bind(id)
    .bind(t.as_str())
    .bind(claimed_at)
    .bind(status.as_str())
    .bind(next)
    .bind(error)
    .bind(attempt.status_code.map(i64::from))
    .bind(sent_at)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(endpoint) = endpoint else {
        return Ok(false);
    };
    if attempt.disable_endpoint {
        sqlx::query("UPDATE event_endpoints SET enabled = FALSE WHERE id = $1 AND tenant_id = $2")
            .bind(&endpoint)
            .bind(t.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE event_deliveries SET status = 'failed', next_attempt_at = NULL, \
             last_error = 'the endpoint is disabled (it answered 410 Gone)' \
             WHERE endpoint_id = $1 AND tenant_id = $2 AND status = 'pending'",
        )
        .bind(&endpoint)
        .bind(t.as_str())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(super) async fn deliveries(s: &PgStore, t: &TenantId, endpoint: &str, limit: u32) -> Result<Vec<EventDelivery>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLS} FROM event_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 \
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(t.as_str())
    .bind(endpoint)
    .bind(i64::from(limit))
    .fetch_all(s.pool())
    .await?
    .iter()
    .map(delivery_row)
    .collect()
}
