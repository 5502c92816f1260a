//! `GET /v1/tenants/{tenant}/analytics`: messages, conversations, intents, fallback and handoff
//! rates, response latency and satisfaction, per UTC day and channel.

use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, Path, Query};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/v1/tenants/{tenant}/analytics", get(analytics))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct Range {
    /// From this day (`YYYY-MM-DD`, UTC, inclusive); 30 days before `until` when absent.
    since: Option<String>,
    /// To this day (`YYYY-MM-DD`, UTC, inclusive); today when absent.
    until: Option<String>,
}

fn day_start(name: &str, v: &str) -> Result<i64, ApiError> {
    v.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_millisecond())
        .ok_or_else(|| ApiError::BadRequest("bad_day", format!("`{name}` must be a day like 2026-11-22")))
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/analytics", tag = "analytics",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), Range),
    responses((status = 200, description = "Traffic per day and channel, totals, top intents and CSAT", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn analytics(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<Range>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let today = app.clock.now_ms().div_euclid(DAY_MS) * DAY_MS;
    let until = match q.until.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => day_start("until", d)? + DAY_MS,
        None => today + DAY_MS,
    };
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        Some(d) => day_start("since", d)?,
        None => until - 30 * DAY_MS,
    };
    if since >= until || until - since > 366 * DAY_MS {
        return Err(ApiError::BadRequest(
            "bad_range",
            "`since` must be before `until`, at most 366 days apart".into(),
        ));
    }
    let days = app.store.day_stats(&t, since, until).await?;
    let intents = app.store.top_intents(&t, since, until, 20).await?;
    let span_days = ((until - since) / DAY_MS) as u32;
    let csat: Vec<_> = app
        .store
        .feedback_per_day(&t, span_days.max(1))
        .await?
        .into_iter()
        .filter(|d| d.day.as_str() >= days_str(since).as_str() && d.day.as_str() < days_str(until).as_str())
        .collect();
    let sum = |f: fn(&switchboard_store::DayStats) -> u64| days.iter().map(f).sum::<u64>();
    let (inbound, fallbacks, handoffs) = (sum(|d| d.inbound), sum(|d| d.fallbacks), sum(|d| d.handoffs));
    let replied: Vec<(f64, u64)> = days
        .iter()
        .filter_map(|d| d.avg_response_ms.map(|a| (a, d.outbound.max(1))))
        .collect();
    let weight: u64 = replied.iter().map(|(_, w)| w).sum();
    let avg_response_ms = (weight > 0).then(|| replied.iter().map(|(a, w)| a * *w as f64).sum::<f64>() / weight as f64);
    let csat_count: u64 = csat.iter().map(|d| d.csat_count).sum();
    let csat_average = (csat_count > 0).then(|| {
        csat.iter()
            .filter_map(|d| d.csat_average.map(|a| a * d.csat_count as f64))
            .sum::<f64>()
            / csat_count as f64
    });
    Ok(Json(json!({
        "since": days_str(since),
        "until": days_str(until - DAY_MS),
        "totals": {
            "inbound": inbound,
            "outbound": sum(|d| d.outbound),
            "conversations": sum(|d| d.conversations),
            "fallback_rate": ratio(fallbacks, inbound),
            "handoff_rate": ratio(handoffs, inbound),
            "avg_response_ms": avg_response_ms,
            "csat_count": csat_count,
            "csat_average": csat_average,
        },
        "days": days,
        "intents": intents,
        "csat": csat,
    })))
}

fn days_str(ms: i64) -> String {
    switchboard_core::clock::rfc3339(ms).chars().take(10).collect()
}
