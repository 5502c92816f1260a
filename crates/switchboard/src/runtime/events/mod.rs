//! Outbound event webhooks: what happens in a tenant's conversations, POSTed signed to the
//! URLs the tenant subscribed (see [`send`] for the sending).
//!
//! Every event is the JSON envelope `{id, type, tenant, created_at, data}`. Emitting never
//! fails a turn: it is one store write (the fan-out to endpoints happens inside it), made only
//! when some endpoint of the tenant subscribed to one of the events, and a failed write is
//! logged and counted, not returned.

pub mod send;

use crate::app::App;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use switchboard_core::clock::rfc3339;
use switchboard_core::{Conversation, Message, MessageId, MessageStatus, TenantId};
use switchboard_store::NewEvent;

pub use send::send_due;

/// `[events]` in the server configuration.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// How often due deliveries are looked for.
    pub poll_interval_ms: u64,
    /// The endpoint must answer within this time, else the attempt is retried.
    pub timeout_ms: u64,
    /// Attempts per delivery before it fails for good.
    pub max_attempts: u32,
    /// Retry delay: base * 2^(attempt-1), capped, with jitter; a longer Retry-After wins.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

/// The kinds of event a tenant can subscribe to, and `ping` (sent on request, to test an
/// endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    MessageReceived,
    MessageSent,
    MessageDelivered,
    ConversationStarted,
    ConversationUpdated,
    ConversationEnded,
    HandoffRequested,
    HandoffTaken,
    HandoffReleased,
    Ping,
}

impl EventType {
    /// What an endpoint can subscribe to (everything but `ping`).
    pub const SUBSCRIBABLE: [EventType; 9] = [
        EventType::MessageReceived,
        EventType::MessageSent,
        EventType::MessageDelivered,
        EventType::ConversationStarted,
        EventType::ConversationUpdated,
        EventType::ConversationEnded,
        EventType::HandoffRequested,
        EventType::HandoffTaken,
        EventType::HandoffReleased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageReceived => "message.received",
            EventType::MessageSent => "message.sent",
            EventType::MessageDelivered => "message.delivered",
            EventType::ConversationStarted => "conversation.started",
            EventType::ConversationUpdated => "conversation.updated",
            EventType::ConversationEnded => "conversation.ended",
            EventType::HandoffRequested => "handoff.requested",
            EventType::HandoffTaken => "handoff.taken",
            EventType::HandoffReleased => "handoff.released",
            EventType::Ping => "ping",
        }
    }

    /// A type an endpoint may subscribe to; `ping` is not one.
    pub fn parse_subscribable(s: &str) -> Option<EventType> {
        EventType::SUBSCRIBABLE.into_iter().find(|t| t.as_str() == s)
    }
}

/// An event about to be emitted: its type and its `data`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventType,
    pub data: Value,
}

impl Event {
    pub fn new(kind: EventType, data: Value) -> Event {
        Event { kind, data }
    }
}

/// The body every endpoint receives.
pub fn envelope(id: &str, kind: EventType, tenant: &TenantId, created_at_ms: i64, data: Value) -> Value {
    json!({
        "id": id,
        "type": kind.as_str(),
        "tenant": tenant.as_str(),
        "created_at": rfc3339(created_at_ms),
        "data": data,
    })
}

/// `data` of the message events: the message without its platform metadata.
pub fn message_data(m: &Message) -> Value {
    json!({
        "conversation": m.conversation,
        "message": {
            "id": m.id,
            "seq": m.seq,
            "direction": m.direction,
            "channel": m.channel,
            "user": m.user,
            "content": m.content,
            "status": m.status,
            "in_reply_to": m.in_reply_to,
            "created_at": rfc3339(m.created_at),
        },
    })
}

/// `data` of the conversation and handoff events, with `extra` fields merged in.
pub fn conversation_data(c: &Conversation, extra: Value) -> Value {
    let mut data = json!({
        "conversation": {
            "id": c.id,
            "channel": c.channel,
            "user": c.user,
        },
    });
    if let (Some(obj), Value::Object(more)) = (data.as_object_mut(), extra) {
        obj.extend(more);
    }
    data
}

/// How long a tenant's subscriptions are trusted before the store is asked again: endpoints
/// created on another instance are seen within this time; those of this one at once.
const SUBSCRIPTIONS_TTL_MS: i64 = 10_000;

/// Which event types each tenant's enabled endpoints subscribed to, so that a turn of a tenant
/// without webhooks costs no write at all.
#[derive(Default)]
pub struct Subscriptions {
    cache: Mutex<HashMap<TenantId, (HashSet<String>, i64)>>,
}

impl Subscriptions {
    /// Forgets a tenant's subscriptions (its endpoints changed).
    pub fn invalidate(&self, tenant: &TenantId) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(tenant);
        }
    }

    async fn of(&self, app: &App, tenant: &TenantId) -> switchboard_store::Result<HashSet<String>> {
        let now = app.clock.now_ms();
        if let Ok(c) = self.cache.lock()
            && let Some((types, at)) = c.get(tenant)
            && now - at < SUBSCRIPTIONS_TTL_MS
        {
            return Ok(types.clone());
        }
        let types: HashSet<String> = app
            .store
            .event_endpoints(tenant)
            .await?
            .into_iter()
            .filter(|e| e.enabled)
            .flat_map(|e| e.events)
            .collect();
        if let Ok(mut c) = self.cache.lock() {
            c.insert(tenant.clone(), (types.clone(), now));
        }
        Ok(types)
    }
}

/// Whether some endpoint of the tenant wants `kind`: worth a read to build its data.
async fn wanted(app: &App, tenant: &TenantId, kind: EventType) -> bool {
    match app.events.of(app, tenant).await {
        Ok(w) => w.contains(kind.as_str()),
        Err(e) => {
            dropped(tenant, 1, &e);
            false
        }
    }
}

/// `message.delivered`: a platform reports one of our messages delivered.
pub async fn delivered(app: &App, tenant: &TenantId, id: &MessageId) {
    if !wanted(app, tenant, EventType::MessageDelivered).await {
        return;
    }
    match app.store.message(tenant, id).await {
        Ok(Some(m)) => {
            emit(
                app,
                tenant,
                vec![Event::new(EventType::MessageDelivered, message_data(&m))],
            )
            .await
        }
        Ok(None) => {}
        Err(e) => dropped(tenant, 1, &e),
    }
}

/// Queues `events` for the tenant's endpoints subscribed to them. Never fails: a problem is
/// logged and counted.
pub async fn emit(app: &App, tenant: &TenantId, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let wanted = match app.events.of(app, tenant).await {
        Ok(w) => w,
        Err(e) => return dropped(tenant, events.len(), &e),
    };
    let now = app.clock.now_ms();
    let new: Vec<NewEvent> = events
        .into_iter()
        .filter(|e| wanted.contains(e.kind.as_str()))
        .map(|e| {
            let id = uuid::Uuid::now_v7().to_string();
            NewEvent {
                payload: envelope(&id, e.kind, tenant, now, e.data),
                event_type: e.kind.as_str().to_owned(),
                id,
            }
        })
        .collect();
    if new.is_empty() {
        return;
    }
    let n = new.len();
    if let Err(e) = app.store.enqueue_events(tenant, None, new).await {
        dropped(tenant, n, &e);
    }
}

fn dropped(tenant: &TenantId, n: usize, e: &switchboard_store::StoreError) {
    tracing::warn!(%tenant, events = n, error = %e, "cannot queue events for the tenant's webhooks");
    ::metrics::counter!(crate::runtime::metrics::EVENTS_DROPPED, "tenant" => tenant.to_string()).increment(n as u64);
}

/// The events of a completed turn: the message received (and the conversation started, for
/// its first message), a handoff the turn asked for, the replies already sent (web chat; a
/// platform's are emitted once delivered to it), and what changed in the conversation.
pub async fn turn_completed(app: &App, inbound: &Message, replies: &[Message], turn: TurnChanges) {
    // What the person asked to be forgotten is not handed to anyone else either.
    if turn.erased {
        return;
    }
    let mut events = Vec::with_capacity(replies.len() + 3);
    let conversation = || {
        json!({
            "conversation": {
                "id": inbound.conversation,
                "channel": inbound.channel,
                "user": inbound.user,
            },
        })
    };
    // Sequence numbers start at 1 in each conversation: this message opened it.
    if inbound.seq == 1 {
        events.push(Event::new(EventType::ConversationStarted, conversation()));
    }
    // As the turn left it in the store: processed.
    let handled = Message {
        status: MessageStatus::Processed,
        ..inbound.clone()
    };
    events.push(Event::new(EventType::MessageReceived, message_data(&handled)));
    if let Some(reason) = turn.handoff {
        let mut data = conversation();
        data["reason"] = json!(reason);
        events.push(Event::new(EventType::HandoffRequested, data));
    }
    for r in replies.iter().filter(|r| r.status == MessageStatus::Sent) {
        events.push(Event::new(EventType::MessageSent, message_data(r)));
    }
    if let Some(changed) = turn.updated {
        let mut data = conversation();
        data["changes"] = changed;
        events.push(Event::new(EventType::ConversationUpdated, data));
    }
    emit(app, &inbound.tenant, events).await;
}

/// What a turn changed besides its messages.
#[derive(Default)]
pub struct TurnChanges {
    /// The reason of the handoff the turn asked for.
    pub handoff: Option<String>,
    /// The conversation's fields that changed (mode, language), with their new values.
    pub updated: Option<Value>,
    /// The turn erased the person's messages (they refused consent or said "stop").
    pub erased: bool,
}

/// Closes the open conversation of a platform chat, if any (the person blocked the bot or hung
/// up), and tells the tenant's webhooks.
pub(crate) async fn end_conversation(
    app: &App,
    tenant: &TenantId,
    record: &switchboard_store::ConnectorRecord,
    chat: &str,
) -> Result<(), switchboard_store::StoreError> {
    let user = format!("{}:{chat}", record.id);
    if let Some(conv) = app.store.open_conversation(tenant, record.channel, &user).await?
        && app.store.close_conversation(tenant, &conv.id).await?
    {
        let data = conversation_data(&conv, json!({"reason": "blocked"}));
        emit(app, tenant, vec![Event::new(EventType::ConversationEnded, data)]).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_stable_name_and_ping_is_not_subscribable() {
        let names: Vec<_> = EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "message.received",
                "message.sent",
                "message.delivered",
                "conversation.started",
                "conversation.updated",
                "conversation.ended",
                "handoff.requested",
                "handoff.taken",
                "handoff.released"
            ]
        );
        for t in EventType::SUBSCRIBABLE {
            assert_eq!(EventType::parse_subscribable(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse_subscribable("ping"), None);
        assert_eq!(EventType::parse_subscribable("message.*"), None);
    }

    #[test]
    fn the_envelope_has_its_five_fields_and_utc_time() {
        let t = TenantId::parse("acme").expect("id");
        let e = envelope(
            "ev-1",
            EventType::HandoffTaken,
            &t,
            1_795_168_800_000,
            json!({"agent": "u1"}),
        );
        assert_eq!(
            e,
            json!({
                "id": "ev-1",
                "type": "handoff.taken",
                "tenant": "acme",
                "created_at": "2026-11-20T10:00:00.000Z",
                "data": {"agent": "u1"},
            })
        );
        // The body is signed as sent; its bytes are what a receiver checks.
        let body = serde_json::to_vec(&e).expect("json");
        let sig = crate::runtime::signed::signature(b"whsec", 1_795_168_800, &body);
        assert!(sig.starts_with("t=1795168800,v1=") && sig.len() == "t=1795168800,v1=".len() + 64);
    }
}
