//! Ingress: the edge. It verifies a request, parses it, stores it and enqueues the work, and
//! answers the caller. It knows HTTP, and nothing of the workers that later pick the work up.

pub mod api;
pub mod auth;
pub mod client_ip;
pub(crate) mod discord_gateway;
pub mod http;
pub(crate) mod server;
pub mod voice;
pub(crate) mod web;
pub mod webchat;
pub mod webhooks;
