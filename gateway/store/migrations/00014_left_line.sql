-- +goose Up
-- The step-funnel line a session's leave was counted on (its day, flow,
-- first touch, variant, step and last field's name: names, never a
-- value), so that the leave is taken back when the session comes back
-- and sends its application: "left without sending" counts those who
-- did not send, not every pagehide.
ALTER TABLE drafts ADD COLUMN left_line TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE drafts DROP COLUMN left_line;
