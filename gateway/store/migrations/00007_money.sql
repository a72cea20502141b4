-- +goose Up
-- Conversion reports to traffic sources, delivered from here like the CRM
-- mirror: one row per application, postback and event, written in the
-- transaction that decided (or redirected) the application. Nothing
-- personal is kept: the request is rendered at delivery from the sealed
-- application.
CREATE TABLE postbacks (
    application_id TEXT NOT NULL REFERENCES applications (id),
    name           TEXT NOT NULL,
    event          TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    created_at     BIGINT NOT NULL,
    next_at        BIGINT NOT NULL,
    tries          INTEGER NOT NULL DEFAULT 0,
    last_status    INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT NOT NULL DEFAULT '',
    delivered_at   BIGINT NOT NULL DEFAULT 0,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_until    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (application_id, name, event)
);
CREATE INDEX postbacks_due ON postbacks (status, next_at);

-- The consumer's duplicate keys (SSN, email, ...) as keyed hashes, never
-- in clear, erased with the application's personal data.
CREATE TABLE application_keys (
    application_id TEXT NOT NULL REFERENCES applications (id),
    key_hash       TEXT NOT NULL,
    PRIMARY KEY (application_id, key_hash)
);
-- Who was posted to which buyer, by consumer key: a claim taken in the
-- transaction that starts the attempt, so that two applications of one
-- consumer are posted once per buyer within a flow's window.
CREATE TABLE dedupe_claims (
    key_hash       TEXT NOT NULL,
    buyer          TEXT NOT NULL,
    application_id TEXT NOT NULL,
    posted_at      BIGINT NOT NULL,
    PRIMARY KEY (key_hash, buyer)
);
CREATE INDEX dedupe_claims_application ON dedupe_claims (application_id);

-- Paid Cashcat calls, attributed to the visit that caused them.
ALTER TABLE funnel_daily ADD COLUMN paid_calls BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE funnel_daily DROP COLUMN paid_calls;
DROP TABLE dedupe_claims;
DROP TABLE application_keys;
DROP TABLE postbacks;
