package cashcat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// Daily is the ceiling of the whole deployment per UTC day; the
	// operator is alerted at 80 %.
	Daily *limiter.Limiter
	// Refused, when set, is told each call refused, by budget name (ip,
	// unknown, daily).
	Refused func(budget string)
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
// 0. The cost is that more first lookups in flight at once from one
// address than its budget has left wait for none: the extra ones are
// refused, which needs about as many new consumers a second from one
// address as its hourly budget.
func (b *Budget) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	ip := payerOf(ctx)
	held := false
	var window int64 // when the window the place was taken in ends (unix)
	giveBack := func() {
		// Only into the window it was taken from: given back into the
		// next, it would start that one below zero, a free guess.
		if held && time.Now().Unix() < window {
			b.cfg.Unknown.Increment(context.WithoutCancel(ctx), ip, -1)
		}
	}
	if ip != "" {
		if b.cfg.Unknown != nil {
			if lc, err := b.cfg.Unknown.Get(ctx, ip); err == nil {
				held, window = true, lc.Reset
				if lc.Reached {
					giveBack()
					return nil, b.refuse("unknown")
				}
			}
		}
		if b.cfg.PerIP != nil {
			if lc, err := b.cfg.PerIP.Get(ctx, ip); err == nil && lc.Reached {
				giveBack()
				return nil, b.refuse("ip")
			}
		}
	}
	if b.cfg.Daily != nil {
		day := b.now().UTC().Format("2006-01-02")
		lc, err := b.cfg.Daily.Get(ctx, day)
		if err == nil && lc.Reached {
			giveBack()
			return nil, b.refuse("daily")
		}
		if err == nil {
			b.watchDaily(day, lc)
		}
	}
	lead, err := b.next.Lead(ctx, token)
	if !errors.Is(err, providers.ErrNotFound) {
		giveBack()
	}
	return lead, err
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
