//! Integration tests: real servers on port 0 with fresh data directories, driven over HTTP,
//! WebSocket and the CLI. One test binary for the crate keeps link time down.

mod api;
mod assessment;
mod authoring;
mod bad_input;
mod browser;
mod chat;
mod chat_identity;
mod chat_page;
mod crash;
mod delivery;
mod delivery_retry;
mod discord_gateway;
mod egress;
mod entities;
mod event_receiver;
mod events;
mod events_platforms;
mod forms;
mod helpers;
mod knowledge;
mod nlu;
mod numbered;
mod ops;
mod people;
mod queue;
mod redaction;
mod reminders;
mod rich;
mod store_url;
mod tenant_access;
mod tenants;
mod webhooks;
mod websocket;
mod widget;
mod widget_identity;
