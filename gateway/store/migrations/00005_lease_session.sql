-- +goose Up
-- On PostgreSQL a lease also lasts only as long as its holder's database
-- session: the key of the advisory lock the replica holds while it lives,
-- so a killed replica's work is taken over at once. 0: only the lease's
-- time counts (SQLite, where the file has one owner; older replicas).
ALTER TABLE applications ADD COLUMN lease_session BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN crm_lease_session BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE applications DROP COLUMN crm_lease_session;
ALTER TABLE applications DROP COLUMN lease_session;
