-- Analytics read a tenant's messages by time; without this each report scans every message.
CREATE INDEX messages_tenant_time ON messages(tenant_id, created_at);
