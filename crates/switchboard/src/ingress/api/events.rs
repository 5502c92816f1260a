//! A tenant's outbound event webhooks: endpoints subscribed to event types, their delivery log,
//! and a test ping.

use super::{audit, limit_param};
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, JsonBody};
use crate::ingress::http::{Path, Query};
use crate::runtime::events::{EventType, envelope};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_core::TenantId;
use switchboard_store::{EventEndpoint, NewEvent, NewEventEndpoint};

/// Shorter secrets are too easy to guess; longer ones gain nothing.
const SECRET_CHARS: std::ops::RangeInclusive<usize> = 16..=256;
const URL_MAX: usize = 2048;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/webhooks", get(list).post(create))
        .route("/v1/tenants/{tenant}/webhooks/{id}", delete(remove))
        .route("/v1/tenants/{tenant}/webhooks/{id}/deliveries", get(deliveries))
        .route("/v1/tenants/{tenant}/webhooks/{id}/test", post(test))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks", tag = "webhooks", params(("tenant" = String, Path, description = "Tenant id")), responses((status = 200, description = "The tenant's webhook endpoints (never their secrets)", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    Ok(Json(json!({ "data": app.store.event_endpoints(&t).await? })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    /// An http or https URL.
    url: String,
    /// Event types: message.received, message.sent, message.delivered, conversation.started,
    /// conversation.updated, conversation.ended, handoff.requested, handoff.taken, handoff.released.
    events: Vec<String>,
    /// The signing secret (16 to 256 characters); generated when absent.
    secret: Option<String>,
}

fn check_url(url: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::Unprocessable("bad_url", format!("`url` {why}"));
    if url.len() > URL_MAX {
        return Err(bad("is too long"));
    }
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad("is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("must be an http or https URL with a host"));
    }
    Ok(parsed.to_string())
}

fn check_events(events: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let kind = EventType::parse_subscribable(e).ok_or_else(|| {
            let known: Vec<_> = EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect();
            ApiError::Unprocessable("bad_events", format!("unknown event type {e:?}: one of {known:?}"))
        })?;
        if !out.iter().any(|o| o == kind.as_str()) {
            out.push(kind.as_str().to_owned());
        }
    }
    if out.is_empty() {
        return Err(ApiError::Unprocessable(
            "bad_events",
            "`events` must name at least one event type".into(),
        ));
    }
    Ok(out)
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/webhooks", tag = "webhooks", params(("tenant" = String, Path, description = "Tenant id")), request_body = NewWebhook, responses((status = 201, description = "Created; `secret` is shown this once", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<NewWebhook>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let url = check_url(&body.url)?;
    let events = check_events(&body.events)?;
    let secret = match body.secret {
        Some(s) if SECRET_CHARS.contains(&s.chars().count()) && !s.chars().any(char::is_control) => s,
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "bad_secret",
                "`secret` must be 16 to 256 printable characters".into(),
            ));
        }
        None => format!("whsec_{}", B64URL.encode(rand::random::<[u8; 32]>())),
    };
    let sealed = app.sealer.seal(secret.as_bytes())?;
    let endpoint = app
        .store
        .create_event_endpoint(
            &t,
            NewEventEndpoint {
                id: uuid::Uuid::now_v7().to_string(),
                url,
                secret_sealed: sealed,
                events,
            },
        )
        .await?;
    app.events.invalidate(&t);
    let after = json!({ "url": endpoint.url, "events": endpoint.events });
    audit(
        &app,
        &principal,
        Some(&t),
        "webhook.create",
        format!("webhook:{}", endpoint.id),
        None,
        Some(after),
    )
    .await?;
    let mut view = json!(endpoint);
    // Shown this once; only its sealed form is kept.
    view["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

async fn find(app: &App, t: &TenantId, id: &str) -> Result<EventEndpoint, ApiError> {
    app.store
        .event_endpoint(t, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("not_found", format!("no webhook {id} in this tenant")))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/webhooks/{id}", tag = "webhooks", params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Webhook id")), responses((status = 204, description = "Deleted, with its delivery log"), crate::ingress::api::openapi::Errors))]
pub(crate) async fn remove(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let before = find(&app, &t, &id).await?;
    if !app.store.delete_event_endpoint(&t, &id).await? {
        return Err(ApiError::NotFound(
            "not_found",
            format!("no webhook {id} in this tenant"),
        ));
    }
    app.events.invalidate(&t);
    let old = json!({ "url": before.url, "events": before.events });
    audit(
        &app,
        &principal,
        Some(&t),
        "webhook.delete",
        format!("webhook:{id}"),
        Some(old),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks/{id}/deliveries", tag = "webhooks", params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Webhook id"), Limit), responses((status = 200, description = "The delivery log, newest first", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn deliveries(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<Limit>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let limit = limit_param(q.limit)?;
    let ep = find(&app, &t, &id).await?;
    Ok(Json(
        json!({ "data": app.store.event_deliveries(&t, &ep.id, limit).await? }),
    ))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/webhooks/{id}/test", tag = "webhooks", params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Webhook id")), responses((status = 202, description = "A `ping` event is queued for this endpoint", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn test(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let ep = find(&app, &t, &id).await?;
    if !ep.enabled {
        return Err(ApiError::Clash(
            "webhook_disabled",
            format!("webhook {id} is disabled (it answered 410 Gone); create it again"),
        ));
    }
    let event_id = uuid::Uuid::now_v7().to_string();
    let data = json!({ "webhook": ep.id });
    let event = NewEvent {
        payload: envelope(&event_id, EventType::Ping, &t, app.clock.now_ms(), data),
        event_type: EventType::Ping.as_str().to_owned(),
        id: event_id.clone(),
    };
    app.store.enqueue_events(&t, Some(&ep.id), vec![event]).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "event_id": event_id }))))
}
