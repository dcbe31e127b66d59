-- Support for scheduled reconciliation and linking.
--
-- appointments.scheduled_date: the local calendar date of the appointment (DrChrono sends naive
-- local times), used by the Deep Cura link rule "same patient, same session date".
ALTER TABLE appointments ADD COLUMN scheduled_date date;
CREATE INDEX appointments_patient_date_idx ON appointments (drchrono_patient_id, scheduled_date);

-- sync_cursors.resume_state: where an interrupted listing continues (next page URL, window,
-- the highest cursor value seen so far). Written in the same transaction as each page's rows and
-- cleared, together with the cursor advance, by the transaction of the last page.
ALTER TABLE sync_cursors ADD COLUMN resume_state jsonb;

-- line_items.units is DrChrono's unit of measure (a string, default "UN"), not a number.
ALTER TABLE line_items ALTER COLUMN units TYPE text USING units::text;
