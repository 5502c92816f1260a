//! `/v1/tenants`: list, create (super admins), read.

use super::{audit, clean_text};
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::Path;
use crate::ingress::http::{ApiError, JsonBody};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_store::TenantRecord;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants", get(list).post(create))
        .route("/v1/tenants/{tenant}", get(read).delete(super::tenant_admin::delete))
}

fn view(t: &TenantRecord, app: &App) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "loaded": app.tenants.get(&t.id).is_some(),
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    })
}

#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", responses((status = 200, description = "The tenants the caller may see", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn list(State(app): State<Arc<App>>, principal: Principal) -> Result<Json<Value>, ApiError> {
    principal.require(Need::Read)?;
    let all = app.store.list_tenants().await?;
    let visible: Vec<Value> = all
        .iter()
        .filter(|t| principal.tenant(t.id.as_str(), Need::Read).is_ok())
        .map(|t| view(t, &app))
        .collect();
    Ok(Json(json!({ "data": visible })))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "The tenant", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn read(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let record = app
        .store
        .tenant(&t)
        .await?
        .ok_or_else(|| ApiError::unknown_tenant(&tenant))?;
    Ok(Json(view(&record, &app)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTenant {
    id: String,
    name: String,
    /// The bot definition (bot.toml text).
    bot: String,
}

#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = NewTenant, responses((status = 201, description = "Created, its bot loaded", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    JsonBody(body): JsonBody<NewTenant>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    principal.require(Need::Super)?;
    let id = switchboard_core::TenantId::parse(&body.id)
        .map_err(|e| ApiError::Unprocessable("bad_tenant_id", format!("`id`: {e}")))?;
    if app.store.tenant(&id).await?.is_some() {
        return Err(ApiError::Clash("tenant_exists", format!("tenant {id} exists")));
    }
    let name = clean_text(&body.name);
    if name.is_empty() {
        return Err(ApiError::Unprocessable("empty_name", "`name` is empty".into()));
    }
    switchboard_core::BotSpec::from_toml(&body.bot)
        .map_err(|e| ApiError::Unprocessable("invalid_bot", e.to_string()))?;
    app.tenants
        .install(app.store.as_ref(), id.as_str(), &name, &body.bot)
        .await
        .map_err(|e| ApiError::Unprocessable("invalid_bot", format!("{e:#}")))?;
    audit(
        &app,
        &principal,
        Some(&id),
        "tenant.create",
        format!("tenant:{id}"),
        None,
        Some(json!({ "name": name })),
    )
    .await?;
    let record = app
        .store
        .tenant(&id)
        .await?
        .ok_or_else(|| ApiError::unknown_tenant(id.as_str()))?;
    Ok((axum::http::StatusCode::CREATED, Json(view(&record, &app))))
}
