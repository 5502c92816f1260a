//! CORS for the public chat API: a browser page on one of the tenant's `allowed_origins` may
//! call it. Other origins get no CORS headers (the browser then refuses the answer to the page),
//! and their WebSocket upgrades, which browsers do not subject to CORS, are refused here.
//!
//! A tenant with no allowed origins keeps the behaviour from before: no CORS headers at all, so
//! only a page served from this server (same origin) can read answers, and WebSocket upgrades
//! are not checked.

use crate::app::App;
use crate::ingress::http::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use switchboard_core::TenantId;

/// How long a browser may cache a preflight answer.
const MAX_AGE_S: u32 = 600;

enum Check {
    /// No `Origin` header: not a cross-origin browser request.
    NoOrigin,
    Allowed(HeaderValue),
    /// The page is served by this server.
    SameOrigin,
    NotAllowed {
        configured: bool,
    },
}

/// What the check needs from the request, read before waiting on the store: a request body is
/// not `Sync`, so a reference to the request cannot be held across an await.
enum Asked {
    Done(Check),
    Tenant(HeaderValue, String, Option<TenantId>),
}

fn ask(req: &Request) -> Asked {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return Asked::Done(Check::NoOrigin);
    };
    let text = origin.to_str().unwrap_or("").to_ascii_lowercase();
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(host) = host
        && text
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
    {
        return Asked::Done(Check::SameOrigin);
    }
    // Decoded as the router decodes it: `%61cme` names tenant `acme` there, and must here too.
    let tenant = req
        .uri()
        .path()
        .strip_prefix("/v1/chat/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|raw| percent_encoding::percent_decode_str(raw).decode_utf8().ok())
        .and_then(|raw| TenantId::parse(&raw).ok());
    Asked::Tenant(origin, text, tenant)
}

async fn check(app: &App, asked: Asked) -> Check {
    let (origin, text, tenant) = match asked {
        Asked::Done(c) => return c,
        Asked::Tenant(o, t, tenant) => (o, t, tenant),
    };
    let allowed = match tenant {
        Some(t) => match app.store.tenant_settings(&t).await {
            Ok(s) => s.allowed_origins,
            Err(e) => {
                tracing::warn!(tenant = %t, error = %e, "cannot read the allowed origins; answering without CORS");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    if allowed.contains(&text) {
        Check::Allowed(origin)
    } else {
        Check::NotAllowed {
            configured: !allowed.is_empty(),
        }
    }
}

fn is_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn allow(res: &mut Response, origin: HeaderValue) {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// `OPTIONS` on a chat route: the preflight a browser sends before a cross-origin POST.
pub(super) async fn preflight(State(app): State<Arc<App>>, req: Request) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Check::Allowed(origin) = check(&app, ask(&req)).await {
        allow(&mut res, origin);
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_S));
    }
    res
}

/// Adds the CORS header to answers for allowed origins; refuses cross-origin WebSocket upgrades
/// from origins the tenant did not allow.
pub(super) async fn layer(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let checked = check(&app, ask(&req)).await;
    if is_upgrade(&req) && matches!(checked, Check::NotAllowed { configured: true }) {
        return ApiError::Forbidden("origin_not_allowed", "this page's origin may not open the chat".into())
            .into_response();
    }
    let mut res = next.run(req).await;
    // Chat answers carry tokens and conversations: never cached, never sniffed.
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    match checked {
        Check::Allowed(origin) => allow(&mut res, origin),
        // The answer depends on the origin: a shared cache must not hand it to another.
        Check::NotAllowed { configured: true } => {
            res.headers_mut()
                .append(header::VARY, HeaderValue::from_static("Origin"));
        }
        Check::NoOrigin | Check::SameOrigin | Check::NotAllowed { configured: false } => {}
    }
    res
}
