-- The push side of several instances (issue 9): outbox claims tied to the claiming worker's
-- session, the `relayed` status of the GCP topology, and what `clinical_push` lacked.
--
-- relayed: the sync role's relay published the event to Pub/Sub. The push role's outbox worker
-- claims relayed events, pushes them to Coda in batches grouped by table and settles them
-- (`done` or `dead`), exactly as the embedded worker does with `pending` ones. The Pub/Sub
-- delivery only wakes that worker: the outbox row is the durable event, so the receiver
-- acknowledges as soon as it has recorded the message id.
--
-- NOT VALID then VALIDATE: the new check is validated under SHARE UPDATE EXCLUSIVE, so the
-- audit trigger can keep inserting outbox rows while a large outbox is scanned.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'relayed', 'done', 'dead')) NOT VALID;
ALTER TABLE outbox VALIDATE CONSTRAINT outbox_status_check;

-- Claims of the push role: SELECT ... WHERE status = 'relayed' ... FOR UPDATE SKIP LOCKED.
CREATE INDEX outbox_relayed_idx ON outbox (id) WHERE status = 'relayed';

-- claimed_by of a live claim is `outbox-worker:<n>`: the worker holds the session-level advisory
-- lock pg_advisory_lock(1869968482, n) on a connection of its own for as long as it lives. A
-- claim whose lock nobody holds (pg_locks) belongs to a dead worker and is taken over by the
-- next claim at once; the lease (available_at) stays as the fallback. A failed push releases
-- its events (claimed_by = NULL), so their retry delay is kept.
COMMENT ON COLUMN outbox.claimed_by IS
    'outbox-worker:<n> while a worker holding advisory lock (1869968482, n) owns the claim; relay:<host>:<pid> once relayed';

-- The push role reads the last values of a hard-deleted row (its DELETE audit row) to find the
-- row in Coda and remove it.
GRANT SELECT ON change_log TO clinical_push;
