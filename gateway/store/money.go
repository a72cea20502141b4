package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/leadgate/leadgate/providers"
)

// DuplicateError says a buyer was posted this consumer, by another
// application, within the flow's duplicate window.
type DuplicateError struct {
	Application string
	PostedAt    time.Time
}

func (e *DuplicateError) Error() string {
	return DuplicateReason + e.PostedAt.UTC().Format("2006-01-02")
}

// StartAttemptOnce is StartAttempt for a flow with a duplicate window: in
// the same transaction it claims the buyer for every duplicate key of the
// application, so that two applications of one consumer, even submitted
// at the same instant on two replicas, are posted once per buyer. A
// *DuplicateError names the application that holds a claim; nothing is
// recorded then.
func (s *Store) StartAttemptOnce(ctx context.Context, id, owner, buyer, tier string, seq int, window time.Duration) error {
	if window <= 0 {
		return s.StartAttempt(ctx, id, owner, buyer, tier, seq)
	}
	return s.underLease(ctx, id, owner, func(tx *sql.Tx) error {
		keys, err := s.keysOf(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.now()
		for _, k := range keys {
			// Take the claim if it is free, ours, or older than the window;
			// on PostgreSQL a concurrent claim of the same key waits here
			// for the other transaction, then sees its row.
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO dedupe_claims (key_hash, buyer, application_id, posted_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (key_hash, buyer) DO UPDATE SET application_id = excluded.application_id, posted_at = excluded.posted_at
				WHERE dedupe_claims.posted_at < ? OR dedupe_claims.application_id = excluded.application_id`),
				k, buyer, id, ms(now), ms(now.Add(-window)))
			if err != nil {
				return fmt.Errorf("store: claiming a duplicate key: %w", err)
			}
			var holder string
			var at int64
			if err := tx.QueryRowContext(ctx, s.q(`SELECT application_id, posted_at FROM dedupe_claims WHERE key_hash = ? AND buyer = ?`), k, buyer).Scan(&holder, &at); err != nil {
				return fmt.Errorf("store: reading a duplicate key: %w", err)
			}
			if holder != id {
				return &DuplicateError{Application: holder, PostedAt: fromMS(at)}
			}
		}
		return s.insertAttempt(ctx, tx, id, buyer, tier, seq)
	})
}

func (s *Store) keysOf(ctx context.Context, tx *sql.Tx, id string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT key_hash FROM application_keys WHERE application_id = ? ORDER BY key_hash`), id)
	if err != nil {
		return nil, fmt.Errorf("store: reading duplicate keys: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store: reading duplicate keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// queuePostbacks adds the postbacks names to send on event, in tx.
func (s *Store) queuePostbacks(ctx context.Context, tx *sql.Tx, id, event string, names []string) error {
	now := ms(s.now())
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO postbacks (application_id, name, event, created_at, next_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (application_id, name, event) DO NOTHING`), id, name, event, now, now); err != nil {
			return fmt.Errorf("store: queueing a postback: %w", err)
		}
	}
	return nil
}

// PostbackJob is a postback due for delivery.
type PostbackJob struct {
	Application, Name, Event string
	Tries                    int
	CreatedAt                time.Time
}

// ClaimPostbacks leases up to limit postbacks due for delivery to owner.
// A lease that runs out (its process died mid-send) makes the postback
// due again: it is sent again, and the receiver tells the repeat by the
// application id every template carries.
func (s *Store) ClaimPostbacks(ctx context.Context, owner string, lease time.Duration, limit int) ([]PostbackJob, error) {
	var out []PostbackJob
	claim := func(ctx context.Context, db interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}) error {
		now := s.now()
		rows, err := db.QueryContext(ctx, s.q(`UPDATE postbacks SET lease_owner = ?, lease_until = ?
			WHERE (application_id, name, event) IN (SELECT application_id, name, event FROM postbacks
				WHERE status = ? AND next_at <= ? AND lease_until < ? ORDER BY next_at LIMIT ?`+s.skipLocked()+`)
			RETURNING application_id, name, event, tries, created_at`), owner, ms(now.Add(lease)), providers.PostbackPending, ms(now), ms(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j PostbackJob
			var created int64
			if err := rows.Scan(&j.Application, &j.Name, &j.Event, &j.Tries, &created); err != nil {
				return err
			}
			j.CreatedAt = fromMS(created)
			out = append(out, j)
		}
		return rows.Err()
	}
	var err error
	if s.writer == nil {
		err = claim(ctx, s.db)
	} else {
		err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return claim(ctx, tx) })
	}
	if err != nil {
		return nil, fmt.Errorf("store: claiming postbacks: %w", err)
	}
	return out, nil
}

// PostbackBacklog is how many postbacks are due for delivery at now and
// not delivered yet: a number that grows means delivery falls behind.
func (s *Store) PostbackBacklog(ctx context.Context, now time.Time) (int, error) {
	return s.count(ctx, "the postback backlog", `SELECT COUNT(*) FROM postbacks WHERE status = ? AND next_at <= ?`,
		providers.PostbackPending, ms(now))
}

// FinishPostback records one delivery try of a claimed postback: its new
// state (delivered, pending again at next, or failed for good), the
// receiver's status and the error, if any.
func (s *Store) FinishPostback(ctx context.Context, j PostbackJob, owner string, state providers.PostbackState, next time.Time, status int, reason string) error {
	now := s.now()
	var delivered int64
	if state == providers.PostbackDelivered {
		delivered = ms(now)
	}
	res, err := s.exec(ctx, s.q(`UPDATE postbacks SET status = ?, next_at = ?, tries = tries + 1, last_status = ?, last_error = ?,
		delivered_at = ?, lease_owner = '', lease_until = 0
		WHERE application_id = ? AND name = ? AND event = ? AND lease_owner = ?`),
		state, ms(next), status, providers.Cut(reason, 300), delivered, j.Application, j.Name, j.Event, owner)
	if err != nil {
		return fmt.Errorf("store: recording a postback: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// Postbacks lists an application's postbacks, for its audit page.
func (s *Store) Postbacks(ctx context.Context, id string) ([]providers.Postback, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name, event, status, tries, last_status, last_error, created_at, delivered_at
		FROM postbacks WHERE application_id = ? ORDER BY created_at, name, event`), id)
	if err != nil {
		return nil, fmt.Errorf("store: reading postbacks: %w", err)
	}
	defer rows.Close()
	var out []providers.Postback
	for rows.Next() {
		var p providers.Postback
		var created, delivered int64
		if err := rows.Scan(&p.Name, &p.Event, &p.State, &p.Tries, &p.LastStatus, &p.LastError, &created, &delivered); err != nil {
			return nil, fmt.Errorf("store: reading postbacks: %w", err)
		}
		p.CreatedAt, p.DeliveredAt = fromMS(created), fromMS(delivered)
		out = append(out, p)
	}
	return out, rows.Err()
}

// inTx runs f in a transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

var errNoChange = errors.New("store: nothing changed")
