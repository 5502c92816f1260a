//! HTTP plumbing shared by every route: the error type and its JSON body, the JSON body
//! extractor with its limits, health, metrics and the router.

use crate::app::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The client's address as the connection saw it.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::IpAddr);

/// Every error a client can get, with its status and a stable machine-readable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{1}")]
    NotFound(&'static str, String),
    #[error("{1}")]
    Unprocessable(&'static str, String),
    #[error("{0}")]
    Conflict(String),
    /// A conflict with the state of a resource (409 with its own code).
    #[error("{1}")]
    Clash(&'static str, String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
    /// The tenant's monthly message quota is used up (429 `quota_exceeded`).
    #[error("{message}")]
    QuotaExceeded { message: String, retry_after_s: u64 },
    #[error("the request is not authentic: {0}")]
    Unauthorized(String),
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("the request body was not received in time")]
    Timeout,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(code, _) => (StatusCode::BAD_REQUEST, code),
            ApiError::NotFound(code, _) => (StatusCode::NOT_FOUND, code),
            ApiError::Unprocessable(code, _) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "idempotency_key_reused"),
            ApiError::Clash(code, _) => (StatusCode::CONFLICT, code),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(code, _) => (StatusCode::FORBIDDEN, code),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::Timeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    pub fn unknown_tenant(tenant: &str) -> ApiError {
        ApiError::NotFound("unknown_tenant", format!("no tenant named {tenant:?}"))
    }
}

impl From<switchboard_store::StoreError> for ApiError {
    fn from(e: switchboard_store::StoreError) -> Self {
        use switchboard_store::StoreError as E;
        match e {
            E::NotFound(what) => ApiError::NotFound("not_found", format!("{what} not found")),
            E::Conflict(what) => ApiError::Clash("conflict", what),
            E::Closed => ApiError::Unavailable("the server is shutting down".into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                "internal error; the server log has the details".to_owned()
            }
            other => other.to_string(),
        };
        let mut res = (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response();
        match &self {
            ApiError::Unavailable(_) => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::TooManyRequests { retry_after_s, .. } | ApiError::QuotaExceeded { retry_after_s, .. } => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            ApiError::Unauthorized(_) => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        res
    }
}

/// A JSON body read within the configured size and time limits, with every failure mapped to
/// an [`ApiError`] (axum's own `Json` answers in plain text).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<App>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        if declared_not_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_body(req.into_body(), app).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A `Content-Type` other than JSON was given (none at all is taken as JSON).
pub fn declared_not_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            !v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
}

/// A request body as `T`, every failure a 400 with its reason.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::BadRequest(
            "invalid_utf8",
            "the request body is not valid UTF-8".into(),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::BadRequest(
            "invalid_json",
            format!("the request body is not the expected JSON: {e}"),
        )
    })
}

/// Query parameters, with a malformed query answered as a JSON error like every other.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map(Query)
            .map_err(|e| ApiError::BadRequest("bad_query", format!("the query parameters are not valid: {e}")))
    }
}

/// Path parameters, with undecodable ones (bad percent-encoding, not UTF-8) answered as a JSON error.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| ApiError::BadRequest("bad_path", format!("the path is not valid: {e}")))
    }
}

/// Reads a whole request body within the configured size and time limits.
pub async fn read_body(body: axum::body::Body, app: &App) -> Result<Bytes, ApiError> {
    let limit = app.config.server.body_limit_bytes;
    let timeout = Duration::from_millis(app.config.server.body_read_timeout_ms);
    let body = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(timeout, body.collect()).await {
        Err(_) => Err(ApiError::Timeout),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(ApiError::TooLarge(limit)),
        Ok(Err(e)) => Err(ApiError::BadRequest(
            "bad_body",
            format!("cannot read the request body: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(crate::ingress::web::routes())
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(health))
        .route("/metrics", get(public_metrics))
        .merge(crate::ingress::webchat::routes(app.clone()))
        .merge(crate::ingress::webhooks::routes())
        .merge(crate::ingress::api::router(app.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(count_requests))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::ingress::client_ip::layer,
        ))
        .with_state(app)
}

async fn count_requests(req: Request, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let res = next.run(req).await;
    ::metrics::counter!(crate::runtime::metrics::HTTP_REQUESTS, "route" => route, "status" => res.status().as_u16().to_string())
        .increment(1);
    res
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no_route", "no such endpoint".into())
}

async fn method_not_allowed() -> Response {
    let body = json!({ "error": { "code": "method_not_allowed", "message": "method not allowed on this endpoint" } });
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness with per-component status: 200 when every component is up, 503 otherwise.
async fn health(State(app): State<Arc<App>>) -> Response {
    let started = Instant::now();
    let store = tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await;
    let store_ms = started.elapsed().as_secs_f64() * 1000.0;
    let store = match store {
        Ok(Ok(())) => json!({ "status": "ok", "latency_ms": store_ms }),
        Ok(Err(e)) => json!({ "status": "down", "error": e.to_string() }),
        Err(_) => json!({ "status": "down", "error": "no answer within 2 s" }),
    };
    let (depth, in_flight) = app.queue.depth();
    let queue = match app.store.queue_stats().await {
        Ok(s) => json!({
            "status": if app.workers_running() { "ok" } else { "down" },
            "depth": depth,
            "in_flight": in_flight,
            "stored_jobs": s.depth,
            "oldest_job_age_ms": s.oldest_created_at.map(|t| (app.clock.now_ms() - t).max(0)),
            "dead_letters": s.dead_letters,
        }),
        Err(e) => json!({ "status": "down", "error": e.to_string() }),
    };
    let ok = store["status"] == "ok" && queue["status"] == "ok";
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
        "components": { "store": store, "queue": queue },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `/metrics` alone, for `metrics.listen`: an address the operator keeps private.
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(private_metrics))
        .fallback(not_found)
        .with_state(app)
}

/// On the public address only with `metrics.token`; without one it does not exist there.
async fn public_metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.config.metrics.token.is_empty() {
        return not_found().await.into_response();
    }
    metrics(&app, &headers).await
}

async fn private_metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    metrics(&app, &headers).await
}

async fn metrics(app: &App, headers: &HeaderMap) -> Response {
    let expected = &app.config.metrics.token;
    if !expected.is_empty() {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::ingress::auth::bearer_token)
            .unwrap_or("");
        // Hashed first: the comparison then takes the same time whatever the length sent.
        let sha = crate::ingress::auth::tokens::sha256_hex;
        if !crate::ingress::auth::tokens::same_hash(&sha(sent), &sha(expected)) {
            return ApiError::Unauthorized("/metrics needs `Authorization: Bearer <metrics.token>`".into())
                .into_response();
        }
    }
    if let Ok(stats) = app.store.queue_stats().await {
        ::metrics::gauge!("switchboard_dead_letters_pending").set(stats.dead_letters as f64);
    }
    ::metrics::gauge!(crate::runtime::metrics::WS_CONNECTIONS).set(app.hub.open_sockets() as f64);
    let body = app.metrics.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
