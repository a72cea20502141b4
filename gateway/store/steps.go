package store

import (
	"context"
	"fmt"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// The stages of the step funnel counted per session (migration 00009).
const (
	StageStarted   = "started"    // first field touched (name "")
	StageReached   = "reached"    // a step shown (name: the step's key)
	StageLeft      = "left"       // left the page on a step without sending
	StageLastField = "last_field" // the last field touched by those who left
	// StageReturned is only a /metrics stage: in the store a leave taken
	// back is a leave counted less (jobs.Visits.Returned).
	StageReturned = "returned"
)

// StepKey is one count of the step funnel: a funnel line, a stage and
// the step's or field's name.
type StepKey struct {
	FunnelKey
	Stage, Name string
}

// AddSteps adds counts of the step funnel, in one transaction.
func (s *Store) AddSteps(ctx context.Context, counts map[StepKey]int64) error {
	if len(counts) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback()
	for k, n := range counts {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO step_funnel (day, flow, utm_source, utm_campaign, variant, stage, name, count)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (day, flow, utm_source, utm_campaign, variant, stage, name) DO UPDATE
			SET count = step_funnel.count + excluded.count`),
			k.Day, k.Flow, providers.Cut(k.Source, 100), providers.Cut(k.Campaign, 100), providers.Cut(k.Variant, 32),
			k.Stage, providers.Cut(k.Name, 64), n)
		if err != nil {
			return fmt.Errorf("store: adding step counts: %w", err)
		}
	}
	return tx.Commit()
}

// StepRow is one count of the step funnel over a period.
type StepRow struct {
	Flow, Source, Campaign, Variant string
	Stage, Name                     string
	Count                           int64
}

// Steps reads the step funnel for the days from..to (inclusive, UTC).
func (s *Store) Steps(ctx context.Context, from, to time.Time) ([]StepRow, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT flow, utm_source, utm_campaign, variant, stage, name, CAST(SUM(count) AS BIGINT)
		FROM step_funnel WHERE day >= ? AND day <= ?
		GROUP BY flow, utm_source, utm_campaign, variant, stage, name`), from.Format("2006-01-02"), to.Format("2006-01-02"))
	if err != nil {
		return nil, fmt.Errorf("store: reading the step funnel: %w", err)
	}
	defer rows.Close()
	var out []StepRow
	for rows.Next() {
		var r StepRow
		if err := rows.Scan(&r.Flow, &r.Source, &r.Campaign, &r.Variant, &r.Stage, &r.Name, &r.Count); err != nil {
			return nil, fmt.Errorf("store: reading the step funnel: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
