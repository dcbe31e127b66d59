-- 7-year audit retention: change_log, sync_log and access_log become partitioned by month
-- (declarative range partitioning on their time column, UTC month boundaries), with the rows
-- they already hold moved over. `runner retention` (daily inside `runner serve`) creates the
-- partitions of the coming months, archives partitions older than the hot period to Cloud
-- Storage, verifies the object, then detaches them; detached partitions are dropped after 7
-- years. audit_archives records every archived partition.
--
-- Partition names are <table>_<YYYY>_<MM>; nothing else in the database follows that pattern.

/* The partition of `parent` for the month that contains `month`, created when missing. Returns
   whether it was created. SECURITY DEFINER: every runtime role may make sure next month exists,
   none may create tables otherwise. */
CREATE FUNCTION ensure_month_partition(parent text, month date) RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    v_from timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    v_to   timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    v_name text := parent || '_' || to_char(date_trunc('month', month::timestamp), 'YYYY_MM');
BEGIN
    IF parent NOT IN ('change_log', 'sync_log', 'access_log') THEN
        RAISE EXCEPTION 'not an audit table: %', parent USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass('public.' || quote_ident(v_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                   v_name, parent, v_from, v_to);
    RETURN true;
EXCEPTION WHEN duplicate_table THEN
    -- Another instance created it meanwhile.
    RETURN false;
END
$$;
REVOKE ALL ON FUNCTION ensure_month_partition(text, date) FROM PUBLIC;

/* The partitions of the current month and the `months_ahead` next ones, for every audit
   table. Returns how many were created. */
CREATE FUNCTION ensure_audit_partitions(months_ahead integer DEFAULT 3) RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    v_parent  text;
    v_created integer := 0;
    i         integer;
BEGIN
    FOREACH v_parent IN ARRAY ARRAY['change_log', 'sync_log', 'access_log'] LOOP
        FOR i IN 0 .. greatest(months_ahead, 0) LOOP
            IF ensure_month_partition(v_parent, ((now() AT TIME ZONE 'UTC')::date + make_interval(months => i))::date) THEN
                v_created := v_created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN v_created;
END
$$;
REVOKE ALL ON FUNCTION ensure_audit_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ensure_audit_partitions(integer)
    TO clinical_sync, clinical_push, clinical_writeback;

/* Partitions for every month from `first` to the current month plus three. */
CREATE FUNCTION ensure_partitions_since(parent text, first timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', coalesce(first, now()) AT TIME ZONE 'UTC')::date;
BEGIN
    WHILE m <= (now() AT TIME ZONE 'UTC')::date + interval '3 months' LOOP
        PERFORM ensure_month_partition(parent, m);
        m := m + interval '1 month';
    END LOOP;
END
$$;

-- change_log -------------------------------------------------------------------------------
ALTER TABLE change_log RENAME TO change_log_unpartitioned;
ALTER TABLE change_log_unpartitioned RENAME CONSTRAINT change_log_pkey TO change_log_unpartitioned_pkey;
ALTER INDEX change_log_record_idx RENAME TO change_log_unpartitioned_record_idx;
ALTER INDEX change_log_at_idx RENAME TO change_log_unpartitioned_at_idx;

CREATE TABLE change_log (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    table_name     text        NOT NULL,
    record_id      uuid        NOT NULL,
    natural_key    jsonb       NOT NULL,
    operation      text        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    changed_fields text[]      NOT NULL,
    old_values     jsonb,
    new_values     jsonb,
    actor          text        NOT NULL,
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX change_log_record_idx ON change_log (table_name, record_id);
CREATE INDEX change_log_at_idx ON change_log USING brin (at);
SELECT ensure_partitions_since('change_log', (SELECT min(at) FROM change_log_unpartitioned));
INSERT INTO change_log (id, table_name, record_id, natural_key, operation, changed_fields,
                        old_values, new_values, actor, tx_id, at)
OVERRIDING SYSTEM VALUE
SELECT id, table_name, record_id, natural_key, operation, changed_fields, old_values, new_values,
       actor, tx_id, at
  FROM change_log_unpartitioned;
SELECT setval(pg_get_serial_sequence('change_log', 'id'),
              greatest((SELECT max(id) FROM change_log), 1),
              (SELECT max(id) FROM change_log) IS NOT NULL);
DROP TABLE change_log_unpartitioned;
-- The audit trail stays append-only for every role; only the owner's retention detaches and
-- drops whole partitions (which fires no row trigger).
CREATE TRIGGER change_log_append_only BEFORE UPDATE OR DELETE ON change_log
    FOR EACH ROW EXECUTE FUNCTION change_log_append_only();

-- sync_log ---------------------------------------------------------------------------------
ALTER TABLE sync_log RENAME TO sync_log_unpartitioned;
ALTER TABLE sync_log_unpartitioned RENAME CONSTRAINT sync_log_pkey TO sync_log_unpartitioned_pkey;
ALTER INDEX sync_log_pipeline_idx RENAME TO sync_log_unpartitioned_pipeline_idx;
ALTER INDEX sync_log_failed_idx RENAME TO sync_log_unpartitioned_failed_idx;

CREATE TABLE sync_log (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    pipeline     text        NOT NULL,
    trigger      text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    pages        bigint      NOT NULL DEFAULT 0,
    inserted     bigint      NOT NULL DEFAULT 0,
    updated      bigint      NOT NULL DEFAULT 0,
    unchanged    bigint      NOT NULL DEFAULT 0,
    stale        bigint      NOT NULL DEFAULT 0,
    soft_deleted bigint      NOT NULL DEFAULT 0,
    error        text,
    PRIMARY KEY (id, started_at)
) PARTITION BY RANGE (started_at);
CREATE INDEX sync_log_pipeline_idx ON sync_log (pipeline, started_at DESC);
CREATE INDEX sync_log_failed_idx ON sync_log (started_at) WHERE status = 'failed';
CREATE INDEX sync_log_id_idx ON sync_log (id);
SELECT ensure_partitions_since('sync_log', (SELECT min(started_at) FROM sync_log_unpartitioned));
INSERT INTO sync_log SELECT * FROM sync_log_unpartitioned;
DROP TABLE sync_log_unpartitioned;
GRANT SELECT, INSERT, UPDATE ON sync_log TO clinical_sync, clinical_push;

-- access_log -------------------------------------------------------------------------------
ALTER TABLE access_log RENAME TO access_log_unpartitioned;
ALTER TABLE access_log_unpartitioned RENAME CONSTRAINT access_log_pkey TO access_log_unpartitioned_pkey;
ALTER INDEX access_log_at_idx RENAME TO access_log_unpartitioned_at_idx;
ALTER INDEX access_log_auth_errors_idx RENAME TO access_log_unpartitioned_auth_errors_idx;

CREATE TABLE access_log (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    system        text        NOT NULL,
    method        text        NOT NULL,
    path_template text        NOT NULL,
    status_code   integer,
    latency_ms    bigint      NOT NULL,
    pipeline      text,
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX access_log_at_idx ON access_log USING brin (at);
CREATE INDEX access_log_auth_errors_idx ON access_log (at) WHERE status_code = 401;
SELECT ensure_partitions_since('access_log', (SELECT min(at) FROM access_log_unpartitioned));
INSERT INTO access_log (id, system, method, path_template, status_code, latency_ms, pipeline, at)
OVERRIDING SYSTEM VALUE
SELECT id, system, method, path_template, status_code, latency_ms, pipeline, at
  FROM access_log_unpartitioned;
SELECT setval(pg_get_serial_sequence('access_log', 'id'),
              greatest((SELECT max(id) FROM access_log), 1),
              (SELECT max(id) FROM access_log) IS NOT NULL);
DROP TABLE access_log_unpartitioned;
GRANT INSERT ON access_log TO clinical_sync, clinical_push, clinical_writeback;

DROP FUNCTION ensure_partitions_since(text, timestamptz);

-- The archive ledger: one row per archived partition. Written only by the retention owner.
CREATE TABLE audit_archives (
    partition   text PRIMARY KEY,          -- change_log_2025_01
    parent      text        NOT NULL,      -- change_log | sync_log | access_log
    month       date        NOT NULL,      -- first day of the partition's month (UTC)
    object      text        NOT NULL,      -- gs://bucket/name
    generation  text,
    rows        bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    crc32c      text        NOT NULL,      -- base64 of the big-endian CRC32C, as Cloud Storage gives it
    archived_at timestamptz NOT NULL DEFAULT now(),
    detached_at timestamptz,
    dropped_at  timestamptz
);

-- The Pub/Sub dedupe purge runs in every role (each role's `runner serve` does it daily), and
-- never keeps fewer than 7 days, whatever the caller asks: Pub/Sub may redeliver for 7 days.
CREATE OR REPLACE FUNCTION purge_processed_messages(retention interval DEFAULT interval '7 days') RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    WITH gone AS (
        DELETE FROM processed_messages
         WHERE processed_at < now() - greatest(retention, interval '7 days')
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION purge_processed_messages(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_processed_messages(interval)
    TO clinical_sync, clinical_push, clinical_writeback;
