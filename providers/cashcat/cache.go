package cashcat

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/singleflight"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
)

// Source is anything that returns the lead behind a token: the HTTP client,
// or one of the decorators below wrapped around it.
type Source interface {
	Lead(ctx context.Context, token string) (*providers.Lead, error)
}

// Breaker is a Source guarded by a circuit breaker, so that a failing
// Actions API is left alone for a while instead of slowing every landing.
type Breaker struct {
	next Source
	cb   *gobreaker.CircuitBreaker[*providers.Lead]
}

// NewBreaker wraps next in cb (see providers.NewBreaker for what counts).
func NewBreaker(next Source, cb *gobreaker.CircuitBreaker[*providers.Lead]) *Breaker {
	return &Breaker{next: next, cb: cb}
}

// Lead implements Source.
func (b *Breaker) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	return providers.Guard(b.cb, func() (*providers.Lead, error) { return b.next.Lead(ctx, token) })
}

// State reports the breaker's state, for /readyz and metrics.
func (b *Breaker) State() gobreaker.State { return b.cb.State() }

// CacheEvents receives what the cache does, for metrics. Any may be nil.
type CacheEvents struct {
	Hit, Miss, NegativeHit func()
	Fetched                func(*providers.Lead, error)
}

// Cache is a Source that remembers leads for ttl and unknown tokens for
// negTTL, and makes concurrent first requests for one token share a single
// upstream call: every Cashcat call costs the lender money.
//
// A lead is kept as its record, the bytes Cashcat sent (a few hundred),
// for as long as it is cached; the parsed lead, twice that again, only
// while its token is in use (the last few thousand tokens asked for).
// That keeps a hundred thousand cached leads under a kilobyte each with
// everything derived from them, and costs one parse (microseconds) when a
// consumer comes back after the hot set has moved on.
type Cache struct {
	next       Source
	records    *bounded.Cache[record]
	parsed     *bounded.Cache[*providers.Lead]
	ttl        time.Duration
	negTTL     time.Duration
	fetchLimit time.Duration
	group      singleflight.Group
	ev         CacheEvents
}

// record is what the cache holds for a token: the lead's record as
// Cashcat sent it, or (for a lead whose record does not read back as the
// same lead, such as one made in a test) the lead itself; neither for a
// token Cashcat said it does not know.
type record struct {
	raw  string
	lead *providers.Lead
}

// hotTTL is the longest a parsed lead is kept.
const hotTTL = time.Minute

// NewCache wraps next. maxEntries bounds the cache; past it, the oldest
// entry makes room for the new one (the consumer on the page now matters
// more than the one who landed an hour ago; 0 means a million).
// fetchLimit bounds one shared upstream call, which runs detached from the
// first caller's context so that its leaving does not fail the others.
func NewCache(next Source, ttl, negTTL time.Duration, maxEntries int, fetchLimit time.Duration, ev CacheEvents) *Cache {
	if maxEntries <= 0 {
		maxEntries = 1_000_000
	}
	return &Cache{
		next:       next,
		records:    bounded.New[record](maxEntries, ttl),
		parsed:     bounded.New[*providers.Lead](min(bounded.Hot, maxEntries), min(hotTTL, ttl)),
		ttl:        ttl,
		negTTL:     negTTL,
		fetchLimit: fetchLimit,
		ev:         ev,
	}
}

// Lead implements Source.
func (c *Cache) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	if lead, err, ok := c.cached(token); ok {
		return lead, err
	}
	call(c.ev.Miss)
	ch := c.group.DoChan(token, func() (any, error) {
		// A caller that lost the race to the lock may find the answer cached.
		if lead, err, ok := c.cached(token); ok {
			return lead, err
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchLimit)
		defer cancel()
		lead, err := c.next.Lead(fctx, token)
		if c.ev.Fetched != nil {
			c.ev.Fetched(lead, err)
		}
		switch {
		case err == nil:
			c.store(token, lead, c.ttl)
		case errors.Is(err, providers.ErrNotFound):
			c.store(token, nil, c.negTTL)
		}
		return lead, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*providers.Lead), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("cashcat: %w", ctx.Err())
	}
}

// Cached answers token from this replica's memory alone, as Lead would
// (the lead, or the cached not-found), and says false when it holds
// nothing for it. It needs no context: a caller can skip building the
// deadline and values that only a call upstream uses.
func (c *Cache) Cached(token string) (*providers.Lead, error, bool) { return c.cached(token) }

// Peek returns a cached lead without ever calling upstream.
func (c *Cache) Peek(token string) (*providers.Lead, bool) {
	lead, err, ok := c.cached(token)
	return lead, ok && err == nil
}

// Len is the number of cached entries, negative ones included.
func (c *Cache) Len() int { return c.records.Len() }

func (c *Cache) cached(token string) (*providers.Lead, error, bool) {
	if lead, ok := c.parsed.Get(token); ok {
		call(c.ev.Hit)
		return lead, nil, true
	}
	r, expires, ok := c.records.GetExpiry(token)
	switch {
	case !ok:
		return nil, nil, false
	case r.lead != nil:
		call(c.ev.Hit)
		return r.lead, nil, true
	case r.raw == "":
		call(c.ev.NegativeHit)
		return nil, errCachedNotFound, true
	}
	lead, err := Parse([]byte(r.raw))
	if err != nil {
		// Cannot be: the record was read back before it was kept.
		c.records.Delete(token)
		return nil, nil, false
	}
	c.parsed.SetTTL(token, lead, min(hotTTL, time.Until(expires)))
	call(c.ev.Hit)
	return lead, nil, true
}

// errCachedNotFound is made once: a scraper's repeated unknown token
// costs no allocation.
var errCachedNotFound = fmt.Errorf("cashcat: %w (cached)", providers.ErrNotFound)

// store keeps token's answer for ttl: lead's record when it reads back
// as the same lead, else the lead itself; nil is a token Cashcat does not
// know.
func (c *Cache) store(token string, lead *providers.Lead, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	var r record
	if lead != nil {
		r.lead = lead
		if back, err := Parse(lead.Raw); err == nil && reflect.DeepEqual(back, lead) {
			r = record{raw: string(lead.Raw)}
		}
		c.parsed.SetTTL(token, lead, min(hotTTL, ttl))
	}
	c.records.SetTTL(token, r, ttl)
}

func call(f func()) {
	if f != nil {
		f()
	}
}
