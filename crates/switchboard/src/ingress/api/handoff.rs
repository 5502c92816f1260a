//! An agent's side of a handoff over the API: take a handed-over conversation, reply through
//! its channel, hand it back to the bot.

use super::conversations::find;
use super::{audit, clean_text};
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::Path;
use crate::ingress::http::{ApiError, JsonBody};
use crate::runtime::events::{self, Event, EventType};
use crate::runtime::frames::ServerFrame;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/conversations/{id}/handoff/take", post(take))
        .route("/v1/tenants/{tenant}/conversations/{id}/handoff/reply", post(reply))
        .route("/v1/tenants/{tenant}/conversations/{id}/handoff/release", post(release))
}

fn agent_name(principal: &Principal) -> String {
    match principal {
        Principal::User { id, .. } => id.clone(),
        Principal::Key { id, .. } => format!("key:{id}"),
    }
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/handoff/take", tag = "handoff", params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "The caller owns the conversation", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn take(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Agent)?;
    let c = find(&app, &t, &id).await?;
    let agent = agent_name(&principal);
    let h = app.store.take_handoff(&t, &c.id, &agent).await?;
    let data = events::conversation_data(&c, json!({"agent": agent}));
    events::emit(&app, &t, vec![Event::new(EventType::HandoffTaken, data)]).await;
    audit(
        &app,
        &principal,
        Some(&t),
        "handoff.take",
        format!("conversation:{id}"),
        json!(c.handoff).into(),
        Some(json!(h)),
    )
    .await?;
    Ok(Json(json!({ "handoff": h })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentReply {
    text: String,
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/handoff/reply", tag = "handoff", params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Conversation id")), request_body = AgentReply, responses((status = 201, description = "Stored and sent through the conversation's channel", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn reply(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<AgentReply>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = principal.tenant(&tenant, Need::Agent)?;
    let c = find(&app, &t, &id).await?;
    let text = clean_text(&body.text);
    if text.is_empty() || text.chars().count() > app.config.chat.max_text_chars {
        return Err(ApiError::Unprocessable(
            "bad_text",
            format!("`text` must be 1 to {} characters", app.config.chat.max_text_chars),
        ));
    }
    let message = crate::handoff::reply(app.store.as_ref(), &t, &c.id, &agent_name(&principal), &text)
        .await
        .map_err(|e| ApiError::Clash("not_handed_over", format!("{e:#}")))?;
    // Web chat is live: the person sees the agent's words at once (the hub skips platforms).
    app.hub.publish(c.channel, &t, &c.user, ServerFrame::message(&message));
    // A platform's copy is announced once the platform takes it (deliver.rs).
    if message.status == switchboard_core::MessageStatus::Sent {
        let data = events::message_data(&message);
        events::emit(&app, &t, vec![Event::new(EventType::MessageSent, data)]).await;
    }
    Ok((StatusCode::CREATED, Json(json!(message))))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/handoff/release", tag = "handoff", params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "The bot answers again", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn release(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Agent)?;
    let c = find(&app, &t, &id).await?;
    if !app.store.release_handoff(&t, &c.id).await? {
        return Err(ApiError::Clash(
            "not_handed_over",
            format!("conversation {id} is not handed to a person"),
        ));
    }
    let data = events::conversation_data(&c, json!({"by": principal.actor()}));
    events::emit(&app, &t, vec![Event::new(EventType::HandoffReleased, data)]).await;
    audit(
        &app,
        &principal,
        Some(&t),
        "handoff.release",
        format!("conversation:{id}"),
        json!(c.handoff).into(),
        None,
    )
    .await?;
    Ok(Json(json!({ "released": true })))
}
