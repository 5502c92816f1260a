-- A tenant's settings (one row, absent until first set: every setting has a default) and its
-- inbound message count per UTC month, kept as a counter row so the quota check is one indexed
-- read in the accept transaction instead of a count over the month's messages.

CREATE TABLE tenant_settings (
    tenant_id              TEXT PRIMARY KEY REFERENCES tenants(id),
    -- IANA zone name; NULL: the bot's own.
    time_zone              TEXT,
    -- JSON array of language codes.
    languages              TEXT NOT NULL DEFAULT '[]',
    -- NULL: the bot's `[consent] required` decides.
    consent_required       INTEGER,
    -- Inbound messages per UTC calendar month; NULL: unlimited.
    monthly_message_quota  INTEGER,
    -- JSON array of web chat origins (`https://shop.example`).
    allowed_origins        TEXT NOT NULL DEFAULT '[]',
    suspended_at           INTEGER,
    updated_at             INTEGER NOT NULL
);

CREATE TABLE tenant_message_counts (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    -- UTC month, `YYYY-MM`.
    month      TEXT NOT NULL,
    messages   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, month)
);
