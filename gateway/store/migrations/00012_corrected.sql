-- +goose Up
-- The application that corrects this one, when it was sent back for
-- fixing and the consumer sent the form again: one consumer's one
-- application to the funnel, which counted both (an application rate of
-- 200 %, half the accept rate).
ALTER TABLE applications ADD COLUMN corrected_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE applications DROP COLUMN corrected_by;
