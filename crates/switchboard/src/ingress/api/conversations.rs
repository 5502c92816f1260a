//! A tenant's conversations: list with filters, read, messages, close, export (JSON Lines or
//! CSV, streamed page by page) and the consent ledger; the agent's handoff actions are in
//! `handoff.rs`.

use super::{audit, cursor, limit_param, parse_cursor};
use crate::app::App;
use crate::ingress::auth::{Need, Principal};
use crate::ingress::http::ApiError;
use crate::ingress::http::{Path, Query};
use crate::runtime::events::{self, Event, EventType};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_core::{Channel, Conversation, ConversationId, ConversationStatus, Message, TenantId};
use switchboard_store::ConversationFilter;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/tenants/{tenant}/conversations", get(list))
        .route("/v1/tenants/{tenant}/conversations/{id}", get(read))
        .route("/v1/tenants/{tenant}/conversations/{id}/messages", get(messages))
        .route("/v1/tenants/{tenant}/conversations/{id}/close", post(close))
        .route("/v1/tenants/{tenant}/conversations/{id}/export", get(export))
        .route("/v1/tenants/{tenant}/consent", get(consent))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    status: Option<String>,
    channel: Option<String>,
    /// The end user's id on the channel.
    user: Option<String>,
    handed_over: Option<bool>,
    /// RFC 3339 or epoch milliseconds.
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

fn instant(name: &str, v: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(ms);
    }
    v.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(|_| {
        ApiError::BadRequest(
            "bad_time",
            format!("`{name}` is neither RFC 3339 nor epoch milliseconds"),
        )
    })
}

fn view(c: &Conversation) -> Value {
    json!({
        "id": c.id,
        "channel": c.channel,
        "user": c.user,
        "status": c.status,
        "messages": c.last_seq,
        "language": c.context.language,
        "mode": c.context.mode,
        "handoff": c.handoff,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/conversations", tag = "conversations", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ListQuery), responses((status = 200, description = "A page of conversations, newest first", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    // An empty parameter (`?status=`) means no filter, as forms send it.
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let q = ListQuery {
        status: given(&q.status),
        channel: given(&q.channel),
        user: given(&q.user),
        since: given(&q.since),
        until: given(&q.until),
        cursor: given(&q.cursor),
        ..q
    };
    let bad = |what: &str| ApiError::BadRequest("bad_filter", format!("unknown {what}"));
    let filter = ConversationFilter {
        status: q
            .status
            .as_deref()
            .map(|s| ConversationStatus::parse(s).ok_or_else(|| bad("status")))
            .transpose()?,
        channel: q
            .channel
            .as_deref()
            .map(|s| Channel::parse(s).ok_or_else(|| bad("channel")))
            .transpose()?,
        user: q.user,
        handed_over: q.handed_over.unwrap_or(false),
        since: q.since.as_deref().map(|v| instant("since", v)).transpose()?,
        until: q.until.as_deref().map(|v| instant("until", v)).transpose()?,
        before: q.cursor.as_deref().map(parse_cursor).transpose()?,
    };
    let page = app.store.conversations(&t, filter, limit).await?;
    let next = (page.len() == limit as usize)
        .then(|| page.last().map(|c| cursor(c.created_at, c.id.as_str())))
        .flatten();
    Ok(Json(json!({
        "data": page.iter().map(view).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

pub(super) async fn find(app: &App, t: &TenantId, id: &str) -> Result<Conversation, ApiError> {
    let missing = || ApiError::NotFound("not_found", format!("no conversation {id}"));
    let cid = ConversationId::parse(id).map_err(|_| missing())?;
    app.store.conversation(t, &cid).await?.ok_or_else(missing)
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/conversations/{id}", tag = "conversations", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "The conversation with its context", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn read(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let c = find(&app, &t, &id).await?;
    let mut v = view(&c);
    v["context"] = json!(c.context);
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct After {
    after: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/conversations/{id}/messages", tag = "conversations", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("id" = String, Path, description = "Conversation id"), After), responses((status = 200, description = "A page of messages, oldest first", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn messages(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<After>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let c = find(&app, &t, &id).await?;
    let limit = limit_param(q.limit)?;
    let page = app
        .store
        .messages_after(&t, &c.id, q.after.unwrap_or(0).max(0), limit)
        .await?;
    let next = (page.len() == limit as usize)
        .then(|| page.last().map(|m| m.seq))
        .flatten();
    Ok(Json(json!({ "data": page, "next_after": next })))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant}/conversations/{id}/close", tag = "conversations", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "Whether it was open", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn close(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Agent)?;
    let c = find(&app, &t, &id).await?;
    let closed = app.store.close_conversation(&t, &c.id).await?;
    if closed {
        let data = events::conversation_data(&c, json!({"reason": "closed", "by": principal.actor()}));
        events::emit(&app, &t, vec![Event::new(EventType::ConversationEnded, data)]).await;
        audit(
            &app,
            &principal,
            Some(&t),
            "conversation.close",
            format!("conversation:{id}"),
            None,
            None,
        )
        .await?;
    }
    Ok(Json(json!({ "closed": closed })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    format: Option<String>,
}

#[derive(Clone, Copy)]
enum Format {
    Jsonl,
    Csv,
}

/// Streams every message, 500 at a time: a conversation of any length is exported without
/// holding it in memory.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/conversations/{id}/export", tag = "conversations", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ("id" = String, Path, description = "Conversation id"), ExportQuery), responses((status = 200, description = "Every message, streamed", content((String = "application/x-ndjson"), (String = "text/csv"))), crate::ingress::api::openapi::Errors))]
pub(crate) async fn export(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let c = find(&app, &t, &id).await?;
    let format = match q.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => Format::Jsonl,
        "csv" => Format::Csv,
        other => {
            return Err(ApiError::BadRequest(
                "bad_format",
                format!("unknown format {other:?}: jsonl or csv"),
            ));
        }
    };
    let (content_type, ext) = match format {
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let state = (app.clone(), t, c.id.clone(), 0i64, matches!(format, Format::Csv), false);
    let stream = futures_util::stream::unfold(state, move |(app, t, conv, after, header_due, done)| async move {
        if done {
            return None;
        }
        let mut out = String::new();
        if header_due {
            out.push_str("seq,created_at,direction,channel,user,text,intent,handler,status\n");
        }
        let page = match app.store.messages_after(&t, &conv, after, 500).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "export interrupted");
                return Some((
                    Err(std::io::Error::other(e.to_string())),
                    (app, t, conv, after, false, true),
                ));
            }
        };
        let last = page.last().map_or(after, |m| m.seq);
        let done = page.len() < 500;
        for m in &page {
            match format {
                Format::Jsonl => {
                    out.push_str(&serde_json::to_string(m).unwrap_or_default());
                    out.push('\n');
                }
                Format::Csv => out.push_str(&csv_row(m)),
            }
        }
        Some((Ok(Bytes::from(out)), (app, t, conv, last, false, done)))
    });
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"conversation-{id}.{ext}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_row(m: &Message) -> String {
    let processed = m.processed.as_ref();
    let fields = [
        m.seq.to_string(),
        switchboard_core::clock::rfc3339(m.created_at),
        m.direction.as_str().to_owned(),
        m.channel.as_str().to_owned(),
        m.user.clone(),
        m.content.understood_text().to_owned(),
        processed.and_then(|p| p.intent.clone()).unwrap_or_default(),
        processed.map(|p| p.handler.clone()).unwrap_or_default(),
        m.status.as_str().to_owned(),
    ];
    let mut row = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    row.push('\n');
    row
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentQuery {
    channel: Option<String>,
    user: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant}/consent", tag = "conversations", params(("tenant" = String, Path, description = "Tenant id", example = "demo"), ConsentQuery), responses((status = 200, description = "The consent ledger, newest first", body = serde_json::Value), crate::ingress::api::openapi::Errors))]
pub(crate) async fn consent(
    State(app): State<Arc<App>>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<ConsentQuery>,
) -> Result<Json<Value>, ApiError> {
    let t = principal.tenant(&tenant, Need::Read)?;
    let limit = limit_param(q.limit)?;
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.is_empty())
    }
    let user = match (given(&q.channel), given(&q.user)) {
        (Some(ch), Some(u)) => Some((
            Channel::parse(ch).ok_or_else(|| ApiError::BadRequest("bad_filter", "unknown channel".into()))?,
            u,
        )),
        (None, None) => None,
        _ => {
            return Err(ApiError::BadRequest(
                "bad_filter",
                "give both `channel` and `user`, or neither".into(),
            ));
        }
    };
    Ok(Json(
        json!({ "data": app.store.consent_ledger(&t, user, limit).await? }),
    ))
}
