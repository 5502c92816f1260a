//! `EventStore` for PostgreSQL.

use super::PgStore;
use super::events;
use crate::*;
use async_trait::async_trait;
use switchboard_core::TenantId;

#[async_trait]
impl EventStore for PgStore {
    async fn create_event_endpoint(&self, tenant: &TenantId, endpoint: NewEventEndpoint) -> Result<EventEndpoint> {
        events::create_endpoint(self, tenant, endpoint).await
    }

    async fn event_endpoints(&self, tenant: &TenantId) -> Result<Vec<EventEndpoint>> {
        events::endpoints(self, tenant).await
    }

    async fn event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<Option<EventEndpoint>> {
        events::get_endpoint(self, tenant, id).await
    }

    async fn delete_event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        events::delete_endpoint(self, tenant, id).await
    }

    async fn enqueue_events(&self, tenant: &TenantId, only: Option<&str>, events: Vec<NewEvent>) -> Result<usize> {
        events::enqueue(self, tenant, only, events).await
    }

    async fn claim_due_event_deliveries(&self, now: i64, limit: u32) -> Result<Vec<EventDelivery>> {
        events::claim_due(self, now, limit).await
    }

    async fn finish_event_delivery(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        attempt: DeliveryAttempt,
    ) -> Result<bool> {
        events::finish(self, tenant, id, claimed_at, attempt).await
    }

    async fn event_deliveries(&self, tenant: &TenantId, endpoint: &str, limit: u32) -> Result<Vec<EventDelivery>> {
        events::deliveries(self, tenant, endpoint, limit).await
    }
}
