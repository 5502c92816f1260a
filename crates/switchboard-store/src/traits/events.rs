//! Outbound event webhooks: endpoints, the fan-out of events to them, and deliveries with their claim-and-send cycle.

use crate::*;
use async_trait::async_trait;
use switchboard_core::TenantId;

/// Outbound event webhooks: endpoints, the fan-out of events to them, and deliveries with their claim-and-send cycle.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Subscribes a tenant's URL to event types.
    async fn create_event_endpoint(&self, tenant: &TenantId, endpoint: NewEventEndpoint) -> Result<EventEndpoint>;
    /// The tenant's endpoints, oldest first.
    async fn event_endpoints(&self, tenant: &TenantId) -> Result<Vec<EventEndpoint>>;
    async fn event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<Option<EventEndpoint>>;
    /// Removes an endpoint and its delivery log. Returns whether the tenant had it.
    async fn delete_event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<bool>;
    /// Queues every event for each enabled endpoint of the tenant subscribed to its type (or
    /// only for the endpoint `only`, whatever it subscribed to), in one write, due at once.
    /// Returns how many deliveries were queued.
    async fn enqueue_events(&self, tenant: &TenantId, only: Option<&str>, events: Vec<NewEvent>) -> Result<usize>;
    /// System-wide: claims pending deliveries due at `now` (and claims older than
    /// [`EVENT_CLAIM_LEASE_MS`]) in one statement, so two callers never get the same one.
    /// Claimed ones have `claimed_at = now`.
    async fn claim_due_event_deliveries(&self, now: i64, limit: u32) -> Result<Vec<EventDelivery>>;
    /// Records one attempt to send a delivery claimed at `claimed_at`. Returns false when the
    /// claim no longer holds (another sender took it over).
    async fn finish_event_delivery(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        attempt: DeliveryAttempt,
    ) -> Result<bool>;
    /// The delivery log of an endpoint, newest first.
    async fn event_deliveries(&self, tenant: &TenantId, endpoint: &str, limit: u32) -> Result<Vec<EventDelivery>>;
}
