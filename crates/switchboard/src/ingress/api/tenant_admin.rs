//! `/v1/tenants/{tenant}`: settings, suspend and resume, export everything, delete everything.

use super::audit;
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, JsonBody, Path, Query};
use crate::tenant_data::{self, settings_view};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_core::TenantId;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/v1/tenants/{tenant}/settings",
            get(read_settings).patch(update_settings),
        )
        .route("/v1/tenants/{tenant}/suspend", post(suspend))
        .route("/v1/tenants/{tenant}/resume", post(resume))
        .route("/v1/tenants/{tenant}/export", get(export))
}

/// The tenant, once it is known to exist: a valid id the caller may see is not enough.
async fn existing(app: &App, principal: &Principal, raw: &str, need: Need) -> Result<TenantId, ApiError> {
    let t = principal.tenant(raw, need)?;
    app.store
        .tenant(&t)
        .await?
        .map(|_| t)
        .ok_or_else(|| ApiError::unknown_tenant(raw))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/settings", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "The tenant's settings", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn read_settings(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = existing(&app, &principal, &tenant, Need::Admin).await?;
    Ok(Json(settings_view(&app.store.tenant_settings(&t).await?)))
}

/// `null` clears a setting; an absent field leaves it as it is.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsPatch {
    /// IANA time zone (`Europe/Paris`); `null`: the bot's own.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    time_zone: Option<Option<String>>,
    #[serde(default)]
    languages: Option<Vec<String>>,
    /// Overrides the bot's `[consent] required`; `null`: the bot decides.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    consent_required: Option<Option<bool>>,
    /// Inbound messages per UTC calendar month; `null`: unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    monthly_message_quota: Option<Option<u64>>,
    /// Web chat page origins (`https://shop.example`) allowed to call the chat API.
    #[serde(default)]
    allowed_origins: Option<Vec<String>>,
}

#[utoipa::path(patch, path = "/v1/tenants/{tenant}/settings", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), request_body = SettingsPatch, responses((status = 200, description = "The updated settings", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn update_settings(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<serde_json::Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    // Read as an object first: serde would also take a struct of optional fields from an array.
    let patch: SettingsPatch = serde_json::from_value(Value::Object(body)).map_err(|e| {
        ApiError::BadRequest(
            "invalid_json",
            format!("the request body is not the expected JSON: {e}"),
        )
    })?;
    let t = existing(&app, &principal, &tenant, Need::Admin).await?;
    let old = app.store.tenant_settings(&t).await?;
    let mut new = old.clone();
    if let Some(zone) = patch.time_zone {
        new.time_zone = zone.map(|z| tenant_data::check_time_zone(&z)).transpose()?;
    }
    if let Some(langs) = patch.languages {
        new.languages = tenant_data::check_languages(langs)?;
    }
    if let Some(required) = patch.consent_required {
        new.consent_required = required;
    }
    if let Some(quota) = patch.monthly_message_quota {
        // The document promises a 64-bit signed integer; the store keeps one.
        if quota.is_some_and(|q| q > i64::MAX as u64) {
            return Err(ApiError::Unprocessable(
                "bad_quota",
                "`monthly_message_quota` is larger than a 64-bit signed integer".into(),
            ));
        }
        new.monthly_message_quota = quota;
    }
    if let Some(origins) = patch.allowed_origins {
        new.allowed_origins = tenant_data::check_origins(origins)?;
    }
    app.store.set_tenant_settings(&t, new).await?;
    let stored = app.store.tenant_settings(&t).await?;
    let (old_v, new_v) = (settings_view(&old), settings_view(&stored));
    audit(
        &app,
        &principal,
        Some(&t),
        "tenant.settings",
        format!("tenant:{t}"),
        Some(old_v),
        Some(new_v.clone()),
    )
    .await?;
    Ok(Json(new_v))
}

async fn set_suspended(app: &App, principal: &Principal, raw: &str, suspend: bool) -> Result<Json<Value>, ApiError> {
    let t = existing(app, principal, raw, Need::Super).await?;
    let old = app.store.tenant_settings(&t).await?;
    let at = match (suspend, old.suspended_at) {
        // Suspending twice keeps the first time: it says since when.
        (true, Some(at)) => Some(at),
        (true, None) => Some(app.clock.now_ms()),
        (false, _) => None,
    };
    let new = switchboard_store::TenantSettings {
        suspended_at: at,
        ..old.clone()
    };
    app.store.set_tenant_settings(&t, new).await?;
    let action = if suspend { "tenant.suspend" } else { "tenant.resume" };
    let view = settings_view(&app.store.tenant_settings(&t).await?);
    audit(
        app,
        principal,
        Some(&t),
        action,
        format!("tenant:{t}"),
        Some(json!({ "suspended": old.suspended_at.is_some() })),
        Some(json!({ "suspended": suspend })),
    )
    .await?;
    Ok(Json(view))
}

/// Chat and platform webhooks answer 403 `tenant_suspended`; the management API stays open.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/suspend", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "Suspended; the settings", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn suspend(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_suspended(&app, &principal, &tenant, true).await
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/resume", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "Serving again; the settings", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn resume(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_suspended(&app, &principal, &tenant, false).await
}

/// Streams every record of the tenant as JSON Lines; credentials are left out.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/export", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "Every record of the tenant, streamed", content((String = "application/x-ndjson"))), crate::ingress::api::openapi::Errors))]
pub(crate) async fn export(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Response, ApiError> {
    let t = existing(&app, &principal, &tenant, Need::Admin).await?;
    audit(
        &app,
        &principal,
        Some(&t),
        "tenant.export",
        format!("tenant:{t}"),
        None,
        None,
    )
    .await?;
    let stream = tenant_data::export(app.store.clone(), t.clone());
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tenant-{t}.jsonl\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeleteQuery {
    /// The tenant's id again, to confirm.
    confirm: Option<String>,
}

/// Deletes every row of the tenant in one transaction and stops serving it. The tenant's audit
/// entries go too; the deletion itself is audited outside any tenant.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), DeleteQuery), responses((status = 204, description = "Deleted with all its data"), crate::ingress::api::openapi::Errors))]
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let t = existing(&app, &principal, &tenant, Need::Super).await?;
    if q.confirm.as_deref() != Some(t.as_str()) {
        return Err(ApiError::Unprocessable(
            "confirmation_required",
            format!("deleting every record of {t} needs `?confirm={t}`"),
        ));
    }
    let counts = app.store.tenant_row_counts(&t).await?;
    if !app.store.delete_tenant(&t).await? {
        return Err(ApiError::unknown_tenant(&tenant));
    }
    app.tenants.unload(&t);
    let rows: serde_json::Map<String, Value> = counts.into_iter().map(|(k, n)| (k, json!(n))).collect();
    audit(
        &app,
        &principal,
        None,
        "tenant.delete",
        format!("tenant:{t}"),
        Some(Value::Object(rows)),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
