-- A person's email is unique within their tenant (and among super admins), not across tenants:
-- an admin adding someone must not learn that the address has an account in another tenant.
DROP INDEX users_email;
CREATE UNIQUE INDEX users_tenant_email ON users(COALESCE(tenant_id, ''), email);
CREATE INDEX users_email ON users(email);

-- Lockout counts failed logins per login name (the tenant named, if any, and the email), not
-- per account: a name without an account locks exactly like one with an account, so a lockout
-- does not tell who has one. Names are stored as SHA-256 hashes; rows are pruned once idle.
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN locked_until;
CREATE TABLE login_failures (
    name          TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    locked_until  INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX login_failures_updated ON login_failures(updated_at);

-- Each request with an access token checks that its session is still live: one index seek.
DROP INDEX refresh_tokens_family;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family, revoked_at);
