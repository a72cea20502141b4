package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrDraftClosed: the session's application is stored, so its draft takes
// no more saves (a save still in flight when the form was sent).
var ErrDraftClosed = errors.New("store: draft closed: the application was sent")

// Draft is what a session has typed but not sent yet, and how far it got.
type Draft struct {
	Flow string
	// Values are the form's values by canonical name (never a consent).
	Values map[string]string
	// Step is the step the consumer was last on; Steps every step it
	// reached, in order; LastField the name of the last field touched.
	Step      string
	Steps     []string
	LastField string
	// Started: a field was saved; Left: the pagehide beacon was counted.
	Started, Left bool
	UpdatedAt     time.Time
}

// DraftChange is one save of a draft: the form's values as they are now
// (nil: kept as they were), the step shown and the last field touched
// ("": unchanged).
type DraftChange struct {
	Flow   string
	Values map[string]string
	Step   string
	Field  string
}

// draftAAD binds a draft's sealed values to its row, as an application's
// are bound to its id: values copied to another session's row do not open.
func draftAAD(key string) []byte { return []byte("draft|" + key) }

// SaveDraft applies ch to the draft of session key (an owner hash, never
// a session id) and returns the draft's signals as they were before, for
// the step funnel (Values not read; a draft of another flow counts as
// none). ErrDraftClosed: the session's application is already stored.
func (s *Store) SaveDraft(ctx context.Context, key string, ch DraftChange) (before Draft, err error) {
	now := s.now()
	var keyID string
	var sealed []byte
	if ch.Values != nil {
		plain, err := json.Marshal(ch.Values)
		if err != nil {
			return Draft{}, fmt.Errorf("store: %w", err)
		}
		keyID, sealed = s.keys.Seal(plain, draftAAD(key))
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// The row first, so that on PostgreSQL two first saves of one
		// session queue on it instead of both counting a start.
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO drafts (session_hash, flow, created_at, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (session_hash) DO NOTHING`), key, ch.Flow, ms(now), ms(now)); err != nil {
			return err
		}
		var steps string
		var leftAt int64
		var submitted bool
		err := tx.QueryRowContext(ctx, s.q(`SELECT flow, step, steps, last_field, started, left_at, submitted FROM drafts
			WHERE session_hash = ?`+s.forUpdate()), key).Scan(&before.Flow, &before.Step, &steps, &before.LastField, &before.Started, &leftAt, &submitted)
		if err != nil {
			return err
		}
		if submitted {
			return ErrDraftClosed
		}
		var others []string
		before.Steps, others = splitSteps(steps)
		before.Left = leftAt != 0
		if before.Flow != ch.Flow {
			// The session moved to another flow (a link, or the form of
			// another tab): the signals of the flow it leaves are kept
			// aside, and those it had in the flow it moves to come back,
			// so that going to and fro never counts a start or a step in
			// a flow's funnel twice.
			before, others = moveFlow(before, others, ch.Flow)
		}
		after := before
		after.Steps = slices.Clone(before.Steps)
		if ch.Step != "" {
			after.Step = ch.Step
			if !slices.Contains(after.Steps, ch.Step) {
				after.Steps = append(after.Steps, ch.Step)
			}
		}
		if ch.Field != "" {
			after.LastField, after.Started = ch.Field, true
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE drafts SET flow = ?, step = ?, steps = ?, last_field = ?, started = ?,
			left_at = CASE WHEN ? THEN (CASE WHEN left_at = 0 THEN ? ELSE left_at END) ELSE 0 END, updated_at = ?,
			key_id = CASE WHEN ? = '' THEN key_id ELSE ? END,
			pii = CASE WHEN ? = '' THEN pii ELSE ? END
			WHERE session_hash = ?`),
			after.Flow, after.Step, strings.Join(slices.Concat(after.Steps, others), " "), after.LastField, after.Started,
			before.Left, ms(now), ms(now), keyID, keyID, keyID, sealed, key)
		return err
	})
	if errors.Is(err, ErrDraftClosed) {
		return Draft{}, err
	}
	if err != nil {
		return Draft{}, fmt.Errorf("store: saving draft: %w", err)
	}
	return before, nil
}

// splitSteps reads the steps column: the steps reached in the draft's
// flow (nil for none), and the signals kept of other flows the session
// was in, "flow:step" and "flow:*" for a start (flow and step names have
// no colon).
func splitSteps(s string) (steps, others []string) {
	for _, t := range strings.Fields(s) {
		if strings.Contains(t, ":") {
			others = append(others, t)
		} else {
			steps = append(steps, t)
		}
	}
	return steps, others
}

// moveFlow is a draft's signals as the session moves from d's flow to
// flow: d's kept aside among others ("flow:!" for a leave counted),
// flow's taken back from them.
func moveFlow(d Draft, others []string, flow string) (Draft, []string) {
	var kept []string
	moved := Draft{Flow: flow}
	for _, t := range others {
		name, ok := strings.CutPrefix(t, flow+":")
		switch {
		case !ok:
			kept = append(kept, t)
		case name == "*":
			moved.Started = true
		case name == "!":
			moved.Left = true
		default:
			moved.Steps = append(moved.Steps, name)
		}
	}
	for _, st := range d.Steps {
		kept = append(kept, d.Flow+":"+st)
	}
	if d.Started {
		kept = append(kept, d.Flow+":*")
	}
	if d.Left {
		kept = append(kept, d.Flow+":!")
	}
	return moved, kept
}

// Draft returns the draft of session key, its values opened.
// ErrNotFound: the session has none (or only its sent application's mark).
func (s *Store) Draft(ctx context.Context, key string) (Draft, error) {
	var d Draft
	var keyID, steps string
	var ct []byte
	var leftAt, updated int64
	var submitted bool
	err := s.db.QueryRowContext(ctx, s.q(`SELECT flow, key_id, pii, step, steps, last_field, started, left_at, submitted, updated_at
		FROM drafts WHERE session_hash = ?`), key).Scan(&d.Flow, &keyID, &ct, &d.Step, &steps, &d.LastField, &d.Started, &leftAt, &submitted, &updated)
	if errors.Is(err, sql.ErrNoRows) || submitted {
		return Draft{}, ErrNotFound
	}
	if err != nil {
		return Draft{}, fmt.Errorf("store: reading draft: %w", err)
	}
	d.Steps, _ = splitSteps(steps)
	d.Left, d.UpdatedAt = leftAt != 0, fromMS(updated)
	if len(ct) > 0 {
		plain, err := s.keys.Open(keyID, ct, draftAAD(key))
		if err != nil {
			return Draft{}, fmt.Errorf("store: draft: %w", err)
		}
		if err := json.Unmarshal(plain, &d.Values); err != nil {
			return Draft{}, fmt.Errorf("store: sealed draft: %w", err)
		}
	}
	return d, nil
}

// MarkLeft records that session key left its form of flow without
// sending, once: it says whether this is the first time, and the draft's
// flow. A session without a draft, or whose application is stored, never
// left. line is the step-funnel line the leave is counted on, kept when
// the draft is of flow (only then is it counted) and handed back when
// the session's application is stored (New.Returned).
func (s *Store) MarkLeft(ctx context.Context, key, flow, line string) (draftFlow string, first bool, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`UPDATE drafts SET left_at = ?, left_line = CASE WHEN flow = ? THEN ? ELSE '' END
		WHERE session_hash = ? AND left_at = 0 AND submitted = FALSE
		RETURNING flow`), ms(s.now()), flow, line, key).Scan(&draftFlow)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: marking a draft left: %w", err)
	}
	return draftFlow, true, nil
}

// closeDraft erases the values of session key's draft in the transaction
// that stores its application, and closes it: a save or a beacon still in
// flight finds it closed. The mark holds nothing personal and goes with
// the sweep. It returns the line the session's leave was counted on, if
// it left before and came back to send: that leave is to be taken back.
func (s *Store) closeDraft(ctx context.Context, tx *sql.Tx, key string) (leftLine string, err error) {
	err = tx.QueryRowContext(ctx, s.q(`SELECT left_line FROM drafts WHERE session_hash = ? AND left_at <> 0 AND submitted = FALSE`),
		key).Scan(&leftLine)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	now := ms(s.now())
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO drafts (session_hash, submitted, created_at, updated_at) VALUES (?, TRUE, ?, ?)
		ON CONFLICT (session_hash) DO UPDATE SET pii = NULL, key_id = '', submitted = TRUE, left_line = '', updated_at = ?`), key, now, now, now)
	return leftLine, err
}

// EraseDrafts deletes the drafts last saved before cutoff (drafts.ttl, or
// storage.retention when shorter) and returns how many went.
func (s *Store) EraseDrafts(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM drafts WHERE updated_at < ?`), ms(cutoff))
	if err != nil {
		return 0, fmt.Errorf("store: erasing drafts: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
