-- Ids are TEXT, times are epoch milliseconds (INTEGER), JSON is TEXT: the same columns port to
-- PostgreSQL (TEXT / BIGINT / JSONB) without changing callers.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    bot_source  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    channel     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    context     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- One open conversation per end user and channel.
CREATE UNIQUE INDEX conversations_open ON conversations(tenant_id, channel, user_id) WHERE status = 'open';

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    direction       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    content         TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    processed       TEXT,
    status          TEXT NOT NULL,
    external_id     TEXT,
    in_reply_to     TEXT,
    reply_index     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_seq ON messages(conversation_id, seq);
-- A platform retry of the same event finds the first copy here.
CREATE UNIQUE INDEX messages_dedup ON messages(tenant_id, channel, external_id)
    WHERE external_id IS NOT NULL AND direction = 'in';
-- A turn's replies can be stored once only.
CREATE UNIQUE INDEX messages_reply ON messages(in_reply_to, reply_index) WHERE in_reply_to IS NOT NULL;

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    run_at          INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX jobs_conversation ON jobs(conversation_id, id);

CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id          INTEGER NOT NULL,
    tenant_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    failed_at       INTEGER NOT NULL,
    replayed_at     INTEGER
);
CREATE INDEX dead_letters_open ON dead_letters(tenant_id, id) WHERE replayed_at IS NULL;
