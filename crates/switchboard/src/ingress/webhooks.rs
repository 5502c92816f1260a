//! Platform webhooks: `POST /v1/webhooks/{tenant}/{connector}` (and `GET` for handshakes).
//!
//! Every request is verified over its raw bytes before anything is parsed (fail closed: a
//! failure is a 401/403 with a logged reason and a metric, never a 5xx), its events must name
//! the connector's own account, and each event is stored and queued, deduplicated on the
//! platform's event id, before the platform gets its 2xx. The bot's work happens afterwards.

use crate::app::App;
use crate::connectors::{self, Connector};
use crate::ingress::http::{ApiError, Peer, read_body};
use crate::ingress::webchat::{bad_path, tenant_of};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use switchboard_channels::{
    DeliveryState, EventKind, InboundEvent, Membership, VerifyError, discord, messenger, meta, signal, slack, teams,
    teams_auth, telegram, twilio, whatsapp,
};
use switchboard_core::{Channel, Content, MessageId, MessageStatus, TenantId};
use switchboard_store::StoreError;
use switchboard_store::{NewInbound, Priority};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/v1/webhooks/{tenant}/{connector}", post(receive).get(handshake))
}

const REJECTED: &str = "switchboard_webhook_rejected_total";

fn rejected(channel: Channel, tenant: &TenantId, connector: &str, e: VerifyError) -> ApiError {
    tracing::warn!(channel = channel.as_str(), %tenant, connector, reason = %e, "webhook refused");
    ::metrics::counter!(REJECTED, "channel" => channel.as_str(), "reason" => e.label()).increment(1);
    ApiError::Unauthorized(e.label().to_owned())
}

/// The webhooks' request limits (`[webhooks]`): every request per client address; requests
/// that fail verification or name no connector per address, checked before anything else so
/// that a flood of junk is cut off early and cheaply; verified requests per tenant, so that no
/// tenant takes the whole server. A refused request costs a map lookup: nothing is read from
/// the store, verified or parsed.
struct Gate<'a> {
    app: &'a App,
    ip: String,
}

impl<'a> Gate<'a> {
    fn enter(app: &'a App, peer: Option<Extension<Peer>>) -> Result<Gate<'a>, ApiError> {
        let ip = peer.map_or_else(|| "unknown".to_owned(), |Extension(Peer(ip))| ip.to_string());
        let cfg = &app.config.webhooks;
        let gate = Gate { app, ip };
        gate.check("ip", &gate.ip, cfg.per_ip_per_second, cfg.per_ip_burst, true)?;
        gate.check(
            "failures",
            &gate.ip,
            gate.failure_rate(),
            cfg.failures_per_ip_per_minute,
            false,
        )?;
        Ok(gate)
    }

    fn failure_rate(&self) -> f64 {
        f64::from(self.app.config.webhooks.failures_per_ip_per_minute) / 60.0
    }

    /// A failed verification (or an unknown connector) counts against the address.
    fn failed(&self) {
        let cfg = &self.app.config.webhooks;
        let key = format!("webhook_failures:{}", self.ip);
        self.app.limiter.admit(
            &key,
            self.failure_rate(),
            cfg.failures_per_ip_per_minute,
            Instant::now(),
        );
    }

    fn tenant(&self, tenant: &TenantId) -> Result<(), ApiError> {
        let cfg = &self.app.config.webhooks;
        self.check(
            "tenant",
            tenant.as_str(),
            cfg.per_tenant_per_second,
            cfg.per_tenant_burst,
            true,
        )
    }

    fn check(&self, scope: &'static str, who: &str, per_second: f64, burst: u32, take: bool) -> Result<(), ApiError> {
        let key = format!("webhook_{scope}:{who}");
        let limiter = &self.app.limiter;
        let a = if take {
            limiter.admit(&key, per_second, burst, Instant::now())
        } else {
            limiter.peek(&key, per_second, burst, Instant::now())
        };
        if a.allowed {
            return Ok(());
        }
        ::metrics::counter!("switchboard_rate_limited_total", "scope" => format!("webhook_{scope}")).increment(1);
        Err(ApiError::TooManyRequests {
            message: "too many webhook requests; retry later".into(),
            retry_after_s: a.retry_after_s,
        })
    }

    async fn connector(
        &self,
        path: Result<Path<(String, String)>, PathRejection>,
    ) -> Result<(TenantId, Connector), ApiError> {
        connector_of(self.app, path).await.inspect_err(|e| {
            if matches!(e, ApiError::NotFound(..) | ApiError::BadRequest(..)) {
                self.failed();
            }
        })
    }
}

async fn connector_of(
    app: &App,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(TenantId, Connector), ApiError> {
    let Path((tenant, id)) = path.map_err(bad_path)?;
    let tenant = tenant_of(app, &tenant)?;
    let unknown = || ApiError::NotFound("unknown_connector", format!("no connector {id:?} for this tenant"));
    let connector = connectors::load(app.store.as_ref(), &app.sealer, &tenant, &id)
        .await?
        .ok_or_else(unknown)?;
    if !connector.record.enabled {
        return Err(unknown());
    }
    Ok((tenant, connector))
}

async fn receive(
    State(app): State<Arc<App>>,
    peer: Option<Extension<Peer>>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let gate = Gate::enter(&app, peer)?;
    let (tenant, connector) = gate.connector(path).await?;
    let (parts, body) = req.into_parts();
    let channel = connector.record.channel;
    let deny = |e| {
        gate.failed();
        rejected(channel, &tenant, &connector.record.id, e)
    };
    let verified = |r: Result<(), VerifyError>| {
        r.map_err(deny)?;
        gate.tenant(&tenant)
    };
    // Teams signs with a bearer token rather than over the bytes, so it is checked before the
    // body is even read: an unauthenticated caller gets nothing parsed or stored.
    let teams_token = match channel {
        Channel::Teams => {
            let token = match teams_verify(&app, &parts.headers, &connector).await {
                Ok(token) => token,
                Err(e) => {
                    // Drained unparsed (within the usual limits), so that the connection is
                    // not cut with a request half read and stays usable for the next one.
                    let _ = read_body(body, &app).await;
                    return Err(match e {
                        TeamsAuth::Refused(e) => deny(e),
                        TeamsAuth::Failed(e) => e,
                    });
                }
            };
            gate.tenant(&tenant)?;
            Some(token)
        }
        _ => None,
    };
    let body = read_body(body, &app).await?;
    // Where replies go when the event does not say: Teams' service URL, Twilio's own number.
    let mut endpoint = None;
    let events = match channel {
        Channel::Telegram => {
            verified(telegram::verify(&parts.headers, connector.secret("webhook_secret")))?;
            telegram::parse(&body, &connector.record.account_id)
                .map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))?
        }
        Channel::Whatsapp | Channel::Messenger => {
            verified(meta::verify(&parts.headers, &body, connector.secret("app_secret")))?;
            let parsed = if channel == Channel::Whatsapp {
                whatsapp::parse(&body)
            } else {
                messenger::parse(&body)
            };
            parsed.map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))?
        }
        Channel::Slack => {
            let now_s = app.clock.now_ms() / 1000;
            verified(slack::verify(
                &parts.headers,
                &body,
                connector.secret("signing_secret"),
                now_s,
            ))?;
            let content_type = parts
                .headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            match slack::parse(&body, content_type)
                .map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))?
            {
                slack::Inbound::UrlVerification(challenge) => {
                    return Ok(Json(json!({ "challenge": challenge })).into_response());
                }
                slack::Inbound::Events(events) => events,
            }
        }
        Channel::Discord => {
            let now_s = app.clock.now_ms() / 1000;
            verified(discord::verify(
                &parts.headers,
                &body,
                connector.secret("public_key"),
                now_s,
            ))?;
            let events =
                match discord::parse(&body).map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))? {
                    discord::Inbound::Ping => return Ok(Json(json!({ "type": 1 })).into_response()),
                    discord::Inbound::Events(events) => events,
                };
            // Discord wants an answer within 3 s: a deferred response now, the reply later as a
            // follow-up (5 = "thinking..." for a command, 6 = acknowledge a component).
            let kind = if events.iter().any(|e| e.kind == EventKind::Message) {
                5
            } else {
                6
            };
            accept(&app, &tenant, &connector, events, endpoint).await?;
            return Ok(Json(json!({ "type": kind })).into_response());
        }
        Channel::Twilio => {
            let content_type = parts
                .headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let url = public_url(&app, &parts);
            verified(twilio::verify(
                &parts.headers,
                &url,
                &body,
                content_type,
                connector.secret("auth_token"),
            ))?;
            let form = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default();
            let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let sent_account = field("AccountSid");
            endpoint = field("To");
            if sent_account
                .as_deref()
                .is_some_and(|a| a != connector.record.account_id)
            {
                return Err(account_mismatch(channel, sent_account.as_deref().unwrap_or("")));
            }
            let events = twilio::parse(&body, &connector.record.account_id)
                .map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))?;
            if crate::ingress::voice::is_call(&form) {
                let own_url = url.split('?').next().unwrap_or(&url).to_owned();
                return crate::ingress::voice::answer(&app, &tenant, &connector, events.into_iter().next(), &own_url)
                    .await;
            }
            accept(&app, &tenant, &connector, events, endpoint).await?;
            // An empty TwiML answer: replies go out through the REST API, not in this response.
            let twiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";
            return Ok(([(axum::http::header::CONTENT_TYPE, "text/xml")], twiml).into_response());
        }
        Channel::Signal => {
            verified(signal::verify(&parts.headers, connector.secret("shared_secret")))?;
            signal::parse(&body).map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))?
        }
        Channel::Teams => {
            let token = teams_token.ok_or_else(|| anyhow::anyhow!("the Teams token was not checked"))?;
            let reference = teams::conversation_reference(&body)
                .map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))?;
            token
                .matches(&reference.channel_id, &reference.service_url)
                .map_err(deny)?;
            endpoint = Some(reference.service_url.clone());
            teams::parse(&body).map_err(|e| ApiError::BadRequest("invalid_payload", e.to_string()))?
        }
        other => {
            return Err(ApiError::NotFound(
                "no_webhook",
                format!("{} takes no webhooks", other.as_str()),
            ));
        }
    };
    accept(&app, &tenant, &connector, events, endpoint).await?;
    Ok(Json(json!({ "ok": true })).into_response())
}

enum TeamsAuth {
    Refused(VerifyError),
    Failed(ApiError),
}

/// The Teams request's token, checked against the Bot Framework's keys for this connector's bot.
async fn teams_verify(
    app: &App,
    headers: &axum::http::HeaderMap,
    connector: &Connector,
) -> Result<teams_auth::VerifiedToken, TeamsAuth> {
    let kid = teams_auth::key_id(headers).map_err(TeamsAuth::Refused)?;
    let metadata = connector
        .setting("openid_metadata_url")
        .unwrap_or(teams_auth::DEFAULT_METADATA_URL);
    let keys = app.teams_keys.keys(metadata, &kid).await.map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "cannot fetch the Bot Framework signing keys");
        TeamsAuth::Failed(ApiError::Unavailable(
            "the Bot Framework signing keys cannot be fetched right now".into(),
        ))
    })?;
    let app_id = connector.record.account_id.trim_start_matches("28:");
    teams_auth::verify_token(headers, &keys, app_id, app.clock.now_ms() / 1000).map_err(TeamsAuth::Refused)
}

/// The subscription handshake some platforms make before sending events (Meta's
/// `hub.challenge`): answered with the challenge in plain text when the verify token matches.
async fn handshake(
    State(app): State<Arc<App>>,
    peer: Option<Extension<Peer>>,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let gate = Gate::enter(&app, peer)?;
    let (tenant, connector) = gate.connector(path).await?;
    let channel = connector.record.channel;
    match channel {
        Channel::Whatsapp | Channel::Messenger => {
            let challenge = meta::challenge(uri.query().unwrap_or(""), connector.secret("verify_token"))
                .map_err(|e| {
                    gate.failed();
                    rejected(channel, &tenant, &connector.record.id, e)
                })
                .map_err(|_| ApiError::Forbidden("handshake_refused", "the verify token does not match".into()))?;
            gate.tenant(&tenant)?;
            Ok(([(axum::http::header::CONTENT_TYPE, "text/plain")], challenge).into_response())
        }
        other => Err(ApiError::NotFound(
            "no_handshake",
            format!("{} webhooks have no GET handshake", other.as_str()),
        )),
    }
}

/// The event as stored with its message: the delivery job rebuilds the reply's target from it.
fn metadata(event: &InboundEvent, endpoint: Option<&str>) -> serde_json::Value {
    let mut v = serde_json::to_value(event).unwrap_or_default();
    if let (Some(obj), Some(e)) = (v.as_object_mut(), endpoint) {
        obj.insert("endpoint".into(), e.into());
    }
    v
}

/// The URL the platform called, as it saw it: the configured public base URL (proxies change
/// what this server sees) or, without one, http://<Host header>, plus the path and query.
fn public_url(app: &App, parts: &axum::http::request::Parts) -> String {
    let base = app.config.server.public_base_url.trim_end_matches('/');
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if base.is_empty() {
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}{path}")
    } else {
        format!("{base}{path}")
    }
}

/// The account id payloads carry: Teams names its bots `28:<app id>`, whichever form the
/// connector was given.
fn expected_account(record: &switchboard_store::ConnectorRecord) -> String {
    match record.channel {
        Channel::Teams if !record.account_id.starts_with("28:") => format!("28:{}", record.account_id),
        _ => record.account_id.clone(),
    }
}

fn account_mismatch(channel: Channel, sent: &str) -> ApiError {
    ::metrics::counter!(REJECTED, "channel" => channel.as_str(), "reason" => "account_mismatch").increment(1);
    ApiError::Forbidden(
        "account_mismatch",
        format!("the payload is for account {sent:?}, not this connector's"),
    )
}

/// Stores and queues every event that asks the bot for an answer; a platform retry of an event
/// finds the first copy (external id = connector + platform event id) and adds nothing.
pub(crate) async fn accept(
    app: &App,
    tenant: &TenantId,
    connector: &Connector,
    events: Vec<InboundEvent>,
    endpoint: Option<String>,
) -> Result<(), ApiError> {
    let record = &connector.record;
    // Checked once the request is verified: an unverified caller learns nothing of the tenant.
    if crate::tenant_data::suspended(app.store.as_ref(), tenant).await? {
        ::metrics::counter!(REJECTED, "channel" => record.channel.as_str(), "reason" => "tenant_suspended")
            .increment(1);
        return Err(crate::tenant_data::suspended_error(tenant));
    }
    for event in events {
        if event.account_id != expected_account(record) {
            return Err(account_mismatch(record.channel, &event.account_id));
        }
        if let (EventKind::Status, Some(st)) = (&event.kind, &event.status) {
            let status = match st.state {
                DeliveryState::Sent => MessageStatus::Sent,
                DeliveryState::Delivered | DeliveryState::Played => MessageStatus::Delivered,
                DeliveryState::Read => MessageStatus::Read,
                DeliveryState::Failed => MessageStatus::Failed,
            };
            let known = app
                .store
                .apply_platform_status(tenant, record.channel, &st.message_id, status)
                .await?;
            if let Some(id) = known
                && status == MessageStatus::Delivered
            {
                crate::runtime::events::delivered(app, tenant, &id).await;
            }
            continue;
        }
        if matches!(event.membership, Some(Membership::Blocked | Membership::BotRemoved)) {
            // The person blocked the bot (or removed it): the conversation ends, nothing more is
            // sent to it, and their next message starts a new one.
            crate::runtime::events::end_conversation(app, tenant, record, &event.conversation_id).await?;
            continue;
        }
        let content = match (&event.kind, &event.interactive) {
            (EventKind::Interactive, Some(i)) => Content::Postback {
                // A choice from a rich list's select menu on Discord arrives as
                // `sb_list:<payload>`: the item's payload is what was chosen.
                payload: i
                    .payload
                    .strip_prefix(switchboard_channels::DISCORD_LIST_ID)
                    .and_then(|p| p.strip_prefix(':'))
                    .filter(|_| record.channel == Channel::Discord)
                    .unwrap_or(&i.payload)
                    .to_owned(),
                title: i.title.clone(),
            },
            (EventKind::Message, _) => Content::text(event.text.clone().unwrap_or_default()),
            // Edits, delivery statuses and membership changes do not start a turn.
            (kind, _) => {
                ::metrics::counter!("switchboard_webhook_events_total", "channel" => record.channel.as_str(),
                    "kind" => format!("{kind:?}").to_lowercase())
                .increment(1);
                continue;
            }
        };
        let inbound = NewInbound {
            id: MessageId::generate(),
            channel: record.channel,
            // One conversation per connector and platform chat.
            user: format!("{}:{}", record.id, event.conversation_id),
            external_id: Some(format!("{}:{}", record.id, event.event_id)),
            metadata: metadata(&event, endpoint.as_deref()),
            content,
            priority: Priority::Interactive,
        };
        let accepted = match app.store.accept_inbound(tenant, inbound).await {
            Ok(a) => a,
            // Acknowledged all the same: a platform retries what it sees fail, and a retry
            // would be over the quota too.
            Err(StoreError::QuotaExceeded(quota)) => {
                tracing::warn!(%tenant, channel = record.channel.as_str(), connector = %record.id, quota,
                    "inbound message dropped: the tenant's monthly message quota is used up");
                crate::runtime::metrics::message(tenant.as_str(), record.channel.as_str(), "in", "over_quota");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let status = if accepted.duplicate { "duplicate" } else { "accepted" };
        crate::runtime::metrics::message(tenant.as_str(), record.channel.as_str(), "in", status);
    }
    Ok(())
}
