//! `EventStore` for SQLite: plain SQL, one function per operation.

use super::SqliteStore;
use crate::{EventStore, Result};
use async_trait::async_trait;
use switchboard_core::TenantId;

use super::events;

#[async_trait]
impl EventStore for SqliteStore {
    async fn create_event_endpoint(
        &self,
        tenant: &TenantId,
        endpoint: crate::NewEventEndpoint,
    ) -> Result<crate::EventEndpoint> {
        let t = tenant.clone();
        self.write(move |ctx| events::create_endpoint(ctx.conn, &t, endpoint, ctx.now))
            .await
    }

    async fn event_endpoints(&self, tenant: &TenantId) -> Result<Vec<crate::EventEndpoint>> {
        let t = tenant.clone();
        self.read(move |c| events::endpoints(c, &t)).await
    }

    async fn event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<Option<crate::EventEndpoint>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.read(move |c| events::get_endpoint(c, &t, &id)).await
    }

    async fn delete_event_endpoint(&self, tenant: &TenantId, id: &str) -> Result<bool> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.write(move |ctx| events::delete_endpoint(ctx.conn, &t, &id)).await
    }

    async fn enqueue_events(
        &self,
        tenant: &TenantId,
        only: Option<&str>,
        events: Vec<crate::NewEvent>,
    ) -> Result<usize> {
        let (t, only) = (tenant.clone(), only.map(str::to_owned));
        self.write(move |ctx| events::enqueue(ctx, &t, only.as_deref(), events))
            .await
    }

    async fn claim_due_event_deliveries(&self, now: i64, limit: u32) -> Result<Vec<crate::EventDelivery>> {
        self.write(move |ctx| events::claim_due(ctx.conn, now, limit)).await
    }

    async fn finish_event_delivery(
        &self,
        tenant: &TenantId,
        id: i64,
        claimed_at: i64,
        attempt: crate::DeliveryAttempt,
    ) -> Result<bool> {
        let t = tenant.clone();
        self.write(move |ctx| events::finish(ctx.conn, &t, id, claimed_at, attempt, ctx.now))
            .await
    }

    async fn event_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        limit: u32,
    ) -> Result<Vec<crate::EventDelivery>> {
        let (t, e) = (tenant.clone(), endpoint.to_owned());
        self.read(move |c| events::deliveries(c, &t, &e, limit)).await
    }
}
