//! `/v1/tenants/{tenant}/secrets`: secrets a tenant keeps in Switchboard, sealed under the
//! master key and never shown again after they are set. `chat_identity` signs the web chat's
//! vouched-for users; bot definitions name others as `secret:NAME` (form actions).

use super::audit;
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, JsonBody, Path};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use switchboard_core::TenantId;
use switchboard_core::clock::rfc3339;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/secrets", get(list))
        .route("/v1/tenants/{tenant}/secrets/{name}", put(set).delete(remove))
}

/// Lower-case letters, digits and `_`, 1 to 64: a name that fits a reference like
/// `secret:hook_key` in a bot definition.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(
            "invalid_secret_name",
            "a secret name is 1 to 64 lower-case letters, digits and `_`".into(),
        ))
    }
}

async fn existing(app: &App, principal: &Principal, raw: &str) -> Result<TenantId, ApiError> {
    let t = principal.tenant(raw, Need::Admin)?;
    app.store
        .tenant(&t)
        .await?
        .map(|_| t)
        .ok_or_else(|| ApiError::unknown_tenant(raw))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SecretView {
    name: String,
    created_at: String,
    updated_at: String,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/secrets", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo")), responses((status = 200, description = "The names of the tenant's secrets (never their values)", body = Vec<SecretView>), crate::ingress::api::openapi::Errors))]
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    let t = existing(&app, &principal, &tenant).await?;
    let all = app.store.tenant_secrets(&t).await?;
    Ok(Json(
        all.into_iter()
            .map(|s| SecretView {
                name: s.name,
                created_at: rfc3339(s.created_at),
                updated_at: rfc3339(s.updated_at),
            })
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetSecret {
    /// The value (8 to 4096 characters). Leave it out and set `generate` to have one made.
    #[serde(default)]
    value: Option<String>,
    /// Make a random value (256 bits, hex) and answer it, once.
    #[serde(default)]
    generate: bool,
}

#[utoipa::path(put, path = "/v1/tenants/{tenant}/secrets/{name}", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("name" = String, Path, description = "Secret name: `chat_identity` signs vouched-for chat users", example = "chat_identity")), request_body = SetSecret, responses((status = 200, description = "Stored sealed; a generated value is in `value`, shown this once", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn set(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<SetSecret>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let t = existing(&app, &principal, &tenant).await?;
    check_name(&name)?;
    let (value, generated) = match (body.value, body.generate) {
        (Some(v), false) => {
            let n = v.chars().count();
            if !(8..=4096).contains(&n) || v.chars().any(char::is_control) {
                return Err(ApiError::Unprocessable(
                    "invalid_secret",
                    "a secret value is 8 to 4096 characters without control characters".into(),
                ));
            }
            (v, false)
        }
        (None, true) => (hex::encode(rand::random::<[u8; 32]>()), true),
        _ => {
            return Err(ApiError::Unprocessable(
                "invalid_secret",
                "give either `value` or `generate: true`".into(),
            ));
        }
    };
    let sealed = app.sealer.seal(value.as_bytes()).map_err(ApiError::Internal)?;
    app.store.set_tenant_secret(&t, &name, Some(sealed)).await?;
    audit(
        &app,
        &principal,
        Some(&t),
        "secret.set",
        format!("secret:{name}"),
        None,
        None,
    )
    .await?;
    let mut view = json!({ "name": name });
    if generated {
        view["value"] = json!(value);
    }
    Ok(Json(view))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant}/secrets/{name}", tag = "tenants", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("name" = String, Path, description = "Secret name", example = "chat_identity")), responses((status = 204, description = "Removed"), crate::ingress::api::openapi::Errors))]
pub(crate) async fn remove(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = existing(&app, &principal, &tenant).await?;
    if check_name(&name).is_err() || !app.store.set_tenant_secret(&t, &name, None).await? {
        return Err(ApiError::NotFound(
            "unknown_secret",
            format!("no secret named {name:?}"),
        ));
    }
    audit(
        &app,
        &principal,
        Some(&t),
        "secret.delete",
        format!("secret:{name}"),
        None,
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
