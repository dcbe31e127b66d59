-- Questionnaire intake (issue 11): responses posted to the inbound route
-- (pipelines/questionnaire_responses.yaml) and linked to their patient by the rule
-- `questionnaire_to_patient` of links.yaml: by DrChrono patient id when the sender knows it,
-- else by email and date of birth, else to the review queue. Never guessed.
--
-- * questionnaire_responses gets what the sender says about the patient (email, date of birth,
--   the DrChrono appointment id), the link columns (method, time, review flag, reason, when
--   staff dismissed it from the review queue), and emits change events: responses go to Coda.
-- * email_lower on both sides (a generated column) so that the rule compares emails without
--   regard to case, with an index on patients for the match.

ALTER TABLE questionnaire_responses ADD COLUMN email text;
ALTER TABLE questionnaire_responses
    ADD COLUMN email_lower text GENERATED ALWAYS AS (lower(email)) STORED;
ALTER TABLE questionnaire_responses ADD COLUMN date_of_birth date;
ALTER TABLE questionnaire_responses ADD COLUMN drchrono_appt_id text;
ALTER TABLE questionnaire_responses ADD COLUMN link_method text;
ALTER TABLE questionnaire_responses ADD COLUMN linked_at timestamptz;
ALTER TABLE questionnaire_responses ADD COLUMN needs_review boolean NOT NULL DEFAULT false;
ALTER TABLE questionnaire_responses ADD COLUMN review_reason text;
ALTER TABLE questionnaire_responses ADD COLUMN review_dismissed_at timestamptz;

CREATE INDEX questionnaire_responses_review_idx ON questionnaire_responses (id)
    WHERE needs_review AND deleted_at IS NULL;
CREATE INDEX questionnaire_responses_unlinked_idx ON questionnaire_responses (id)
    WHERE patient_id IS NULL AND deleted_at IS NULL;
CREATE INDEX questionnaire_responses_unresolved_appt_idx ON questionnaire_responses (drchrono_appt_id)
    WHERE appointment_id IS NULL;

ALTER TABLE patients ADD COLUMN email_lower text GENERATED ALWAYS AS (lower(email)) STORED;
CREATE INDEX patients_email_dob_idx ON patients (email_lower, date_of_birth)
    WHERE deleted_at IS NULL;

DROP TRIGGER audit ON questionnaire_responses;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON questionnaire_responses
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'id');

-- The admin dashboard's review queue (the api role): staff link a response to its patient by
-- hand or dismiss it, audited with the staff member as actor.
GRANT UPDATE (patient_id, link_method, linked_at, needs_review, review_reason,
              review_dismissed_at, updated_at)
    ON questionnaire_responses TO clinical_writeback;
