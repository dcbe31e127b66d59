-- Audit and change events: change_log (who changed what, append-only), outbox (one event per
-- real change, relayed to Coda or Pub/Sub), and the one generic trigger that writes both in the
-- transaction of the change itself.

CREATE TABLE change_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- ordered, cheap to insert
    table_name     text        NOT NULL,
    record_id      uuid        NOT NULL,
    natural_key    jsonb       NOT NULL,  -- {"drchrono_id": 123} or {"drchrono_patient_id": 1, "insurance_type": "primary"}
    operation      text        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    changed_fields text[]      NOT NULL,
    old_values     jsonb,                 -- only the changed fields; *_raw columns are listed, not copied
    new_values     jsonb,
    actor          text        NOT NULL,  -- current_setting('app.actor'): a sync pipeline or a staff email
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(), -- groups the rows of one transaction
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_log_record_idx ON change_log (table_name, record_id);
CREATE INDEX change_log_at_idx ON change_log USING brin (at);

-- The audit trail is append-only: nobody (not even a role with UPDATE granted by mistake) rewrites
-- history. Retention purges after 7 years are an owner's job with this trigger disabled.
CREATE FUNCTION change_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'change_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER change_log_append_only BEFORE UPDATE OR DELETE ON change_log
    FOR EACH ROW EXECUTE FUNCTION change_log_append_only();

CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name    text        NOT NULL,
    record_id     uuid        NOT NULL,
    natural_key   jsonb       NOT NULL,
    operation     text        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'SOFT_DELETE', 'DELETE')),
    change_log_id bigint      NOT NULL,  -- the audit row of the same change
    actor         text        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0,
    available_at  timestamptz NOT NULL DEFAULT now(), -- not claimable before (retry backoff)
    claimed_at    timestamptz,
    claimed_by    text,
    last_error    text,                               -- ids and status codes only, never PHI
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz
);
-- Claims: SELECT ... WHERE status = 'pending' AND available_at <= now() ORDER BY id FOR UPDATE SKIP LOCKED.
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_dead_idx ON outbox (id) WHERE status = 'dead';

-- audit_row(outbox_mode, key_column, ...): the generic AFTER INSERT OR UPDATE OR DELETE row
-- trigger of every audited table.
--
-- TG_ARGV[0] is 'outbox' (clinical and Coda-owned tables: also emit a change event) or
-- 'no_outbox' (questionnaire_responses, staff_roles); TG_ARGV[1..] are the natural key columns.
-- Every audited table has an `id uuid` column, which becomes change_log.record_id.
--
-- Rules:
--   * The actor comes from current_setting('app.actor', true) (set transaction-locally by the
--     store). A missing or empty actor refuses the write with SQLSTATE AUD01.
--   * UPDATE: changed_fields are the columns whose values differ between OLD and NEW, except
--     the bookkeeping columns updated_at and synced_at. If nothing else changed, no audit row
--     and no outbox event are written.
--   * INSERT: changed_fields are all non-null columns (bookkeeping excepted); DELETE: all columns.
--   * old_values/new_values hold only the changed fields. Columns named *_raw (the full source
--     objects, often many kilobytes) appear in changed_fields but their values are not copied:
--     the row itself keeps the current raw object.
--   * Outbox operation: INSERT, UPDATE, DELETE, or SOFT_DELETE when deleted_at goes from null to
--     a value. The push worker decides which tables are mapped to Coda.
--
-- SECURITY DEFINER so that the writer roles need no privilege on change_log or outbox and cannot
-- forge audit rows; the pinned search_path keeps the definer's rights from being hijacked.
CREATE FUNCTION audit_row() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    v_actor  text := current_setting('app.actor', true);
    v_outbox boolean := TG_ARGV[0] = 'outbox';
    v_row    jsonb;
    v_old    jsonb;
    v_key    jsonb := '{}';
    v_op     text := TG_OP;  -- the outbox operation
    i        integer;
BEGIN
    IF v_actor IS NULL OR v_actor = '' THEN
        RAISE EXCEPTION 'write to % refused: no actor (set app.actor in the transaction)', TG_TABLE_NAME
            USING ERRCODE = 'AUD01';
    END IF;

    IF TG_OP = 'DELETE' THEN
        v_row := to_jsonb(OLD);
    ELSE
        v_row := to_jsonb(NEW);
    END IF;
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        v_key := v_key || jsonb_build_object(TG_ARGV[i], v_row -> TG_ARGV[i]);
    END LOOP;

    -- One statement per operation (audit row + outbox event) keeps the per-row cost to a
    -- single executor run.
    IF TG_OP = 'INSERT' THEN
        WITH audit AS (
            INSERT INTO change_log (table_name, record_id, natural_key, operation, changed_fields,
                                    new_values, actor)
            SELECT TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_key, TG_OP,
                   array_agg(e.key ORDER BY e.key),
                   jsonb_object_agg(e.key, e.value) FILTER (WHERE e.key NOT LIKE '%\_raw'),
                   v_actor
              FROM jsonb_each(v_row) AS e
             WHERE e.value <> 'null'::jsonb
               AND e.key NOT IN ('updated_at', 'synced_at')
            RETURNING id)
        INSERT INTO outbox (table_name, record_id, natural_key, operation, change_log_id, actor)
        SELECT TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_key, v_op, audit.id, v_actor
          FROM audit WHERE v_outbox;
    ELSIF TG_OP = 'UPDATE' THEN
        v_old := to_jsonb(OLD);
        IF v_old ->> 'deleted_at' IS NULL AND v_row ->> 'deleted_at' IS NOT NULL THEN
            v_op := 'SOFT_DELETE';
        END IF;
        -- HAVING: when only bookkeeping changed, no audit row and no outbox event.
        WITH audit AS (
            INSERT INTO change_log (table_name, record_id, natural_key, operation, changed_fields,
                                    old_values, new_values, actor)
            SELECT TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_key, TG_OP,
                   array_agg(e.key ORDER BY e.key),
                   coalesce(jsonb_object_agg(e.key, v_old -> e.key)
                            FILTER (WHERE e.key NOT LIKE '%\_raw'), '{}'),
                   coalesce(jsonb_object_agg(e.key, e.value)
                            FILTER (WHERE e.key NOT LIKE '%\_raw'), '{}'),
                   v_actor
              FROM jsonb_each(v_row) AS e
             WHERE e.key NOT IN ('updated_at', 'synced_at')
               AND e.value IS DISTINCT FROM v_old -> e.key
            HAVING count(*) > 0
            RETURNING id)
        INSERT INTO outbox (table_name, record_id, natural_key, operation, change_log_id, actor)
        SELECT TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_key, v_op, audit.id, v_actor
          FROM audit WHERE v_outbox;
    ELSE
        WITH audit AS (
            INSERT INTO change_log (table_name, record_id, natural_key, operation, changed_fields,
                                    old_values, actor)
            SELECT TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_key, TG_OP,
                   array_agg(e.key ORDER BY e.key),
                   jsonb_object_agg(e.key, e.value) FILTER (WHERE e.key NOT LIKE '%\_raw'),
                   v_actor
              FROM jsonb_each(v_row) AS e
            RETURNING id)
        INSERT INTO outbox (table_name, record_id, natural_key, operation, change_log_id, actor)
        SELECT TG_TABLE_NAME, (v_row ->> 'id')::uuid, v_key, v_op, audit.id, v_actor
          FROM audit WHERE v_outbox;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit_row() FROM PUBLIC;
