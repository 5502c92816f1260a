//! The web chat WebSocket (protocol `switchboard.webchat.v1`): client frames in, stored messages,
//! typing indicators and receipts out, with resume after reconnect.

use super::{bad_path, check_client_msg_id, content_of, identity, ingest, ip_of, limits};
use crate::app::App;
use crate::ingress::http::{ApiError, Peer};
use crate::runtime::frames::ServerFrame;
use crate::runtime::metrics;
use axum::extract::rejection::PathRejection;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::{Channel, ConversationId, TenantId};
use tokio::sync::broadcast;

/// Frames the browser sends.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Hello {
        #[serde(default)]
        resume_after_seq: Option<i64>,
    },
    Message {
        #[serde(default)]
        client_msg_id: Option<String>,
        #[serde(default)]
        text: String,
    },
    Postback {
        #[serde(default)]
        client_msg_id: Option<String>,
        payload: String,
        #[serde(default)]
        title: Option<String>,
    },
    Ping,
}

// ---- WebSocket ---------------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct WsQuery {
    /// The chat token (browsers cannot set an Authorization header on a WebSocket).
    token: Option<String>,
    /// Ignored: the token says who is connecting.
    #[serde(default, rename = "user")]
    _user: Option<String>,
    #[serde(default)]
    after: Option<i64>,
}

pub(super) async fn websocket(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    path: Result<Path<String>, PathRejection>,
    headers: axum::http::HeaderMap,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ip = ip_of(&peer);
    limits::request(&app, ip)?;
    let Path(tenant) = path.map_err(bad_path)?;
    let tenant = super::serving(&app, &tenant).await?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest("invalid_query", e.body_text()))?;
    let user = identity::authenticate(&app, &tenant, &headers, q.token.as_deref())?.user;
    let upgrade = upgrade.map_err(|e| ApiError::BadRequest("not_a_websocket", e.body_text()))?;
    let slot = limits::open_socket(&app, ip, &tenant, &user)?;
    let max = app.config.server.body_limit_bytes;
    Ok(upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            ::metrics::gauge!(metrics::WS_CONNECTIONS).increment(1.0);
            if let Err(e) = Session::new(app, tenant, user).run(socket, q.after).await {
                tracing::debug!(error = %e, "websocket closed");
            }
            drop(slot);
            ::metrics::gauge!(metrics::WS_CONNECTIONS).decrement(1.0);
        }))
}

struct Session {
    app: Arc<App>,
    tenant: TenantId,
    user: String,
    conversation: Option<ConversationId>,
    /// Highest seq sent to this client in `conversation`.
    last_seq: i64,
}

type WsResult = Result<(), axum::Error>;

impl Session {
    fn new(app: Arc<App>, tenant: TenantId, user: String) -> Session {
        Session {
            app,
            tenant,
            user,
            conversation: None,
            last_seq: 0,
        }
    }

    async fn run(mut self, mut socket: WebSocket, after: Option<i64>) -> WsResult {
        // Subscribe before reading the history so that nothing falls between the two.
        let mut sub = self.app.hub.subscribe(&self.tenant, &self.user);
        let open = self
            .app
            .store
            .open_conversation(&self.tenant, Channel::Webchat, &self.user)
            .await
            .ok()
            .flatten();
        let last = open.as_ref().map_or(0, |c| c.last_seq);
        self.conversation = open.map(|c| c.id);
        self.last_seq = last;
        send(
            &mut socket,
            &ServerFrame::Ready {
                protocol: "switchboard.webchat.v1",
                conversation_id: self.conversation.clone(),
                last_seq: last,
            },
        )
        .await?;
        if let Some(after) = after {
            self.resume(&mut socket, after).await?;
        }
        let mut ping = tokio::time::interval(Duration::from_secs(30));
        ping.tick().await;
        loop {
            tokio::select! {
                incoming = socket.recv() => match incoming {
                    Some(Ok(WsMessage::Text(text))) => self.on_client_frame(&mut socket, text.as_str()).await?,
                    Some(Ok(WsMessage::Binary(_))) => send(&mut socket, &error_frame("invalid_frame", "binary frames are not supported", None)).await?,
                    Some(Ok(WsMessage::Close(_))) | None => return Ok(()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                },
                frame = sub.rx.recv() => match frame {
                    Ok(frame) => self.forward(&mut socket, &frame).await?,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let after = self.last_seq;
                        self.resume(&mut socket, after).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                _ = ping.tick() => socket.send(WsMessage::Ping(Default::default())).await?,
            }
        }
    }

    /// Sends every stored message with `seq > after` in the user's conversation.
    async fn resume(&mut self, socket: &mut WebSocket, after: i64) -> WsResult {
        let Some(conv) = self.conversation.clone() else {
            return Ok(());
        };
        let mut after = after.max(0);
        loop {
            let page = match self.app.store.messages_after(&self.tenant, &conv, after, 200).await {
                Ok(page) => page,
                Err(e) => {
                    return send(
                        socket,
                        &error_frame("unavailable", &format!("cannot read the history: {e}"), None),
                    )
                    .await;
                }
            };
            for m in &page {
                send(socket, &ServerFrame::message(m)).await?;
                after = m.seq;
            }
            self.last_seq = self.last_seq.max(after);
            if page.len() < 200 {
                return Ok(());
            }
        }
    }

    async fn forward(&mut self, socket: &mut WebSocket, frame: &ServerFrame) -> WsResult {
        let Some((conv, seq)) = frame.seq() else {
            return send(socket, frame).await;
        };
        if self.conversation.as_ref() != Some(conv) {
            self.conversation = Some(conv.clone());
            self.last_seq = 0;
        }
        if seq <= self.last_seq {
            return Ok(());
        }
        if seq > self.last_seq + 1 {
            // A gap: fill it from the store, which also sends this frame's message.
            let after = self.last_seq;
            return self.resume(socket, after).await;
        }
        self.last_seq = seq;
        send(socket, frame).await
    }

    async fn on_client_frame(&mut self, socket: &mut WebSocket, text: &str) -> WsResult {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                return send(
                    socket,
                    &error_frame("invalid_frame", &format!("not a client frame: {e}"), None),
                )
                .await;
            }
        };
        let (client_msg_id, content) = match frame {
            ClientFrame::Ping => return Ok(()),
            ClientFrame::Hello { resume_after_seq } => return self.resume(socket, resume_after_seq.unwrap_or(0)).await,
            ClientFrame::Message { client_msg_id, text } => (
                client_msg_id.clone(),
                content_of(&self.app, Some(text), None, None).map_err(|e| (client_msg_id, e)),
            ),
            ClientFrame::Postback {
                client_msg_id,
                payload,
                title,
            } => (
                client_msg_id.clone(),
                content_of(&self.app, None, Some(payload), title).map_err(|e| (client_msg_id, e)),
            ),
        };
        let admitted = limits::message(&self.app, &self.tenant, &self.user);
        let result = match (content, check_client_msg_id(client_msg_id.clone()), admitted) {
            (_, _, Err(e)) => Err(e),
            (Ok(content), Ok(cid), Ok(())) => {
                ingest(
                    &self.app,
                    &self.tenant,
                    self.user.clone(),
                    content,
                    cid,
                    serde_json::json!({}),
                )
                .await
            }
            (Err((_, e)), _, _) | (_, Err(e), _) => Err(e),
        };
        match result {
            Ok(ing) => {
                let a = ing.accepted;
                if self.conversation.as_ref() != Some(&a.conversation) {
                    self.conversation = Some(a.conversation.clone());
                    self.last_seq = 0;
                }
                send(
                    socket,
                    &ServerFrame::Ack {
                        client_msg_id,
                        id: a.message,
                        conversation_id: a.conversation,
                        seq: a.seq,
                        duplicate: a.duplicate,
                    },
                )
                .await
            }
            Err(e) => send(socket, &error_frame(e.code(), &e.to_string(), client_msg_id)).await,
        }
    }
}

fn error_frame(code: &'static str, message: &str, client_msg_id: Option<String>) -> ServerFrame {
    ServerFrame::Error {
        code,
        message: message.to_owned(),
        client_msg_id,
    }
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> WsResult {
    let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
    socket.send(WsMessage::Text(text.into())).await
}
