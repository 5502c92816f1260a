-- The consent ledger: every grant, refusal, opt-out and opt-in, never rewritten. It outlives
-- the conversations it was given in (a refusal erases those).
CREATE TABLE consent_ledger (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    decision     TEXT NOT NULL,
    text_version TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX consent_ledger_user ON consent_ledger(tenant_id, channel, user_id, id);

-- A person owns the conversation (JSON, NULL when the bot does). Beside the context, which a
-- turn rewrites whole, so that an agent taking or releasing it never races a turn.
ALTER TABLE conversations ADD COLUMN handoff TEXT;
CREATE INDEX conversations_handoff ON conversations(tenant_id, updated_at) WHERE handoff IS NOT NULL;
