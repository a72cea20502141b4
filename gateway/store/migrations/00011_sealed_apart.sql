-- +goose Up
-- The sealed personal data in a table of its own. An application's row is
-- written again at its decision, at its redirect and twice by the CRM
-- mirror; with its ~2.7 KB of ciphertext in it, every one of those
-- rewrote a whole page (one row a page), where now a dozen rows share one.
-- applications.key_id and .pii stay for now: a replica of an earlier
-- version, still running during a rolling upgrade, writes and reads them,
-- and this version reads them when an application has no row here. A later
-- migration drops them, once no such replica can run.
CREATE TABLE application_pii (
    application_id TEXT PRIMARY KEY REFERENCES applications (id),
    key_id         TEXT NOT NULL,
    pii            BYTEA NOT NULL
);
INSERT INTO application_pii (application_id, key_id, pii)
    SELECT id, key_id, pii FROM applications WHERE pii IS NOT NULL;

-- +goose Down
UPDATE applications SET
    key_id = (SELECT p.key_id FROM application_pii p WHERE p.application_id = applications.id),
    pii = (SELECT p.pii FROM application_pii p WHERE p.application_id = applications.id)
    WHERE id IN (SELECT application_id FROM application_pii);
DROP TABLE application_pii;
