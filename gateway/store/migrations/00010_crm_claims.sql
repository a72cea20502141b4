-- +goose Up
-- How many times the CRM mirror has claimed an application: a first
-- claim cannot follow an earlier create at the CRM, so the mirror skips
-- its search for the lead there (one call of two). An application pending
-- at the upgrade may have been tried already: it searches first.
ALTER TABLE applications ADD COLUMN crm_claims INTEGER NOT NULL DEFAULT 0;
UPDATE applications SET crm_claims = 1 WHERE crm_status = 'pending';

-- +goose Down
ALTER TABLE applications DROP COLUMN crm_claims;
