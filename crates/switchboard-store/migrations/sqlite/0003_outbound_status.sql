-- A platform's id for a message we sent (in `external_id`), to apply its delivery statuses.
CREATE INDEX messages_platform_id ON messages(tenant_id, channel, external_id)
    WHERE direction = 'out' AND external_id IS NOT NULL;
