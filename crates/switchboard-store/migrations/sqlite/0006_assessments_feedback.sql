-- Results of finished assessments (questionnaires) and end users' feedback on conversations.

-- One row per finished assessment. `answers` is JSON (question id -> answer); `band` is the
-- label of the score's band, if any. `source_message` is the inbound message whose answer
-- finished it: a retried turn finds its result instead of storing it again.
CREATE TABLE assessment_results (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    user_id         TEXT NOT NULL,
    assessment      TEXT NOT NULL,
    answers         TEXT NOT NULL,
    score           REAL NOT NULL,
    band            TEXT,
    source_message  TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX assessment_results_source ON assessment_results(tenant_id, source_message);
CREATE INDEX assessment_results_user ON assessment_results(tenant_id, user_id, id);

-- CSAT scores (1-5) and thumbs (1 up, 0 down), with an optional comment added afterwards.
-- `message_id` is the bot message a thumb refers to, when the client said which.
CREATE TABLE feedback (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    score           INTEGER NOT NULL,
    comment         TEXT,
    message_id      TEXT,
    source_message  TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX feedback_source ON feedback(tenant_id, source_message);
CREATE INDEX feedback_tenant ON feedback(tenant_id, created_at);
