//! Delivery: sends a turn's stored replies through the platform they answer, rendered for what
//! the platform can show. Runs as a `Deliver` job, enqueued with the replies in the same
//! transaction (the outbox), so a crash between storing and sending loses nothing; each reply
//! is marked `sent` with the platform's id once sent, so a retried job skips it. A reply that
//! goes out as several platform messages (cards, long text, a list after its text) records each
//! part the platform accepts, so a retry resumes from the first unsent part.

use crate::app::App;
use crate::connectors::{self, Connector};
use crate::runtime::events::{Event, EventType};
use anyhow::{Context as _, anyhow};
use std::time::Duration;
use switchboard_channels::outbound::{Auth, Body, Call, Outcome, Reply, Rich, Target};
use switchboard_channels::{InboundEvent, discord, messenger, signal, slack, teams, telegram, twilio, whatsapp};
use switchboard_core::{Channel, Content, ConversationStatus, Direction, Message, MessageId, MessageStatus};
use switchboard_store::Job;

/// Longest platform answer read: far more than any send's answer.
const ANSWER_MAX: usize = 256 * 1024;

/// The platform asked us to wait (429): the job runs again after this many seconds.
#[derive(Debug, thiserror::Error)]
#[error("rate limited by the platform for {0} s")]
pub struct RetryAfter(pub u64);

fn default_api_base(channel: Channel) -> &'static str {
    match channel {
        Channel::Telegram => "https://api.telegram.org",
        Channel::Whatsapp | Channel::Messenger => "https://graph.facebook.com/v21.0",
        Channel::Slack => "https://slack.com/api",
        Channel::Discord => "https://discord.com/api/v10",
        Channel::Twilio => "https://api.twilio.com/2010-04-01",
        // Teams calls go to each conversation's service URL; Signal to the tenant's own bridge.
        Channel::Teams | Channel::Signal | Channel::Webchat | Channel::Api => "",
    }
}

fn render(channel: Channel, reply: &Reply, to: &Target) -> Vec<Call> {
    match channel {
        Channel::Telegram => telegram::render(reply, to),
        Channel::Whatsapp => whatsapp::render(reply, to),
        Channel::Messenger => messenger::render(reply, to),
        Channel::Twilio => twilio::render(reply, to),
        Channel::Slack => slack::render(reply, to),
        Channel::Discord => discord::render(reply, to),
        Channel::Teams => teams::render(reply, to),
        Channel::Signal => signal::render(reply, to),
        Channel::Webchat | Channel::Api => Vec::new(),
    }
}

fn outcome(channel: Channel, status: u16, body: &[u8], retry_after: Option<u64>) -> Outcome {
    match channel {
        Channel::Telegram => telegram::outcome(status, body, retry_after),
        Channel::Whatsapp => whatsapp::outcome(status, body, retry_after),
        Channel::Messenger => messenger::outcome(status, body, retry_after),
        Channel::Twilio => twilio::outcome(status, body, retry_after),
        Channel::Slack => slack::outcome(status, body, retry_after),
        Channel::Discord => discord::outcome(status, body, retry_after),
        Channel::Teams => teams::outcome(status, body, retry_after),
        Channel::Signal => signal::outcome(status, body, retry_after),
        Channel::Webchat | Channel::Api => Outcome::Sent(None),
    }
}

/// Runs a `Deliver` job. `Ok` means the job is done (every reply sent or failed for good);
/// an error (possibly [`RetryAfter`]) means it runs again.
pub async fn run(app: &App, job: &Job) -> anyhow::Result<()> {
    let tenant = &job.tenant;
    let input = app
        .store
        .turn_input(tenant, &job.conversation, &job.message)
        .await?
        .with_context(|| format!("message {} of job {} is gone", job.message, job.id))?;
    let (first, conversation) = (input.message, input.conversation);
    // A proactive message (a fired reminder) answers no inbound message: the job names the
    // message itself, and its `anchor` names the inbound message whose event addresses the chat.
    let proactive = first.direction == Direction::Outbound;
    let (inbound, replies) = if proactive {
        let anchor = first.metadata.get("anchor").and_then(|a| a.as_str());
        let anchor = match anchor.map(MessageId::parse) {
            Some(Ok(id)) => app.store.message(tenant, &id).await?,
            _ => None,
        };
        (anchor, vec![first])
    } else {
        let replies = app.store.replies_to(tenant, &job.message).await?;
        (Some(first), replies)
    };
    let connector_id = conversation.user.split_once(':').map_or("", |(c, _)| c);
    let connector = connectors::load(app.store.as_ref(), &app.sealer, tenant, connector_id).await?;
    let event: Option<InboundEvent> = inbound
        .as_ref()
        .and_then(|m| serde_json::from_value(m.metadata.clone()).ok());
    let closed = conversation.status == ConversationStatus::Closed;
    let (Some(connector), Some(event), Some(inbound), false) = (connector, event, inbound, closed) else {
        for r in replies.iter().filter(|r| r.status == MessageStatus::Queued) {
            let why = if closed {
                "the conversation ended (the person blocked the bot or hung up)"
            } else {
                "the connector or the inbound event is gone"
            };
            app.store
                .record_delivery(tenant, &r.id, MessageStatus::Failed, None, Some(why))
                .await?;
        }
        return app.store.finish_job(tenant, job.id).await.map_err(Into::into);
    };
    let target = Target {
        account_id: event.account_id.clone(),
        conversation_id: event.conversation_id.clone(),
        thread_id: event.thread_id.clone(),
        // Not threaded as a reply to the old message that set it.
        reply_to: if proactive { None } else { event.message_id.clone() },
        interaction: if proactive {
            None
        } else {
            event.interactive.as_ref().and_then(|i| i.ack_id.clone())
        },
        endpoint: inbound
            .metadata
            .get("endpoint")
            .and_then(|e| e.as_str())
            .map(str::to_owned),
    };
    for reply in replies.iter().filter(|r| r.status == MessageStatus::Queued) {
        let outgoing = outgoing(&reply.content);
        let mut sent_id = None;
        let mut failed = None;
        let mut blocked = false;
        let calls = match whatsapp_window(app, &connector, &conversation, proactive, &outgoing, &target) {
            Ok(calls) => calls,
            Err(refusal) => {
                failed = Some(refusal);
                Vec::new()
            }
        };
        // Parts the platform accepted on an earlier attempt are not sent again.
        let done = app.store.parts_sent(tenant, &reply.id).await? as usize;
        for (part, call) in calls.iter().enumerate().skip(done) {
            pace(app, &connector, &target.conversation_id).await?;
            match send(app, &connector, call).await? {
                Outcome::Sent(id) => {
                    // Recorded before the next part goes: a failure there must not resend this one.
                    app.store
                        .record_parts_sent(tenant, &reply.id, part as u32 + 1, id.as_deref())
                        .await?;
                    sent_id = id.or(sent_id);
                }
                Outcome::RetryAfter(s) => return Err(RetryAfter(s).into()),
                Outcome::Transient(e) => return Err(anyhow!("sending failed, will retry: {e}")),
                Outcome::Permanent(e) => {
                    failed = Some(e);
                    break;
                }
                Outcome::Blocked(e) => {
                    failed = Some(e);
                    blocked = true;
                    break;
                }
            }
        }
        let channel = connector.record.channel.as_str();
        match failed {
            None => {
                app.store
                    .record_delivery(tenant, &reply.id, MessageStatus::Sent, sent_id.as_deref(), None)
                    .await?;
                crate::runtime::metrics::message(tenant.as_str(), channel, "out", "sent");
                let sent = Message {
                    status: MessageStatus::Sent,
                    ..reply.clone()
                };
                let data = crate::runtime::events::message_data(&sent);
                crate::runtime::events::emit(app, tenant, vec![Event::new(EventType::MessageSent, data)]).await;
            }
            Some(e) => {
                tracing::warn!(%tenant, channel, message = %reply.id, error = %e, "the platform refused a reply");
                app.store
                    .record_delivery(tenant, &reply.id, MessageStatus::Failed, None, Some(&e))
                    .await?;
                crate::runtime::metrics::message(tenant.as_str(), channel, "out", "failed");
            }
        }
        if blocked {
            // The person blocked the bot or unsubscribed: the conversation ends, the rest of
            // this turn's replies are not sent, and their next message starts a new one.
            crate::runtime::events::end_conversation(app, tenant, &connector.record, &target.conversation_id)
                .await
                .map_err(|e| anyhow!("ending the conversation of a blocked chat: {e:?}"))?;
            let later = replies.iter().skip_while(|r| r.id != reply.id).skip(1);
            for r in later.filter(|r| r.status == MessageStatus::Queued) {
                app.store
                    .record_delivery(
                        tenant,
                        &r.id,
                        MessageStatus::Failed,
                        None,
                        Some("the person blocked the bot"),
                    )
                    .await?;
            }
            break;
        }
    }
    app.store.finish_job(tenant, job.id).await?;
    Ok(())
}

/// A stored reply as the channel-neutral reply the channels render.
fn outgoing(content: &Content) -> Reply {
    let rich = |text: &str, rich: Rich| Reply {
        text: text.to_owned(),
        buttons: Vec::new(),
        rich: Some(rich),
    };
    match content {
        Content::Text { text, buttons } => Reply {
            text: text.clone(),
            buttons: buttons.clone(),
            rich: None,
        },
        Content::Postback { payload, title } => Reply::text(title.clone().unwrap_or_else(|| payload.clone())),
        Content::Image { url, caption } => {
            rich(caption.as_deref().unwrap_or_default(), Rich::Image { url: url.clone() })
        }
        Content::Cards { cards } => rich("", Rich::Cards(cards.clone())),
        Content::List { text, button, items } => rich(
            text,
            Rich::List {
                button: button.clone(),
                items: items.clone(),
            },
        ),
    }
}

/// The calls for a reply, minding WhatsApp's 24-hour customer-service window: a proactive
/// message (a reminder) more than 24 hours after the person last wrote goes out as the
/// connector's approved template (`window_template`, `window_template_language`) or is refused
/// here, with the reason, instead of being refused by the platform.
fn whatsapp_window(
    app: &App,
    connector: &Connector,
    conversation: &switchboard_core::Conversation,
    proactive: bool,
    reply: &Reply,
    target: &Target,
) -> Result<Vec<Call>, String> {
    let channel = connector.record.channel;
    if channel != Channel::Whatsapp || !proactive {
        return Ok(render(channel, reply, target));
    }
    let last_heard = conversation
        .context
        .history
        .iter()
        .rev()
        .find(|h| h.role == "user")
        .map_or(conversation.created_at, |h| h.at);
    if app.clock.now_ms() - last_heard <= whatsapp::SERVICE_WINDOW_MS {
        return Ok(render(channel, reply, target));
    }
    match connector.setting("window_template") {
        Some(name) => {
            let language = connector.setting("window_template_language").unwrap_or("en");
            Ok(vec![whatsapp::render_template(name, language, &reply.text, target)])
        }
        None => Err(
            "whatsapp: outside the 24-hour customer-service window, only an approved template can be sent \
             (set the connector's window_template)"
                .to_owned(),
        ),
    }
}

/// Waits for this send's slot: per account, then per chat (connector settings `rate_per_second`
/// and `rate_per_chat_per_second` override the channel's defaults). A wait longer than a few
/// seconds gives the worker back and retries the job then.
async fn pace(app: &App, connector: &Connector, chat: &str) -> anyhow::Result<()> {
    let (account_rate, chat_rate) = crate::runtime::ratelimit::default_rates(connector.record.channel);
    let rate = |name: &str, default: f64| connector.setting(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (account_rate, chat_rate) = (
        rate("rate_per_second", account_rate),
        rate("rate_per_chat_per_second", chat_rate),
    );
    let base = format!("{}/{}", connector.record.tenant, connector.record.id);
    let now = std::time::Instant::now();
    let account_wait = app
        .pacer
        .reserve(&base, account_rate, account_rate.clamp(1.0, 100.0) as u32, now);
    let chat_wait = app.pacer.reserve(&format!("{base}/{chat}"), chat_rate, 3, now);
    let wait = account_wait.max(chat_wait);
    if wait > Duration::from_secs(5) {
        return Err(RetryAfter(wait.as_secs()).into());
    }
    tokio::time::sleep(wait).await;
    Ok(())
}

/// Sends one call. Every reason in the outcome is fit to store and show: the connector's
/// secrets redacted (a Telegram token is part of the URL) and a platform's words cut short.
async fn send(app: &App, connector: &Connector, call: &Call) -> anyhow::Result<Outcome> {
    let secrets = || connector.secrets.values().map(String::as_str);
    let clean = |e: String| crate::runtime::redact::reason(&crate::runtime::redact::secrets(&e, secrets()));
    Ok(match send_raw(app, connector, call).await? {
        Outcome::Transient(e) => Outcome::Transient(clean(e)),
        Outcome::Permanent(e) => Outcome::Permanent(clean(e)),
        Outcome::Blocked(e) => Outcome::Blocked(clean(e)),
        done @ (Outcome::Sent(_) | Outcome::RetryAfter(_)) => done,
    })
}

async fn send_raw(app: &App, connector: &Connector, call: &Call) -> anyhow::Result<Outcome> {
    let channel = connector.record.channel;
    let allow_private = app.config.server.allow_private_targets;
    let base = connector
        .setting("api_base")
        .unwrap_or(default_api_base(channel))
        .trim_end_matches('/');
    let path = call.path.trim_start_matches('/');
    let url = match &call.auth {
        _ if call.path.starts_with("http://") || call.path.starts_with("https://") => call.path.clone(),
        Auth::PathPrefix(secret) => format!("{base}/bot{}/{path}", connector.secret(secret)),
        _ => format!("{base}/{path}"),
    };
    if !url.starts_with("http") {
        return Ok(Outcome::Permanent(format!(
            "no API base URL for {} (setting api_base)",
            channel.as_str()
        )));
    }
    // Refused for good: only a change of the connector's settings can help.
    if let Err(e) = crate::runtime::egress::check_url(&url, allow_private) {
        return Ok(Outcome::Permanent(format!("{}: {e}", channel.as_str())));
    }
    let mut req = app
        .tenant_http
        .request(call.method.clone(), &url)
        .timeout(Duration::from_secs(15));
    req = match &call.auth {
        Auth::None | Auth::PathPrefix(_) => req,
        Auth::Bearer(_) if channel == Channel::Teams => {
            let token_url = connector
                .setting("token_url")
                .unwrap_or(crate::runtime::teams_keys::DEFAULT_TOKEN_URL);
            if let Err(e) = crate::runtime::egress::check_url(token_url, allow_private) {
                return Ok(Outcome::Permanent(format!("teams: token_url {e}")));
            }
            let app_id = connector.record.account_id.trim_start_matches("28:");
            match app
                .teams_tokens
                .token(
                    &app.tenant_http,
                    allow_private,
                    token_url,
                    app_id,
                    connector.secret("app_password"),
                )
                .await
            {
                Ok(token) => req.bearer_auth(token),
                Err(e) => return Ok(Outcome::Transient(format!("{e:#}"))),
            }
        }
        Auth::Bearer(secret) => req.bearer_auth(connector.secret(secret)),
        Auth::Bot(secret) => req.header("authorization", format!("Bot {}", connector.secret(secret))),
        Auth::Basic(secret) => req.basic_auth(&connector.record.account_id, Some(connector.secret(secret))),
    };
    req = match &call.body {
        Body::Json(v) => req.json(v),
        Body::Form(f) => req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(f)?),
    };
    let res = match req.send().await {
        Ok(res) => res,
        // Without the URL: a Telegram URL carries the bot token.
        Err(e) => {
            let e = crate::runtime::redact::chain(&e.without_url());
            return Ok(Outcome::Transient(format!("{}: {e}", channel.as_str())));
        }
    };
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = crate::runtime::egress::body(res, ANSWER_MAX).await;
    Ok(outcome(channel, status, &body, retry_after))
}
