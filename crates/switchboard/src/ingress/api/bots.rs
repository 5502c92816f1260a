//! A tenant's bot definition over the API: validate a definition, upload it as a version,
//! activate a version (trained off the request's threads, swapped in whole).

use super::{audit, limit_param};
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, JsonBody, Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_core::BotSpec;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/bot", get(active))
        .route("/v1/tenants/{tenant}/bot/validate", post(validate))
        .route("/v1/tenants/{tenant}/bot/versions", get(versions).post(upload))
        .route("/v1/tenants/{tenant}/bot/versions/{id}/activate", post(activate))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BotSource {
    /// The bot definition: the text of a bot.toml.
    source: String,
}

/// A definition a tenant may upload: valid, and naming its form keys as tenant secrets. An
/// `env:NAME` key would read the server's environment, which is the operator's, not the tenant's.
fn uploadable(source: &str) -> Result<BotSpec, String> {
    let spec = BotSpec::from_toml(source).map_err(|e| e.to_string())?;
    for form in &spec.forms {
        if let switchboard_core::FormAction::Http { secret, .. } = &form.action
            && secret.starts_with("env:")
        {
            return Err(format!(
                "form {:?}: an uploaded definition names its key as `secret:NAME` (a tenant secret); `env:` is for \
                 bot folders on the server",
                form.name
            ));
        }
    }
    Ok(spec)
}

fn summary(spec: &BotSpec) -> Value {
    json!({
        "name": spec.name,
        "languages": spec.languages,
        "intents": spec.intents.len(),
        "entities": spec.entities.len(),
    })
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/bot", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo")),
    responses((status = 200, description = "The running bot definition", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn active(
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
    Ok(Json(
        json!({ "source": record.bot_source, "updated_at": record.updated_at }),
    ))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/bot/validate", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo")),
    request_body = BotSource,
    responses((status = 200, description = "`valid` with a summary, or the first error", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn validate(
    principal: Principal,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<BotSource>,
) -> Result<Json<Value>, ApiError> {
    principal.tenant(&tenant, Need::Admin)?;
    Ok(Json(match uploadable(&body.source) {
        Ok(spec) => json!({ "valid": true, "bot": summary(&spec) }),
        Err(e) => json!({ "valid": false, "error": e.to_string() }),
    }))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/bot/versions", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), super::records::LimitQuery),
    responses((status = 200, description = "Uploaded versions, newest first", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn versions(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<super::records::LimitQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    Ok(Json(json!({ "data": app.store.bot_versions(&t, limit).await? })))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/bot/versions", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo")),
    request_body = BotSource,
    responses((status = 201, description = "Validated and kept; activate it to run it", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn upload(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<BotSource>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let spec = uploadable(&body.source).map_err(|e| ApiError::Unprocessable("invalid_bot", e))?;
    let v = app.store.add_bot_version(&t, &body.source, &principal.actor()).await?;
    audit(
        &app,
        &principal,
        Some(&t),
        "bot.upload",
        format!("bot_version:{}", v.id),
        None,
        Some(summary(&spec)),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": v.id, "bot": summary(&spec), "created_at": v.created_at })),
    ))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/bot/versions/{id}/activate", tag = "bots",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("id" = i64, Path, description = "Version id")),
    responses((status = 200, description = "The version is the running bot", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn activate(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let v = app
        .store
        .bot_version(&t, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("not_found", format!("no bot version {id}")))?;
    let record = app
        .store
        .tenant(&t)
        .await?
        .ok_or_else(|| ApiError::unknown_tenant(&tenant))?;
    app.tenants
        .install(app.store.as_ref(), t.as_str(), &record.name, &v.source)
        .await
        .map_err(|e| ApiError::Unprocessable("invalid_bot", format!("{e:#}")))?;
    app.tenants.unwatch(&t);
    app.store.mark_bot_version_active(&t, id).await?;
    let old = json!({ "source_chars": record.bot_source.len() });
    audit(
        &app,
        &principal,
        Some(&t),
        "bot.activate",
        format!("bot_version:{id}"),
        Some(old),
        Some(json!({ "version": id })),
    )
    .await?;
    Ok(Json(json!({ "active": id })))
}
