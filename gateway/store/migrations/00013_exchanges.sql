-- +goose Up
-- Each attempt's request and answer, masked (SPEC §6): what support reads
-- to answer "why was this lead not sold?". Only the values each buyer's
-- Audit names as not personal are kept; the buyer's words are scrubbed.
ALTER TABLE attempts ADD COLUMN request TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN answer_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN response TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE attempts DROP COLUMN response;
ALTER TABLE attempts DROP COLUMN answer_status;
ALTER TABLE attempts DROP COLUMN request;
