-- Language model tokens used for knowledge answers, per tenant and UTC day: what a tenant costs,
-- and the base for quotas. One row per tenant and day, added to after each call.
CREATE TABLE llm_usage (
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    day               TEXT NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day)
);
