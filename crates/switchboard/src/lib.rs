//! Switchboard: a multi-tenant, multi-channel conversational AI platform in one binary.
//!
//! `main.rs` only parses the command line; [`app::run`] serves a listener until shutdown, which
//! is what the tests call with a port-0 listener and a fresh data directory.

mod admin_cli;
pub mod api;
pub mod app;
pub mod assessment;
pub mod auth;
mod chat_cli;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod connectors;
mod consent;
mod convtest;
pub mod deliver;
mod discord_gateway;
mod egress;
pub mod events;
pub mod feedback;
pub mod forms;
mod handlers;
pub mod handoff;
pub mod http;
pub mod hub;
pub mod knowledge;
pub mod llm;
pub mod loadtest;
pub mod local;
pub mod metrics;
mod nlu_cli;
mod numbered;
pub mod pipeline;
pub mod queue;
pub mod ratelimit;
mod redact;
pub mod reminders;
pub mod route;
pub mod secrets;
mod server;
pub mod signed;
mod smalltalk;
pub mod store_url;
pub mod teams_keys;
pub mod tenant_data;
pub mod tenants;
pub mod tls;
pub mod voice;
mod web;
pub mod webchat;
pub mod webhooks;
