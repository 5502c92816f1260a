//! `POST /v1/chat/{tenant}/sessions`: a chat token for a new anonymous visitor, or for a user
//! the tenant vouches for (see `identity`).

use super::identity::{self, ChatUser, IDENTITY_SECRET, Identity};
use super::{bad_path, ip_of, limits, serving};
use crate::app::App;
use crate::ingress::http::{ApiError, Peer};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use switchboard_core::TenantId;
use switchboard_core::clock::rfc3339;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StartSession {
    #[serde(default)]
    identity: Option<Identity>,
}

#[derive(Serialize)]
struct SessionView {
    user: String,
    token: String,
    expires_at: String,
    /// The tenant vouched for `user` (else an anonymous visitor).
    verified: bool,
}

/// The body is optional: none (or `{}`) starts an anonymous visitor.
async fn read(app: &App, req: Request) -> Result<StartSession, ApiError> {
    let not_json = crate::ingress::http::declared_not_json(req.headers());
    let bytes = crate::ingress::http::read_body(req.into_body(), app).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(StartSession::default());
    }
    if not_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    crate::ingress::http::parse_json(&bytes)
}

async fn identity_secret(app: &App, tenant: &TenantId) -> Result<Vec<u8>, ApiError> {
    let sealed = app.store.tenant_secret(tenant, IDENTITY_SECRET).await?.ok_or_else(|| {
        ApiError::Forbidden(
            "identity_not_configured",
            format!("tenant {tenant} has no identity secret: users cannot be vouched for"),
        )
    })?;
    app.sealer
        .open(&sealed)
        .map_err(|e| ApiError::Internal(e.context(format!("opening the identity secret of {tenant}"))))
}

pub(super) async fn start(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let ip = ip_of(&peer);
    limits::request(&app, ip)?;
    let Path(tenant) = path.map_err(bad_path)?;
    let tenant = serving(&app, &tenant).await?;
    let body = read(&app, req).await?;
    let now_s = app.clock.now_ms() / 1000;
    let (user, ttl) = match body.identity {
        Some(identity) => {
            identity.check_shape()?;
            let secret = identity_secret(&app, &tenant).await?;
            let user = identity::vouched_user(&identity, &tenant, &secret, app.config.chat.max_user_chars, now_s)?;
            (
                ChatUser { user, verified: true },
                app.config.chat.identified_session_ttl_s,
            )
        }
        None => {
            // Only new identities are limited: a vouched user's page may ask at every visit.
            limits::session(&app, ip)?;
            (
                ChatUser {
                    user: identity::new_visitor_id(),
                    verified: false,
                },
                app.config.chat.session_ttl_s,
            )
        }
    };
    let expires_s = now_s + ttl.max(60);
    let view = SessionView {
        token: identity::issue(app.sealer.chat_key(), &tenant, &user, expires_s),
        expires_at: rfc3339(expires_s * 1000),
        verified: user.verified,
        user: user.user,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}
