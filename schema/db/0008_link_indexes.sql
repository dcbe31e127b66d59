-- Indexes for the link rules, which run after every synced page: finding unlinked Deep Cura
-- notes must not scan the table, and the patient + date fallback looks clinical notes up by
-- patient.
CREATE INDEX deepcura_notes_unlinked_idx ON deepcura_notes (id)
    WHERE clinical_note_id IS NULL AND deleted_at IS NULL;
CREATE INDEX clinical_notes_patient_idx ON clinical_notes (drchrono_patient_id);
