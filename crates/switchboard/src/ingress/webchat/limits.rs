//! Limits on the public chat surface, which anyone on the internet can call: requests per
//! client IP, messages per end user and per tenant, open WebSockets per client IP and per end
//! user. A limit of 0 is off. Over a request limit the answer is 429 with `Retry-After`.

use crate::app::App;
use crate::ingress::http::ApiError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use switchboard_core::TenantId;

/// `key` is only built for a limit that is on: the hot path with limits off allocates nothing.
fn admit(app: &App, key: impl FnOnce() -> String, per_second: f64, burst: u32, what: &str) -> Result<(), ApiError> {
    if per_second <= 0.0 {
        return Ok(());
    }
    let a = app.limiter.admit(&key(), per_second, burst.max(1), Instant::now());
    if a.allowed {
        return Ok(());
    }
    ::metrics::counter!("switchboard_rate_limited_total", "scope" => "chat").increment(1);
    Err(ApiError::TooManyRequests {
        message: format!("too many {what}; slow down"),
        retry_after_s: a.retry_after_s.max(1),
    })
}

/// Any chat request from `ip`.
pub fn request(app: &App, ip: Option<IpAddr>) -> Result<(), ApiError> {
    let rate = app.config.chat.requests_per_ip_per_second;
    match ip {
        Some(ip) => admit(
            app,
            || format!("chat-ip:{ip}"),
            f64::from(rate),
            rate * 2,
            "requests from this address",
        ),
        None => Ok(()),
    }
}

/// A new session from `ip`: sessions cost nothing to store, but each is a fresh identity that
/// would escape the per-user limit.
pub fn session(app: &App, ip: Option<IpAddr>) -> Result<(), ApiError> {
    let per_minute = app.config.chat.sessions_per_ip_per_minute;
    match ip {
        Some(ip) => admit(
            app,
            || format!("chat-session:{ip}"),
            f64::from(per_minute) / 60.0,
            per_minute,
            "new chat sessions from this address",
        ),
        None => Ok(()),
    }
}

/// A message from an end user, counted for the user and for the tenant.
pub fn message(app: &App, tenant: &TenantId, user: &str) -> Result<(), ApiError> {
    let c = &app.config.chat;
    admit(
        app,
        || format!("chat-user:{tenant}:{user}"),
        f64::from(c.messages_per_user_per_second),
        c.messages_per_user_per_second * 4,
        "messages from this user",
    )?;
    admit(
        app,
        || format!("chat-tenant:{tenant}"),
        f64::from(c.messages_per_tenant_per_second),
        c.messages_per_tenant_per_second * 2,
        "messages for this tenant",
    )
}

/// Open WebSockets per client IP and per end user.
#[derive(Default)]
pub struct Sockets {
    open: Mutex<HashMap<String, u32>>,
}

/// Held while a WebSocket is open; closing it (dropping this) frees its places.
pub struct SocketSlot {
    app: Arc<App>,
    keys: Vec<String>,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let Ok(mut open) = self.app.sockets.open.lock() else {
            return;
        };
        for key in &self.keys {
            if let Some(n) = open.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

/// Takes a place for a new WebSocket of `user` from `ip`, or refuses it (429) when either has
/// as many open as allowed.
pub fn open_socket(app: &Arc<App>, ip: Option<IpAddr>, tenant: &TenantId, user: &str) -> Result<SocketSlot, ApiError> {
    let c = &app.config.chat;
    let mut wanted = vec![(format!("user:{tenant}:{user}"), c.max_sockets_per_user, "this user")];
    if let Some(ip) = ip {
        wanted.push((format!("ip:{ip}"), c.max_sockets_per_ip, "this address"));
    }
    let mut open = app
        .sockets
        .open
        .lock()
        .map_err(|_| ApiError::Unavailable("the socket table is unavailable".into()))?;
    for (key, max, who) in &wanted {
        if *max > 0 && open.get(key).copied().unwrap_or(0) >= *max {
            ::metrics::counter!("switchboard_rate_limited_total", "scope" => "chat_sockets").increment(1);
            return Err(ApiError::TooManyRequests {
                message: format!("{who} has {max} chat connections open already; close one first"),
                retry_after_s: 5,
            });
        }
    }
    for (key, _, _) in &wanted {
        *open.entry(key.clone()).or_insert(0) += 1;
    }
    Ok(SocketSlot {
        app: app.clone(),
        keys: wanted.into_iter().map(|(k, _, _)| k).collect(),
    })
}
