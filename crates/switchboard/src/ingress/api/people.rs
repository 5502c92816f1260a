//! A tenant's people, API keys and audit log.

use super::{audit, clean_text};
use crate::app::App;
use crate::ingress::auth::{Need, Principal, SCOPES, tokens};
use crate::ingress::http::{ApiError, JsonBody};
use crate::ingress::http::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_store::{NewApiKey, NewUser, Role};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/users", get(users).post(create_user))
        .route("/v1/tenants/{tenant}/users/{id}", delete(delete_user))
        .route("/v1/tenants/{tenant}/api-keys", get(keys).post(create_key))
        .route("/v1/tenants/{tenant}/api-keys/{id}", delete(revoke_key))
        .route("/v1/tenants/{tenant}/audit", get(audit_log))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/users", tag = "people", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "The tenant's people", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn users(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    Ok(Json(json!({ "data": app.store.users(Some(&t)).await? })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPerson {
    email: String,
    name: String,
    role: String,
    password: String,
}

/// A plausible address: something@something.something, no spaces. Delivery is not checked.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/users", tag = "people", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), request_body = NewPerson, responses((status = 201, description = "Created", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn create_user(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<NewPerson>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let role = Role::parse(&body.role)
        .filter(|r| *r != Role::SuperAdmin)
        .ok_or_else(|| ApiError::Unprocessable("bad_role", "`role` must be admin, agent or viewer".into()))?;
    let email = body.email.trim().to_lowercase();
    if !valid_email(&email) {
        return Err(ApiError::Unprocessable(
            "bad_email",
            "`email` is not an email address".into(),
        ));
    }
    tokens::check_password_policy(&body.password, &email).map_err(|m| ApiError::Unprocessable("weak_password", m))?;
    let password = body.password;
    let hash = tokio::task::spawn_blocking(move || tokens::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    let user = app
        .store
        .create_user(NewUser {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: Some(t.clone()),
            email,
            name: clean_text(&body.name),
            role,
            password_hash: hash,
        })
        .await?;
    let after = json!({ "email": user.email, "role": user.role });
    audit(
        &app,
        &principal,
        Some(&t),
        "user.create",
        format!("user:{}", user.id),
        None,
        Some(after),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/users/{id}", tag = "people", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("id" = String, Path, description = "Person id")), responses((status = 204, description = "Deleted, with their sessions"), crate::ingress::api::openapi::Errors))]
pub(crate) async fn delete_user(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let before = app.store.user(&id).await?.filter(|u| u.tenant.as_ref() == Some(&t));
    let Some(before) = before else {
        return Err(ApiError::NotFound(
            "not_found",
            format!("no person {id} in this tenant"),
        ));
    };
    app.store.delete_user(Some(&t), &id).await?;
    let old = json!({ "email": before.email, "role": before.role });
    audit(
        &app,
        &principal,
        Some(&t),
        "user.delete",
        format!("user:{id}"),
        Some(old),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/api-keys", tag = "api keys", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "The tenant's API keys (prefixes, never the keys)", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn keys(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    Ok(Json(json!({ "data": app.store.api_keys(&t).await? })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    name: String,
    scopes: Vec<String>,
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/api-keys", tag = "api keys", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), request_body = NewKey, responses((status = 201, description = "Created; `key` is shown this once", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn create_key(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    if body.scopes.is_empty() || body.scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApiError::Unprocessable(
            "bad_scopes",
            format!("`scopes` must name some of {SCOPES:?}"),
        ));
    }
    let (key, prefix) = tokens::new_api_key();
    let record = app
        .store
        .create_api_key(
            &t,
            NewApiKey {
                id: uuid::Uuid::now_v7().to_string(),
                name: clean_text(&body.name),
                prefix,
                hash: tokens::sha256_hex(&key),
                scopes: body.scopes,
            },
        )
        .await?;
    let after = json!({ "name": record.name, "scopes": record.scopes, "prefix": record.prefix });
    audit(
        &app,
        &principal,
        Some(&t),
        "api_key.create",
        format!("api_key:{}", record.id),
        None,
        Some(after),
    )
    .await?;
    let mut view = json!(record);
    // Shown this once; only its hash is kept.
    view["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/api-keys/{id}", tag = "api keys", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("id" = String, Path, description = "API key id")), responses((status = 204, description = "Revoked"), crate::ingress::api::openapi::Errors))]
pub(crate) async fn revoke_key(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    if !app.store.revoke_api_key(&t, &id).await? {
        return Err(ApiError::NotFound(
            "not_found",
            format!("no live API key {id} in this tenant"),
        ));
    }
    audit(
        &app,
        &principal,
        Some(&t),
        "api_key.revoke",
        format!("api_key:{id}"),
        None,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Limit {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit", tag = "people", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), Limit), responses((status = 200, description = "Administrative actions, newest first", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn audit_log(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<Limit>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Admin)?;
    let limit = super::limit_param(q.limit)?;
    Ok(Json(json!({ "data": app.store.audit_log(Some(&t), limit).await? })))
}
