//! The management REST API under `/v1/`: tenants, people, API keys, conversations, handoffs,
//! consent, outbound event webhooks and the audit log. Every route takes a [`Principal`]; the
//! tenant in the path is checked by [`Principal::tenant`] and the store is only ever called
//! with the tenant it returns.

mod analytics;
mod bots;
mod connectors;
mod conversations;
mod events;
mod handoff;
pub mod openapi;
mod people;
mod records;
mod results;
pub mod secrets;
pub use people::valid_email;
mod tenant_admin;
mod tenants;

use crate::app::App;
use crate::ingress::http::{ApiError, Peer};
use crate::runtime::ratelimit::Admission;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use switchboard_store::NewAudit;

pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .merge(crate::ingress::auth::routes::router())
        .merge(tenants::router())
        .merge(tenant_admin::router())
        .merge(people::router())
        .merge(conversations::router())
        .merge(handoff::router())
        .merge(events::router())
        .merge(openapi::router())
        .merge(analytics::router())
        .merge(results::router())
        .merge(connectors::router())
        .merge(records::router())
        .merge(bots::router())
        .merge(secrets::router())
        .layer(axum::middleware::from_fn_with_state(app, limit_and_secure))
}

/// Request limits and the security headers every API answer carries. A request with
/// credentials is authenticated here, once (the [`Principal`] travels to the handler in the
/// request's extensions), so that it counts against who it really is: an API key or a person,
/// `auth.api_per_second`, with `X-RateLimit-*` headers. Wrong credentials count against the
/// client's address instead (`auth.failed_auth_per_minute`), checked before anything else: a
/// guesser is cut off, and cannot use up the limit of the key whose prefix it sends.
async fn limit_and_secure(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    mut req: Request,
    next: Next,
) -> Response {
    let (mut res, admission) = match admit(&app, &mut req).await {
        Ok(admission) => (next.run(req).await, admission),
        Err((e, admission)) => (e.into_response(), admission),
    };
    let h = res.headers_mut();
    if let Some(a) = admission {
        h.insert(HeaderName::from_static("x-ratelimit-limit"), HeaderValue::from(a.limit));
        h.insert(
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(a.remaining),
        );
        h.insert(
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderValue::from(a.retry_after_s.max(1)),
        );
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The docs page sets its own (it runs a script); everything else runs nothing.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    res
}

type Refusal = (ApiError, Option<Admission>);

/// Authenticates a request that carries credentials and applies both limits; requests without
/// any go on to their handler (login and refresh have limits of their own, the rest answer 401).
async fn admit(app: &App, req: &mut Request) -> Result<Option<Admission>, Refusal> {
    if !req.headers().contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    let ip = req
        .extensions()
        .get::<Peer>()
        .map_or_else(|| "unknown".to_owned(), |Peer(ip)| ip.to_string());
    let failures_key = format!("auth_failed:{ip}");
    let per_minute = app.config.auth.failed_auth_per_minute.max(1);
    let failures = |a: &crate::runtime::ratelimit::Limiter, take: bool| {
        let rate = f64::from(per_minute) / 60.0;
        if take {
            a.admit(&failures_key, rate, per_minute, Instant::now())
        } else {
            a.peek(&failures_key, rate, per_minute, Instant::now())
        }
    };
    let blocked = failures(&app.limiter, false);
    if !blocked.allowed {
        ::metrics::counter!("switchboard_rate_limited_total", "scope" => "auth_failures").increment(1);
        return Err((
            ApiError::TooManyRequests {
                message: "too many requests with wrong credentials from this address; try again later".into(),
                retry_after_s: blocked.retry_after_s,
            },
            None,
        ));
    }
    let principal = match crate::ingress::auth::authenticate(app, req.headers()).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        Err(refused) => {
            if refused.guess {
                failures(&app.limiter, true);
            }
            return match refused.error {
                // Handed on rather than answered here: login and refresh need no credentials,
                // and a client that sends its expired token along must still reach them.
                ApiError::Unauthorized(why) => {
                    req.extensions_mut().insert(crate::ingress::auth::NotAuthenticated(why));
                    Ok(None)
                }
                other => Err((other, None)),
            };
        }
    };
    let rate = app.config.auth.api_per_second.max(1);
    let a = app
        .limiter
        .admit(&principal.actor(), f64::from(rate), rate * 2, Instant::now());
    if !a.allowed {
        ::metrics::counter!("switchboard_rate_limited_total", "scope" => "api").increment(1);
        return Err((
            ApiError::TooManyRequests {
                message: "too many requests for this key; slow down".into(),
                retry_after_s: a.retry_after_s,
            },
            Some(a),
        ));
    }
    req.extensions_mut().insert(principal);
    Ok(Some(a))
}

/// An opaque page cursor: where the previous page ended.
pub fn cursor(at: i64, id: &str) -> String {
    B64URL.encode(format!("{at}:{id}"))
}

pub fn parse_cursor(c: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::BadRequest("bad_cursor", "the cursor is not one this API gave".into());
    let raw = B64URL.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

/// Records an administrative action: who, what, the old and new values.
pub async fn audit(
    app: &App,
    principal: &crate::ingress::auth::Principal,
    tenant: Option<&switchboard_core::TenantId>,
    action: &str,
    target: String,
    old_value: Option<Value>,
    new_value: Option<Value>,
) -> Result<(), ApiError> {
    app.store
        .add_audit(NewAudit {
            tenant: tenant.cloned(),
            actor: principal.actor(),
            action: action.to_owned(),
            target,
            old_value,
            new_value,
        })
        .await?;
    Ok(())
}

/// Text fields of the API lose control characters (NUL included) but line breaks and tabs.
pub fn clean_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .trim()
        .to_owned()
}

pub fn limit_param(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(50) {
        l @ 1..=200 => Ok(l),
        l => Err(ApiError::BadRequest(
            "bad_limit",
            format!("`limit` must be 1 to 200, not {l}"),
        )),
    }
}
