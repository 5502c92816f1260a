//! The OpenAPI 3.1 document of the management API, derived from the handlers' annotations,
//! served at `/v1/openapi.json`, and a self-contained docs page at `/v1/docs` (no CDN: the
//! page renders the document with a few lines of script).

use crate::app::App;
use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthorized`, `forbidden`, `unknown_tenant`, `rate_limited`...
    pub code: String,
    pub message: String,
}

/// The errors every management route can answer.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Errors {
    #[response(status = 400, description = "Malformed request: bad JSON, parameter or cursor")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "No valid access token or API key")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The role or key's scopes do not allow it")]
    Forbidden(ErrorBody),
    #[response(status = 404, description = "No such tenant (or not the caller's) or resource")]
    NotFound(ErrorBody),
    #[response(status = 405, description = "Method not allowed")]
    MethodNotAllowed(ErrorBody),
    #[response(status = 408, description = "The request body was not received in time")]
    Timeout(ErrorBody),
    #[response(status = 409, description = "Conflicts with the resource's state")]
    Conflict(ErrorBody),
    #[response(status = 413, description = "Request body too large")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "Content-Type must be application/json")]
    UnsupportedMediaType(ErrorBody),
    #[response(status = 422, description = "Well-formed but invalid values")]
    Unprocessable(ErrorBody),
    #[response(status = 429, description = "Rate limited or account locked; see Retry-After")]
    TooManyRequests(ErrorBody),
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An access token from /v1/auth/login, or an API key (sbk_...)"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard management API", version = "1"),
    modifiers(&Bearer),
    components(schemas(ErrorBody, ErrorDetail)),
    security(("bearer" = [])),
    paths(
        crate::ingress::auth::routes::login,
        crate::ingress::auth::routes::refresh,
        crate::ingress::auth::routes::logout,
        crate::ingress::auth::routes::me,
        super::tenants::list,
        super::tenants::create,
        super::tenants::read,
        super::tenant_admin::read_settings,
        super::tenant_admin::update_settings,
        super::tenant_admin::suspend,
        super::tenant_admin::resume,
        super::tenant_admin::export,
        super::tenant_admin::delete,
        super::secrets::list,
        super::secrets::set,
        super::secrets::remove,
        super::people::users,
        super::people::create_user,
        super::people::delete_user,
        super::people::keys,
        super::people::create_key,
        super::people::revoke_key,
        super::people::audit_log,
        super::conversations::list,
        super::conversations::read,
        super::conversations::messages,
        super::conversations::close,
        super::conversations::export,
        super::handoff::take,
        super::handoff::reply,
        super::handoff::release,
        super::conversations::consent,
        super::analytics::analytics,
        super::results::assessments,
        super::results::forms,
        super::results::feedback,
        super::connectors::list,
        super::connectors::save,
        super::connectors::remove,
        super::records::contacts,
        super::records::contact,
        super::records::search,
        super::records::dead_letters,
        super::records::replay,
        super::bots::active,
        super::bots::validate,
        super::bots::versions,
        super::bots::upload,
        super::bots::activate,
        super::events::list,
        super::events::create,
        super::events::remove,
        super::events::deliveries,
        super::events::test,
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/openapi.json", get(document))
        .route("/v1/docs", get(docs))
}

async fn document() -> impl IntoResponse {
    let json = ApiDoc::openapi().to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
    ([(header::CONTENT_TYPE, "application/json")], json)
}

async fn docs() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        )],
        Html(include_str!("../web/docs.html")),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_openapi_3_1_and_names_every_route() {
        use utoipa::OpenApi as _;
        let doc = serde_json::to_value(super::ApiDoc::openapi()).expect("json");
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
            "{}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/v1/tenants/{tenant}/conversations/{id}/export"));
        assert!(paths.contains_key("/v1/tenants/{tenant}/webhooks/{id}/deliveries"));
        assert!(paths.len() >= 15, "{}", paths.len());
    }
}
