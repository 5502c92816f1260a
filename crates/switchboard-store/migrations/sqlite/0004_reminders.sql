-- Reminders and tasks of end users. A reminder belongs to the conversation it was set in and
-- fires through that conversation's channel.
--
-- `due_at` is what the person asked for (moved by a snooze); `fire_at` is when it may fire next
-- (`due_at`, or the end of the tenant's quiet hours when it fell inside them). `status` moves
-- pending -> firing (claimed by one instance) -> fired, or to cancelled; a claim older than the
-- claim lease is taken again (the instance died between claiming and firing).
CREATE TABLE reminders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    user_id         TEXT NOT NULL,
    channel         TEXT NOT NULL,
    text            TEXT NOT NULL,
    language        TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    due_at          INTEGER NOT NULL,
    fire_at         INTEGER NOT NULL,
    status          TEXT NOT NULL,
    claimed_at      INTEGER,
    -- The inbound message that set it: a retried turn finds its reminder instead of adding one.
    source_message  TEXT NOT NULL,
    -- The outbound message it became.
    message_id      TEXT,
    created_at      INTEGER NOT NULL,
    fired_at        INTEGER
);
CREATE UNIQUE INDEX reminders_source ON reminders(tenant_id, source_message);
CREATE INDEX reminders_due ON reminders(fire_at) WHERE status IN ('pending', 'firing');
CREATE INDEX reminders_user ON reminders(tenant_id, user_id, status, due_at);

CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    user_id         TEXT NOT NULL,
    text            TEXT NOT NULL,
    status          TEXT NOT NULL,
    source_message  TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
);
CREATE UNIQUE INDEX tasks_source ON tasks(tenant_id, source_message);
CREATE INDEX tasks_user ON tasks(tenant_id, user_id, id);
