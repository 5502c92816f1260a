//! The web chat channel: the public chat API (POST a message, read the history) and, in
//! `socket`, the WebSocket that streams replies, typing indicators and receipts to the browser.

mod cors;
pub mod identity;
mod limits;
mod session;
mod socket;

pub use limits::Sockets;

use crate::app::App;
use crate::ingress::http::{ApiError, JsonBody, Peer};
use crate::runtime::frames::ServerFrame;
use crate::runtime::hub::TurnOutcome;
use crate::runtime::metrics;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::clock::rfc3339;
use switchboard_core::{Channel, Content, ConversationId, Direction, Message, MessageId, MessageStatus, TenantId};
use switchboard_store::{Accepted, NewInbound, Priority};
use tokio::sync::oneshot;

pub fn routes(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route(
            "/v1/chat/{tenant}/sessions",
            post(session::start).options(cors::preflight),
        )
        .route(
            "/v1/chat/{tenant}/messages",
            post(post_message).options(cors::preflight),
        )
        .route("/v1/chat/{tenant}/ws", get(socket::websocket).options(cors::preflight))
        .route(
            "/v1/chat/{tenant}/conversations/{id}/messages",
            get(history).options(cors::preflight),
        )
        .layer(axum::middleware::from_fn_with_state(app, cors::layer))
}

// ---- wire types -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostMessage {
    /// Ignored: the token says who is writing. Accepted so that older clients keep working.
    #[serde(default, rename = "user")]
    _user: Option<serde_json::Value>,
    #[serde(default)]
    text: Option<String>,
    /// A button's payload, sent instead of text when the user presses a button.
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    client_msg_id: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
struct PostResponse {
    conversation_id: ConversationId,
    message_id: MessageId,
    seq: i64,
    /// `answered` (200), `queued` (202: replies will follow) or `failed` (202: gave up).
    status: &'static str,
    duplicate: bool,
    replies: Vec<Content>,
}

/// A message as the chat API shows it.
#[derive(Serialize, Debug, Clone)]
pub struct MessageView {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub direction: &'static str,
    #[serde(flatten)]
    pub content: Content,
    pub status: MessageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<MessageId>,
    pub created_at: String,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        MessageView {
            id: m.id.clone(),
            conversation_id: m.conversation.clone(),
            seq: m.seq,
            direction: m.direction.as_str(),
            content: m.content.clone(),
            status: m.status,
            in_reply_to: m.in_reply_to.clone(),
            created_at: rfc3339(m.created_at),
        }
    }
}

// ---- validation -------------------------------------------------------------------------

/// A path segment that is not valid UTF-8 (`%FF`) names nothing that exists.
pub(crate) fn bad_path(e: PathRejection) -> ApiError {
    ApiError::NotFound("no_route", format!("invalid path: {}", e.body_text()))
}

pub(crate) fn tenant_of(app: &App, raw: &str) -> Result<TenantId, ApiError> {
    let id = TenantId::parse(raw).map_err(|_| ApiError::unknown_tenant(raw))?;
    app.tenants
        .get(&id)
        .map(|_| id)
        .ok_or_else(|| ApiError::unknown_tenant(raw))
}

/// A tenant the public chat API serves: known, and not suspended.
pub(crate) async fn serving(app: &App, raw: &str) -> Result<TenantId, ApiError> {
    let tenant = tenant_of(app, raw)?;
    if crate::tenant_data::suspended(app.store.as_ref(), &tenant).await? {
        return Err(crate::tenant_data::suspended_error(&tenant));
    }
    Ok(tenant)
}

/// Removes control characters (NUL included) except line breaks and tabs.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('\r', "")
}

fn check_text(app: &App, field: &str, text: &str) -> Result<String, ApiError> {
    let text = clean(text);
    let max = app.config.chat.max_text_chars;
    if text.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "empty_text",
            format!("`{field}` must not be empty"),
        ));
    }
    let n = text.chars().count();
    if n > max {
        return Err(ApiError::Unprocessable(
            "text_too_long",
            format!("`{field}` has {n} characters; at most {max} are accepted"),
        ));
    }
    Ok(text)
}

fn check_client_msg_id(id: Option<String>) -> Result<Option<String>, ApiError> {
    match id {
        Some(id) if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) => {
            Err(ApiError::Unprocessable(
                "invalid_client_msg_id",
                "`client_msg_id` must be 1 to 128 bytes without control characters".into(),
            ))
        }
        other => Ok(other),
    }
}

fn content_of(
    app: &App,
    text: Option<String>,
    payload: Option<String>,
    title: Option<String>,
) -> Result<Content, ApiError> {
    match (text, payload) {
        (_, Some(p)) => Ok(Content::Postback {
            payload: check_text(app, "payload", &p)?,
            title: title.map(|t| check_text(app, "title", &t)).transpose()?,
        }),
        (Some(t), None) => Ok(Content::text(check_text(app, "text", &t)?)),
        (None, None) => Err(ApiError::Unprocessable("empty_text", "`text` is required".into())),
    }
}

// ---- ingest: shared by POST and the WebSocket ----------------------------------------------

/// The idempotency key of a user's `client_msg_id`. Both parts may contain any character, so
/// the user id's length goes first: "team" + "ana:c-1" can never equal "team:ana" + "c-1".
fn dedup_key(user: &str, client_msg_id: &str) -> String {
    format!("wc{}:{user}:{client_msg_id}", user.len())
}

struct Ingested {
    accepted: Accepted,
    outcome: oneshot::Receiver<TurnOutcome>,
    /// Already known (a duplicate of a message handled before).
    done: Option<TurnOutcome>,
}

async fn ingest(
    app: &App,
    tenant: &TenantId,
    user: String,
    content: Content,
    client_msg_id: Option<String>,
    metadata: serde_json::Value,
) -> Result<Ingested, ApiError> {
    let id = MessageId::generate();
    let outcome = app.hub.wait_for(&id);
    let inbound = NewInbound {
        id: id.clone(),
        channel: Channel::Webchat,
        external_id: client_msg_id.map(|c| dedup_key(&user, &c)),
        user: user.clone(),
        content: content.clone(),
        metadata,
        priority: Priority::Interactive,
    };
    let accepted = match app.store.accept_inbound(tenant, inbound).await {
        Ok(a) => a,
        Err(e) => {
            drop(outcome);
            app.hub.forget(&id);
            if let switchboard_store::StoreError::QuotaExceeded(quota) = e {
                metrics::message(tenant.as_str(), "webchat", "in", "over_quota");
                return Err(crate::tenant_data::quota_error(quota, app.clock.now_ms()));
            }
            metrics::message(tenant.as_str(), "webchat", "in", "rejected");
            return Err(e.into());
        }
    };
    if !accepted.duplicate {
        metrics::message(tenant.as_str(), "webchat", "in", "accepted");
        if app.hub.has_subscribers(tenant, &user) {
            let stored = Message {
                id: accepted.message.clone(),
                tenant: tenant.clone(),
                conversation: accepted.conversation.clone(),
                seq: accepted.seq,
                channel: Channel::Webchat,
                user: user.clone(),
                direction: Direction::Inbound,
                content: accepted.content.clone(),
                metadata: serde_json::Value::Null,
                processed: None,
                status: MessageStatus::Queued,
                external_id: None,
                in_reply_to: None,
                reply_index: None,
                created_at: accepted.created_at,
                updated_at: accepted.created_at,
            };
            app.hub
                .publish(Channel::Webchat, tenant, &user, ServerFrame::message(&stored));
        }
        return Ok(Ingested {
            accepted,
            outcome,
            done: None,
        });
    }
    drop(outcome);
    app.hub.forget(&id);
    metrics::message(tenant.as_str(), "webchat", "in", "duplicate");
    let first = app.store.message(tenant, &accepted.message).await?;
    // The key names its user, so the first copy is this user's; checked again because an answer
    // from someone else's conversation must never go out, whatever the key's history.
    if first
        .as_ref()
        .is_some_and(|m| m.user != user || m.channel != Channel::Webchat)
    {
        tracing::error!(tenant = %tenant, "a client_msg_id matched another user's message; refused");
        return Err(ApiError::Conflict(
            "this client_msg_id was already used for a different message".into(),
        ));
    }
    if accepted.content != content {
        return Err(ApiError::Conflict(
            "this client_msg_id was already used for a different message".into(),
        ));
    }
    let outcome = app.hub.wait_for(&accepted.message);
    let done = match first.map(|m| m.status) {
        Some(MessageStatus::Processed) => Some(Ok(Arc::new(app.store.replies_to(tenant, &accepted.message).await?))),
        Some(MessageStatus::Failed) => Some(Err("the message could not be processed".to_owned())),
        _ => None,
    };
    if done.is_some() {
        app.hub.forget(&accepted.message);
    }
    Ok(Ingested {
        accepted,
        outcome,
        done,
    })
}

// ---- POST /v1/chat/{tenant}/messages ------------------------------------------------------

/// The client's address, when the connection recorded one.
pub(crate) fn ip_of(peer: &Option<axum::Extension<Peer>>) -> Option<std::net::IpAddr> {
    peer.as_ref().map(|axum::Extension(Peer(ip))| *ip)
}

async fn post_message(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PostMessage>,
) -> Result<Response, ApiError> {
    limits::request(&app, ip_of(&peer))?;
    let Path(tenant) = path.map_err(bad_path)?;
    let tenant = serving(&app, &tenant).await?;
    let user = identity::authenticate(&app, &tenant, &headers, None)?.user;
    limits::message(&app, &tenant, &user)?;
    let content = content_of(&app, body.text, body.payload, None)?;
    let client_msg_id = check_client_msg_id(body.client_msg_id)?;
    let metadata = serde_json::Value::Object(body.metadata.unwrap_or_default());
    let ing = ingest(&app, &tenant, user, content, client_msg_id, metadata).await?;
    let wait = Duration::from_millis(app.config.chat.reply_wait_ms);
    let outcome = match ing.done {
        Some(done) => Some(done),
        // A zero wait means "never wait": always answer 202 and let the replies follow.
        None if wait.is_zero() => None,
        None => match tokio::time::timeout(wait, ing.outcome).await {
            Ok(Ok(outcome)) => Some(outcome),
            _ => {
                app.hub.forget(&ing.accepted.message);
                None
            }
        },
    };
    let a = ing.accepted;
    let (status, label, replies) = match outcome {
        Some(Ok(replies)) => (
            StatusCode::OK,
            "answered",
            replies.iter().map(|m| m.content.clone()).collect(),
        ),
        Some(Err(_)) => (StatusCode::ACCEPTED, "failed", Vec::new()),
        None => (StatusCode::ACCEPTED, "queued", Vec::new()),
    };
    let body = PostResponse {
        conversation_id: a.conversation,
        message_id: a.message,
        seq: a.seq,
        status: label,
        duplicate: a.duplicate,
        replies,
    };
    Ok((status, Json(body)).into_response())
}

// ---- GET history -----------------------------------------------------------------------

#[derive(Deserialize)]
struct HistoryQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Serialize)]
struct HistoryPage {
    conversation_id: ConversationId,
    messages: Vec<MessageView>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<i64>,
}

async fn history(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<HistoryPage>, ApiError> {
    limits::request(&app, ip_of(&peer))?;
    let Path((tenant, id)) = path.map_err(bad_path)?;
    let tenant = serving(&app, &tenant).await?;
    let me = identity::authenticate(&app, &tenant, &headers, None)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest("invalid_query", e.body_text()))?;
    let not_found = || ApiError::NotFound("unknown_conversation", format!("no conversation {id:?}"));
    let conv = ConversationId::parse(&id).map_err(|_| not_found())?;
    // Someone else's conversation, or one on another channel, answers exactly like a missing
    // one: the chat API reveals nothing beyond its caller's own web chat conversations.
    match app.store.conversation(&tenant, &conv).await? {
        Some(c) if c.channel == Channel::Webchat && c.user == me.user => {}
        _ => return Err(not_found()),
    }
    let max = app.config.chat.history_page_max;
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > max {
        return Err(ApiError::BadRequest(
            "invalid_query",
            format!("`limit` must be between 1 and {max}"),
        ));
    }
    let after = q.after.unwrap_or(0).max(0);
    let messages = app.store.messages_after(&tenant, &conv, after, limit).await?;
    let next_after = (messages.len() == limit as usize)
        .then(|| messages.last().map(|m| m.seq))
        .flatten();
    Ok(Json(HistoryPage {
        conversation_id: conv,
        messages: messages.iter().map(MessageView::from).collect(),
        next_after,
    }))
}
