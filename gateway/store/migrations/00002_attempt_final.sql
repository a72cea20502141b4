-- +goose Up
-- final: a decline that no lower price tier can change, so a resumed
-- waterfall does not ride on down a buyer that said "stop".
ALTER TABLE attempts ADD COLUMN final BOOLEAN NOT NULL DEFAULT FALSE;
-- Buyer caps count each buyer's accepted leads in the current hour/day.
CREATE INDEX attempts_buyer_outcome ON attempts (buyer, outcome, started_at);

-- +goose Down
DROP INDEX attempts_buyer_outcome;
ALTER TABLE attempts DROP COLUMN final;
