//! Live delivery inside one instance: frames to the open WebSockets of an end user, and turn
//! outcomes to HTTP requests waiting for their replies. Everything sent here is also in the
//! store, so a client that misses a frame recovers it from the history.

use crate::runtime::frames::ServerFrame;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_core::{Channel, Message, MessageId, TenantId};
use tokio::sync::{broadcast, oneshot};

type UserKey = (TenantId, String);

#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<UserKey, broadcast::Sender<Arc<ServerFrame>>>>,
    waiters: Mutex<HashMap<MessageId, Vec<oneshot::Sender<TurnOutcome>>>>,
}

/// The end of a turn as a waiting request sees it: the stored replies, or why it failed for good.
pub type TurnOutcome = Result<Arc<Vec<Message>>, String>;

pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<ServerFrame>>,
    key: UserKey,
    hub: Arc<Hub>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut users) = self.hub.users.lock()
            && users.get(&self.key).is_some_and(|tx| tx.receiver_count() <= 1)
        {
            users.remove(&self.key);
        }
    }
}

impl Hub {
    pub fn subscribe(self: &Arc<Self>, tenant: &TenantId, user: &str) -> Subscription {
        let key = (tenant.clone(), user.to_owned());
        let rx = match self.users.lock() {
            Ok(mut users) => users
                .entry(key.clone())
                .or_insert_with(|| broadcast::channel(256).0)
                .subscribe(),
            Err(_) => broadcast::channel(1).1,
        };
        Subscription {
            rx,
            key,
            hub: self.clone(),
        }
    }

    /// Sends `frame` to the open WebSockets of `user`. Only web chat users have any: frames of a
    /// platform conversation are dropped here, so that no chat socket can ever see one.
    pub fn publish(&self, channel: Channel, tenant: &TenantId, user: &str, frame: ServerFrame) {
        if !matches!(channel, Channel::Webchat | Channel::Api) {
            return;
        }
        if let Ok(users) = self.users.lock()
            && let Some(tx) = users.get(&(tenant.clone(), user.to_owned()))
        {
            let _ = tx.send(Arc::new(frame));
        }
    }

    pub fn has_subscribers(&self, tenant: &TenantId, user: &str) -> bool {
        self.users
            .lock()
            .is_ok_and(|u| u.contains_key(&(tenant.clone(), user.to_owned())))
    }

    /// Registers interest in the outcome of the turn of `message`.
    pub fn wait_for(&self, message: &MessageId) -> oneshot::Receiver<TurnOutcome> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.entry(message.clone()).or_default().push(tx);
        }
        rx
    }

    /// Drops the interest of requests that stopped waiting (closed receivers).
    pub fn forget(&self, message: &MessageId) {
        if let Ok(mut w) = self.waiters.lock()
            && let Some(list) = w.get_mut(message)
        {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                w.remove(message);
            }
        }
    }

    pub fn resolve(&self, message: &MessageId, outcome: TurnOutcome) {
        let list = self.waiters.lock().ok().and_then(|mut w| w.remove(message));
        for tx in list.into_iter().flatten() {
            let _ = tx.send(outcome.clone());
        }
    }

    /// Ends every subscription: their sockets close.
    pub fn close_all(&self) {
        if let Ok(mut users) = self.users.lock() {
            users.clear();
        }
    }

    pub fn open_sockets(&self) -> usize {
        self.users.lock().map(|u| u.len()).unwrap_or(0)
    }
}
