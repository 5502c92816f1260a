//! Switchboard: a multi-tenant, multi-channel conversational AI platform in one binary.
//!
//! `main.rs` only parses the command line; [`app::run`] serves a listener until shutdown, which
//! is what the tests call with a port-0 listener and a fresh data directory.

mod admin_cli;
pub mod app;
mod chat_cli;
pub mod cli;
pub mod config;
pub mod connectors;
mod convtest;
pub mod engine;
pub mod handoff;
pub mod ingress;
pub mod jobs;
pub mod loadtest;
pub mod local;
mod migrate_cli;
mod nlu_cli;
pub mod runtime;
pub mod secrets;
pub mod store_url;
pub mod tenant_data;
