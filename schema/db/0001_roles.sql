-- Least-privilege database roles (NOLOGIN: deployments grant them to their login users).
--
--   clinical_sync       writes the clinical tables and the runtime tables of the sync side
--   clinical_push       reads clinical and Coda-owned tables, settles outbox events, records pushes
--   clinical_writeback  writes the Coda-owned tables only
--
-- Roles are cluster-global while migrations run per database, and many test databases migrate
-- at the same time. Each role is created in its own block that tolerates both the catalog check
-- (duplicate_object) and a concurrent creator that won the race on pg_authid's unique index
-- (unique_violation), so parallel migrations never fail. The GRANTs are per database: see the
-- last migration of this folder.

DO $$
BEGIN
    CREATE ROLE clinical_sync NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    CREATE ROLE clinical_push NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    CREATE ROLE clinical_writeback NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
