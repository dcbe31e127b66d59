-- Tables owned by staff workflows in Coda (written back through the write-back API, actor = the
-- staff member), inbound questionnaire responses, and the staff role directory. All audited.

CREATE TABLE intake_checklists (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id     uuid NOT NULL UNIQUE REFERENCES appointments (id), -- the natural key
    forms_received     boolean NOT NULL DEFAULT false,
    insurance_verified boolean NOT NULL DEFAULT false,
    consent_signed     boolean NOT NULL DEFAULT false,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'in_progress', 'complete', 'blocked')),
    notes              text,
    completed_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);

CREATE TABLE post_appointment_tasks (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id uuid NOT NULL REFERENCES appointments (id),
    task_type      text NOT NULL,  -- e.g. follow_up_scheduling, send_summary, billing_review
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    assignee       text,           -- staff email
    due_date       date,
    notes          text,
    completed_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE INDEX post_appointment_tasks_appointment_idx ON post_appointment_tasks (appointment_id);
CREATE INDEX post_appointment_tasks_open_idx ON post_appointment_tasks (due_date)
    WHERE status IN ('open', 'in_progress');

CREATE TABLE prior_authorizations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id   uuid NOT NULL REFERENCES patients (id),
    payer        text,
    medication   text,  -- what is authorised: a medication ...
    service      text,  -- ... or a service (CPT code or description)
    status       text NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'submitted', 'approved', 'denied', 'expired', 'cancelled')),
    auth_number  text,
    valid_from   date,
    valid_to     date,
    notes        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from)
);
CREATE INDEX prior_authorizations_patient_idx ON prior_authorizations (patient_id);
CREATE INDEX prior_authorizations_expiry_idx ON prior_authorizations (valid_to) WHERE status = 'approved';

-- Inbound questionnaires (email or patient app), keyed by the sender's uuid.
CREATE TABLE questionnaire_responses (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source              text NOT NULL,  -- email | app
    questionnaire       text NOT NULL,  -- e.g. PHQ-9, GAD-7
    drchrono_patient_id bigint,
    patient_id          uuid REFERENCES patients (id) ON DELETE SET NULL,
    appointment_id      uuid REFERENCES appointments (id) ON DELETE SET NULL,
    submitted_at        timestamptz,
    score               numeric,
    answers             jsonb NOT NULL DEFAULT '{}',
    response_raw        jsonb NOT NULL,
    synced_at           timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX questionnaire_responses_patient_idx ON questionnaire_responses (patient_id);

-- Who may do what in the dashboard and the write-back API (emails from Google Workspace SSO).
CREATE TABLE staff_roles (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text NOT NULL UNIQUE CHECK (email = lower(email)),
    role         text NOT NULL CHECK (role IN ('admin', 'clinician', 'front_desk', 'billing', 'viewer')),
    display_name text,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON intake_checklists
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'appointment_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON post_appointment_tasks
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON prior_authorizations
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON questionnaire_responses
    FOR EACH ROW EXECUTE FUNCTION audit_row('no_outbox', 'id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON staff_roles
    FOR EACH ROW EXECUTE FUNCTION audit_row('no_outbox', 'email');
