-- +goose Up
-- Visits are counted in memory and added here in batches: one row per day
-- (UTC), flow and first-touch source and campaign.
CREATE TABLE funnel_daily (
    day          TEXT NOT NULL,
    flow         TEXT NOT NULL,
    utm_source   TEXT NOT NULL,
    utm_campaign TEXT NOT NULL,
    visits       BIGINT NOT NULL DEFAULT 0,
    prefilled    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, flow, utm_source, utm_campaign)
);
-- Set when the consumer was sent to the accepting buyer's URL.
ALTER TABLE applications ADD COLUMN redirected_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE applications DROP COLUMN redirected_at;
DROP TABLE funnel_daily;
