-- A reply that goes out as several platform messages (cards, long text, a list after its text)
-- counts the parts the platform accepted, so that a retry after a failure in the middle resumes
-- from the first unsent part instead of sending the earlier ones again.
ALTER TABLE messages ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
