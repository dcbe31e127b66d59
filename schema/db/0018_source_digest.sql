-- The source digest of a synced row (issue 13: a full re-run with no upstream change).
--
-- A full listing used to parse, map and send every record, and PostgreSQL compared every one
-- with its stored row, to find that nothing changed. Now the sync stores, with each row it
-- writes, a digest of the record's source bytes and of the pipeline that mapped them
-- (source_digest: 16 bytes of SHA-256). A full listing loads the digests of the live rows
-- first and passes over every record whose digest it finds: it is neither parsed nor sent.
--
-- The digest vouches for the row only as the sync wrote it. Any other write of the row (a
-- webhook, a Coda write-back, a link rule, a parent resolved, a soft delete, a hand-made
-- UPDATE) clears it, by the trigger below, unless that write sets a digest itself; the next
-- full listing then maps the record and compares it again, as before.
--
-- source_digest is bookkeeping like updated_at and synced_at: it is never audited. A row
-- whose only change is its digest gets no change_log row and no outbox event.

CREATE FUNCTION source_digest_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.source_digest := NULL;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION source_digest_clear() FROM PUBLIC;

-- The tables that pipelines fill from a listing (an `endpoint`).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['providers', 'patients', 'appointments', 'clinical_notes',
                             'medications', 'problems', 'allergies', 'insurance_records',
                             'line_items']
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN source_digest bytea', t);
        EXECUTE format('CREATE TRIGGER source_digest_clear BEFORE UPDATE ON %I FOR EACH ROW '
                       'WHEN (OLD.source_digest IS NOT NULL '
                       'AND NEW.source_digest IS NOT DISTINCT FROM OLD.source_digest) '
                       'EXECUTE FUNCTION source_digest_clear()', t);
    END LOOP;
END
$$;

-- Both audits (the generic reference audit_row() of 0002 and the generator of 0014) learn the
-- third bookkeeping column. Their text is changed in place, so that each stays one definition.
DO $$
DECLARE
    f      text;
    before text;
    after  text;
BEGIN
    FOREACH f IN ARRAY ARRAY['audit_row()', 'audit_compile(text)'] LOOP
        before := pg_get_functiondef(f::regprocedure);
        after := replace(before, $q$IN ('updated_at', 'synced_at')$q$,
                         $q$IN ('updated_at', 'synced_at', 'source_digest')$q$);
        IF after = before THEN
            RAISE EXCEPTION '0018: % does not list the bookkeeping columns as expected', f;
        END IF;
        EXECUTE after;
    END LOOP;
END
$$;

SELECT audit_compile(table_name) FROM audited_tables ORDER BY table_name;
