-- Uploaded bot definitions, kept so that one can be activated later and an earlier one
-- activated again. The active one is also `tenants.bot_source`.
CREATE TABLE bot_versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    source        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    activated_at  INTEGER
);
CREATE INDEX bot_versions_tenant ON bot_versions(tenant_id, id);
