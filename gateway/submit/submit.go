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
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// Buyer is one lead buyer (Casheddy, Lokyata, Astoria). tier is one of
// the buyer's Tiers, or "" for a buyer without tiers.
type Buyer interface {
	Name() string
	Submit(ctx context.Context, s *providers.Submission, tier string) (providers.Decision, error)
}

// Audited is a buyer that says which values of its exchanges the audit
// record keeps; of any other buyer, every value is masked.
type Audited interface {
	Audit() *providers.Audit
}

// Reusable is a buyer whose document says the redirect URL of an accepted
// lead stays valid, so that a consumer who applies again within the
// duplicate window can be sent back to it. None of Casheddy, Lokyata and
// Astoria says so: their consumers' second applications skip them.
type Reusable interface {
	RedirectStaysValid() bool
}

// Tiered is a buyer a lead rides down, highest payout tier first (Astoria).
type Tiered interface {
	Tiers() []string
}

// Consenting is a buyer whose document requires consents (canonical
// names, consent_marketing…): without every one given, the buyer is
// skipped with ReasonNoConsent and the waterfall goes on (Casheddy's
// agreements[subscription] "should be 1").
type Consenting interface {
	RequiredConsents() []string
}

// ReasonNoConsent is the audit trail's reason for a buyer skipped because
// the consumer did not give a consent its document requires.
const ReasonNoConsent = "consent not given"

// ReasonNoBuyerConsented is the reason of an application that no buyer
// of its flow was asked for, every one requiring a consent the consumer
// did not give (and none of them capped or failing). It needs fixing: its
// verdict's FieldErrors name those consents (each with ReasonNoConsent),
// and the consumer may tick them and send again.
const ReasonNoBuyerConsented = "no buyer asked: consent not given"

// unconsented lists the consents b requires that s does not carry given:
// the evidence stored with the application is the only word on it.
func unconsented(b Buyer, s *providers.Submission) []string {
	c, ok := b.(Consenting)
	if !ok {
		return nil
	}
	var missing []string
	for _, name := range c.RequiredConsents() {
		given := false
		for _, ev := range s.Consents {
			given = given || (ev.Field == name && ev.Given)
		}
		if !given {
			missing = append(missing, name)
		}
	}
	return missing
}

// Store is what the worker needs of the store.
type Store interface {
	Create(ctx context.Context, n store.New) (providers.Record, bool, error)
	Claim(ctx context.Context, owner string, lease time.Duration, limit int) ([]string, error)
	Release(ctx context.Context, id, owner string, next time.Time) error
	Renew(ctx context.Context, id, owner string, lease time.Duration) error
	Get(ctx context.Context, id string) (providers.Record, error)
	Sealed(ctx context.Context, id string) (store.Sealed, error)
	StartAttempt(ctx context.Context, id, owner, buyer, tier string, seq int) error
	StartAttemptOnce(ctx context.Context, id, owner, buyer, tier string, seq int, window time.Duration) error
	RetryAttempt(ctx context.Context, id, owner, buyer, tier string) error
	FinishAttempt(ctx context.Context, id, buyer, tier string, a providers.Attempt) error
	MarkInDoubt(ctx context.Context, id string) error
	Attempts(ctx context.Context, id string) ([]providers.Attempt, error)
	Decide(ctx context.Context, id, owner string, d providers.Verdict) error
	FinishAndDecide(ctx context.Context, id, owner string, f store.Finished, d providers.Verdict) error
	CountAccepted(ctx context.Context, buyer string, since time.Time) (int, error)
}

// Events receives what the worker does, for metrics and logs. Any may be nil.
type Events struct {
	Attempt func(buyer, tier string, outcome providers.Outcome, latency time.Duration, price float64)
	Decided func(flow string, status providers.Status, revenue float64)
}

// Worker submits applications.
type Worker struct {
	store  Store
	buyers map[string]Buyer
	flows  map[string][]string // flow name → buyer names in order
	caps   map[string]providers.CapsConfig
	// capZones are the caps' time zones, loaded once (UTC when unset).
	capZones map[string]*time.Location
	crm      bool
	// money: duplicate windows by flow, reusable redirects, postbacks
	dedupe    map[string]time.Duration
	postbacks func(event, flow string, a providers.Attribution) []string
	// retries of buyers that could not be reached
	retryBase time.Duration
	maxTries  int
	owner     string
	lease     time.Duration
	slots     int
	log       *slog.Logger
	ev        Events
	wake      chan struct{}
	poll      time.Duration
	// sem holds a place for each application being submitted (at most
	// slots), claimed or taken in hand by Create; inflight counts them
	// for a graceful stop.
	sem      chan struct{}
	inflight sync.WaitGroup
	mu       sync.Mutex
	waiters  map[string][]chan struct{}
	// running says Run is claiming: only then does Create take
	// applications in hand. handed are those taken in hand and not yet
	// awaited (Wait takes them out).
	running bool
	handed  map[string]*handoff
	// forgetAfter is forgetAfter but in tests.
	forgetAfter time.Duration
	// backlog says whether applications stored due may be waiting for
	// a slot. While they may, a freed slot wakes Run to claim the oldest,
	// and Create stores new applications due behind them instead of
	// taking the slot in hand.
	backlog backlog
}

// A handoff is an application Create took in hand: its round runs from
// memory, and its request learns the decision from memory too.
type handoff struct {
	pending providers.Record // as created
	done    chan struct{}    // closed when the round has ended
	decided providers.Record // set before done is closed, when ok
	ok      bool
	// forget, under Worker.mu, is the timer that forgets a handoff whose
	// round ended before its request came for it; Wait stops it.
	forget *time.Timer
}

// forgetAfter is how long a handoff whose request never came for it is
// kept (a request waits submission.wait, seconds, before it asks).
const forgetAfter = time.Minute

// Config configures a Worker.
type Config struct {
	Owner   string        // this replica's name in leases
	Lease   time.Duration // how long a claim lasts
	Workers int           // applications submitted at once
	Poll    time.Duration // how often the store is checked without a wake-up
	// Caps are the buyers' optional hourly and daily caps, by buyer name.
	Caps map[string]providers.CapsConfig
	// RetryBase is the first pause before posting again to a buyer that
	// could not be reached (default 1s); MaxTries bounds the posts of one
	// buyer and tier (default 4).
	RetryBase time.Duration
	MaxTries  int
	// CRM: decided applications are queued for the CRM mirror.
	CRM bool
	// Dedupe is each flow's duplicate window (none when absent): a buyer
	// is posted a consumer once within it.
	Dedupe map[string]time.Duration
	// Postbacks names the postbacks to send on an event of an
	// application (nil: none).
	Postbacks func(event, flow string, a providers.Attribution) []string
}

// New returns a worker for the flows' buyers.
func New(s Store, buyers map[string]Buyer, flows map[string][]string, cfg Config, log *slog.Logger, ev Events) *Worker {
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.MaxTries == 0 {
		cfg.MaxTries = 4
	}
	zones := map[string]*time.Location{}
	for name, c := range cfg.Caps {
		zones[name] = time.UTC
		if l, err := time.LoadLocation(c.Timezone); err == nil && c.Timezone != "" {
			zones[name] = l // the config has checked the name
		}
	}
	return &Worker{
		store: s, buyers: buyers, flows: flows, caps: cfg.Caps, capZones: zones, crm: cfg.CRM, dedupe: cfg.Dedupe, postbacks: cfg.Postbacks, retryBase: cfg.RetryBase, maxTries: cfg.MaxTries,
		owner: cfg.Owner, lease: cfg.Lease,
		slots: cfg.Workers, log: log, ev: ev, poll: cfg.Poll, forgetAfter: forgetAfter,
		wake: make(chan struct{}, 1), waiters: map[string][]chan struct{}{},
		sem: make(chan struct{}, cfg.Workers), handed: map[string]*handoff{},
	}
}

// Create stores a new application and, when the worker is running and
// has a free slot, takes it in hand at once: it is stored already leased
// to this worker, and its round starts from what the request holds, with
// no claim and no read back of what was just written (a new application
// has no attempts). Otherwise it is stored due, for the next claim. The
// request then learns the decision from Wait.
func (w *Worker) Create(ctx context.Context, n store.New) (providers.Record, bool, error) {
	if !w.reserve() {
		rec, created, err := w.store.Create(ctx, n)
		if created {
			w.backlog.stored()
			w.Wake()
		}
		return rec, created, err
	}
	n.Owner, n.Lease = w.owner, w.lease
	rec, created, err := w.store.Create(ctx, n)
	if err != nil || !created {
		w.unreserve()
		return rec, created, err
	}
	h := &handoff{pending: rec, done: make(chan struct{})}
	w.mu.Lock()
	w.handed[rec.ID] = h
	w.mu.Unlock()
	sub := n.Submission
	go func() {
		w.processNew(h, &sub)
		w.forgetLater(rec.ID, h)
		w.roundDone(rec.ID, h.done)
	}()
	return rec, true, nil
}

// forgetLater forgets h after forgetAfter if its request has not taken it
// out with Wait yet (it has no reason not to, but may have died), and
// Wait stops the timer when the request comes after all. A timer armed
// for every application held each one's handoff and records for a
// minute: 1.7-1.9 KB an application (TestAwaitedApplicationsAreNotKept),
// 34.5 MB of the load test server's 55 MB live heap 20 s into its apply
// journey, all of it marked by the garbage collector on every cycle.
func (w *Worker) forgetLater(id string, h *handoff) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handed[id] == h {
		h.forget = time.AfterFunc(w.forgetAfter, func() { w.forgetHandoff(id, h) })
	}
}

func (w *Worker) forgetHandoff(id string, h *handoff) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.handed[id] == h {
		delete(w.handed, id)
	}
}

// reserve takes a submission slot for an application Create takes in
// hand, if the worker is running, one is free, and no application stored
// due is waiting for one. Those go first: a slot freed while new
// applications kept arriving went to the next of them, before Run could
// claim the ones stored due, and those waited until arrivals paused
// (TestApplicationsStoredDueGoFirst: over 10 s).
func (w *Worker) reserve() bool {
	if w.backlog.waiting() {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running && w.takeSlot()
}

// roundDone ends the round of id: its slot is freed first, and only then
// are its request (done, for one taken in hand) and those watching it
// told. A request answered before the slot was free sent the consumer's
// next application into a full worker: stored due, and every arrival
// behind it too until Run had claimed it (19 % of the applications of
// TestAwaitedApplicationsAreNotKept's four at once, in review).
func (w *Worker) roundDone(id string, done chan struct{}) {
	w.unreserve()
	if done != nil {
		close(done)
	}
	w.notify(id)
}

func (w *Worker) unreserve() {
	w.release()
	if w.backlog.waiting() {
		w.Wake() // a slot for what was stored while none was free
	}
}

// takeSlot takes a free slot for a claimed application, without waiting.
func (w *Worker) takeSlot() bool {
	select {
	case w.sem <- struct{}{}:
		w.inflight.Add(1)
		return true
	default:
		return false
	}
}

// release gives a slot back.
func (w *Worker) release() {
	<-w.sem
	w.inflight.Done()
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
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false // no application is taken in hand after this
		w.mu.Unlock()
		w.inflight.Wait()
	}()
	ticker := time.NewTicker(w.poll)
	defer ticker.Stop()
	work := context.WithoutCancel(ctx)
	for {
		if free := w.slots - len(w.sem); free > 0 {
			seen := w.backlog.seen()
			ids, err := w.store.Claim(ctx, w.owner, w.lease, free)
			if err != nil && ctx.Err() == nil {
				w.log.Error("claiming applications", "err", err)
			}
			for _, id := range ids {
				if !w.takeSlot() {
					// Create took the slot meanwhile: given back at once,
					// never left waiting with its lease running out. Counted
					// first, so that a slot freed during the write wakes Run
					// for it.
					w.backlog.stored()
					if err := w.store.Release(work, id, w.owner, time.Now()); err != nil {
						w.log.Error("giving back a claimed application", "application", id, "err", err)
					}
					continue
				}
				go func() {
					w.process(work, id)
					w.roundDone(id, nil)
				}()
			}
			if len(ids) == free {
				w.backlog.stored() // there may be more due: the next freed slot looks
				continue
			}
			if err == nil {
				w.backlog.drained(seen)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-ticker.C:
			if w.slots-len(w.sem) == 0 {
				w.claimWithNextSlot(ctx, work)
			}
		}
	}
}

// claimWithNextSlot waits for the next slot freed and claims one
// application with it. At a poll with every slot busy, something may have
// come due that no one counted (a retry given back, a lease that ran out,
// another replica's application), and new arrivals would take each freed
// slot in hand before Run saw it free: stored straight into the store
// beside two consumers applying again as soon as answered, one waited
// over 30 s. A send blocked on the full semaphore is given the next slot
// freed before any later Create's non-blocking one, so it waits one
// round at most. Counting it in the backlog instead sent every arrival to
// the store while a claim was under way, and under load that never
// stopped: 20 % fewer applications a second.
func (w *Worker) claimWithNextSlot(ctx, work context.Context) {
	select {
	case w.sem <- struct{}{}:
		w.inflight.Add(1)
	case <-ctx.Done():
		return
	}
	ids, err := w.store.Claim(ctx, w.owner, w.lease, 1)
	if err != nil && ctx.Err() == nil {
		w.log.Error("claiming applications", "err", err)
	}
	if len(ids) == 0 {
		w.unreserve()
		return
	}
	go func() {
		w.process(work, ids[0])
		w.roundDone(ids[0], nil)
	}()
}

// backoff is the pause before the n-th retry round: exponential from
// RetryBase, capped at a minute, with full jitter in [½, 1½) so that
// applications failed together do not come back together.
func (w *Worker) backoff(n int) time.Duration {
	d := w.retryBase << (n - 1)
	d = min(d, time.Minute)
	return d/2 + rand.N(d)
}

// capped says why buyer is at one of its caps, or "" when it is not (or
// when the count cannot be read: a store hiccup must not stop sales).
func (w *Worker) capped(ctx context.Context, buyer string) string {
	c, ok := w.caps[buyer]
	if !ok || (c.Hourly <= 0 && c.Daily <= 0) {
		return ""
	}
	loc := w.capZones[buyer]
	now := time.Now().In(loc)
	for _, window := range []struct {
		name  string
		limit int
		since time.Time
	}{
		// In the zone's own clock: Truncate would count hours from UTC,
		// wrong by half an hour in zones such as India's.
		{"hourly", c.Hourly, time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), 0, 0, 0, loc)},
		{"daily", c.Daily, time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)},
	} {
		if window.limit <= 0 {
			continue
		}
		n, err := w.store.CountAccepted(ctx, buyer, window.since)
		if err != nil {
			w.log.Error("counting a buyer's leads for its cap", "buyer", buyer, "err", err)
			return ""
		}
		if n >= window.limit {
			return fmt.Sprintf("%s cap of %d reached", window.name, window.limit)
		}
	}
	return ""
}

// skip records that a buyer was passed over without a post, so the audit
// trail and the operator see why.
func (w *Worker) skip(ctx context.Context, id, buyer string, seq int, reason string) {
	if err := w.store.StartAttempt(ctx, id, w.owner, buyer, "", seq); err != nil {
		return
	}
	if err := w.store.FinishAttempt(ctx, id, buyer, "", providers.Attempt{Outcome: providers.Skipped, Reason: reason}); err != nil {
		w.log.Error("recording a skipped buyer", "buyer", buyer, "err", err)
	}
	if w.ev.Attempt != nil {
		w.ev.Attempt(buyer, "", providers.Skipped, 0, 0)
	}
	w.log.Info("buyer skipped", "application", id, "buyer", buyer, "reason", reason)
}

// attempt posts to one buyer and says how it went, in words fit for the
// audit trail (no personal data: buyers' reasons and our errors only).
func (w *Worker) attempt(ctx context.Context, b Buyer, tier string, s *providers.Submission, deadline time.Time) (providers.Decision, providers.Attempt) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ctx, rec := providers.WithRecording(ctx)
	start := time.Now()
	d, err := b.Submit(ctx, s, tier)
	latency := time.Since(start)
	if err == nil && providers.PriceProblem(d.Price) != "" {
		// The buyer has still decided (an acceptance is its purchase):
		// only its price is not believed. Summed into the revenue, 1e308
		// made +Inf of every total and chart it entered, and a NaN could
		// not be stored at all, leaving the application undecided.
		w.log.Warn("buyer price not credible, counted as none", "application", s.ID, "buyer", b.Name(), "price", fmt.Sprint(d.Price))
		d.Reason = strings.TrimSpace(fmt.Sprintf("price %s not credible, counted as 0; %s", providers.Cut(fmt.Sprint(d.Price), 24), d.Reason))
		d.Price = 0
	}
	// The buyer's words, or its error's: either may echo what was posted.
	d.Reason = providers.ScrubReason(d.Reason, &s.Application)
	att := providers.Attempt{Latency: latency, Outcome: d.Outcome, Reason: d.Reason, Price: d.Price, RedirectURL: d.RedirectURL, Final: d.Final}
	if err != nil {
		d, att.Outcome, att.Reason = providers.Decision{}, providers.Failed, providers.ScrubReason(err.Error(), &s.Application)
		att.Retry = errors.Is(err, providers.ErrNotDelivered)
	}
	var audit *providers.Audit
	if a, ok := b.(Audited); ok {
		audit = a.Audit()
	}
	att.Exchange = audit.Mask(rec, &s.Application)
	if w.ev.Attempt != nil {
		w.ev.Attempt(b.Name(), tier, att.Outcome, att.Latency, att.Price)
	}
	w.log.Info("buyer attempt", "application", s.ID, "buyer", b.Name(), "tier", tier, "outcome", att.Outcome,
		"latency_ms", att.Latency.Milliseconds(), "price", att.Price, "reason", att.Reason)
	return d, att
}

// Wait returns the application once it is decided or after max, whichever
// is first. An application Create took in hand is answered from memory;
// otherwise Wait wakes on this replica's own decisions and polls the store
// for another replica's.
func (w *Worker) Wait(ctx context.Context, id string, max time.Duration) (providers.Record, error) {
	w.mu.Lock()
	h := w.handed[id]
	delete(w.handed, id)
	if h != nil && h.forget != nil {
		h.forget.Stop()
	}
	w.mu.Unlock()
	if h == nil {
		return w.watch(ctx, id, max)
	}
	deadline := time.Now().Add(max)
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-h.done:
		if h.ok {
			return h.decided, nil
		}
		// Given back for a retry, or its lease lost: the store says how
		// it stands now.
		return w.watch(ctx, id, time.Until(deadline))
	case <-t.C:
	case <-ctx.Done():
	}
	return h.pending, nil
}

// watch is Wait for an application whose round runs elsewhere: another
// worker here, or another replica.
func (w *Worker) watch(ctx context.Context, id string, max time.Duration) (providers.Record, error) {
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
		if err != nil || app.Status != providers.StatusPending {
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

// RedirectStaysValid passes on whether the buyer's redirect stays valid.
func (g *Guarded) RedirectStaysValid() bool {
	r, ok := g.Buyer.(Reusable)
	return ok && r.RedirectStaysValid()
}

// RequiredConsents passes on the consents the buyer requires.
func (g *Guarded) RequiredConsents() []string {
	if c, ok := g.Buyer.(Consenting); ok {
		return c.RequiredConsents()
	}
	return nil
}

// Audit passes on what the buyer's audit record keeps.
func (g *Guarded) Audit() *providers.Audit {
	if a, ok := g.Buyer.(Audited); ok {
		return a.Audit()
	}
	return nil
}

// Tiers passes on the tiers of a tiered buyer.
func (g *Guarded) Tiers() []string {
	if t, ok := g.Buyer.(Tiered); ok {
		return t.Tiers()
	}
	return nil
}

// Submit implements Buyer.
func (g *Guarded) Submit(ctx context.Context, s *providers.Submission, tier string) (providers.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	d, err := providers.Guard(g.cb, func() (providers.Decision, error) { return g.Buyer.Submit(ctx, s, tier) })
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return d, fmt.Errorf("%s: %w: timeout after %s", g.Name(), providers.ErrUnavailable, g.timeout)
	}
	return d, err
}

// State is the breaker's state, for /readyz and metrics.
func (g *Guarded) State() gobreaker.State { return g.cb.State() }

// backlog tells whether applications stored due may be waiting for a
// slot of this worker. Whatever stores one (Create without a slot, Run
// giving back a claim) counts it; Run, when a claim comes back with fewer
// than it asked for, marks the count it read before the claim as drained.
// One stored while the claim ran leaves the count past that mark, so it
// is never taken for drained: a flag cleared after the claim could wipe
// out the mark of an application committed just after the claim's read,
// which then waited behind every later arrival again.
type backlog struct{ count, done atomic.Uint64 }

func (b *backlog) stored()             { b.count.Add(1) }
func (b *backlog) seen() uint64        { return b.count.Load() }
func (b *backlog) drained(upTo uint64) { b.done.Store(upTo) } // Run alone
func (b *backlog) waiting() bool       { return b.count.Load() != b.done.Load() }
