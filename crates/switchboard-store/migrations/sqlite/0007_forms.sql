-- Completed forms: the values a conversation collected, and what became of them. `status` is
-- `stored` (the form's action is to store it), or for an HTTP action `pending` (to send; retried
-- at `next_attempt_at`), then `sent` or `failed` (for good, with `last_error`). A sender claims a
-- pending submission by setting `claimed_at`; a claim older than the lease is taken again (the
-- instance died mid-send), so two instances never send the same one at the same time.
CREATE TABLE form_submissions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    user_id         TEXT NOT NULL,
    form            TEXT NOT NULL,
    "values"        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_attempt_at INTEGER,
    claimed_at      INTEGER,
    last_error      TEXT,
    -- The inbound message that completed the form: a retried turn finds its submission.
    source_message  TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX form_submissions_source ON form_submissions(tenant_id, source_message);
CREATE INDEX form_submissions_due ON form_submissions(next_attempt_at) WHERE status = 'pending';
CREATE INDEX form_submissions_form ON form_submissions(tenant_id, form, id);
