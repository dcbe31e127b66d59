-- An index for the link rules, which run after every synced page: finding unlinked Deep Cura
-- notes must not scan the table.
CREATE INDEX deepcura_notes_unlinked_idx ON deepcura_notes (id)
    WHERE clinical_note_id IS NULL AND deleted_at IS NULL;
-- The fallback matches on the DrChrono patient id, which is set even before the patient row
-- itself has synced.
CREATE INDEX clinical_notes_drchrono_patient_idx ON clinical_notes (drchrono_patient_id);
