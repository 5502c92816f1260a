-- Secrets a tenant sets for itself (the web chat identity secret, keys that bot definitions
-- name as `secret:NAME`), sealed under the master key like connector secrets.
CREATE TABLE tenant_secrets (
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
