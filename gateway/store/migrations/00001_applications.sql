-- +goose Up
-- Times are Unix milliseconds: one integer type that SQLite and PostgreSQL
-- compare and index alike.
CREATE TABLE applications (
    id              TEXT PRIMARY KEY,
    session_hash    TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    flow            TEXT NOT NULL,
    form            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL,
    redirect_url    TEXT NOT NULL DEFAULT '',
    buyer           TEXT NOT NULL DEFAULT '',
    revenue         DOUBLE PRECISION NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL DEFAULT '',
    utm_source      TEXT NOT NULL DEFAULT '',
    utm_medium      TEXT NOT NULL DEFAULT '',
    utm_campaign    TEXT NOT NULL DEFAULT '',
    utm_content     TEXT NOT NULL DEFAULT '',
    utm_term        TEXT NOT NULL DEFAULT '',
    prefilled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    decided_at      BIGINT NOT NULL DEFAULT 0,
    deadline_at     BIGINT NOT NULL,
    next_run_at     BIGINT NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     BIGINT NOT NULL DEFAULT 0,
    -- Personal data, sealed with AES-GCM under key_id; emptied on erasure.
    key_id          TEXT NOT NULL DEFAULT '',
    pii             BYTEA,
    erased_at       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX applications_due ON applications (status, next_run_at);
CREATE INDEX applications_created ON applications (created_at);

-- One row per post to a buyer (and tier). The unique index is what makes
-- "never posted twice to the same buyer and tier" hold even across
-- replicas and restarts: an attempt is inserted before the request leaves.
CREATE TABLE attempts (
    application_id TEXT NOT NULL REFERENCES applications (id),
    buyer          TEXT NOT NULL,
    tier           TEXT NOT NULL DEFAULT '',
    seq            INTEGER NOT NULL,
    started_at     BIGINT NOT NULL,
    finished_at    BIGINT NOT NULL DEFAULT 0,
    latency_ms     BIGINT NOT NULL DEFAULT 0,
    outcome        TEXT NOT NULL DEFAULT 'started',
    price          DOUBLE PRECISION NOT NULL DEFAULT 0,
    reason         TEXT NOT NULL DEFAULT '',
    -- Kept so that a crash between an acceptance and its recording still
    -- ends with the consumer at the buyer that accepted.
    redirect_url   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (application_id, buyer, tier)
);

-- +goose Down
DROP TABLE attempts;
DROP TABLE applications;
