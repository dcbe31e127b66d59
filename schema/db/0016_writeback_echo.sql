-- No echo loop for write-backs: the write-back records, in its own transaction, the content
-- hash of what the Coda row now shows (runner/src/writeback/echo.rs), so the push of its change
-- event sends nothing when Coda already shows the row as stored. The api role (which serves
-- the write-back endpoints as clinical_writeback) may read and update those hashes, nothing
-- else of the push's bookkeeping.
GRANT SELECT, UPDATE (content_hash) ON coda_pushed_rows TO clinical_writeback;
