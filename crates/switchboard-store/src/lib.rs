//! Persistence for Switchboard. This is the only crate that knows SQL.
//!
//! Callers hold an `Arc<dyn Store>`; the backend is chosen from the store URL at start-up.
//! Every call that touches tenant data names its tenant. The few system-wide calls (listing
//! tenants, scanning the queue at start-up, queue statistics) say so in their doc comment.
//!
//! The durable queue lives here too: an inbound message and its job are written in one
//! transaction, and a turn's replies, context and the job's completion in another.

pub mod conformance;
mod conformance_people;
mod conformance_tenants;
mod error;
pub mod migrate;
mod model;
mod model_auth;
mod model_events;
mod model_tenant;
pub mod postgres;
pub mod sqlite;
mod traits;

pub use error::StoreError;
pub use model::*;
pub use model_auth::*;
pub use model_events::*;
pub use model_tenant::*;
pub use postgres::{PgOptions, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use traits::{EventStore, PeopleStore, RecordStore, ReminderStore, Store, TenantStore, TurnStore, prelude};

/// A claim on a reminder older than this is taken again: its instance died before firing it.
pub const REMINDER_CLAIM_LEASE_MS: i64 = 60_000;
/// A claim on a form submission older than this is taken again: its sender died mid-send. Longer
/// than any one send may take.
pub const SUBMISSION_CLAIM_LEASE_MS: i64 = 120_000;
/// A claim on an event delivery older than this is taken again: its sender died mid-send.
/// Longer than any one send may take.
pub const EVENT_CLAIM_LEASE_MS: i64 = 120_000;

/// Turns one sealed secret into its re-encrypted form (see [`TenantStore::reseal_secrets`]).
pub type Reseal = Box<dyn Fn(&[u8]) -> std::result::Result<Vec<u8>, String> + Send>;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
