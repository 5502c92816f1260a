//! What people told the bots: finished assessments, completed forms, feedback.

use super::limit_param;
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::{ApiError, Path, Query};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/assessment-results", get(assessments))
        .route("/v1/tenants/{tenant}/form-submissions", get(forms))
        .route("/v1/tenants/{tenant}/feedback", get(feedback))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultsQuery {
    /// Only this end user's (the channel user id, as in a conversation's `user`).
    user: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/assessment-results", tag = "results",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ResultsQuery),
    responses((status = 200, description = "Finished assessments with answers, score and band, newest first", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn assessments(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<ResultsQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    let user = q.user.as_deref().filter(|u| !u.is_empty());
    Ok(Json(
        json!({ "data": app.store.assessment_results(&t, user, limit).await? }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FormsQuery {
    /// Only this form's.
    form: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/form-submissions", tag = "results",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), FormsQuery),
    responses((status = 200, description = "Completed forms with their values and sending status, newest first", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn forms(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<FormsQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    let form = q.form.as_deref().filter(|f| !f.is_empty());
    Ok(Json(
        json!({ "data": app.store.form_submissions(&t, form, limit).await? }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackQuery {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/feedback", tag = "results",
    params(("tenant" = String, Path, description = "Tenant id", example = "demo"), FeedbackQuery),
    responses((status = 200, description = "CSAT scores, thumbs and comments, newest first", body = serde_json::Value),
        crate::ingress::api::openapi::Errors))]
pub(crate) async fn feedback(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<FeedbackQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    Ok(Json(json!({ "data": app.store.feedback(&t, limit).await? })))
}
