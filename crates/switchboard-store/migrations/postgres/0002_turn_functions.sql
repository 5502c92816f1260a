-- The two writes every message makes, each one statement: a round trip per statement was most
-- of the cost of a message (see BENCHMARKS.md, "SQLite and PostgreSQL"). The callers are
-- src/postgres/turns.rs and turn_commit.rs; the rules are the ones written there.
-- Errors the callers map: 40001 (lost to a concurrent write: run again), SB001 (quota
-- exceeded), SB002 (job not pending), SB003 (a row is gone), 23503 (unknown tenant).

-- Accepts an inbound message: its first copy when the platform sent it before (o_duplicate),
-- else the user's open conversation (opened as p_new_conversation when there is none) locked
-- until the commit, the quota count, the next seq, the message and its turn job.
CREATE FUNCTION switchboard_accept(
    p_tenant TEXT, p_channel TEXT, p_user TEXT, p_id TEXT, p_kind TEXT, p_content TEXT,
    p_metadata TEXT, p_external_id TEXT, p_job_kind TEXT, p_priority BIGINT, p_quota BIGINT, p_month TEXT,
    p_new_conversation TEXT, p_empty_context TEXT, p_now BIGINT)
RETURNS TABLE (o_duplicate BOOLEAN, o_conversation TEXT, o_message TEXT, o_seq BIGINT,
               o_content TEXT, o_created_at BIGINT, o_job BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_conversation TEXT;
    v_seq BIGINT;
    v_count BIGINT;
    v_job BIGINT;
    v_rows INT;
BEGIN
    IF p_external_id IS NOT NULL THEN
        RETURN QUERY SELECT TRUE, m.conversation_id, m.id, m.seq, m.content, m.created_at, NULL::BIGINT
            FROM messages m
            WHERE m.tenant_id = p_tenant AND m.channel = p_channel AND m.external_id = p_external_id
              AND m.direction = 'in';
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    -- Each round finds the open conversation or loses an insert to a concurrent one that was
    -- closed before the look; more than a few rounds means something else is wrong.
    FOR i IN 1..5 LOOP
        -- NO KEY: rows that only point at the conversation may still be written meanwhile.
        SELECT c.id INTO v_conversation FROM conversations c
            WHERE c.tenant_id = p_tenant AND c.channel = p_channel AND c.user_id = p_user
              AND c.status = 'open'
            FOR NO KEY UPDATE;
        EXIT WHEN FOUND;
        INSERT INTO conversations (id, tenant_id, channel, user_id, status, last_seq, context,
                                   created_at, updated_at)
            VALUES (p_new_conversation, p_tenant, p_channel, p_user, 'open', 0, p_empty_context,
                    p_now, p_now)
            ON CONFLICT (tenant_id, channel, user_id) WHERE status = 'open' DO NOTHING;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows = 1 THEN
            v_conversation := p_new_conversation;
            EXIT;
        END IF;
    END LOOP;
    IF v_conversation IS NULL THEN
        RAISE EXCEPTION 'the open conversation keeps changing' USING ERRCODE = '40001';
    END IF;
    -- Counted after the conversation is found or made (an unknown tenant is refused there);
    -- the row stays locked until the commit, so two racing messages cannot both take the last
    -- unit. Duplicates never get here.
    IF p_quota IS NOT NULL THEN
        INSERT INTO tenant_message_counts AS t (tenant_id, month, messages)
            VALUES (p_tenant, p_month, 1)
            ON CONFLICT (tenant_id, month) DO UPDATE SET messages = t.messages + 1
            RETURNING t.messages INTO v_count;
        IF v_count > GREATEST(p_quota, 0) THEN
            RAISE EXCEPTION 'quota exceeded' USING ERRCODE = 'SB001', DETAIL = GREATEST(p_quota, 0)::TEXT;
        END IF;
    END IF;
    UPDATE conversations SET last_seq = last_seq + 1, updated_at = p_now
        WHERE id = v_conversation AND tenant_id = p_tenant
        RETURNING last_seq INTO v_seq;
    INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind,
                          content, metadata, processed, status, external_id, in_reply_to,
                          reply_index, created_at, updated_at)
        VALUES (p_id, p_tenant, v_conversation, v_seq, p_channel, p_user, 'in', p_kind, p_content,
                p_metadata, NULL, 'queued', p_external_id, NULL, NULL, p_now, p_now)
        ON CONFLICT (tenant_id, channel, external_id) WHERE external_id IS NOT NULL AND direction = 'in'
        DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows = 0 THEN
        -- Another instance stored the same platform message since the look above: running the
        -- write again answers with that copy.
        RAISE EXCEPTION 'the platform message was stored concurrently' USING ERRCODE = '40001';
    END IF;
    INSERT INTO jobs (tenant_id, kind, conversation_id, message_id, priority, attempts, run_at, created_at)
        VALUES (p_tenant, p_job_kind, v_conversation, p_id, p_priority, 0, p_now, p_now)
        RETURNING id INTO v_job;
    RETURN QUERY SELECT FALSE, v_conversation, p_id, v_seq, p_content, p_now, v_job;
END
$$;

-- Completes a turn that records no consent, erases nothing and hands nothing over (the others
-- take the longer way in turn_commit.rs): its job leaves the queue (the job's row lock makes
-- a second completion wait and then find nothing), its message is marked processed, its
-- replies take the next seqs, the context is written and, with p_deliver_kind, a job of that
-- kind is queued to send the replies (else they are stored as sent: they go out live).
CREATE FUNCTION switchboard_complete_turn(
    p_tenant TEXT, p_job BIGINT, p_message TEXT, p_processed TEXT, p_conversation TEXT,
    p_context TEXT, p_reply_ids TEXT[], p_reply_kinds TEXT[], p_reply_contents TEXT[],
    p_deliver_kind TEXT, p_deliver_priority BIGINT, p_now BIGINT)
RETURNS TABLE (o_channel TEXT, o_user TEXT, o_first_seq BIGINT, o_job BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_channel TEXT;
    v_user TEXT;
    v_last BIGINT;
    v_job BIGINT;
    v_n INT := COALESCE(array_length(p_reply_ids, 1), 0);
BEGIN
    DELETE FROM jobs WHERE id = p_job AND tenant_id = p_tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % is not pending', p_job USING ERRCODE = 'SB002';
    END IF;
    UPDATE messages SET status = 'processed', processed = p_processed, updated_at = p_now
        WHERE id = p_message AND tenant_id = p_tenant
        RETURNING channel, user_id INTO v_channel, v_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'message %', p_message USING ERRCODE = 'SB003';
    END IF;
    UPDATE conversations SET last_seq = last_seq + v_n, context = p_context, updated_at = p_now
        WHERE id = p_conversation AND tenant_id = p_tenant
        RETURNING last_seq INTO v_last;
    IF NOT FOUND AND v_n > 0 THEN
        RAISE EXCEPTION 'conversation %', p_conversation USING ERRCODE = 'SB003';
    END IF;
    IF v_n > 0 THEN
        INSERT INTO messages (id, tenant_id, conversation_id, seq, channel, user_id, direction, kind,
                              content, metadata, processed, status, external_id, in_reply_to,
                              reply_index, created_at, updated_at)
            SELECT r.id, p_tenant, p_conversation, v_last - v_n + r.i, v_channel, v_user, 'out',
                   r.kind, r.content, '{}', NULL, CASE WHEN p_deliver_kind IS NULL THEN 'sent' ELSE 'queued' END,
                   NULL, p_message, r.i - 1, p_now, p_now
            FROM unnest(p_reply_ids, p_reply_kinds, p_reply_contents) WITH ORDINALITY
                 AS r(id, kind, content, i);
        IF p_deliver_kind IS NOT NULL THEN
            INSERT INTO jobs (tenant_id, kind, conversation_id, message_id, priority, attempts,
                              run_at, created_at)
                VALUES (p_tenant, p_deliver_kind, p_conversation, p_message, p_deliver_priority, 0,
                        p_now, p_now)
                RETURNING id INTO v_job;
        END IF;
    END IF;
    RETURN QUERY SELECT v_channel, v_user, v_last - v_n + 1, v_job;
END
$$;

-- A conversation is updated twice per message. The update stays on its page and adds no index
-- entries (a HOT update) when no indexed column changes and the page has room: updated_at
-- leaves the handoff index (handed-over conversations are few and are sorted when read), and
-- pages keep room for new versions.
DROP INDEX conversations_handoff;
CREATE INDEX conversations_handoff ON conversations(tenant_id) WHERE handoff IS NOT NULL;
ALTER TABLE conversations SET (fillfactor = 70);
ALTER TABLE messages SET (fillfactor = 90);
