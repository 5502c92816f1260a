//! Who is asking: people (argon2id passwords, short-lived JWT access tokens, rotating refresh
//! tokens with reuse detection, lockout) and API keys (per tenant, scoped). Every management
//! route takes a [`Principal`]; [`Principal::tenant`] is the one place that decides which
//! tenant a request may touch, so isolation is enforced once.

pub mod routes;
pub mod tokens;

use crate::app::App;
use crate::http::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use switchboard_core::TenantId;
use switchboard_store::Role;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub access_ttl_s: i64,
    pub refresh_ttl_s: i64,
    /// Failed logins in a row that lock an account, and for how long.
    pub lockout_failures: u32,
    pub lockout_s: i64,
    /// Login and refresh attempts per client IP and minute.
    pub login_per_minute: u32,
    /// Management API requests per API key or person, per second (bursts of twice that).
    pub api_per_second: u32,
}

/// What a request may need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Read the tenant's data.
    Read,
    /// Act on conversations (close, take over, reply).
    Agent,
    /// Change the tenant: people, keys, connectors, bots.
    Admin,
    /// Every tenant: create and delete them.
    Super,
}

/// The scopes an API key can have, each granting one [`Need`] and those below it.
pub const SCOPES: [&str; 3] = ["read", "agent", "admin"];

#[derive(Clone, Debug)]
pub enum Principal {
    User {
        id: String,
        role: Role,
        tenant: Option<TenantId>,
        session: String,
    },
    Key {
        id: String,
        tenant: TenantId,
        scopes: Vec<String>,
    },
}

impl Principal {
    /// `user:<id>` or `key:<id>`, for the audit log.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::Key { id, .. } => format!("key:{id}"),
        }
    }

    fn home(&self) -> Option<&TenantId> {
        match self {
            Principal::User { tenant, .. } => tenant.as_ref(),
            Principal::Key { tenant, .. } => Some(tenant),
        }
    }

    pub fn is_super(&self) -> bool {
        matches!(
            self,
            Principal::User {
                role: Role::SuperAdmin,
                ..
            }
        )
    }

    fn grants(&self, need: Need) -> bool {
        match self {
            Principal::User { role, .. } => match need {
                Need::Read => true,
                Need::Agent => *role >= Role::Agent,
                Need::Admin => *role >= Role::Admin,
                Need::Super => *role == Role::SuperAdmin,
            },
            Principal::Key { scopes, .. } => {
                let has = |s: &str| scopes.iter().any(|x| x == s);
                match need {
                    Need::Read => has("read") || has("agent") || has("admin"),
                    Need::Agent => has("agent") || has("admin"),
                    Need::Admin => has("admin"),
                    Need::Super => false,
                }
            }
        }
    }

    /// The tenant a request for `{tenant}` may act on, checked for `need`. Another tenant's
    /// data answers exactly like a tenant that does not exist: nothing leaks, not even
    /// existence.
    pub fn tenant(&self, requested: &str, need: Need) -> Result<TenantId, ApiError> {
        let t = TenantId::parse(requested).map_err(|_| ApiError::unknown_tenant(requested))?;
        if !self.is_super() && self.home() != Some(&t) {
            return Err(ApiError::unknown_tenant(requested));
        }
        self.require(need)?;
        Ok(t)
    }

    pub fn require(&self, need: Need) -> Result<(), ApiError> {
        if self.grants(need) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "forbidden",
                format!("this needs the {need:?} permission, which this role or key does not have").to_lowercase(),
            ))
        }
    }
}

impl FromRequestParts<Arc<App>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::Unauthorized("an Authorization header is required".into()))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()))?;
        let principal = if tokens::api_key_prefix(token).is_some() {
            api_key(app, token).await?
        } else {
            access_token(app, token).await?
        };
        ::metrics::counter!("switchboard_api_auth_total", "kind" => match principal {
            Principal::User { .. } => "user",
            Principal::Key { .. } => "key",
        })
        .increment(1);
        Ok(principal)
    }
}

async fn api_key(app: &App, key: &str) -> Result<Principal, ApiError> {
    let invalid = || ApiError::Unauthorized("the API key is not valid".into());
    let prefix = tokens::api_key_prefix(key).ok_or_else(invalid)?;
    let record = app.store.api_key_by_prefix(prefix).await?.ok_or_else(invalid)?;
    if record.revoked_at.is_some() || !tokens::same_hash(&record.hash, &tokens::sha256_hex(key)) {
        return Err(invalid());
    }
    // Bookkeeping, at most once a minute per key (so not a write per request); a failure to
    // record the use must not refuse the request.
    let stale = record.last_used_at.is_none_or(|t| app.clock.now_ms() - t > 60_000);
    if stale && let Err(e) = app.store.touch_api_key(&record.id).await {
        tracing::warn!(key = %record.id, error = %e, "cannot record an API key's use");
    }
    Ok(Principal::Key {
        id: record.id,
        tenant: record.tenant,
        scopes: record.scopes,
    })
}

async fn access_token(app: &App, token: &str) -> Result<Principal, ApiError> {
    let now_s = app.clock.now_ms() / 1000;
    let claims = tokens::verify_access(app.sealer.token_key(), token, now_s)
        .ok_or_else(|| ApiError::Unauthorized("the access token is not valid or has expired".into()))?;
    // A deleted or disabled person loses access at once, not when the token expires.
    let user = app
        .store
        .user(&claims.sub)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| ApiError::Unauthorized("the access token's account no longer exists".into()))?;
    Ok(Principal::User {
        id: user.id,
        role: user.role,
        tenant: user.tenant,
        session: claims.sid,
    })
}
