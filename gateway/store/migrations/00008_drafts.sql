-- +goose Up
-- What a consumer has typed but not sent yet, one row per session (the
-- session's owner hash, never the session id itself), so that a reload, a
-- crashed tab or a return within drafts.ttl finds it again. The values are
-- sealed like an application's personal data, bound to their row; the
-- step names and the last field's name are the step funnel's signals, in
-- clear: names from the flow's own table, never a value. Erased when the
-- session's application is stored, and by the retention job after
-- drafts.ttl (or storage.retention, when shorter).
CREATE TABLE drafts (
    session_hash TEXT PRIMARY KEY,
    flow         TEXT NOT NULL DEFAULT '',
    key_id       TEXT NOT NULL DEFAULT '',
    pii          BYTEA,
    step         TEXT NOT NULL DEFAULT '',
    -- The steps reached, space-separated, in the order reached: each is
    -- counted once per session.
    steps        TEXT NOT NULL DEFAULT '',
    last_field   TEXT NOT NULL DEFAULT '',
    started      BOOLEAN NOT NULL DEFAULT FALSE,
    -- Set when the session's application is stored (the values go): a
    -- save or a pagehide beacon still in flight then changes nothing.
    submitted    BOOLEAN NOT NULL DEFAULT FALSE,
    left_at      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX drafts_updated ON drafts (updated_at);

-- +goose Down
DROP TABLE drafts;
