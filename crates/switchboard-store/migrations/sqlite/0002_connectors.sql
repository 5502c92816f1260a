-- A connector is one bot account of a tenant on one channel (a tenant may have several per
-- channel). `secrets` holds the sealed (encrypted) secrets; the store never sees them in clear.
CREATE TABLE connectors (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    id          TEXT NOT NULL,
    channel     TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    secrets     BLOB NOT NULL,
    settings    TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
