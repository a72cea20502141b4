package store

import (
	"context"
	"fmt"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// DayRow is one UTC day of one flow: the daily chart's points.
type DayRow struct {
	Day                            string // YYYY-MM-DD
	Flow                           string
	Visits, Applications, Accepted int64
	Revenue                        float64
}

// Daily reads visits, applications, accepted and revenue per day and flow
// for the days from..to (inclusive, UTC).
func (s *Store) Daily(ctx context.Context, from, to time.Time) ([]DayRow, error) {
	rows := map[[2]string]*DayRow{}
	row := func(day, flow string) *DayRow {
		k := [2]string{day, flow}
		if rows[k] == nil {
			rows[k] = &DayRow{Day: day, Flow: flow}
		}
		return rows[k]
	}
	vis, err := s.db.QueryContext(ctx, s.q(`SELECT day, flow, CAST(SUM(visits) AS BIGINT) FROM funnel_daily
		WHERE day >= ? AND day <= ? GROUP BY day, flow`), from.Format("2006-01-02"), to.Format("2006-01-02"))
	if err != nil {
		return nil, fmt.Errorf("store: reading the days: %w", err)
	}
	for vis.Next() {
		var day, flow string
		var n int64
		if err := vis.Scan(&day, &flow, &n); err != nil {
			vis.Close()
			return nil, fmt.Errorf("store: reading the days: %w", err)
		}
		row(day, flow).Visits = n
	}
	vis.Close()
	// The day of a millisecond timestamp: an integer division both SQLite
	// and PostgreSQL do alike.
	apps, err := s.db.QueryContext(ctx, s.q(`SELECT CAST(created_at / 86400000 AS BIGINT) AS d, flow, COUNT(*),
		CAST(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(revenue) AS DOUBLE PRECISION)
		FROM applications WHERE created_at >= ? AND created_at < ? AND corrected_by = '' GROUP BY d, flow`),
		providers.StatusAccepted, ms(from), ms(to.AddDate(0, 0, 1)))
	if err != nil {
		return nil, fmt.Errorf("store: reading the days: %w", err)
	}
	defer apps.Close()
	for apps.Next() {
		var d, n, acc int64
		var flow string
		var rev float64
		if err := apps.Scan(&d, &flow, &n, &acc, &rev); err != nil {
			return nil, fmt.Errorf("store: reading the days: %w", err)
		}
		r := row(time.UnixMilli(d*86400000).UTC().Format("2006-01-02"), flow)
		r.Applications, r.Accepted, r.Revenue = n, acc, rev
	}
	if err := apps.Err(); err != nil {
		return nil, err
	}
	out := make([]DayRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	return out, nil
}

// BuyerAttempt is one finished post to a buyer, or a skip, as the buyers
// table counts them.
type BuyerAttempt struct {
	Buyer, Currency string
	Outcome         providers.Outcome
	Price           float64
	LatencyMS       int64
	Reason          string
}

// BuyerAttempts lists the attempts of the applications created in the
// days from..to (inclusive, UTC), without anything personal.
func (s *Store) BuyerAttempts(ctx context.Context, from, to time.Time) ([]BuyerAttempt, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT t.buyer, a.currency, t.outcome, t.price, t.latency_ms, t.reason
		FROM attempts t JOIN applications a ON a.id = t.application_id
		WHERE a.created_at >= ? AND a.created_at < ? AND t.outcome <> ?`), ms(from), ms(to.AddDate(0, 0, 1)), providers.Started)
	if err != nil {
		return nil, fmt.Errorf("store: reading the buyers' attempts: %w", err)
	}
	defer rows.Close()
	var out []BuyerAttempt
	for rows.Next() {
		var b BuyerAttempt
		if err := rows.Scan(&b.Buyer, &b.Currency, &b.Outcome, &b.Price, &b.LatencyMS, &b.Reason); err != nil {
			return nil, fmt.Errorf("store: reading the buyers' attempts: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Sales lists the revenue of each accepted application created in the
// days from..to, by flow and variant: what the EPC comparison resamples.
func (s *Store) Sales(ctx context.Context, from, to time.Time) (map[[2]string][]float64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT flow, variant, revenue FROM applications
		WHERE created_at >= ? AND created_at < ? AND status = ?`), ms(from), ms(to.AddDate(0, 0, 1)), providers.StatusAccepted)
	if err != nil {
		return nil, fmt.Errorf("store: reading the sales: %w", err)
	}
	defer rows.Close()
	out := map[[2]string][]float64{}
	for rows.Next() {
		var flow, variant string
		var rev float64
		if err := rows.Scan(&flow, &variant, &rev); err != nil {
			return nil, fmt.Errorf("store: reading the sales: %w", err)
		}
		out[[2]string{flow, variant}] = append(out[[2]string{flow, variant}], rev)
	}
	return out, rows.Err()
}
