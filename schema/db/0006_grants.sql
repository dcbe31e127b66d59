-- Per-database privileges of the least-privilege roles (created in 0001_roles.sql). A later
-- migration that adds a table must grant it here-like, explicitly. Nobody but the owner may
-- write change_log or insert outbox rows: the audit trigger is SECURITY DEFINER. Foreign-key
-- checks run with the referenced table owner's rights and need no grant.

GRANT USAGE ON SCHEMA public TO clinical_sync, clinical_push, clinical_writeback;

-- Sync: writes the clinical tables (soft delete only: no DELETE) and its runtime tables.
GRANT SELECT, INSERT, UPDATE ON
    providers, patients, appointments, clinical_notes, deepcura_notes, medications, problems,
    allergies, insurance_records, line_items, questionnaire_responses
    TO clinical_sync;
GRANT SELECT, INSERT, UPDATE ON sync_log, inbox, sync_cursors, oauth_credentials TO clinical_sync;
GRANT INSERT ON access_log TO clinical_sync;
-- In the GCP topology the sync role relays outbox events to Pub/Sub.
GRANT SELECT, UPDATE (status, attempts, available_at, claimed_at, claimed_by, last_error, done_at)
    ON outbox TO clinical_sync;

-- Push: reads what it mirrors to Coda, settles outbox events and records confirmed pushes.
GRANT SELECT ON
    providers, patients, appointments, clinical_notes, deepcura_notes, medications, problems,
    allergies, insurance_records, line_items, questionnaire_responses,
    intake_checklists, post_appointment_tasks, prior_authorizations
    TO clinical_push;
GRANT SELECT, UPDATE (status, attempts, available_at, claimed_at, claimed_by, last_error, done_at)
    ON outbox TO clinical_push;
GRANT SELECT, INSERT, UPDATE, DELETE ON coda_pushed_rows, processed_messages TO clinical_push;
GRANT SELECT, INSERT, UPDATE ON sync_log TO clinical_push;
GRANT INSERT ON access_log TO clinical_push;
REVOKE ALL ON FUNCTION purge_processed_messages(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_processed_messages(interval) TO clinical_push;

-- Write-back: writes the Coda-owned tables only; reads what it needs to resolve and authorise.
GRANT SELECT, INSERT, UPDATE ON intake_checklists, post_appointment_tasks, prior_authorizations
    TO clinical_writeback;
GRANT SELECT ON appointments, patients, staff_roles TO clinical_writeback;
GRANT INSERT ON access_log TO clinical_writeback;
