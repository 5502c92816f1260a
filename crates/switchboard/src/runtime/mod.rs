//! Runtime: the job runtime's parts (the queue's scheduler, retry policies, platform
//! deliveries, firing reminders, sending form submissions and events; `jobs.rs` at the top runs
//! them), live delivery to connected clients, rate limits, outbound HTTP (egress, signing, TLS,
//! redaction).

pub mod deliver;
pub(crate) mod egress;
pub mod events;
pub mod frames;
pub mod hub;
pub mod metrics;
pub mod queue;
pub mod ratelimit;
pub(crate) mod redact;
pub mod reminders;
pub mod retry;
pub mod signed;
pub mod submissions;
pub mod teams_keys;
pub mod tls;
