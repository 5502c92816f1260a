-- Outbound event webhooks. A tenant subscribes an endpoint (a URL) to event types; each event
-- of a subscribed type becomes one delivery per endpoint, sent signed with the endpoint's secret
-- (sealed with the master key: the store never holds it in clear).
CREATE TABLE event_endpoints (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    url           TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    -- JSON array of event type names, e.g. ["message.received", "handoff.requested"].
    events        TEXT NOT NULL,
    -- 0 once the endpoint answered 410 Gone: nothing more is queued or sent to it.
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);
CREATE INDEX event_endpoints_tenant ON event_endpoints(tenant_id, created_at);

-- The delivery log and the sending queue at once. `status` is `pending` (to send at
-- `next_attempt_at`), then `sent` or `failed` (for good). A sender claims a pending delivery by
-- setting `claimed_at`; a claim older than the lease is taken again (the instance died
-- mid-send), so two instances never send the same delivery at the same time.
CREATE TABLE event_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    endpoint_id      TEXT NOT NULL REFERENCES event_endpoints(id) ON DELETE CASCADE,
    -- The event's id: the same for every endpoint it goes to, and the receiver's idempotency key.
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    claimed_at       INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX event_deliveries_due ON event_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX event_deliveries_endpoint ON event_deliveries(tenant_id, endpoint_id, id);
