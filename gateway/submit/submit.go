// Package submit sends stored applications to their flow's buyers, one
// after another until one accepts. It runs from the store, not from the
// request: workers claim due applications with a lease, record each attempt
// before its request leaves, and record the decision, so a slow buyer, a
// restart or a second replica changes nothing for the consumer.
package submit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// Buyer is one lead buyer (Casheddy, Lokyata, Astoria).
type Buyer interface {
	Name() string
	Submit(ctx context.Context, s *providers.Submission) (providers.Decision, error)
}

// Store is what the worker needs of the store.
type Store interface {
	Claim(ctx context.Context, owner string, lease time.Duration, limit int) ([]string, error)
	Release(ctx context.Context, id, owner string, next time.Time) error
	Get(ctx context.Context, id string) (store.Application, error)
	Sealed(ctx context.Context, id string) (store.Sealed, error)
	StartAttempt(ctx context.Context, id, owner, buyer, tier string, seq int) error
	FinishAttempt(ctx context.Context, id, buyer, tier string, a store.Attempt) error
	MarkInDoubt(ctx context.Context, id string) error
	Attempts(ctx context.Context, id string) ([]store.Attempt, error)
	Decide(ctx context.Context, id, owner string, d store.Decision) error
}

// Events receives what the worker does, for metrics and logs. Any may be nil.
type Events struct {
	Attempt func(buyer, outcome string, latency time.Duration, price float64)
	Decided func(flow, status string, revenue float64)
}

// Worker submits applications.
type Worker struct {
	store   Store
	buyers  map[string]Buyer
	flows   map[string][]string // flow name → buyer names in order
	owner   string
	lease   time.Duration
	slots   int
	log     *slog.Logger
	ev      Events
	wake    chan struct{}
	poll    time.Duration
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// Config configures a Worker.
type Config struct {
	Owner   string        // this replica's name in leases
	Lease   time.Duration // how long a claim lasts
	Workers int           // applications submitted at once
	Poll    time.Duration // how often the store is checked without a wake-up
}

// New returns a worker for the flows' buyers.
func New(s Store, buyers map[string]Buyer, flows map[string][]string, cfg Config, log *slog.Logger, ev Events) *Worker {
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	return &Worker{
		store: s, buyers: buyers, flows: flows, owner: cfg.Owner, lease: cfg.Lease,
		slots: cfg.Workers, log: log, ev: ev, poll: cfg.Poll,
		wake: make(chan struct{}, 1), waiters: map[string][]chan struct{}{},
	}
}

// Wake tells the worker new work is due (a new application).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run claims and submits applications until ctx ends, then waits for the
// submissions in flight: they run on a context that shutdown does not
// cancel, bounded by each buyer's own timeout, so no attempt is left
// half-recorded by a graceful stop.
func (w *Worker) Run(ctx context.Context) {
	sem := make(chan struct{}, w.slots)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	ticker := time.NewTicker(w.poll)
	defer ticker.Stop()
	work := context.WithoutCancel(ctx)
	for {
		free := w.slots - len(sem)
		if free > 0 {
			ids, err := w.store.Claim(ctx, w.owner, w.lease, free)
			if err != nil && ctx.Err() == nil {
				w.log.Error("claiming applications", "err", err)
			}
			for _, id := range ids {
				sem <- struct{}{}
				inflight.Add(1)
				go func() {
					defer func() { <-sem; inflight.Done() }()
					w.process(work, id)
				}()
			}
			if len(ids) == free {
				continue // there may be more due right now
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-ticker.C:
		}
	}
}

// process runs one claimed application's waterfall.
func (w *Worker) process(ctx context.Context, id string) {
	log := w.log.With("application", id)
	defer w.notify(id)
	app, err := w.store.Get(ctx, id)
	if err != nil {
		log.Error("reading claimed application", "err", err)
		return
	}
	rec, err := w.store.Sealed(ctx, id)
	if err != nil {
		log.Error("opening claimed application", "err", err)
		w.decide(ctx, app, store.Decision{Status: store.Declined, Reason: "personal data unreadable"})
		return
	}
	// Attempts a stopped process left unfinished may have reached their
	// buyer: they are never re-sent (README: "crash policy").
	if err := w.store.MarkInDoubt(ctx, id); err != nil {
		log.Error("marking interrupted attempts", "err", err)
		w.store.Release(ctx, id, w.owner, time.Now().Add(w.poll))
		return
	}
	done, err := w.store.Attempts(ctx, id)
	if err != nil {
		log.Error("reading attempts", "err", err)
		w.store.Release(ctx, id, w.owner, time.Now().Add(w.poll))
		return
	}
	tried := map[string]bool{}
	for _, a := range done {
		tried[a.Buyer] = true
		if a.Outcome == string(providers.Accepted) {
			// Accepted before a crash kept us from recording the decision.
			w.decide(ctx, app, store.Decision{Status: store.Accepted, RedirectURL: a.RedirectURL, Buyer: a.Buyer, Revenue: a.Price})
			return
		}
	}
	seq := len(done)
	for _, name := range w.flows[app.Flow] {
		if tried[name] {
			continue
		}
		if time.Now().After(app.DeadlineAt) {
			w.decide(ctx, app, store.Decision{Status: store.Declined, Reason: "flow deadline passed"})
			return
		}
		buyer, ok := w.buyers[name]
		if !ok {
			continue
		}
		seq++
		switch err := w.store.StartAttempt(ctx, id, w.owner, name, "", seq); {
		case errors.Is(err, store.ErrAttempted):
			continue
		case errors.Is(err, store.ErrLeaseLost):
			log.Warn("lease lost: another worker has the application")
			return
		case err != nil:
			log.Error("recording attempt start", "buyer", name, "err", err)
			w.store.Release(ctx, id, w.owner, time.Now().Add(w.poll))
			return
		}
		d, att := w.attempt(ctx, buyer, &rec.Submission, app.DeadlineAt)
		if err := w.store.FinishAttempt(ctx, id, name, "", att); err != nil {
			log.Error("recording attempt end", "buyer", name, "err", err)
		}
		switch d.Outcome {
		case providers.Accepted:
			w.decide(ctx, app, store.Decision{Status: store.Accepted, RedirectURL: d.RedirectURL, Buyer: name, Revenue: d.Price})
			return
		case providers.NeedsFix:
			w.decide(ctx, app, store.Decision{Status: store.NeedsFix, Buyer: name, Reason: att.Reason, FieldErrors: d.FieldErrors})
			return
		}
	}
	w.decide(ctx, app, store.Decision{Status: store.Declined, Reason: "no buyer accepted"})
}

// attempt posts to one buyer and says how it went, in words fit for the
// audit trail (no personal data: buyers' reasons and our errors only).
func (w *Worker) attempt(ctx context.Context, b Buyer, s *providers.Submission, deadline time.Time) (providers.Decision, store.Attempt) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	d, err := b.Submit(ctx, s)
	att := store.Attempt{Latency: time.Since(start), Outcome: string(d.Outcome), Reason: d.Reason, Price: d.Price, RedirectURL: d.RedirectURL}
	if err != nil {
		d, att.Outcome, att.Reason = providers.Decision{}, store.AttemptError, err.Error()
	}
	if w.ev.Attempt != nil {
		w.ev.Attempt(b.Name(), att.Outcome, att.Latency, att.Price)
	}
	w.log.Info("buyer attempt", "buyer", b.Name(), "outcome", att.Outcome, "latency_ms", att.Latency.Milliseconds(), "reason", att.Reason)
	return d, att
}

func (w *Worker) decide(ctx context.Context, app store.Application, d store.Decision) {
	if err := w.store.Decide(ctx, app.ID, w.owner, d); err != nil {
		w.log.Error("recording decision", "application", app.ID, "err", err)
		return
	}
	if w.ev.Decided != nil {
		w.ev.Decided(app.Flow, d.Status, d.Revenue)
	}
}

// Wait returns the application once it is decided or after max, whichever
// is first. It wakes on this replica's own decisions and polls the store
// for another replica's.
func (w *Worker) Wait(ctx context.Context, id string, max time.Duration) (store.Application, error) {
	ch := make(chan struct{})
	w.mu.Lock()
	w.waiters[id] = append(w.waiters[id], ch)
	w.mu.Unlock()
	defer w.forget(id, ch)
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		app, err := w.store.Get(ctx, id)
		if err != nil || app.Status != store.Pending {
			return app, err
		}
		select {
		case <-ctx.Done():
			return app, nil
		case <-ch:
			ch = nil // closed: read the store once more, then tick
		case <-tick.C:
		}
	}
}

func (w *Worker) notify(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.waiters[id] {
		close(ch)
	}
	delete(w.waiters, id)
}

func (w *Worker) forget(id string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.waiters[id]
	for i, c := range list {
		if c == ch {
			w.waiters[id] = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(w.waiters[id]) == 0 {
		delete(w.waiters, id)
	}
}

// Guarded is a Buyer behind its own circuit breaker and timeout.
type Guarded struct {
	Buyer
	cb      *gobreaker.CircuitBreaker[providers.Decision]
	timeout time.Duration
}

// Guard wraps b. A decline or a consumer-fixable rejection is a healthy
// answer and never counts against the breaker; only failures do.
func Guard(b Buyer, cb *gobreaker.CircuitBreaker[providers.Decision], timeout time.Duration) *Guarded {
	return &Guarded{Buyer: b, cb: cb, timeout: timeout}
}

// Submit implements Buyer.
func (g *Guarded) Submit(ctx context.Context, s *providers.Submission) (providers.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	d, err := providers.Guard(g.cb, func() (providers.Decision, error) { return g.Buyer.Submit(ctx, s) })
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return d, fmt.Errorf("%s: %w: timeout after %s", g.Name(), providers.ErrUnavailable, g.timeout)
	}
	return d, err
}

// State is the breaker's state, for /readyz and metrics.
func (g *Guarded) State() gobreaker.State { return g.cb.State() }
