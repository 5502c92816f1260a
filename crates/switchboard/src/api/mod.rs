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
use crate::auth::tokens;
use crate::http::ApiError;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::Value;
use std::sync::Arc;
use switchboard_store::NewAudit;

pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .merge(crate::auth::routes::router())
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

/// Per caller (API key or person) request limits with `X-RateLimit-*` headers, and the
/// security headers every API answer carries.
async fn limit_and_secure(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    let caller = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| caller_key(&app, t.trim()));
    let admission = caller.map(|key| {
        let rate = app.config.auth.api_per_second.max(1);
        app.limiter
            .admit(&key, f64::from(rate), rate * 2, std::time::Instant::now())
    });
    let mut res = match admission {
        Some(a) if !a.allowed => {
            ::metrics::counter!("switchboard_rate_limited_total", "scope" => "api").increment(1);
            ApiError::TooManyRequests {
                message: "too many requests for this key; slow down".into(),
                retry_after_s: a.retry_after_s,
            }
            .into_response()
        }
        _ => next.run(req).await,
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

/// The bucket a request counts against: the API key, or the person a token names (a forged
/// token gets a bucket of its own and then a 401).
fn caller_key(app: &App, token: &str) -> String {
    if let Some(prefix) = tokens::api_key_prefix(token) {
        return prefix.to_owned();
    }
    match tokens::verify_access(app.sealer.token_key(), token, app.clock.now_ms() / 1000) {
        Some(c) => format!("user:{}", c.sub),
        None => "invalid".to_owned(),
    }
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
    principal: &crate::auth::Principal,
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
