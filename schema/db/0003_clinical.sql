-- Clinical tables synced from DrChrono and Deep Cura.
--
-- Conventions of a DrChrono-synced table:
--   * id uuid: the local primary key, which other tables reference;
--   * drchrono_id: the natural key, UNIQUE (upserts conflict on it);
--   * domain columns named after the DrChrono fields in snake_case; DrChrono's `created_at`
--     becomes source_created_at and `updated_at` becomes source_updated_at, the version that
--     guards against stale overwrites (an old webhook redelivery never replaces a newer row);
--   * references keep both the DrChrono id (drchrono_patient_id) and the local foreign key
--     (patient_id), which is nullable because a child may arrive before its parent;
--   * drchrono_raw: the full source object;
--   * synced_at: last time a sync wrote the row (an unchanged record is not rewritten);
--     created_at, updated_at: bookkeeping; deleted_at: soft delete, cleared when a record
--     reappears.
-- Integers are bigint and money is numeric throughout, matching the mapping types.

CREATE TABLE providers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id         bigint NOT NULL UNIQUE,
    first_name          text,
    last_name           text,
    suffix              text,
    specialty           text,
    npi_number          text,
    group_npi_number    text,
    email               text,
    cell_phone          text,
    home_phone          text,
    office_phone        text,
    timezone            text,
    practice_group      bigint,
    practice_group_name text,
    job_title           text,
    website             text,
    country             text,
    is_account_suspended boolean,
    drchrono_raw        jsonb NOT NULL,
    source_updated_at   timestamptz,
    synced_at           timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);

CREATE TABLE patients (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id               bigint NOT NULL UNIQUE,
    chart_id                  text,
    first_name                text,
    middle_name               text,
    last_name                 text,
    nick_name                 text,
    date_of_birth             date,
    gender                    text,
    email                     text,
    cell_phone                text,
    home_phone                text,
    office_phone              text,
    address                   text,
    city                      text,
    state                     text,
    zip_code                  text,
    patient_status            text,  -- A (active), I (inactive), D (deceased)
    preferred_language        text,
    race                      text,
    ethnicity                 text,
    date_of_first_appointment date,
    date_of_last_appointment  date,
    date_of_death             date,
    drchrono_doctor_id        bigint,
    provider_id               uuid REFERENCES providers (id) ON DELETE SET NULL,
    source_created_at         timestamptz,
    drchrono_raw              jsonb NOT NULL,
    source_updated_at         timestamptz,
    synced_at                 timestamptz NOT NULL DEFAULT now(),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    deleted_at                timestamptz
);
CREATE INDEX patients_provider_idx ON patients (provider_id);

-- DrChrono appointment ids are strings ("usually numeric, but not always").
CREATE TABLE appointments (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id              text NOT NULL UNIQUE,
    drchrono_patient_id      bigint,  -- null for breaks
    patient_id               uuid REFERENCES patients (id) ON DELETE SET NULL,
    drchrono_doctor_id       bigint,
    provider_id              uuid REFERENCES providers (id) ON DELETE SET NULL,
    drchrono_office_id       bigint,
    exam_room                bigint,
    scheduled_time           timestamptz,
    duration                 bigint,  -- minutes
    status                   text,
    reason                   text,
    notes                    text,
    color                    text,
    profile                  bigint,
    appt_is_break            boolean,
    is_walk_in               boolean,
    is_virtual_base          boolean,
    recurring_appointment    boolean,
    deleted_flag             boolean,
    billing_status           text,
    ins1_status              text,
    ins2_status              text,
    primary_insurer_name     text,
    primary_insurer_payer_id text,
    icd9_codes               text[],
    icd10_codes              text[],
    source_created_at        timestamptz,
    drchrono_raw             jsonb NOT NULL,
    source_updated_at        timestamptz,
    synced_at                timestamptz NOT NULL DEFAULT now(),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    deleted_at               timestamptz
);
CREATE INDEX appointments_patient_idx ON appointments (patient_id);
CREATE INDEX appointments_unlinked_patient_idx ON appointments (drchrono_patient_id) WHERE patient_id IS NULL;
CREATE INDEX appointments_scheduled_idx ON appointments (scheduled_time);

-- DrChrono keys a clinical note by its appointment: /api/clinical_notes/{id} takes the
-- appointment id, a string. So drchrono_id is text and equals drchrono_appt_id; the latter is
-- kept under its own name because Deep Cura notes link on it.
CREATE TABLE clinical_notes (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id            text NOT NULL UNIQUE,
    drchrono_appt_id       text NOT NULL,
    appointment_id         uuid REFERENCES appointments (id) ON DELETE SET NULL,
    drchrono_patient_id    bigint,
    patient_id             uuid REFERENCES patients (id) ON DELETE SET NULL,
    archived               boolean,
    locked                 boolean,
    pdf                    text,
    clinical_note_sections jsonb,
    drchrono_raw           jsonb NOT NULL,
    source_updated_at      timestamptz,
    synced_at              timestamptz NOT NULL DEFAULT now(),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    deleted_at             timestamptz
);
CREATE INDEX clinical_notes_appt_idx ON clinical_notes (drchrono_appt_id);
CREATE INDEX clinical_notes_patient_idx ON clinical_notes (patient_id);

-- Deep Cura AI notes: the natural key is Deep Cura's own uuid. Linking (link/) fills
-- clinical_note_id by drchrono_appt_id, else by patient + session_date, else flags for review.
CREATE TABLE deepcura_notes (
    id                  uuid PRIMARY KEY,
    drchrono_appt_id    text,
    drchrono_patient_id bigint,
    patient_id          uuid REFERENCES patients (id) ON DELETE SET NULL,
    session_date        date,
    subjective          text,
    objective           text,
    assessment          text,
    plan                text,
    icd10_codes         text[],
    cpt_codes           text[],
    medications         jsonb,
    clinical_note_id    uuid REFERENCES clinical_notes (id) ON DELETE SET NULL,
    linked_at           timestamptz,
    link_method         text CHECK (link_method IN ('appointment', 'patient_date', 'manual')),
    needs_review        boolean NOT NULL DEFAULT false,
    review_reason       text,
    deepcura_raw        jsonb NOT NULL,
    source_updated_at   timestamptz,
    synced_at           timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX deepcura_notes_appt_idx ON deepcura_notes (drchrono_appt_id);
CREATE INDEX deepcura_notes_patient_date_idx ON deepcura_notes (drchrono_patient_id, session_date);
CREATE INDEX deepcura_notes_review_idx ON deepcura_notes (created_at) WHERE needs_review;

CREATE TABLE medications (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id             bigint NOT NULL UNIQUE,
    drchrono_patient_id     bigint,
    patient_id              uuid REFERENCES patients (id) ON DELETE SET NULL,
    drchrono_doctor_id      bigint,
    drchrono_appointment_id text,
    name                    text,
    rxnorm                  text,
    ndc                     text,
    status                  text,
    date_prescribed         date,
    date_started_taking     date,
    date_stopped_taking     date,
    dosage_quantity         text,
    dosage_units            text,
    frequency               text,
    route                   text,
    order_status            text,
    prn                     boolean,
    daw                     boolean,
    number_refills          bigint,
    dispense_quantity       text,
    indication              text,
    signature_note          text,
    pharmacy_note           text,
    notes                   text,
    drchrono_raw            jsonb NOT NULL,
    source_updated_at       timestamptz,
    synced_at               timestamptz NOT NULL DEFAULT now(),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX medications_patient_idx ON medications (patient_id);

CREATE TABLE problems (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id             bigint NOT NULL UNIQUE,
    drchrono_patient_id     bigint,
    patient_id              uuid REFERENCES patients (id) ON DELETE SET NULL,
    drchrono_doctor_id      bigint,
    drchrono_appointment_id text,
    name                    text,
    description             text,
    icd_code                text,
    icd_version             text,
    snomed_ct_code          text,
    status                  text,
    date_onset              date,
    date_diagnosis          date,
    date_changed            date,
    abatement_date          date,
    verification_status     text,
    category                text,
    problem_type            text,
    info_url                text,
    notes                   text,
    drchrono_raw            jsonb NOT NULL,
    source_updated_at       timestamptz,
    synced_at               timestamptz NOT NULL DEFAULT now(),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX problems_patient_idx ON problems (patient_id);

CREATE TABLE allergies (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id         bigint NOT NULL UNIQUE,
    drchrono_patient_id bigint,
    patient_id          uuid REFERENCES patients (id) ON DELETE SET NULL,
    drchrono_doctor_id  bigint,
    description         text,
    reaction            text,
    status              text,
    snomed_code         text,
    snomed_reaction     text,
    rxnorm              text,
    verification_status text,
    notes               text,
    drchrono_raw        jsonb NOT NULL,
    source_updated_at   timestamptz,
    synced_at           timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);
CREATE INDEX allergies_patient_idx ON allergies (patient_id);

-- Insurance lives inside the DrChrono patient (primary_insurance, secondary_insurance,
-- tertiary_insurance). One patient expands into up to three rows. The natural key must be
-- derivable from the SOURCE record alone, so it is (drchrono_patient_id, insurance_type), not
-- the local patient_id (which may still be unresolved). drchrono_raw holds the insurance
-- sub-object; source_updated_at is the patient's updated_at. The subscriber's social security
-- number is deliberately not given a column.
CREATE TABLE insurance_records (
    id                                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_patient_id                bigint NOT NULL,
    insurance_type                     text NOT NULL CHECK (insurance_type IN ('primary', 'secondary', 'tertiary')),
    patient_id                         uuid REFERENCES patients (id) ON DELETE SET NULL,
    insurance_company                  text,
    insurance_payer_id                 text,
    insurance_plan_name                text,
    insurance_plan_type                text,
    insurance_group_name               text,
    insurance_group_number             text,
    insurance_id_number                text,
    insurance_claim_office_number      text,
    is_subscriber_the_patient          boolean,
    patient_relationship_to_subscriber text,
    subscriber_first_name              text,
    subscriber_middle_name             text,
    subscriber_last_name               text,
    subscriber_suffix                  text,
    subscriber_date_of_birth           date,
    subscriber_gender                  text,
    subscriber_address                 text,
    subscriber_city                    text,
    subscriber_state                   text,
    subscriber_zip_code                text,
    subscriber_country                 text,
    drchrono_raw                       jsonb NOT NULL,
    source_updated_at                  timestamptz,
    synced_at                          timestamptz NOT NULL DEFAULT now(),
    created_at                         timestamptz NOT NULL DEFAULT now(),
    updated_at                         timestamptz NOT NULL DEFAULT now(),
    deleted_at                         timestamptz,
    UNIQUE (drchrono_patient_id, insurance_type)
);
CREATE INDEX insurance_records_patient_idx ON insurance_records (patient_id);

CREATE TABLE line_items (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    drchrono_id             bigint NOT NULL UNIQUE,
    drchrono_appointment_id text,
    appointment_id          uuid REFERENCES appointments (id) ON DELETE SET NULL,
    drchrono_patient_id     bigint,
    patient_id              uuid REFERENCES patients (id) ON DELETE SET NULL,
    drchrono_doctor_id      bigint,
    code                    text,
    procedure_type          text,  -- C (CPT), H (HCPCS), U (custom), S (service)
    modifiers               text[],
    diagnosis_pointers      text[],
    units                   numeric,
    quantity                numeric,
    price                   numeric,
    billed                  numeric,
    allowed                 numeric,
    adjustment              numeric,
    ins1_paid               numeric,
    ins2_paid               numeric,
    ins3_paid               numeric,
    pt_paid                 numeric,
    paid_total              numeric,
    balance_ins             numeric,
    balance_pt              numeric,
    balance_total           numeric,
    billing_status          text,
    posted_date             date,
    service_date            date,
    denied_flag             boolean,
    drchrono_raw            jsonb NOT NULL,
    source_updated_at       timestamptz,
    synced_at               timestamptz NOT NULL DEFAULT now(),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX line_items_appointment_idx ON line_items (appointment_id);
CREATE INDEX line_items_patient_idx ON line_items (patient_id);

CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON providers
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON appointments
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON clinical_notes
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON deepcura_notes
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON medications
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON problems
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON allergies
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON insurance_records
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_patient_id', 'insurance_type');
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON line_items
    FOR EACH ROW EXECUTE FUNCTION audit_row('outbox', 'drchrono_id');
