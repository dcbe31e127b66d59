-- The admin dashboard (`/admin`, served by the `api` role, staff through IAP).
--
-- * access_log also records dashboard page views and actions: `actor` (the staff email),
--   `page` (the route template, never a value) and `record_ids` (every record the page showed
--   or changed), so the accounting of disclosures of a patient lists who viewed their records.
--   Outbound API calls leave the three columns null. One table, not two: both are "who touched
--   what, when", both share the 7-year partitioned retention, and the disclosure report reads one.
-- * admin_csrf_tokens: single-use form tokens (stored as SHA-256 hashes), bound to a staff email.
-- * sync_requests: "run again" from the dashboard. The api role cannot call DrChrono; it asks,
--   and the role that syncs (sync, or all) takes the request and runs it under the pipeline lock.
-- * deepcura_notes.review_dismissed_at: a note staff dismissed from the review queue; the link
--   rule leaves it alone (links.yaml `unmatched.dismissed_at_column`).
-- * The indexes every dashboard query uses (checked with EXPLAIN by the tests), and the grants
--   that let `clinical_writeback` (the api role) read what the pages show and do what admins do.

ALTER TABLE access_log ADD COLUMN actor text;
ALTER TABLE access_log ADD COLUMN page text;
ALTER TABLE access_log ADD COLUMN record_ids uuid[];

ALTER TABLE deepcura_notes ADD COLUMN review_dismissed_at timestamptz;

CREATE TABLE admin_csrf_tokens (
    token_hash bytea PRIMARY KEY,
    email      text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX admin_csrf_tokens_expiry_idx ON admin_csrf_tokens (expires_at);

CREATE TABLE sync_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline     text        NOT NULL,
    requested_by text        NOT NULL,  -- the staff email
    requested_at timestamptz NOT NULL DEFAULT now(),
    taken_at     timestamptz,
    taken_by     text
);
-- One open request per pipeline: asking twice before it ran is one run.
CREATE UNIQUE INDEX sync_requests_open_idx ON sync_requests (pipeline) WHERE taken_at IS NULL;

-- Indexes of the dashboard queries. On a partitioned parent they cascade to every partition,
-- present and future.
-- Audit trail: keyset pages newest first, whole or by table, by actor, by record.
CREATE INDEX change_log_at_id_idx ON change_log (at, id);
CREATE INDEX change_log_table_at_idx ON change_log (table_name, at, id);
CREATE INDEX change_log_actor_at_idx ON change_log (actor, at, id);
CREATE INDEX change_log_record_at_idx ON change_log (record_id, at, id);
DROP INDEX change_log_record_idx;
-- Access log: keyset pages by system (dashboard views or one API), views of given records
-- (the disclosure report), views by one staff member. Time ranges are always per system, so
-- the BRIN index on `at` goes: the planner preferred its lossy scan to the btree range.
CREATE INDEX access_log_system_at_idx ON access_log (system, at, id);
DROP INDEX access_log_at_idx;
CREATE INDEX access_log_record_ids_idx ON access_log USING gin (record_ids) WHERE record_ids IS NOT NULL;
CREATE INDEX access_log_actor_at_idx ON access_log (actor, at, id) WHERE actor IS NOT NULL;
-- Sync health: the last successful run of each pipeline (its last run and its runs of the
-- last 24 hours use sync_log_pipeline_idx; an index on started_at alone would tempt the
-- planner into scanning every run backwards to find a pipeline that never ran).
CREATE INDEX sync_log_succeeded_idx ON sync_log (pipeline, started_at) WHERE status = 'succeeded';
-- The outbox's oldest pending event.
CREATE INDEX outbox_pending_created_idx ON outbox (created_at) WHERE status = 'pending';
-- Disclosure report: the records of one patient, through their appointments too.
CREATE INDEX deepcura_notes_patient_idx ON deepcura_notes (patient_id);
CREATE INDEX clinical_notes_appointment_idx ON clinical_notes (appointment_id);
CREATE INDEX questionnaire_responses_appointment_idx ON questionnaire_responses (appointment_id);

-- The api role (clinical_writeback): what the dashboard shows ...
GRANT SELECT ON change_log, access_log, sync_log, sync_cursors, outbox TO clinical_writeback;
GRANT SELECT ON
    providers, clinical_notes, deepcura_notes, medications, problems, allergies,
    insurance_records, line_items, questionnaire_responses
    TO clinical_writeback;
-- (the inbox without its bodies: ids, statuses and reasons only)
GRANT SELECT (id, source, delivery_id, event, received_at, status, attempts, error, processed_at)
    ON inbox TO clinical_writeback;
-- ... and what admins do: a failed entry back to the inbox worker, a dead letter back to the
-- outbox, a sync run asked of the sync role, a note linked or dismissed by hand (audited, the
-- staff member as actor), and the single-use form tokens.
GRANT UPDATE (status) ON inbox TO clinical_writeback;
GRANT UPDATE (status, attempts, available_at, claimed_at, claimed_by) ON outbox TO clinical_writeback;
GRANT SELECT, INSERT ON sync_requests TO clinical_writeback;
GRANT UPDATE (clinical_note_id, link_method, linked_at, needs_review, review_reason,
              review_dismissed_at, updated_at)
    ON deepcura_notes TO clinical_writeback;
GRANT SELECT, INSERT, DELETE ON admin_csrf_tokens TO clinical_writeback;
-- The sync role takes the requests.
GRANT SELECT, UPDATE (taken_at, taken_by) ON sync_requests TO clinical_sync;
