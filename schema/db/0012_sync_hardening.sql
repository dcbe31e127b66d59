-- Hardening of the sync against hostile data and several instances (issue 9):
--   * quarantine: source records that cannot be written (a value PostgreSQL refuses, a record
--     that fails mapping) wait here, with the reason, for `runner replay --quarantine`, while
--     the rest of their page is written and the cursor moves on;
--   * rate_budget_calls: the send times of recent calls to each external system, so every
--     process (several Cloud Run instances, `runner sync` beside `runner serve`) draws on one
--     budget;
--   * partial indexes that find the rows whose foreign key is still unresolved, for
--     re-resolution when the parent arrives;
--   * sync_log.quarantined.

CREATE TABLE quarantine (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline        text        NOT NULL,
    record_key      text        NOT NULL,  -- the source record's id (an id, not patient data)
    reason          text        NOT NULL,  -- SQLSTATE, column and field names only
    record          jsonb       NOT NULL,  -- the source record (NUL removed), for replay
    attempts        integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    UNIQUE (pipeline, record_key)
);
CREATE INDEX quarantine_open_idx ON quarantine (pipeline) WHERE resolved_at IS NULL;
GRANT SELECT, INSERT, UPDATE ON quarantine TO clinical_sync;
GRANT SELECT ON quarantine TO clinical_push, clinical_writeback;

CREATE TABLE rate_budget_calls (
    system  text        NOT NULL,
    sent_at timestamptz NOT NULL
);
CREATE INDEX rate_budget_calls_idx ON rate_budget_calls (system, sent_at);
GRANT SELECT, INSERT, DELETE ON rate_budget_calls TO clinical_sync, clinical_push, clinical_writeback;

ALTER TABLE sync_log ADD COLUMN quarantined bigint NOT NULL DEFAULT 0;

CREATE INDEX patients_unresolved_provider_idx ON patients (drchrono_doctor_id) WHERE provider_id IS NULL;
CREATE INDEX appointments_unresolved_provider_idx ON appointments (drchrono_doctor_id) WHERE provider_id IS NULL;
CREATE INDEX clinical_notes_unresolved_appt_idx ON clinical_notes (drchrono_appt_id) WHERE appointment_id IS NULL;
CREATE INDEX clinical_notes_unresolved_patient_idx ON clinical_notes (drchrono_patient_id) WHERE patient_id IS NULL;
CREATE INDEX deepcura_notes_unresolved_patient_idx ON deepcura_notes (drchrono_patient_id) WHERE patient_id IS NULL;
CREATE INDEX medications_unresolved_patient_idx ON medications (drchrono_patient_id) WHERE patient_id IS NULL;
CREATE INDEX problems_unresolved_patient_idx ON problems (drchrono_patient_id) WHERE patient_id IS NULL;
CREATE INDEX allergies_unresolved_patient_idx ON allergies (drchrono_patient_id) WHERE patient_id IS NULL;
CREATE INDEX insurance_records_unresolved_patient_idx ON insurance_records (drchrono_patient_id) WHERE patient_id IS NULL;
CREATE INDEX line_items_unresolved_appt_idx ON line_items (drchrono_appointment_id) WHERE appointment_id IS NULL;
CREATE INDEX line_items_unresolved_patient_idx ON line_items (drchrono_patient_id) WHERE patient_id IS NULL;

-- Webhooks of resources without a version field are applied as the API shows the record now,
-- not as the delivery carried it (pipelines with `webhooks.refetch`): the worker reads the
-- record by id first and keeps it here. 'null' means the API no longer has the record.
ALTER TABLE inbox ADD COLUMN needs_refetch boolean NOT NULL DEFAULT false;
ALTER TABLE inbox ADD COLUMN refetched jsonb;
ALTER TABLE inbox ADD COLUMN refetched_at timestamptz;
CREATE INDEX inbox_refetch_idx ON inbox (id) WHERE status = 'received' AND needs_refetch AND refetched_at IS NULL;

-- What every role's `/ready`, `/health` and `/metrics` read, without granting the tables
-- themselves: the applied migrations, the run history (no patient data), and backlog counts
-- through a function (the inbox holds webhook bodies, which the push and api roles must not
-- read).
GRANT SELECT ON _sqlx_migrations TO clinical_sync, clinical_push, clinical_writeback;
GRANT SELECT ON sync_log TO clinical_writeback;

CREATE FUNCTION runner_backlog(
    OUT inbox_received bigint, OUT inbox_failed bigint,
    OUT outbox_pending bigint, OUT outbox_relayed bigint, OUT outbox_dead bigint,
    OUT oldest_pending_secs float8, OUT quarantined bigint)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT (SELECT count(*) FROM inbox WHERE status = 'received'),
           (SELECT count(*) FROM inbox WHERE status = 'failed'),
           (SELECT count(*) FROM outbox WHERE status = 'pending'),
           (SELECT count(*) FROM outbox WHERE status = 'relayed'),
           (SELECT count(*) FROM outbox WHERE status = 'dead'),
           (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM outbox WHERE status IN ('pending', 'relayed')),
           (SELECT count(*) FROM quarantine WHERE resolved_at IS NULL)
$$;
REVOKE ALL ON FUNCTION runner_backlog() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION runner_backlog() TO clinical_sync, clinical_push, clinical_writeback;
