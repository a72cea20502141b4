// Package jobs holds leadgate's background work besides submission: the
// Cashfin CRM mirror and the retention of personal data. Both run from the
// store, so a restart or a second replica resumes them where they were.
package jobs

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashfin"
)

// MirrorStore is what the CRM mirror needs of the store.
type MirrorStore interface {
	ClaimCRM(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.CRMJob, error)
	// KeepForMirror has the store keep what it stores for Submission.
	KeepForMirror()
	Submission(ctx context.Context, id string) (providers.Submission, error)
	FinishCRM(ctx context.Context, id, owner, ref string) error
	RetryCRM(ctx context.Context, id, owner string, next time.Time, reason string) error
	CRMBacklog(ctx context.Context, now time.Time) (int, error)
}

// CRM is the Cashfin client.
type CRM interface {
	Find(ctx context.Context, search, marker string) (string, error)
	Create(ctx context.Context, l cashfin.Lead) (string, error)
}

// Mirror copies every decided application to the CRM, once: after a first
// try it looks the lead up before creating it, so a retry after an answer
// that was lost (Cashfin created the lead, we never heard) does not create
// a second one.
// A failure is retried with a growing pause until it succeeds; the
// consumer never waits for it.
type Mirror struct {
	Store MirrorStore
	CRM   CRM
	Owner string
	Log   *slog.Logger
	// Poll is how often the store is checked (default 1s); RetryBase the
	// first pause after a failure (default 5s, doubling to 10 minutes).
	Poll, RetryBase time.Duration
	// Workers is how many applications are mirrored at once (default
	// 16): a CRM call takes tens of milliseconds across the internet, so
	// one at a time falls behind a few dozen applications a second. The
	// CRM client's breaker and each application's lease are as with one.
	Workers int
	// Done, when set, is told each application mirrored (for metrics).
	Done func(id string)
	// Backlog, when set, is told at each poll how many applications are
	// due and not mirrored yet (for metrics: growing means falling behind).
	Backlog func(n int)
}

// Run mirrors until ctx ends. A mirror in flight finishes first: its
// lease would otherwise hold the application back for a minute.
func (m *Mirror) Run(ctx context.Context) {
	m.Store.KeepForMirror()
	work := context.WithoutCancel(ctx)
	drive(ctx, cmp(m.Poll, time.Second), m.workers(), m.countBacklog, func(n int) []store.CRMJob {
		jobs, err := m.Store.ClaimCRM(ctx, m.Owner, time.Minute, n)
		if err != nil && ctx.Err() == nil {
			m.Log.Error("crm: claiming", "err", err)
		}
		return jobs
	}, func(j store.CRMJob) { m.mirror(work, j) })
}

func (m *Mirror) workers() int {
	if m.Workers <= 0 {
		return 16
	}
	return m.Workers
}

// drive runs do on up to workers items at once until ctx ends, then waits
// for the items in flight. It claims as many items as workers are free;
// while the queue has more, again as soon as a quarter of them are (a slow
// answer holds one worker, never a whole batch); once it is drained, at
// the next poll (a claim is a write: not one per item done). At each poll
// it also calls tick.
func drive[T any](ctx context.Context, poll time.Duration, workers int, tick func(context.Context), claim func(n int) []T, do func(T)) {
	busy := make(chan struct{}, workers)
	freed := make(chan struct{}, 1)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	t := time.NewTicker(poll)
	defer t.Stop()
	tick(ctx)
	for {
		more := true // every worker busy: the queue may well have more
		if free := workers - len(busy); free > 0 {
			items := claim(free)
			more = len(items) == free
			for _, it := range items {
				busy <- struct{}{}
				inflight.Go(func() {
					defer func() {
						<-busy
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
					do(it)
				})
			}
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tick(ctx)
				waiting = false
			case <-freed:
				waiting = !more || workers-len(busy) < max(1, workers/4)
			}
		}
	}
}

func (m *Mirror) countBacklog(ctx context.Context) {
	if m.Backlog == nil {
		return
	}
	if n, err := m.Store.CRMBacklog(ctx, time.Now()); err == nil {
		m.Backlog(n)
	}
}

func (m *Mirror) mirror(ctx context.Context, j store.CRMJob) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id := j.ID
	sub, err := m.Store.Submission(ctx, id)
	if err != nil {
		m.retry(ctx, id, j.Tries, err, nil)
		return
	}
	lead := cashfin.ToLead(&sub, j.Status)
	search := lead.Email
	if search == "" {
		search = lead.Phone
	}
	ref := ""
	// Looked up first only when an earlier claim may have created it: a
	// first claim cannot follow a create (one CRM call of two saved on
	// nearly every lead).
	if search != "" && !j.First {
		if ref, err = m.CRM.Find(ctx, search, cashfin.Marker(id)); err != nil {
			m.retry(ctx, id, j.Tries, err, &sub.Application)
			return
		}
	}
	if ref == "" {
		if ref, err = m.CRM.Create(ctx, lead); err != nil {
			m.retry(ctx, id, j.Tries, err, &sub.Application)
			return
		}
	}
	if err := m.Store.FinishCRM(ctx, id, m.Owner, ref); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		m.Log.Error("crm: recording the lead", "application", id, "err", err)
		return
	}
	m.Log.Info("crm: lead mirrored", "application", id, "crm_lead", ref, "status", lead.Status)
	if m.Done != nil {
		m.Done(id)
	}
}

// retry records a failed try and when to try again. The cause is
// scrubbed of app's personal data (nil: of what looks like any).
func (m *Mirror) retry(ctx context.Context, id string, tries int, cause error, app *providers.Application) {
	base := m.RetryBase
	if base == 0 {
		base = 5 * time.Second
	}
	d := min(base<<min(tries, 10), 10*time.Minute)
	d = d/2 + rand.N(d) // jitter: Cashfin coming back is not stormed
	// Cashfin's words about a lead may quote it, as a buyer's may: they
	// are logged, stored and shown on the admin's page without it.
	why := providers.ScrubReason(cause.Error(), app)
	m.Log.Warn("crm: mirror failed, retrying", "application", id, "retry_in_ms", d.Milliseconds(), "err", why)
	if err := m.Store.RetryCRM(ctx, id, m.Owner, time.Now().Add(d), why); err != nil {
		m.Log.Error("crm: recording a failure", "application", id, "err", err)
	}
}

// EraseStore is what retention needs of the store.
type EraseStore interface {
	Erase(ctx context.Context, cutoff time.Time) (int, error)
}

// DraftEraser is what retention needs to sweep drafts.
type DraftEraser interface {
	EraseDrafts(ctx context.Context, cutoff time.Time) (int, error)
}

// Retention erases the personal data of applications decided longer ago
// than Keep, and the drafts last saved longer ago than DraftTTL (or Keep,
// when shorter), every Every (default an hour) and once at start.
type Retention struct {
	Store EraseStore
	Keep  time.Duration
	// Drafts, when set, is swept of drafts past DraftTTL.
	Drafts   DraftEraser
	DraftTTL time.Duration
	Every    time.Duration
	Log      *slog.Logger
}

// Run erases until ctx ends.
func (r *Retention) Run(ctx context.Context) {
	every := r.Every
	if every == 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := r.Store.Erase(ctx, time.Now().Add(-r.Keep))
		switch {
		case err != nil && ctx.Err() == nil:
			r.Log.Error("retention: erasing personal data", "err", err)
		case n > 0:
			r.Log.Info("retention: personal data erased", "applications", n, "older_than", r.Keep.String())
		}
		r.sweepDrafts(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepDrafts deletes the drafts nobody came back to within their TTL.
func (r *Retention) sweepDrafts(ctx context.Context) {
	if r.Drafts == nil {
		return
	}
	keep := min(r.DraftTTL, r.Keep)
	n, err := r.Drafts.EraseDrafts(ctx, time.Now().Add(-keep))
	switch {
	case err != nil && ctx.Err() == nil:
		r.Log.Error("retention: erasing drafts", "err", err)
	case n > 0:
		r.Log.Info("retention: drafts erased", "drafts", n, "older_than", keep.String())
	}
}

// VisitStore is what the visit counter writes to.
type VisitStore interface {
	AddVisits(ctx context.Context, counts map[store.FunnelKey]store.VisitCounts) error
	// AddSteps adds counts of the step funnel.
	AddSteps(ctx context.Context, counts map[store.StepKey]int64) error
	// Campaigns lists the (source, campaign) pairs with visits on day.
	Campaigns(ctx context.Context, day string) ([][2]string, error)
}

// Other is the source and campaign of visits past the day's bound of
// distinct campaigns.
const Other = "(other)"

// Visits counts landing visits in memory and adds them to the store every
// Every (default 10s) and when it stops, so the landing page never waits
// on a database write. What a failed flush could not write is kept for
// the next one.
//
// MaxCampaigns bounds the distinct (source, campaign) pairs of a UTC day
// (0: no bound): past it, visits of a new pair count under (other), so
// random utm_campaign values cannot grow the funnel without bound. Half
// the places are kept for pairs whose visits came with a lead (a Cashcat
// token, paid for): anyone can make up visits without one, and a script
// filling every place with them pushed the real campaigns of the day
// into (other). The
// pairs already in the store (other replicas') are read at start and at
// every flush, so replicas overshoot the bound by at most what they admit
// between two flushes.
type Visits struct {
	Store        VisitStore
	Every        time.Duration
	Log          *slog.Logger
	MaxCampaigns int
	mu           sync.Mutex
	n            map[store.FunnelKey]store.VisitCounts
	steps        map[store.StepKey]int64
	day          string
	pairs        map[[2]string]bool // admitted on day
}

// Visit counts one visit of a session.
func (v *Visits) Visit(flow string, a providers.Attribution, prefilled bool) {
	c := store.VisitCounts{Visits: 1}
	if prefilled {
		c.Prefilled = 1
	}
	v.count(flow, a, c, prefilled)
}

// Spend counts the paid Cashcat calls of a visit (or of the prefill API).
func (v *Visits) Spend(flow string, a providers.Attribution, calls int) {
	v.count(flow, a, store.VisitCounts{PaidCalls: int64(calls)}, calls > 0)
}

// count adds c to the day's line of flow, first touch and variant; paid
// says the visit came with a lead, or cost a Cashcat call.
func (v *Visits) count(flow string, a providers.Attribution, c store.VisitCounts, paid bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.addLocked(v.keyLocked(flow, a, paid), c)
}

// keyLocked is the day's line of flow, first touch and variant, under
// (other) past the day's bound of campaigns (half of it for a visit that
// is not paid).
func (v *Visits) keyLocked(flow string, a providers.Attribution, paid bool) store.FunnelKey {
	day := time.Now().UTC().Format("2006-01-02")
	source, campaign := a.Source, a.Campaign
	if v.MaxCampaigns > 0 {
		v.dayLocked(day)
		pair := [2]string{source, campaign}
		switch {
		case v.pairs[pair]:
		case len(v.pairs) >= v.MaxCampaigns, !paid && len(v.pairs) >= (v.MaxCampaigns+1)/2:
			source, campaign = Other, Other
		default:
			v.pairs[pair] = true
		}
	}
	return store.FunnelKey{Day: day, Flow: flow, Source: source, Campaign: campaign, Variant: a.Variant}
}

// dayLocked starts a new day's set of pairs when the day changed.
func (v *Visits) dayLocked(day string) {
	if v.day != day || v.pairs == nil {
		v.day, v.pairs = day, map[[2]string]bool{}
	}
}

func (v *Visits) addLocked(k store.FunnelKey, c store.VisitCounts) {
	if v.n == nil {
		v.n = map[store.FunnelKey]store.VisitCounts{}
	}
	cur := v.n[k]
	cur.Visits += c.Visits
	cur.Prefilled += c.Prefilled
	cur.PaidCalls += c.PaidCalls
	v.n[k] = cur
}

// Flush writes the counts so far, then reads back the day's pairs.
func (v *Visits) Flush(ctx context.Context) error {
	v.mu.Lock()
	batch, steps := v.n, v.steps
	v.n, v.steps = nil, nil
	v.mu.Unlock()
	if len(batch) > 0 {
		if err := v.Store.AddVisits(ctx, batch); err != nil {
			v.mu.Lock()
			for k, c := range batch { // kept for the next flush
				v.addLocked(k, c)
			}
			for k, n := range steps {
				v.stepLocked(k, n)
			}
			v.mu.Unlock()
			return err
		}
	}
	if len(steps) > 0 {
		if err := v.Store.AddSteps(ctx, steps); err != nil {
			v.mu.Lock()
			for k, n := range steps {
				v.stepLocked(k, n)
			}
			v.mu.Unlock()
			return err
		}
	}
	return v.loadPairs(ctx)
}

// loadPairs adds the day's pairs in the store to those admitted here.
func (v *Visits) loadPairs(ctx context.Context) error {
	if v.MaxCampaigns <= 0 {
		return nil
	}
	day := time.Now().UTC().Format("2006-01-02")
	pairs, err := v.Store.Campaigns(ctx, day)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.dayLocked(day)
	for _, p := range pairs {
		if p != [2]string{Other, Other} {
			v.pairs[p] = true
		}
	}
	return nil
}

// Run flushes every Every until ctx ends, then once more.
func (v *Visits) Run(ctx context.Context) {
	every := v.Every
	if every == 0 {
		every = 10 * time.Second
	}
	if err := v.loadPairs(ctx); err != nil {
		v.Log.Warn("funnel: reading today's campaigns", "err", err)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := v.Flush(fctx); err != nil {
				v.Log.Error("funnel: flushing visits at stop", "err", err)
			}
			return
		case <-t.C:
			if err := v.Flush(ctx); err != nil {
				v.Log.Warn("funnel: flushing visits, kept for the next try", "err", err)
			}
		}
	}
}
