//! Who is asking: people (argon2id passwords, short-lived JWT access tokens, rotating refresh
//! tokens with reuse detection, lockout) and API keys (per tenant, scoped). Every management
//! route takes a [`Principal`]; [`Principal::tenant`] is the one place that decides which
//! tenant a request may touch, so isolation is enforced once.

pub mod routes;
pub mod tokens;

use crate::app::App;
use crate::ingress::http::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
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
    /// Requests with wrong credentials per client IP and minute; past it, that address is
    /// refused before its credentials are even checked.
    pub failed_auth_per_minute: u32,
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

/// The token of an `Authorization: Bearer <token>` value. Auth schemes are case-insensitive
/// (RFC 9110 section 11.1): `bearer` and `BEARER` name the same scheme.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Why a request's credentials were refused.
#[derive(Debug)]
pub struct Refused {
    pub error: ApiError,
    /// Whether it counts as a wrong guess against the client's address. An access token that
    /// merely expired does not: every client meets that every few minutes.
    pub guess: bool,
}

impl Refused {
    fn guess(message: &str) -> Refused {
        Refused {
            error: ApiError::Unauthorized(message.to_owned()),
            guess: true,
        }
    }
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused { error, guess: false }
    }
}

impl From<switchboard_store::StoreError> for Refused {
    fn from(e: switchboard_store::StoreError) -> Refused {
        ApiError::from(e).into()
    }
}

/// Who the request's credentials name; `None` when it carries no Authorization header.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Option<Principal>, Refused> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(bearer_token)
        .ok_or_else(|| Refused::guess("the Authorization header must be `Bearer <token>`"))?;
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
    Ok(Some(principal))
}

/// Left in the request's extensions by the API's middleware when the credentials were refused:
/// routes that need none (login, refresh) go on, the others answer 401 with this message.
#[derive(Clone, Debug)]
pub struct NotAuthenticated(pub String);

impl FromRequestParts<Arc<App>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        // The API's middleware authenticated the request already, to rate limit it by caller.
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        if let Some(NotAuthenticated(why)) = parts.extensions.get::<NotAuthenticated>() {
            return Err(ApiError::Unauthorized(why.clone()));
        }
        authenticate(app, &parts.headers)
            .await
            .map_err(|r| r.error)?
            .ok_or_else(|| ApiError::Unauthorized("an Authorization header is required".into()))
    }
}

async fn api_key(app: &App, key: &str) -> Result<Principal, Refused> {
    let invalid = || Refused::guess("the API key is not valid");
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

async fn access_token(app: &App, token: &str) -> Result<Principal, Refused> {
    let now_s = app.clock.now_ms() / 1000;
    let key = app.sealer.token_key();
    let Some(claims) = tokens::verify_access(key, token, now_s) else {
        // Signed by us and only past its expiry: a client that has yet to refresh, not a guesser.
        let expired = tokens::verify_access(key, token, i64::MIN).is_some();
        return Err(Refused {
            error: ApiError::Unauthorized("the access token is not valid or has expired".into()),
            guess: !expired,
        });
    };
    // A deleted or disabled person, or an ended session (logout, a reused refresh token, a new
    // password), loses access at once, not when the token expires: one indexed read per request,
    // so that it holds on every instance the moment the store has it.
    let user = app
        .store
        .session_user(&claims.sub, &claims.sid)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| Refused::guess("the access token's session has ended"))?;
    Ok(Principal::User {
        id: user.id,
        role: user.role,
        tenant: user.tenant,
        session: claims.sid,
    })
}
