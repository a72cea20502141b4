package cashcat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/leadgate/leadgate/providers"
)

// ErrBudgetSpent: the call was not made, because a budget of paid calls
// is spent. It says nothing about the token, so it is never cached, and it
// is not Cashcat failing, so it never trips the breaker.
var ErrBudgetSpent = errors.New("cashcat: budget of paid calls spent")

type payerKey struct{}

// WithPayer marks ctx as a request from the client at ip: the calls it
// causes are charged to that client's budgets. A context without a payer
// (a lender's server calling with its API key) is charged to the daily
// budget only.
func WithPayer(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, payerKey{}, ip)
}

// payerOf is the key ctx's payer is counted by: its address, or its
// IPv6 /64 (providers.ClientNet).
func payerOf(ctx context.Context) string {
	ip, _ := ctx.Value(payerKey{}).(string)
	return providers.ClientNet(ip)
}

type spendKey struct{}

// Spend counts the paid calls one request caused, so that their cost is
// attributed to the visit (its flow and campaign) that caused them.
type Spend struct{ calls atomic.Int32 }

// Calls is how many paid calls were made.
func (s *Spend) Calls() int { return int(s.calls.Load()) }

// WithSpend makes the paid calls made for ctx count in s. Concurrent
// requests for one token share one call, counted for the first of them:
// the one that caused it.
func WithSpend(ctx context.Context, s *Spend) context.Context {
	return context.WithValue(ctx, spendKey{}, s)
}

// spent counts one paid call for ctx's request.
func spent(ctx context.Context) {
	if s, ok := ctx.Value(spendKey{}).(*Spend); ok {
		s.calls.Add(1)
	}
}

// BudgetConfig bounds what callers can spend. Any limiter may be nil (off).
type BudgetConfig struct {
	// PerIP counts every paid call a client IP causes. Mobile consumers
	// share carrier IPs (CGNAT), so it is generous: each real consumer
	// brings one valid token.
	PerIP *limiter.Limiter
	// Unknown counts the tokens Cashcat did not know, per client IP: a
	// consumer rarely has one, a scraper guessing tokens has nothing else.
	Unknown *limiter.Limiter
	// InFlight counts, per client IP, the calls that hold a place in
	// Unknown and have no answer yet (rate InFlightRate): a lookup past
	// Unknown waits while there are any, since a known token gives its
	// place back. Nil: such a lookup is refused at once.
	InFlight *limiter.Limiter
	// Wait is how long a lookup waits for a place at most. The call it
	// then makes must still have its whole time (cashcat.timeout) before
	// the lookup's own deadline: a call cut short is paid all the same
	// and counts as Cashcat failing.
	Wait time.Duration
	// CallTime is how long a call may take (cashcat.timeout): a lookup
	// stops waiting while that much is still left before its deadline.
	CallTime time.Duration
	// Daily is the ceiling of the whole deployment per UTC day; the
	// operator is alerted at 80 %.
	Daily *limiter.Limiter
	// Refused, when set, is told each call refused, by budget name (ip,
	// unknown, daily).
	Refused func(budget string)
}

// InFlightRate is BudgetConfig.InFlight's rate for calls bounded by
// fetchLimit: a window of a minute, or longer than two calls, so that a
// call is almost always answered in the window it was counted in, and
// one whose replica died stops counting when it ends. No limit: it
// counts, it refuses nothing.
func InFlightRate(fetchLimit time.Duration) limiter.Rate {
	return limiter.Rate{Period: max(time.Minute, 2*fetchLimit), Limit: 1 << 40}
}

// Budget is a Source that makes a paid call only while every budget of
// its caller allows it. It sits right in front of the breaker, below every
// cache: a token already fetched costs nothing and is never refused.
type Budget struct {
	next Source
	cfg  BudgetConfig
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	// alerted is the UTC day the 80 % alert was last raised.
	alerted string
	// waiters counts, per address, the lookups waiting for a place.
	waiters map[string]int
}

// NewBudget wraps next.
func NewBudget(next Source, cfg BudgetConfig, log *slog.Logger) *Budget {
	return &Budget{next: next, cfg: cfg, log: log, now: time.Now}
}

// Lead implements Source.
//
// The unknown-token budget is taken before the call and given back when
// Cashcat knows the token (or the call is not made or fails): counted
// after the 404 instead, every guess sent at once passed a count still at
// 0. A lookup past that budget while calls holding places are still in
// flight waits a while for their answers (takePlace), since each known
// token gives its place back.
func (b *Budget) Lead(ctx context.Context, token string) (lead *providers.Lead, err error) {
	ip := payerOf(ctx)
	arrived := time.Now()
	var p *place
	// Deferred: a panic below must not leave the call counted in flight,
	// which would hold every refusal of its address to the longest wait.
	giveBack := true
	defer func() { b.leave(ctx, p, giveBack) }()
	if ip != "" {
		if b.cfg.Unknown != nil {
			if p, err = b.takePlace(ctx, ip, arrived); err != nil {
				return nil, err
			}
		}
		if b.cfg.PerIP != nil {
			if lc, err := b.cfg.PerIP.Get(ctx, ip); err == nil && lc.Reached {
				return nil, b.refuse("ip")
			}
		}
	}
	if b.cfg.Daily != nil {
		day := b.now().UTC().Format("2006-01-02")
		lc, err := b.cfg.Daily.Get(ctx, day)
		if err == nil && lc.Reached {
			return nil, b.refuse("daily")
		}
		if err == nil {
			b.watchDaily(day, lc)
		}
	}
	if err := providers.Ended(ctx); err != nil {
		// Ended while its budgets were counted: a call now would be cut
		// at once, paid all the same, and count as Cashcat failing.
		return nil, err
	}
	lead, err = b.next.Lead(ctx, token)
	giveBack = !errors.Is(err, providers.ErrNotFound)
	return lead, err
}

// place is a lookup's place in its client's unknown-token budget and its
// count among that client's calls in flight, each with the end of the
// window it was counted in (unix seconds; 0 when it was not counted).
type place struct {
	ip             string
	window, flight int64
	// windowIn and flightIn are where each was counted: the shared
	// store or the replica's memory, to be undone there.
	windowIn, flightIn providers.Tally
}

// takePlace takes a place in ip's unknown-token budget for a call, or
// refuses it. Refused at once past the budget, the consumers past ten of
// a burst of new tokens behind one carrier address got an empty form (20
// at once on a loaded machine: 7 refused). So while places are held by
// calls still in flight, it waits for their answers: for cfg.Wait from
// the lookup's arrival at most, and never so long that less than
// cfg.CallTime is left before the lookup's deadline, looking again after
// 5-15 ms, then less and less often. It refuses once no call is in
// flight on two looks in a row (a call is counted in flight before it
// takes its place: take). A nil place with
// no error: the store did not answer, and the budget does not hold the
// consumer's page up for it.
func (b *Budget) takePlace(ctx context.Context, ip string, arrived time.Time) (*place, error) {
	p, err := b.take(ctx, ip)
	if err != nil {
		return nil, providers.Ended(ctx) // refused if it was the lookup that ended
	}
	if p != nil {
		return p, nil
	}
	if b.cfg.InFlight == nil || !b.waiting(ip, 1) {
		return nil, b.refuse("unknown")
	}
	defer b.waiting(ip, -1)
	until := arrived.Add(b.cfg.Wait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-b.cfg.CallTime).Before(until) {
		until = dl.Add(-b.cfg.CallTime)
	}
	pause := 10 * time.Millisecond
	for idle := 0; ; {
		// Two looks, no write, until a place is free: a waiter costs
		// the store two reads a look.
		if fc, err := b.cfg.InFlight.Peek(ctx, ip); err != nil || fc.Limit-fc.Remaining <= 0 {
			if idle++; idle == 2 {
				return nil, b.refuse("unknown")
			}
		} else {
			idle = 0
		}
		if uc, err := b.cfg.Unknown.Peek(ctx, ip); err == nil && uc.Remaining > 0 {
			p, err := b.take(ctx, ip)
			if err != nil {
				if err := providers.Ended(ctx); err != nil {
					return nil, err
				}
				return nil, b.refuse("unknown") // no store: not past the budget unseen
			}
			if p != nil && !time.Now().After(until) {
				return p, nil
			}
			b.leave(ctx, p, true) // too late (nil: taken by another meanwhile)
		}
		left := time.Until(until)
		if left <= 0 {
			return nil, b.refuse("unknown")
		}
		select {
		case <-ctx.Done():
			return nil, b.refuse("unknown")
		case <-time.After(min(pause/2+rand.N(pause), left)):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// take counts a call of ip in flight, then takes a place in its
// unknown-token budget: nil when the budget is spent (both counts
// undone). In that order: counted after its place was taken, a call was
// in no count for a store round trip, and a lookup waiting for calls in
// flight that looked twice then (two looks find none: refused) turned a
// consumer away whose place was about to be given back (1 of 25 new
// tokens at once, on a loaded machine).
func (b *Budget) take(ctx context.Context, ip string) (*place, error) {
	p := &place{ip: ip}
	if b.cfg.InFlight != nil {
		if fc, err := b.cfg.InFlight.Increment(providers.Tallied(ctx, &p.flightIn), ip, 1); err == nil {
			p.flight = fc.Reset
		}
	}
	lc, err := b.cfg.Unknown.Get(providers.Tallied(ctx, &p.windowIn), ip)
	if err != nil {
		b.leave(ctx, p, false)
		return nil, err
	}
	p.window = lc.Reset
	if lc.Reached {
		b.leave(ctx, p, true) // the count past the budget is undone
		return nil, nil
	}
	return p, nil
}

// maxWaiting bounds the lookups of one address waiting at once on this
// replica, so that a flood of guesses while a few are in flight costs the
// store a bounded number of looks; past it they are refused at once. A
// carrier address's burst of real consumers waits well within it.
const maxWaiting = 32

// waiting counts ip's lookups waiting (+1 to join, -1 to leave); joining
// fails past maxWaiting.
func (b *Budget) waiting(ip string, d int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.waiters == nil {
		b.waiters = map[string]int{}
	}
	n := b.waiters[ip] + d
	if n > maxWaiting {
		return false
	}
	if n <= 0 {
		delete(b.waiters, ip)
	} else {
		b.waiters[ip] = n
	}
	return true
}

// leave ends p's call: its place is given back when giveBack (the token
// was known, or no call was made), then it stops counting in flight, in
// that order, so that a lookup waiting for it finds the place free.
// Each count is undone only in the window it was counted in: undone in
// the next, it would start that one below zero, a free guess. And only in
// the store it was counted in (its providers.Tally): a count made in a
// replica's memory while Redis was slow, undone in Redis, stayed in memory
// for good.
func (b *Budget) leave(ctx context.Context, p *place, giveBack bool) {
	if p == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	now := time.Now().Unix()
	if giveBack && now < p.window {
		b.cfg.Unknown.Increment(providers.UndoneIn(ctx, p.windowIn), p.ip, -1)
	}
	if p.flight != 0 && now < p.flight {
		b.cfg.InFlight.Increment(providers.UndoneIn(ctx, p.flightIn), p.ip, -1)
	}
	p.window, p.flight = 0, 0
}

func (b *Budget) refuse(budget string) error {
	if b.cfg.Refused != nil {
		b.cfg.Refused(budget)
	}
	return fmt.Errorf("%w (%s)", ErrBudgetSpent, budget)
}

// watchDaily raises the operator alert once a day when 80 % of the daily
// budget is used.
func (b *Budget) watchDaily(day string, lc limiter.Context) {
	used := lc.Limit - lc.Remaining
	if used*5 < lc.Limit*4 {
		return
	}
	b.mu.Lock()
	first := b.alerted != day
	b.alerted = day
	b.mu.Unlock()
	if first {
		b.log.Warn("cashcat daily budget 80% used: past it, new tokens are not looked up until tomorrow (UTC)",
			"alert", "cashcat_daily_budget", "used", used, "budget", lc.Limit)
	}
}
