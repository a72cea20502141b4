package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// leads is how handlers get a lead: from the lead source (the cached,
// budgeted, breaker-guarded Cashcat client), bounded in time, with the
// answers derived from it (form values, prefill JSON) kept a minute.
type leads struct {
	source LeadSource
	// wait bounds a request's wait for a lead: half again Cashcat's own
	// timeout, so a request that joined a fetch already under way (or
	// waits on another replica's) does not outwait it.
	wait time.Duration
	log  *slog.Logger
	now  func() time.Time
	// answers keeps answers derived from a lead (a flow's form values, a
	// prefill API body) a minute, for the tokens in use now: the lead is
	// cached already, and mapping, checking and encoding it again on
	// every call was half of the cost.
	answers *bounded.Cache[any]
	// memory is the source's answer from memory alone, when it has one
	// (cashcat.Cache): a cached lead, the landing's usual case, is
	// answered without the deadline and payer contexts a call needs.
	memory func(token string) (*providers.Lead, error, bool)
}

// inMemory is a lead source that can answer from memory without a call.
type inMemory interface {
	Cached(token string) (*providers.Lead, error, bool)
}

func newLeads(source LeadSource, cashcatTimeout time.Duration, log *slog.Logger, now func() time.Time) *leads {
	l := &leads{source: source, wait: cashcatTimeout + cashcatTimeout/2, log: log, now: now,
		answers: bounded.New[any](bounded.Hot, time.Minute)}
	if m, ok := source.(inMemory); ok {
		l.memory = m.Cached
	}
	return l
}

// fetch returns token's lead. A paid call it causes is charged to payer's
// budgets (a consumer's or a browser's address; "" for a lender's server
// with its key). A wait that runs out is Cashcat being unavailable.
func (l *leads) fetch(ctx context.Context, token, payer string) (*providers.Lead, error) {
	if l.memory != nil {
		if lead, err, ok := l.memory(token); ok {
			return lead, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	if payer != "" {
		ctx = cashcat.WithPayer(ctx, payer)
	}
	lead, err := l.source.Lead(ctx, token)
	if err != nil && ctx.Err() != nil && !errors.Is(err, providers.ErrUnavailable) {
		err = fmt.Errorf("%w: %w", providers.ErrUnavailable, err)
	}
	return lead, err
}

// forPage returns token's lead for a page, or nil. A failure is the
// operator's concern (logged once, at its level) and never the page's:
// the consumer gets the form without prefill.
func (l *leads) forPage(ctx context.Context, reqID requestRef, token, payer string) *providers.Lead {
	lead, err := l.fetch(ctx, token, payer)
	switch {
	case err == nil:
		return lead
	case errors.Is(err, providers.ErrNotFound):
		l.log.Info("action token unknown to cashcat", "request_id", reqID)
	case errors.Is(err, cashcat.ErrBudgetSpent):
		// Counted in the metrics; the address is not logged.
		l.log.Info("cashcat budget spent: form shown without prefill", "request_id", reqID, "err", err)
	case errors.Is(err, providers.ErrUnauthorized), errors.Is(err, providers.ErrPaymentRequired):
		// Already raised as an operator alert by the client.
	default:
		l.log.Warn("cashcat unavailable: form shown without prefill", "request_id", reqID, "err", err)
	}
	return nil
}

// formValues is flow's form prefilled from token's lead, kept a minute per
// token, flow and day: checking every value against the form on every
// reload was a tenth of a landing.
func (l *leads) formValues(ctx context.Context, reqID requestRef, token, payer string, flow *Flow) form.Values {
	key := "form|" + token + "|" + flow.Name + "|" + day(l.now())
	if v, ok := l.answers.Get(key); ok {
		return v.(form.Values)
	}
	lead := l.forPage(ctx, reqID, token, payer)
	if lead == nil {
		return nil // not kept: Cashcat may answer next time
	}
	vals := flow.Form.Restrict(lead.Prefill(flow.Currency), l.now(), flow.Loc)
	l.remember(key, vals)
	return vals
}

// answer returns an answer kept under key.
func (l *leads) answer(key string) (any, bool) { return l.answers.Get(key) }

// remember keeps an answer a minute, up to a bound, like the lead cache
// it is derived from.
func (l *leads) remember(key string, v any) { l.answers.Set(key, v) }

// day is t's UTC date, "2006-01-02", the part of a formatted answer's
// cache key that ages it (a birth date checked against today, an age):
// formatted once a day, not on every request.
func day(t time.Time) string {
	t = t.UTC()
	y, m, dd := t.Date()
	n := y*10000 + int(m)*100 + dd
	if d := lastDay.Load(); d != nil && d.n == n {
		return d.s
	}
	d := &formattedDay{n, t.Format("2006-01-02")}
	lastDay.Store(d)
	return d.s
}

type formattedDay struct {
	n int // yyyymmdd
	s string
}

var lastDay atomic.Pointer[formattedDay]
