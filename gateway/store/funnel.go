package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// FunnelKey is one line of the funnel: a day, a flow, a first touch and
// an experiment variant.
type FunnelKey struct {
	Day      string // YYYY-MM-DD, UTC
	Flow     string
	Source   string
	Campaign string
	Variant  string
}

// VisitCounts are counted in memory and added to the store in batches.
type VisitCounts struct {
	Visits, Prefilled int64
	// PaidCalls are the paid Cashcat calls the visits caused.
	PaidCalls int64
}

// AddVisits adds counted visits, in one transaction.
func (s *Store) AddVisits(ctx context.Context, counts map[FunnelKey]VisitCounts) error {
	if len(counts) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback()
	for k, c := range counts {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO funnel_daily (day, flow, utm_source, utm_campaign, variant, visits, prefilled, paid_calls)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (day, flow, utm_source, utm_campaign, variant) DO UPDATE
			SET visits = funnel_daily.visits + excluded.visits, prefilled = funnel_daily.prefilled + excluded.prefilled,
				paid_calls = funnel_daily.paid_calls + excluded.paid_calls`),
			k.Day, k.Flow, providers.Cut(k.Source, 100), providers.Cut(k.Campaign, 100), providers.Cut(k.Variant, 32), c.Visits, c.Prefilled, c.PaidCalls)
		if err != nil {
			return fmt.Errorf("store: adding visits: %w", err)
		}
	}
	return tx.Commit()
}

// Campaigns lists the (utm_source, utm_campaign) pairs with visits on day
// (YYYY-MM-DD, UTC), in any flow.
func (s *Store) Campaigns(ctx context.Context, day string) ([][2]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT DISTINCT utm_source, utm_campaign FROM funnel_daily WHERE day = ?`), day)
	if err != nil {
		return nil, fmt.Errorf("store: reading the day's campaigns: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, fmt.Errorf("store: reading the day's campaigns: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// MarkRedirected records that the consumer was sent to the buyer's URL
// (once: a replay of the same answer does not count twice), and queues
// the postbacks to send on it in the same transaction.
func (s *Store) MarkRedirected(ctx context.Context, id string, postbacks []string) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE applications SET redirected_at = ? WHERE id = ? AND redirected_at = 0`), ms(s.now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoChange
		}
		return s.queuePostbacks(ctx, tx, id, "redirected", postbacks)
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return fmt.Errorf("store: marking redirected: %w", err)
	}
	return nil
}

// FunnelRow is the funnel of one flow, source, campaign and variant over
// a period.
type FunnelRow struct {
	Flow, Source, Campaign, Variant         string
	Visits, Prefilled                       int64
	Applications, Accepted, Declined, Redir int64
	Revenue                                 float64
	// PaidCalls are the paid Cashcat calls the visits caused; Duplicates
	// the buyers skipped because they had this consumer already.
	PaidCalls, Duplicates int64
}

// EPC is the earnings per click: revenue per visit.
func (r FunnelRow) EPC() float64 {
	if r.Visits == 0 {
		return 0
	}
	return r.Revenue / float64(r.Visits)
}

// funnelRows collects a funnel's rows by flow, source, campaign and
// variant.
type funnelRows map[[4]string]*FunnelRow

func (rows funnelRows) row(flow, source, campaign, variant string) *FunnelRow {
	k := [4]string{flow, source, campaign, variant}
	if rows[k] == nil {
		rows[k] = &FunnelRow{Flow: flow, Source: source, Campaign: campaign, Variant: variant}
	}
	return rows[k]
}

// Funnel reads the funnel for the days from..to (inclusive, UTC) by flow,
// utm_source, utm_campaign and variant, biggest first.
func (s *Store) Funnel(ctx context.Context, from, to time.Time) ([]FunnelRow, error) {
	rows := funnelRows{}
	row := rows.row
	vis, err := s.db.QueryContext(ctx, s.q(`SELECT flow, utm_source, utm_campaign, variant, CAST(SUM(visits) AS BIGINT), CAST(SUM(prefilled) AS BIGINT),
		CAST(SUM(paid_calls) AS BIGINT) FROM funnel_daily
		WHERE day >= ? AND day <= ? GROUP BY flow, utm_source, utm_campaign, variant`), from.Format("2006-01-02"), to.Format("2006-01-02"))
	if err != nil {
		return nil, fmt.Errorf("store: reading the funnel: %w", err)
	}
	for vis.Next() {
		var f, src, camp, variant string
		var v, p, paid int64
		if err := vis.Scan(&f, &src, &camp, &variant, &v, &p, &paid); err != nil {
			vis.Close()
			return nil, fmt.Errorf("store: reading the funnel: %w", err)
		}
		r := row(f, src, camp, variant)
		r.Visits, r.Prefilled, r.PaidCalls = v, p, paid
	}
	vis.Close()
	lo, hi := ms(from), ms(to.AddDate(0, 0, 1))
	// Casts: PostgreSQL sums integers as numeric or bigint; both read here.
	apps, err := s.db.QueryContext(ctx, s.q(`SELECT flow, utm_source, utm_campaign, variant, COUNT(*),
		CAST(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS BIGINT),
		CAST(SUM(CASE WHEN redirected_at > 0 THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(revenue) AS DOUBLE PRECISION)
		FROM applications WHERE created_at >= ? AND created_at < ? AND corrected_by = '' GROUP BY flow, utm_source, utm_campaign, variant`),
		providers.StatusAccepted, providers.StatusDeclined, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("store: reading the funnel: %w", err)
	}
	defer apps.Close()
	for apps.Next() {
		var f, src, camp, variant string
		var n, acc, dec, red int64
		var rev float64
		if err := apps.Scan(&f, &src, &camp, &variant, &n, &acc, &dec, &red, &rev); err != nil {
			return nil, fmt.Errorf("store: reading the funnel: %w", err)
		}
		r := row(f, src, camp, variant)
		r.Applications, r.Accepted, r.Declined, r.Redir, r.Revenue = n, acc, dec, red, rev
	}
	if err := apps.Err(); err != nil {
		return nil, err
	}
	if err := s.duplicates(ctx, lo, hi, row); err != nil {
		return nil, err
	}
	out := make([]FunnelRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Visits != out[j].Visits {
			return out[i].Visits > out[j].Visits
		}
		a, b := out[i], out[j]
		return a.Flow+"\x00"+a.Source+"\x00"+a.Campaign+"\x00"+a.Variant < b.Flow+"\x00"+b.Source+"\x00"+b.Campaign+"\x00"+b.Variant
	})
	return out, nil
}

// Recent lists the latest applications (no personal data), newest first.
func (s *Store) Recent(ctx context.Context, limit int) ([]providers.Record, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+appColumns+` FROM applications ORDER BY created_at DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("store: listing applications: %w", err)
	}
	defer rows.Close()
	var out []providers.Record
	for rows.Next() {
		a, err := s.scanApplication(rows)
		if err != nil {
			return nil, fmt.Errorf("store: listing applications: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DuplicateReason starts the reason of a buyer skipped because it had the
// consumer already (store.DuplicateError).
const DuplicateReason = "posted to this buyer on "

// duplicates counts, per flow and first touch, the buyers skipped because
// they had the consumer already: a source sending many is one to question.
func (s *Store) duplicates(ctx context.Context, lo, hi int64, row func(flow, source, campaign, variant string) *FunnelRow) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT a.flow, a.utm_source, a.utm_campaign, a.variant, COUNT(*) FROM attempts t
		JOIN applications a ON a.id = t.application_id
		WHERE a.created_at >= ? AND a.created_at < ? AND t.outcome = ? AND t.reason LIKE ?
		GROUP BY a.flow, a.utm_source, a.utm_campaign, a.variant`), lo, hi, providers.Skipped, DuplicateReason+"%")
	if err != nil {
		return fmt.Errorf("store: counting duplicates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f, src, camp, variant string
		var n int64
		if err := rows.Scan(&f, &src, &camp, &variant, &n); err != nil {
			return fmt.Errorf("store: counting duplicates: %w", err)
		}
		row(f, src, camp, variant).Duplicates = n
	}
	return rows.Err()
}
