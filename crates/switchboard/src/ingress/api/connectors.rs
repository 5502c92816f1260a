//! A tenant's connectors (bot accounts on the platforms) over the API: secrets go in, are
//! sealed at rest, and never come out — lists show their names only.

use super::audit;
use crate::app::App;
use crate::connectors::{self, NewConnector};
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, JsonBody, Path};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use switchboard_core::{Channel, TenantId};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/connectors", get(list))
        .route("/v1/tenants/{tenant}/connectors/{id}", put(save).delete(remove))
}

async fn view(app: &App, t: &TenantId, r: &switchboard_store::ConnectorRecord) -> Value {
    let names: Vec<String> = match connectors::load(app.store.as_ref(), &app.sealer, t, &r.id).await {
        Ok(Some(c)) => c.secrets.keys().cloned().collect(),
        _ => Vec::new(),
    };
    json!({
        "id": r.id,
        "channel": r.channel,
        "account_id": r.account_id,
        "settings": r.settings,
        "secrets": names,
        "enabled": r.enabled,
        "webhook_url": format!("{}/v1/webhooks/{t}/{}", app.config.server.public_base_url.trim_end_matches('/'), r.id),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/connectors", tag = "connectors",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo")),
    responses((status = 200, description = "The tenant's connectors, secret names only", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let mut out = Vec::new();
    for r in app.store.connectors(&t).await? {
        out.push(view(&app, &t, &r).await);
    }
    Ok(Json(json!({ "data": out })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectorBody {
    /// telegram, whatsapp, messenger, slack, discord, teams, twilio or signal.
    channel: String,
    /// The bot's identity on the platform (bot id, phone number id, page id, team id, ...).
    account_id: String,
    /// By name; `switchboard connector secrets <channel>` lists the names each channel needs.
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
}

#[utoipa::path(put, path = "/v1/tenants/{tenant}/connectors/{id}", tag = "connectors",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"),
        ("id" = String, Path, description = "Connector id: lowercase letters, digits, dashes")),
    request_body = ConnectorBody,
    responses((status = 200, description = "Saved (created or replaced)", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn save(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ConnectorBody>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let channel = Channel::parse(&body.channel)
        .ok_or_else(|| ApiError::Unprocessable("bad_channel", format!("unknown channel {:?}", body.channel)))?;
    // Checked again at every request (a name may resolve elsewhere later); refusing here tells
    // the tenant now instead of in a failed reply.
    for name in connectors::URL_SETTINGS {
        if let Some(url) = body.settings.get(name) {
            crate::runtime::egress::check_url(url, app.config.server.allow_private_targets)
                .map_err(|e| ApiError::Unprocessable("bad_setting", format!("{name}: {e}")))?;
        }
    }
    let before = app.store.connector(&t, &id).await?;
    let secret_names: Vec<String> = body.secrets.keys().cloned().collect();
    connectors::save(
        app.store.as_ref(),
        &app.sealer,
        NewConnector {
            tenant: t.clone(),
            id: id.clone(),
            channel,
            account_id: body.account_id.clone(),
            secrets: body.secrets,
            settings: body.settings.clone(),
        },
    )
    .await
    .map_err(|e| ApiError::Unprocessable("invalid_connector", format!("{e:#}")))?;
    let old = before
        .as_ref()
        .map(|b| json!({ "channel": b.channel, "account_id": b.account_id, "settings": b.settings }));
    let new = json!({ "channel": channel, "account_id": body.account_id, "settings": body.settings, "secrets": secret_names });
    audit(
        &app,
        &principal,
        Some(&t),
        "connector.save",
        format!("connector:{id}"),
        old,
        Some(new),
    )
    .await?;
    let record = app
        .store
        .connector(&t, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("not_found", format!("no connector {id}")))?;
    Ok(Json(view(&app, &t, &record).await))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/connectors/{id}", tag = "connectors",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"),
        ("id" = String, Path, description = "Connector id")),
    responses((status = 204, description = "Removed"), crate::ingress::api::openapi::Errors))]
pub(crate) async fn remove(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    if !app.store.delete_connector(&t, &id).await? {
        return Err(ApiError::NotFound("not_found", format!("no connector {id}")));
    }
    audit(
        &app,
        &principal,
        Some(&t),
        "connector.delete",
        format!("connector:{id}"),
        None,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
