//! Runtime: the job runtime (queue and workers), live delivery to connected clients, rate
//! limits, outbound HTTP (egress, signing, TLS, redaction), and the background loops that keep
//! them going.

pub mod deliver;
pub(crate) mod egress;
pub mod events;
pub mod frames;
pub mod hub;
pub mod metrics;
pub mod queue;
pub mod ratelimit;
pub(crate) mod redact;
pub mod signed;
pub mod teams_keys;
pub mod tls;
