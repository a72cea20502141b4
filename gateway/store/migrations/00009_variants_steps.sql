-- +goose Up
-- Experiments: the variant is part of a visit's line in the funnel and of
-- each application. The funnel's key grows a column, so the table is made
-- anew (SQLite cannot change a primary key) with its history kept: the
-- visits before experiments are those of no variant ('').
CREATE TABLE funnel_daily_v (
    day          TEXT NOT NULL,
    flow         TEXT NOT NULL,
    utm_source   TEXT NOT NULL,
    utm_campaign TEXT NOT NULL,
    variant      TEXT NOT NULL DEFAULT '',
    visits       BIGINT NOT NULL DEFAULT 0,
    prefilled    BIGINT NOT NULL DEFAULT 0,
    paid_calls   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, flow, utm_source, utm_campaign, variant)
);
INSERT INTO funnel_daily_v (day, flow, utm_source, utm_campaign, variant, visits, prefilled, paid_calls)
    SELECT day, flow, utm_source, utm_campaign, '', visits, prefilled, paid_calls FROM funnel_daily;
DROP TABLE funnel_daily;
ALTER TABLE funnel_daily_v RENAME TO funnel_daily;

ALTER TABLE applications ADD COLUMN variant TEXT NOT NULL DEFAULT '';

-- The step funnel, counted in memory and added in batches like visits:
-- per day, flow, first touch and variant, how many sessions started the
-- form (stage 'started', name ''), reached each step ('reached', the
-- step's key), left on a step ('left', the step's key), and the last
-- field touched by those who left ('last_field', the field's name —
-- never a value).
CREATE TABLE step_funnel (
    day          TEXT NOT NULL,
    flow         TEXT NOT NULL,
    utm_source   TEXT NOT NULL,
    utm_campaign TEXT NOT NULL,
    variant      TEXT NOT NULL,
    stage        TEXT NOT NULL,
    name         TEXT NOT NULL,
    count        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, flow, utm_source, utm_campaign, variant, stage, name)
);

-- +goose Down
DROP TABLE step_funnel;
ALTER TABLE applications DROP COLUMN variant;
CREATE TABLE funnel_daily_o (
    day          TEXT NOT NULL,
    flow         TEXT NOT NULL,
    utm_source   TEXT NOT NULL,
    utm_campaign TEXT NOT NULL,
    visits       BIGINT NOT NULL DEFAULT 0,
    prefilled    BIGINT NOT NULL DEFAULT 0,
    paid_calls   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, flow, utm_source, utm_campaign)
);
INSERT INTO funnel_daily_o (day, flow, utm_source, utm_campaign, visits, prefilled, paid_calls)
    SELECT day, flow, utm_source, utm_campaign, SUM(visits), SUM(prefilled), SUM(paid_calls) FROM funnel_daily
    GROUP BY day, flow, utm_source, utm_campaign;
DROP TABLE funnel_daily;
ALTER TABLE funnel_daily_o RENAME TO funnel_daily;
