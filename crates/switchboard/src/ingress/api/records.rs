//! Contacts (end users), message search and dead letters.

use super::{audit, limit_param};
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, Path, Query};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_core::Channel;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/contacts", get(contacts))
        .route("/v1/tenants/{tenant}/contacts/{channel}/{user}", get(contact))
        .route("/v1/tenants/{tenant}/messages", get(search))
        .route("/v1/tenants/{tenant}/dead-letters", get(dead_letters))
        .route("/v1/tenants/{tenant}/dead-letters/{id}/replay", post(replay))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitQuery {
    #[param(minimum = 1, maximum = 200)]
    pub(crate) limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), LimitQuery),
    responses((status = 200, description = "End users, most recently active first", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn contacts(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    Ok(Json(json!({ "data": app.store.contacts(&t, limit).await? })))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/contacts/{channel}/{user}", tag = "contacts",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"),
        ("channel" = String, Path, description = "webchat, telegram, whatsapp, ..."),
        ("user" = String, Path, description = "The user's id on the channel")),
    responses((status = 200, description = "The end user's profile: conversations, language, consent history", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn contact(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, channel, user)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let missing = || ApiError::NotFound("not_found", format!("no contact {user} on {channel}"));
    let ch = Channel::parse(&channel).ok_or_else(missing)?;
    let filter = switchboard_store::ConversationFilter {
        channel: Some(ch),
        user: Some(user.clone()),
        ..Default::default()
    };
    let conversations = app.store.conversations(&t, filter, 200).await?;
    let consent = app.store.consent_ledger(&t, Some((ch, &user)), 50).await?;
    if conversations.is_empty() && consent.is_empty() {
        return Err(missing());
    }
    Ok(Json(json!({
        "channel": ch,
        "user": user,
        "language": conversations.first().and_then(|c| c.context.language.clone()),
        "variables": conversations.first().map(|c| c.context.variables.clone()),
        "consent": consent.first().map(|c| c.decision),
        "consent_history": consent,
        "conversations": conversations.iter().map(|c| json!({
            "id": c.id, "status": c.status, "created_at": c.created_at, "updated_at": c.updated_at,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuery {
    /// Text the message contains (case-insensitive for ASCII letters).
    q: String,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/messages", tag = "conversations",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), SearchQuery),
    responses((status = 200, description = "Matching messages, newest first", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn search(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    let text = super::clean_text(&q.q);
    if text.chars().count() < 2 {
        return Err(ApiError::BadRequest(
            "bad_query",
            "`q` needs at least 2 characters".into(),
        ));
    }
    Ok(Json(
        json!({ "data": app.store.search_messages(&t, &text, limit).await? }),
    ))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/dead-letters", tag = "conversations",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), LimitQuery),
    responses((status = 200, description = "Turns and deliveries that failed for good, not yet replayed", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn dead_letters(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    Ok(Json(json!({ "data": app.store.dead_letters(Some(&t), limit).await? })))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/dead-letters/{id}/replay", tag = "conversations",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"),
        ("id" = i64, Path, description = "Dead letter id")),
    responses((status = 200, description = "Queued again as a new job", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn replay(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Agent)?;
    let job = app.store.replay_dead_letter(&t, id).await?;
    audit(
        &app,
        &principal,
        Some(&t),
        "dead_letter.replay",
        format!("dead_letter:{id}"),
        None,
        None,
    )
    .await?;
    Ok(Json(json!({ "job": job.id, "message": job.message })))
}
