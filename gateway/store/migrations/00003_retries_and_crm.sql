-- +goose Up
-- tries: how many times this buyer (and tier) was posted; a post is only
-- repeated after a failure that provably did not reach the buyer (retry).
ALTER TABLE attempts ADD COLUMN tries INTEGER NOT NULL DEFAULT 1;
ALTER TABLE attempts ADD COLUMN retry BOOLEAN NOT NULL DEFAULT FALSE;

-- The Cashfin CRM mirror, run from the store like the submissions:
-- crm_status is '' (nothing to mirror), 'pending' or 'done'.
ALTER TABLE applications ADD COLUMN crm_status TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN crm_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN crm_tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN crm_next_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN crm_lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE applications ADD COLUMN crm_lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN crm_error TEXT NOT NULL DEFAULT '';
CREATE INDEX applications_crm_due ON applications (crm_status, crm_next_at);
CREATE INDEX applications_decided ON applications (status, decided_at);

-- +goose Down
DROP INDEX applications_decided;
DROP INDEX applications_crm_due;
ALTER TABLE applications DROP COLUMN crm_error;
ALTER TABLE applications DROP COLUMN crm_lease_until;
ALTER TABLE applications DROP COLUMN crm_lease_owner;
ALTER TABLE applications DROP COLUMN crm_next_at;
ALTER TABLE applications DROP COLUMN crm_tries;
ALTER TABLE applications DROP COLUMN crm_ref;
ALTER TABLE applications DROP COLUMN crm_status;
ALTER TABLE attempts DROP COLUMN retry;
ALTER TABLE attempts DROP COLUMN tries;
