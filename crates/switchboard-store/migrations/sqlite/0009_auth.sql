-- People who manage Switchboard, their sessions, the tenants' API keys, and the audit log.

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    -- NULL for a super admin (every tenant).
    tenant_id       TEXT REFERENCES tenants(id),
    email           TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email ON users(email);
CREATE INDEX users_tenant ON users(tenant_id);

-- Refresh tokens, stored as SHA-256 hashes. Each login starts a family; each refresh uses one
-- token and issues the next. A used token presented again revokes its whole family.
CREATE TABLE refresh_tokens (
    hash        TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    family      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    -- The key's visible start (`sbk_` + 8 characters), to find it and show it.
    prefix        TEXT NOT NULL,
    hash          TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX api_keys_prefix ON api_keys(prefix);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL for actions on no single tenant.
    tenant_id   TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);
