package submit

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// process gives one claimed application a round: it keeps the lease while
// it works, reads what is left from the attempts, rides the flow's buyers,
// and then decides the application or gives it back, in one place.
// Its caller tells those waiting for the decision (notify), once it has
// freed the slot (roundDone).
func (w *Worker) process(ctx context.Context, id string) {
	log := w.log.With("application", id)
	stop := w.keepLease(ctx, id, log)
	defer stop()
	app, err := w.store.Get(ctx, id)
	if err != nil {
		log.Error("reading claimed application", "err", err)
		return // the lease runs out, and a later round tries again
	}
	w.settle(ctx, log, app, w.round(ctx, log, app))
}

// processNew gives an application Create took in hand its first round,
// from memory: it was stored leased to this worker a moment ago, so it has
// no attempts, and its request waits on h for the decision (h.done, closed
// by its caller once the slot is free: roundDone).
func (w *Worker) processNew(h *handoff, sub *providers.Submission) {
	ctx, app := context.Background(), h.pending
	log := w.log.With("application", app.ID)
	stop := w.keepLease(ctx, app.ID, log)
	defer stop()
	e := w.waterfall(ctx, &job{app: app, sub: sub, plan: newPlan(nil, w.maxTries), log: log})
	h.decided, h.ok = w.settle(ctx, log, app, e)
}

// keepLease renews the lease on id in the background until stop is
// called; stop returns once the renewals have ended.
//
// The lease is renewed every third of it, so one failed renewal (a busy
// or briefly unreachable database) leaves time for more: after a failure
// the next try comes sooner, and only a lease actually lost ends the
// renewals.
func (w *Worker) keepLease(ctx context.Context, id string, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		every, again := w.lease/3, w.lease/12
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := w.store.Renew(ctx, id, w.owner, w.lease)
			switch {
			case ctx.Err() != nil:
				return // stopped while renewing: the round is over
			case errors.Is(err, store.ErrLeaseLost):
				return // decided, or taken over: StartAttempt will see it
			case err != nil:
				log.Warn("renewing lease", "err", err)
				t.Reset(again)
			default:
				t.Reset(every)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// An end is how a round leaves a claimed application: decided (verdict
// set), or given back to be claimed again at a time (at set). The zero
// end leaves it as it is: another worker has taken it over.
type end struct {
	verdict *providers.Verdict
	at      time.Time
	// last is the attempt that ended the round, recorded with the
	// decision (nil: recorded already, or none).
	last *store.Finished
}

func decided(v providers.Verdict) end { return end{verdict: &v} }

// soon gives the application back for the next poll: the store failed
// this round, and the lease need not run out before the next one.
func (w *Worker) soon() end { return end{at: time.Now().Add(w.poll)} }

// settle is where every round ends: it records the decision, or gives
// the application back. It returns the decided application when it
// recorded a decision.
func (w *Worker) settle(ctx context.Context, log *slog.Logger, app providers.Record, e end) (providers.Record, bool) {
	switch {
	case e.verdict != nil:
		v := *e.verdict
		v.CRM = w.crm
		if w.postbacks != nil && v.Status != providers.StatusNeedsFix {
			v.Postbacks = w.postbacks(string(v.Status), app.Flow, app.Attribution)
		}
		var last store.Finished
		if e.last != nil {
			last = *e.last
		}
		if err := w.store.FinishAndDecide(ctx, app.ID, w.owner, last, v); err != nil {
			log.Error("recording decision", "err", err)
			if e.last != nil {
				// Whoever decides now, the audit trail keeps how the post went.
				if err := w.store.FinishAttempt(ctx, app.ID, last.Buyer, last.Tier, last.Attempt); err != nil {
					log.Error("recording attempt end", "buyer", last.Buyer, "err", err)
				}
			}
			return providers.Record{}, false
		}
		if w.ev.Decided != nil {
			w.ev.Decided(app.Flow, v.Status, v.Revenue)
		}
		return decidedRecord(app, v), true
	case !e.at.IsZero():
		if err := w.store.Release(ctx, app.ID, w.owner, e.at); err != nil {
			log.Error("scheduling a retry", "err", err)
		}
	}
	return providers.Record{}, false
}

// decidedRecord is app as its decision v leaves it in the store.
func decidedRecord(app providers.Record, v providers.Verdict) providers.Record {
	app.Status, app.RedirectURL, app.Buyer, app.Revenue = v.Status, v.RedirectURL, v.Buyer, v.Revenue
	app.Reason, app.DecidedAt = providers.Cut(v.Reason, 500), time.UnixMilli(time.Now().UnixMilli()).UTC()
	if v.CRM {
		app.CRMStatus = providers.CRMPending
	}
	return app
}

// A job is a claimed application as a round works on it.
type job struct {
	app  providers.Record
	sub  *providers.Submission
	plan *plan
	log  *slog.Logger
}

// round reads what is left of the application's waterfall and rides it.
func (w *Worker) round(ctx context.Context, log *slog.Logger, app providers.Record) end {
	rec, err := w.store.Sealed(ctx, app.ID)
	if err != nil {
		log.Error("opening claimed application", "err", err)
		return decided(providers.Verdict{Status: providers.StatusDeclined, Reason: "personal data unreadable"})
	}
	done, err := w.interrupted(ctx, app.ID)
	if err != nil {
		log.Error("reading attempts", "err", err)
		return w.soon()
	}
	p := newPlan(done, w.maxTries)
	if a := p.accepted; a != nil {
		return decided(providers.Verdict{Status: providers.StatusAccepted, RedirectURL: a.RedirectURL, Buyer: a.Buyer, Revenue: a.Price})
	}
	return w.waterfall(ctx, &job{app: app, sub: &rec.Submission, plan: p, log: log})
}

// interrupted reads the application's attempts, those a stopped process
// left unfinished marked in doubt first: they may have reached their
// buyer, so they are never re-sent (README: "crash policy"). Only a round
// that finds one writes: a new application's first round, nearly every
// round, only reads.
func (w *Worker) interrupted(ctx context.Context, id string) ([]providers.Attempt, error) {
	done, err := w.store.Attempts(ctx, id)
	if err != nil || !slices.ContainsFunc(done, func(a providers.Attempt) bool { return a.Outcome == providers.Started }) {
		return done, err
	}
	if err := w.store.MarkInDoubt(ctx, id); err != nil {
		return nil, err
	}
	return w.store.Attempts(ctx, id)
}

// A plan is what is left of an application's waterfall, read from the
// attempts of earlier rounds, so that a round after a retry pause or a
// crash goes on where the last one stopped and never posts again what
// may have reached a buyer.
type plan struct {
	tried    map[string]bool // buyer/tier already posted (or skipped)
	retry    map[string]bool // buyer/tier whose failure never reached the buyer, with posts left
	tries    map[string]int  // buyer/tier: posts so far
	finished map[string]bool // buyers with nothing left to try
	seq      int             // attempts recorded so far
	// accepted is a buyer's acceptance that a crash kept from being
	// recorded as the decision: the application ends there.
	accepted *providers.Attempt
}

func newPlan(attempts []providers.Attempt, maxTries int) *plan {
	p := &plan{tried: map[string]bool{}, retry: map[string]bool{}, tries: map[string]int{}, finished: map[string]bool{}, seq: len(attempts)}
	for _, a := range attempts {
		k := a.Buyer + "/" + a.Tier
		p.tried[k], p.tries[k] = true, a.Tries
		switch {
		case a.Outcome == providers.Accepted:
			p.accepted = &a
			return p
		case a.Outcome == providers.Declined:
			p.finished[a.Buyer] = p.finished[a.Buyer] || a.Final
		case a.Outcome == providers.Failed && a.Retry && a.Tries < maxTries:
			p.retry[k] = true
		default: // in doubt, error, skipped: this buyer is done with
			p.finished[a.Buyer] = true
		}
	}
	return p
}

// waterfall rides the flow's buyers in order, from where the plan left
// off, and says how the round ends.
func (w *Worker) waterfall(ctx context.Context, j *job) end {
	var retryRound int // the most posts of a buyer to be posted again later
	// lacking are the consents that alone kept buyers from being asked
	// (given, those buyers would be asked now); asked says a buyer was
	// asked, in this round or an earlier one.
	lacking, asked := map[string]string{}, false
	for _, name := range w.flows[j.app.Flow] {
		buyer, ok := w.buyers[name]
		if !ok || j.plan.finished[name] {
			asked = asked || ok
			continue
		}
		if missing := unconsented(buyer, j.sub); len(missing) > 0 {
			j.plan.seq++
			w.skip(ctx, j.app.ID, name, j.plan.seq, ReasonNoConsent)
			if w.capped(ctx, name) != "" || breakerOpen(buyer) {
				// Given, the consent would not get this buyer asked now:
				// the consumer is not told it would.
				continue
			}
			for _, field := range missing {
				lacking[field] = ReasonNoConsent
			}
			continue
		}
		if reason := w.capped(ctx, name); reason != "" {
			j.plan.seq++
			w.skip(ctx, j.app.ID, name, j.plan.seq, reason)
			continue
		}
		asked = true
		r, err := w.ride(ctx, j, name, buyer)
		switch {
		case errors.Is(err, store.ErrLeaseLost):
			j.log.Warn("lease lost: another worker has the application")
			return end{}
		case err != nil:
			j.log.Error("recording attempt start", "buyer", name, "err", err)
			return w.soon()
		}
		switch r.outcome {
		case accepted, needsFix:
			return end{verdict: &r.verdict, last: r.last}
		case retryLater:
			retryRound = max(retryRound, r.tries)
		case outOfTime:
			return w.conclude(j, 0) // no time left for a retry either
		}
	}
	if !asked && len(lacking) > 0 {
		// No lender was asked, only for want of consents: the consumer
		// is told which, beside their boxes, rather than sent to try
		// again later as if lenders had said no. The consumer is still
		// on their way (needs fix: no "declined" postback, the CRM lead
		// not lost).
		return decided(providers.Verdict{Status: providers.StatusNeedsFix, Reason: ReasonNoBuyerConsented, FieldErrors: lacking})
	}
	return w.conclude(j, retryRound)
}

// conclude ends a round in which no buyer accepted. Buyers that could not
// be reached are tried again after a jittered, growing pause, while the
// flow's deadline leaves room for it; the consumer meanwhile sees the
// waiting page. Otherwise the application is declined.
func (w *Worker) conclude(j *job, retryRound int) end {
	if retryRound > 0 {
		if next := time.Now().Add(w.backoff(retryRound)); next.Before(j.app.DeadlineAt) {
			j.log.Info("buyers unreachable: retrying later", "retry_in_ms", time.Until(next).Milliseconds())
			return end{at: next}
		}
	}
	if time.Now().After(j.app.DeadlineAt) {
		return decided(providers.Verdict{Status: providers.StatusDeclined, Reason: "flow deadline passed"})
	}
	return decided(providers.Verdict{Status: providers.StatusDeclined, Reason: "no buyer accepted"})
}

// breakerOpen says b's breaker is open: posted now, it would fail at once.
func breakerOpen(b Buyer) bool {
	s, ok := b.(interface{ State() gobreaker.State })
	return ok && s.State() == gobreaker.StateOpen
}

// An outcome is how riding one buyer ended, which says what the waterfall
// does next.
type outcome int

const (
	nextBuyer  outcome = iota // declined, failed, or nothing left to post: on to the next buyer
	retryLater                // not reached: on to the next buyer, and this one again in a later round
	accepted                  // sold: the round ends with the verdict
	needsFix                  // the consumer is to correct fields: the round ends with the verdict
	outOfTime                 // the flow's deadline passed before a post
)

// ridden is how riding one buyer ended.
type ridden struct {
	outcome outcome
	verdict providers.Verdict // accepted, needsFix
	tries   int               // retryLater: the posts of the tier so far
	// last is the post that ended the ride with a verdict, to be
	// recorded with the decision in one write.
	last *store.Finished
}

// ride posts the application to one buyer, down its tiers from the
// highest not yet posted, until an answer no lower tier can change. The
// error is the store's, recording the start of a post; store.ErrLeaseLost
// means another worker has the application.
func (w *Worker) ride(ctx context.Context, j *job, name string, b Buyer) (ridden, error) {
	for _, tier := range tiersOf(b) {
		k := name + "/" + tier
		again := j.plan.retry[k]
		if j.plan.tried[k] && !again {
			continue
		}
		if time.Now().After(j.app.DeadlineAt) {
			return ridden{outcome: outOfTime}, nil
		}
		var err error
		if again {
			err = w.store.RetryAttempt(ctx, j.app.ID, w.owner, name, tier)
		} else {
			j.plan.seq++
			err = w.store.StartAttemptOnce(ctx, j.app.ID, w.owner, name, tier, j.plan.seq, w.dedupe[j.app.Flow])
		}
		var dup *store.DuplicateError
		switch {
		case errors.As(err, &dup):
			return w.duplicate(ctx, j, name, dup), nil
		case errors.Is(err, store.ErrAttempted):
			continue // the store's word is final: posted already
		case err != nil:
			return ridden{}, err
		}
		d, att := w.attempt(ctx, b, tier, j.sub, j.app.DeadlineAt)
		r, ok := w.judge(name, d, att, j.plan.tries[k])
		if ok && (r.outcome == accepted || r.outcome == needsFix) {
			r.last = &store.Finished{Buyer: name, Tier: tier, Attempt: att}
			return r, nil // its end is written with the decision
		}
		if err := w.store.FinishAttempt(ctx, j.app.ID, name, tier, att); err != nil {
			j.log.Error("recording attempt end", "buyer", name, "err", err)
		}
		if ok {
			return r, nil
		}
	}
	return ridden{outcome: nextBuyer}, nil
}

// duplicate is a buyer that had this consumer already within the flow's
// window, from another application. If that one was sold to this buyer
// and the buyer's redirect stays valid, the consumer goes back to it;
// otherwise the buyer is skipped, with when it had them, and the
// waterfall goes on.
func (w *Worker) duplicate(ctx context.Context, j *job, name string, dup *store.DuplicateError) ridden {
	if r, ok := w.buyers[name].(Reusable); ok && r.RedirectStaysValid() {
		if first, err := w.store.Get(ctx, dup.Application); err == nil && first.Status == providers.StatusAccepted && first.Buyer == name {
			return ridden{outcome: accepted, verdict: providers.Verdict{Status: providers.StatusAccepted, RedirectURL: first.RedirectURL,
				Buyer: name, Reason: "already sold to this buyer: application " + first.ID}}
		}
	}
	w.skip(ctx, j.app.ID, name, j.plan.seq, dup.Error())
	return ridden{outcome: nextBuyer}
}

// judge says how a buyer's answer ends its ride, or ok false when the ride
// goes on to the next tier (a decline a lower tier may change). tries is
// the posts of this tier before this one.
func (w *Worker) judge(name string, d providers.Decision, att providers.Attempt, tries int) (r ridden, ok bool) {
	switch {
	case d.Outcome == providers.Accepted:
		return ridden{outcome: accepted, verdict: providers.Verdict{Status: providers.StatusAccepted, RedirectURL: d.RedirectURL, Buyer: name, Revenue: d.Price}}, true
	case d.Outcome == providers.NeedsFix:
		return ridden{outcome: needsFix, verdict: providers.Verdict{Status: providers.StatusNeedsFix, Buyer: name, Reason: att.Reason, FieldErrors: d.FieldErrors}}, true
	case att.Outcome == providers.Failed && att.Retry && tries+1 < w.maxTries:
		return ridden{outcome: retryLater, tries: tries + 1}, true
	case att.Outcome == providers.Failed || d.Final:
		// A failing buyer is not ridden further down: its lower tiers
		// would fail alike, and the consumer is waiting.
		return ridden{outcome: nextBuyer}, true
	}
	return ridden{}, false
}

// tiersOf lists the tiers a buyer is ridden down, highest payout first:
// "" alone for a buyer without tiers.
func tiersOf(b Buyer) []string {
	if t, ok := b.(Tiered); ok && len(t.Tiers()) > 0 {
		return t.Tiers()
	}
	return []string{""}
}
