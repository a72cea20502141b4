package providers

import (
	"context"
	"errors"
)

// A Tally is where a count of a shared rate-limit store was made: in the
// store the replicas share (Redis), or in the replica's own memory, where
// a count goes while the shared store does not answer (a slow call, an
// outage, a store still loading its scripts). A count that is later given
// back (the Cashcat budget's place of a known token, a call no longer in
// flight) must be undone where it was made: undone in the other, it stays
// counted for good in one (a carrier address's budget spent by consumers
// long gone) and is a free pass in the other.
type Tally struct {
	// Memory: made in the replica's memory. Shared: made in the shared
	// store, or maybe made there (sent, and its answer lost in time: it
	// was counted in memory too).
	Memory, Shared bool
	// pinned: the counts made with the context go where Memory and
	// Shared say, and nowhere else (a give-back); unpinned, the store
	// notes there where it made them.
	pinned bool
}

type tallyKey struct{}

// Tallied returns ctx with t, in which a shared store notes where it made
// the counts asked with ctx.
func Tallied(ctx context.Context, t *Tally) context.Context {
	return context.WithValue(ctx, tallyKey{}, t)
}

// UndoneIn returns ctx whose counts a shared store makes only where t was
// made: the give-back of t's count.
func UndoneIn(ctx context.Context, t Tally) context.Context {
	t.pinned = true
	return context.WithValue(ctx, tallyKey{}, &t)
}

// TallyOf is ctx's Tally (nil without one) and whether it is pinned
// (UndoneIn): its counts go only where it says.
func TallyOf(ctx context.Context) (t *Tally, pinned bool) {
	t, _ = ctx.Value(tallyKey{}).(*Tally)
	return t, t != nil && t.pinned
}

// ErrNotWhereCounted is a give-back the store could not make where its
// count was made (the shared store, unreachable now): it is dropped there,
// and the count ends with its window.
var ErrNotWhereCounted = errors.New("the store that made the count does not answer")
