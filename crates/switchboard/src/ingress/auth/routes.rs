//! `/v1/auth/*`: log in, refresh, log out, and who am I.

use super::tokens::{self, Claims};
use super::{Need, Principal};
use crate::app::App;
use crate::ingress::http::{ApiError, JsonBody, Peer};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_store::{RefreshUse, UserRecord};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/me", get(me))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    email: String,
    password: String,
    /// The tenant of the account. Needed only when the email has accounts in several tenants
    /// (emails are unique per tenant); without it, a super admin's account, else the one
    /// account with that email.
    #[serde(default)]
    tenant: Option<String>,
}

/// Login attempts per client IP: a burst, then one every few seconds.
fn limit_ip(app: &App, peer: Option<Extension<Peer>>, what: &str) -> Result<(), ApiError> {
    let ip = peer.map_or_else(|| "unknown".to_owned(), |Extension(Peer(ip))| ip.to_string());
    let per_minute = app.config.auth.login_per_minute.max(1);
    let admission = app.limiter.admit(
        &format!("{what}:{ip}"),
        f64::from(per_minute) / 60.0,
        per_minute,
        std::time::Instant::now(),
    );
    if admission.allowed {
        return Ok(());
    }
    ::metrics::counter!("switchboard_rate_limited_total", "scope" => "auth_ip").increment(1);
    Err(ApiError::TooManyRequests {
        message: format!("too many {what} attempts from this address; try again later"),
        retry_after_s: admission.retry_after_s,
    })
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()), request_body = Login, responses((status = 200, description = "An access token, a refresh token and the person", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn login(
    State(app): State<Arc<App>>,
    peer: Option<Extension<Peer>>,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<Value>, ApiError> {
    limit_ip(&app, peer, "login")?;
    let wrong = || ApiError::Unauthorized("wrong email or password".into());
    let email = body.email.trim().to_lowercase();
    let tenant = body.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty());
    // Failures are counted, and logins locked, by what the login names rather than by the
    // account found: an email without an account locks exactly like one with an account, so
    // neither the 429 nor its absence tells who has one.
    let name = tokens::sha256_hex(&format!("{}\n{email}", tenant.unwrap_or("")));
    let now = app.clock.now_ms();
    if let Some(until) = app.store.login_lock(&name).await?.filter(|u| *u > now) {
        return Err(ApiError::TooManyRequests {
            message: "too many failed logins for this email; try again later".into(),
            retry_after_s: ((until - now) / 1000).max(1) as u64,
        });
    }
    let user = account(app.store.users_by_email(&email).await?, tenant);
    // The same work whether or not there is an account: the password is checked against a
    // decoy hash when there is none, so the answer's timing does not tell either.
    let hash = user
        .as_ref()
        .map_or_else(|| tokens::decoy_hash().to_owned(), |u| u.password_hash.clone());
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || tokens::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let cfg = &app.config.auth;
    let Some(user) = user.filter(|u| matches && !u.disabled) else {
        app.store
            .login_failed(&name, cfg.lockout_failures, cfg.lockout_s * 1000)
            .await?;
        ::metrics::counter!("switchboard_logins_total", "result" => "failed").increment(1);
        return Err(wrong());
    };
    app.store.login_succeeded(&name).await?;
    ::metrics::counter!("switchboard_logins_total", "result" => "ok").increment(1);
    let family = uuid::Uuid::now_v7().to_string();
    Ok(Json(session(&app, &user, &family).await?))
}

/// The account a login names: the one of `tenant` when it names one; otherwise the super
/// admin's, else the email's only account (an email in several tenants must name the tenant).
fn account(mut candidates: Vec<UserRecord>, tenant: Option<&str>) -> Option<UserRecord> {
    match tenant {
        Some(t) => candidates
            .into_iter()
            .find(|u| u.tenant.as_ref().is_some_and(|ut| ut.as_str() == t)),
        None => {
            if let Some(i) = candidates.iter().position(|u| u.tenant.is_none()) {
                return Some(candidates.swap_remove(i));
            }
            let mut it = candidates.into_iter();
            match (it.next(), it.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// A new access token and the next refresh token of the session `family`.
async fn session(app: &App, user: &UserRecord, family: &str) -> Result<Value, ApiError> {
    let cfg = &app.config.auth;
    let now_s = app.clock.now_ms() / 1000;
    let claims = Claims {
        sub: user.id.clone(),
        role: user.role,
        tenant: user.tenant.as_ref().map(|t| t.to_string()),
        sid: family.to_owned(),
        iat: now_s,
        exp: now_s + cfg.access_ttl_s,
    };
    let access = tokens::issue_access(app.sealer.token_key(), &claims)?;
    let refresh = tokens::new_refresh_token();
    app.store
        .add_refresh_token(
            &tokens::sha256_hex(&refresh),
            &user.id,
            family,
            (now_s + cfg.refresh_ttl_s) * 1000,
        )
        .await?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": cfg.access_ttl_s,
        "refresh_token": refresh,
        "user": user,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Refresh {
    refresh_token: String,
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", security(()), request_body = Refresh, responses((status = 200, description = "A new access token and the next refresh token", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn refresh(
    State(app): State<Arc<App>>,
    peer: Option<Extension<Peer>>,
    JsonBody(body): JsonBody<Refresh>,
) -> Result<Json<Value>, ApiError> {
    limit_ip(&app, peer, "refresh")?;
    let invalid = || ApiError::Unauthorized("the refresh token is not valid".into());
    match app
        .store
        .use_refresh_token(&tokens::sha256_hex(&body.refresh_token))
        .await?
    {
        RefreshUse::Valid { user_id, family } => {
            let user = app
                .store
                .user(&user_id)
                .await?
                .filter(|u| !u.disabled)
                .ok_or_else(invalid)?;
            Ok(Json(session(&app, &user, &family).await?))
        }
        RefreshUse::Reused { user_id, family } => {
            tracing::warn!(user = %user_id, session = %family, "a used refresh token was presented again; the session is revoked");
            ::metrics::counter!("switchboard_refresh_reuse_total").increment(1);
            app.store
                .add_audit(switchboard_store::NewAudit {
                    tenant: app.store.user(&user_id).await?.and_then(|u| u.tenant),
                    actor: format!("user:{user_id}"),
                    action: "session.revoked_on_reuse".into(),
                    target: format!("session:{family}"),
                    old_value: None,
                    new_value: None,
                })
                .await?;
            Err(invalid())
        }
        RefreshUse::Invalid => Err(invalid()),
    }
}

/// Ends the caller's session: its refresh tokens and its access tokens stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses((status = 200, description = "The session's refresh and access tokens are revoked", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn logout(State(app): State<Arc<App>>, principal: Principal) -> Result<Json<Value>, ApiError> {
    let Principal::User { session, .. } = &principal else {
        return Err(ApiError::BadRequest(
            "not_a_session",
            "an API key has no session to end".into(),
        ));
    };
    app.store.revoke_refresh_family(session).await?;
    Ok(Json(json!({ "logged_out": true })))
}

#[utoipa::path(get, path = "/v1/me", tag = "auth", responses((status = 200, description = "The caller: a person or an API key", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn me(State(app): State<Arc<App>>, principal: Principal) -> Result<Json<Value>, ApiError> {
    principal.require(Need::Read)?;
    Ok(Json(match &principal {
        Principal::User { id, .. } => json!({ "kind": "user", "user": app.store.user(id).await? }),
        Principal::Key { id, tenant, scopes } => {
            json!({ "kind": "api_key", "id": id, "tenant": tenant, "scopes": scopes })
        }
    }))
}
