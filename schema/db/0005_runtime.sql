-- System and runtime tables: run logs, outbound API access log, Pub/Sub dedupe, the durable
-- webhook inbox, incremental cursors, Coda push hashes and OAuth credentials. Not audited:
-- they record the machinery, not clinical data (and oauth_credentials must never be copied
-- into change_log).

CREATE TABLE sync_log (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    pipeline     text        NOT NULL,
    trigger      text        NOT NULL,  -- schedule | webhook | manual | startup | ...
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    pages        bigint      NOT NULL DEFAULT 0,
    inserted     bigint      NOT NULL DEFAULT 0,
    updated      bigint      NOT NULL DEFAULT 0,
    unchanged    bigint      NOT NULL DEFAULT 0,
    stale        bigint      NOT NULL DEFAULT 0,
    soft_deleted bigint      NOT NULL DEFAULT 0,
    error        text        -- ids and status codes only, never PHI
);
CREATE INDEX sync_log_pipeline_idx ON sync_log (pipeline, started_at DESC);
CREATE INDEX sync_log_failed_idx ON sync_log (started_at) WHERE status = 'failed';

-- Every call to an external API (DrChrono, Coda, Pub/Sub). path_template has ids replaced by
-- placeholders (/api/patients/{id}) so no identifier of a patient is recorded.
CREATE TABLE access_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system        text        NOT NULL,
    method        text        NOT NULL,
    path_template text        NOT NULL,
    status_code   integer,    -- null when no response arrived (timeout, connection error)
    latency_ms    bigint      NOT NULL,
    pipeline      text,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_log_at_idx ON access_log USING brin (at);
CREATE INDEX access_log_auth_errors_idx ON access_log (at) WHERE status_code = 401;

-- Pub/Sub push deduplication: a message id seen here was already handled. Purged after 7 days
-- with purge_processed_messages().
CREATE TABLE processed_messages (
    message_id   text PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_messages_at_idx ON processed_messages (processed_at);

/* Deletes processed message ids older than the retention (7 days by default); returns how many. */
CREATE FUNCTION purge_processed_messages(retention interval DEFAULT interval '7 days') RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM processed_messages WHERE processed_at < now() - retention RETURNING 1
    )
    SELECT count(*) FROM gone
$$;

-- Every accepted webhook, stored before it is acknowledged: nothing accepted is lost. Failed
-- processing stays here for `runner replay`. headers keep the event and delivery metadata only,
-- never signatures or secrets. body is the raw request body (what was signed or encrypted);
-- payload is the parsed (decrypted) JSON once it is known to be valid.
CREATE TABLE inbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       text        NOT NULL,  -- drchrono | deepcura | ...
    delivery_id  text        NOT NULL,  -- X-drchrono-delivery, or a hash of the body when none
    event        text,
    headers      jsonb       NOT NULL DEFAULT '{}',
    body         bytea       NOT NULL,
    payload      jsonb,
    received_at  timestamptz NOT NULL DEFAULT now(),
    status       text        NOT NULL DEFAULT 'received'
                 CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    attempts     integer     NOT NULL DEFAULT 0,
    error        text,       -- ids and codes only, never PHI
    processed_at timestamptz,
    UNIQUE (source, delivery_id)
);
CREATE INDEX inbox_pending_idx ON inbox (id) WHERE status IN ('received', 'failed');

-- Incremental cursors, advanced in the same transaction as the batch they cover.
CREATE TABLE sync_cursors (
    pipeline     text PRIMARY KEY,
    cursor_value text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- What Coda last confirmed for each row: a row is pushed again only when its hash changes.
CREATE TABLE coda_pushed_rows (
    coda_table   text        NOT NULL,
    record_id    uuid        NOT NULL,
    content_hash text        NOT NULL,
    coda_row_id  text,
    pushed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coda_table, record_id)
);

-- OAuth2 credentials per external system. DrChrono rotates the refresh token on every refresh:
-- the new one is written in the same transaction that uses it. seed_fingerprint is a hash of
-- the refresh token seeded from the environment, so a changed environment value is detected
-- and re-seeds the row instead of being ignored.
CREATE TABLE oauth_credentials (
    system            text PRIMARY KEY,
    refresh_token     text        NOT NULL,
    seed_fingerprint  text        NOT NULL,
    access_token      text,
    access_expires_at timestamptz,
    rotated_at        timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
