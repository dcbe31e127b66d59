-- The audit, compiled per table and set-based (issue 13).
--
-- audit_row() (0002) is one generic row trigger: for every changed row it turns the whole row,
-- raw source object included, into JSON (to_jsonb), walks it with jsonb_each, and runs one
-- two-table INSERT. Measured on 100,000 patient rows of about 1 KB of raw JSON each: the
-- insert took 5.4 s without the audit and 32 s with it; most of the difference is the
-- per-row statement and the JSON walks, not the audit rows themselves.
--
-- audit_compile(table) replaces it, per table, with a function generated from the table's
-- columns, fired once per statement with transition tables (one trigger per event, as
-- PostgreSQL requires): one INSERT ... SELECT into change_log and outbox for all the rows of a
-- statement, each column compared and copied by name and type, the *_raw columns compared but
-- never converted to JSON. What it writes is exactly what audit_row() writes (the rules are
-- in 0002, and a test runs both on the same statements and compares every audit and outbox
-- row); audit_row() stays as that reference.
--
-- The generated function follows the table's columns at compile time. A migration that adds,
-- drops or renames a column of an audited table ends with `SELECT audit_compile('<table>')`;
-- a test recompiles every audited table and fails if any function was out of date.

-- The audited tables: whether a change also emits an outbox event, and the natural key
-- columns copied into change_log.natural_key.
CREATE TABLE audited_tables (
    table_name  text PRIMARY KEY,
    outbox      boolean NOT NULL,
    key_columns text[]  NOT NULL CHECK (cardinality(key_columns) > 0)
);
INSERT INTO audited_tables (table_name, outbox, key_columns) VALUES
    ('providers',               true,  '{drchrono_id}'),
    ('patients',                true,  '{drchrono_id}'),
    ('appointments',            true,  '{drchrono_id}'),
    ('clinical_notes',          true,  '{drchrono_id}'),
    ('deepcura_notes',          true,  '{id}'),
    ('medications',             true,  '{drchrono_id}'),
    ('problems',                true,  '{drchrono_id}'),
    ('allergies',               true,  '{drchrono_id}'),
    ('insurance_records',       true,  '{drchrono_patient_id,insurance_type}'),
    ('line_items',              true,  '{drchrono_id}'),
    ('intake_checklists',       true,  '{appointment_id}'),
    ('post_appointment_tasks',  true,  '{id}'),
    ('prior_authorizations',    true,  '{id}'),
    ('questionnaire_responses', true,  '{id}'),
    ('staff_roles',             false, '{email}');
GRANT SELECT ON audited_tables TO clinical_sync, clinical_push, clinical_writeback;

/* The refusal of a write without an actor (SQLSTATE AUD01), as audit_row() words it. */
CREATE FUNCTION audit_refuse(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'write to % refused: no actor (set app.actor in the transaction)', p_table
        USING ERRCODE = 'AUD01';
END
$$;
REVOKE ALL ON FUNCTION audit_refuse(text) FROM PUBLIC;

/* An audited row keeps its id: the audit pairs a statement's old and new rows by id. */
CREATE FUNCTION audit_id_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the id of a row of % never changes', TG_TABLE_NAME
        USING ERRCODE = 'AUD02';
END
$$;
REVOKE ALL ON FUNCTION audit_id_fixed() FROM PUBLIC;

/* Generates audit_<table>() from the table's current columns and (re)attaches it as the
   statement-level triggers audit_insert, audit_update and audit_delete (and audit_id_fixed,
   which refuses a change of id). */
CREATE FUNCTION audit_compile(p_table text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $gen$
DECLARE
    v_outbox     boolean;
    v_keys       text[];
    v_rel        regclass;
    r            record;
    k            text;
    v_isnull     text;
    v_distinct   text;
    v_soft       text := '''UPDATE''';
    -- Lists of SQL fragments, joined with ', ' into the generated statements.
    v_ins_fields text[] := '{}';  -- INSERT changed_fields: non-null columns, bookkeeping excepted
    v_ins_nulls  text[] := '{}';  -- the null ones among the copied columns (removed from the JSON)
    v_new_obj    text[] := '{}';  -- 'col', n.col for every copied column (not *_raw, not bookkeeping)
    v_old_obj    text[] := '{}';  -- the same from the old row
    v_upd_fields text[] := '{}';  -- UPDATE changed_fields: columns whose value differs
    v_upd_same   text[] := '{}';  -- the copied columns whose value did not change
    v_del_fields text[] := '{}';  -- DELETE changed_fields: every column
    v_del_obj    text[] := '{}';  -- DELETE old_values: every column but *_raw
    v_new_key    text[] := '{}';
    v_old_key    text[] := '{}';
    v_fn         text := 'audit_' || p_table;
BEGIN
    SELECT outbox, key_columns INTO v_outbox, v_keys FROM audited_tables WHERE table_name = p_table;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_compile: % is not in audited_tables', p_table;
    END IF;
    v_rel := format('public.%I', p_table)::regclass;
    -- Sorted as audit_row() sorts changed_fields (text order of the database's collation).
    FOR r IN
        SELECT a.attname::text AS name, t.typname::text AS typ, t.typtype AS typtype
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attname::text
    LOOP
        IF r.typtype = 'c' THEN
            -- A composite is "null" in SQL when all its fields are, but not in JSON.
            RAISE EXCEPTION 'audit_compile: column %.% has a composite type', p_table, r.name;
        END IF;
        IF r.name = 'deleted_at' THEN
            v_soft := 'CASE WHEN o.deleted_at IS NULL AND n.deleted_at IS NOT NULL THEN ''SOFT_DELETE'' ELSE ''UPDATE'' END';
        END IF;
        -- audit_row() compares and drops values as JSON: a JSON null counts as null, and json
        -- values (which have no equality operator) compare as jsonb.
        IF r.typ IN ('json', 'jsonb') THEN
            v_isnull := format('(n.%1$I IS NULL OR jsonb_typeof(n.%1$I::jsonb) = ''null'')', r.name);
            v_distinct := format('n.%1$I::jsonb IS DISTINCT FROM o.%1$I::jsonb', r.name);
        ELSE
            v_isnull := format('n.%I IS NULL', r.name);
            v_distinct := format('n.%1$I IS DISTINCT FROM o.%1$I', r.name);
        END IF;
        v_del_fields := v_del_fields || quote_literal(r.name);
        IF r.name NOT LIKE '%\_raw' THEN
            v_del_obj := v_del_obj || format('%L, o.%I', r.name, r.name);
        END IF;
        CONTINUE WHEN r.name IN ('updated_at', 'synced_at');
        v_ins_fields := v_ins_fields || format('CASE WHEN NOT %s THEN %L END', v_isnull, r.name);
        v_upd_fields := v_upd_fields || format('CASE WHEN %s THEN %L END', v_distinct, r.name);
        IF r.name NOT LIKE '%\_raw' THEN
            v_ins_nulls := v_ins_nulls || format('CASE WHEN %s THEN %L END', v_isnull, r.name);
            v_new_obj := v_new_obj || format('%L, n.%I', r.name, r.name);
            v_old_obj := v_old_obj || format('%L, o.%I', r.name, r.name);
            v_upd_same := v_upd_same || format('CASE WHEN NOT (%s) THEN %L END', v_distinct, r.name);
        END IF;
    END LOOP;
    FOREACH k IN ARRAY v_keys LOOP
        v_new_key := v_new_key || format('%L, n.%I', k, k);
        v_old_key := v_old_key || format('%L, o.%I', k, k);
    END LOOP;

    EXECUTE format($body$
CREATE OR REPLACE FUNCTION public.%1$I() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $fn$
-- Generated by audit_compile(%2$L) from the columns of %2$I: do not edit.
DECLARE
    v_actor text := current_setting('app.actor', true);
BEGIN
    -- Refused only when the statement touched a row.
    IF v_actor IS NULL OR v_actor = '' THEN
        IF TG_OP = 'DELETE' THEN
            PERFORM audit_refuse(TG_TABLE_NAME) FROM (SELECT FROM old_rows LIMIT 1) AS x;
        ELSE
            PERFORM audit_refuse(TG_TABLE_NAME) FROM (SELECT FROM new_rows LIMIT 1) AS x;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        WITH audit AS (
            INSERT INTO change_log (table_name, record_id, natural_key, operation, changed_fields,
                                    new_values, actor)
            SELECT TG_TABLE_NAME, n.id, jsonb_build_object(%3$s), 'INSERT',
                   array_remove(ARRAY[%4$s]::text[], NULL),
                   jsonb_build_object(%5$s) - array_remove(ARRAY[%6$s]::text[], NULL),
                   v_actor
              FROM new_rows AS n
            RETURNING id, record_id, natural_key)
        INSERT INTO outbox (table_name, record_id, natural_key, operation, change_log_id, actor)
        SELECT TG_TABLE_NAME, a.record_id, a.natural_key, 'INSERT', a.id, v_actor
          FROM audit AS a WHERE %7$L;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH changed AS MATERIALIZED (
            SELECT n.id, jsonb_build_object(%3$s) AS natural_key,
                   array_remove(ARRAY[%8$s]::text[], NULL) AS fields,
                   array_remove(ARRAY[%9$s]::text[], NULL) AS same,
                   %10$s AS op,
                   jsonb_build_object(%11$s) AS old_values,
                   jsonb_build_object(%5$s) AS new_values
              FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id),
        audit AS (
            INSERT INTO change_log (table_name, record_id, natural_key, operation, changed_fields,
                                    old_values, new_values, actor)
            SELECT TG_TABLE_NAME, c.id, c.natural_key, 'UPDATE', c.fields,
                   c.old_values - c.same, c.new_values - c.same, v_actor
              FROM changed AS c
             WHERE cardinality(c.fields) > 0
            RETURNING id, record_id, natural_key)
        INSERT INTO outbox (table_name, record_id, natural_key, operation, change_log_id, actor)
        SELECT TG_TABLE_NAME, a.record_id, a.natural_key, c.op, a.id, v_actor
          FROM audit AS a JOIN changed AS c ON c.id = a.record_id
         WHERE %7$L;
    ELSE
        WITH audit AS (
            INSERT INTO change_log (table_name, record_id, natural_key, operation, changed_fields,
                                    old_values, actor)
            SELECT TG_TABLE_NAME, o.id, jsonb_build_object(%12$s), 'DELETE', ARRAY[%13$s]::text[],
                   jsonb_build_object(%14$s), v_actor
              FROM old_rows AS o
            RETURNING id, record_id, natural_key)
        INSERT INTO outbox (table_name, record_id, natural_key, operation, change_log_id, actor)
        SELECT TG_TABLE_NAME, a.record_id, a.natural_key, 'DELETE', a.id, v_actor
          FROM audit AS a WHERE %7$L;
    END IF;
    RETURN NULL;
END
$fn$
$body$,
        v_fn, p_table,
        array_to_string(v_new_key, ', '),
        array_to_string(v_ins_fields, ', '),
        array_to_string(v_new_obj, ', '),
        array_to_string(v_ins_nulls, ', '),
        v_outbox,
        array_to_string(v_upd_fields, ', '),
        array_to_string(v_upd_same, ', '),
        v_soft,
        array_to_string(v_old_obj, ', '),
        array_to_string(v_old_key, ', '),
        array_to_string(v_del_fields, ', '),
        array_to_string(v_del_obj, ', '));
    EXECUTE format('REVOKE ALL ON FUNCTION public.%I() FROM PUBLIC', v_fn);
    EXECUTE format('DROP TRIGGER IF EXISTS audit ON public.%I', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_insert ON public.%I', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_update ON public.%I', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_delete ON public.%I', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_id_fixed ON public.%I', p_table);
    EXECUTE format('CREATE TRIGGER audit_id_fixed BEFORE UPDATE OF id ON public.%I FOR EACH ROW '
                   'WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION audit_id_fixed()',
                   p_table);
    EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON public.%I '
                   'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.%I()',
                   p_table, v_fn);
    EXECUTE format('CREATE TRIGGER audit_update AFTER UPDATE ON public.%I '
                   'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION public.%I()',
                   p_table, v_fn);
    EXECUTE format('CREATE TRIGGER audit_delete AFTER DELETE ON public.%I '
                   'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.%I()',
                   p_table, v_fn);
END
$gen$;
REVOKE ALL ON FUNCTION audit_compile(text) FROM PUBLIC;

SELECT audit_compile(table_name) FROM audited_tables ORDER BY table_name;
