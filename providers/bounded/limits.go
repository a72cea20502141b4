package bounded

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/common"
)

// LimitStore is an in-memory limiter.Store (a fixed window per key, as
// ulule/limiter's memory store) holding at most max keys: a rate limit
// keyed by a token or an address must not grow without end when a
// scraper brings millions. Past the bound the oldest counter goes; a
// counter that leaves early only forgets a window that was ending first.
// Each store is its own map, so keys need no prefix (ulule's store
// concatenates one per request).
type LimitStore struct {
	counts *Cache[*counter]
}

// counter is one key's count in its window. A live window's count is
// added to in place, under go-cache's read lock only: the hot path of
// every limited route takes no exclusive lock and allocates nothing.
type counter struct{ n atomic.Int64 }

// MaxCounters is the bound of a rate limit's in-memory store: a
// million-address botnet costs the oldest counters, never the memory.
const MaxCounters = 200_000

// NewLimitStore returns a store of at most max counters.
func NewLimitStore(max int) *LimitStore {
	return &LimitStore{counts: New[*counter](max, time.Minute)}
}

// Get implements limiter.Store: counts one hit.
func (s *LimitStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.Increment(ctx, key, 1, rate)
}

// Increment implements limiter.Store.
func (s *LimitStore) Increment(_ context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	now := time.Now()
	c, expires, ok := s.counts.GetExpiry(key)
	if !ok || !expires.After(now) {
		// A new window: made under the cache's lock, so that two first
		// hits at once share one counter.
		c, expires = s.counts.Update(key, rate.Period, func(c *counter, live bool) *counter {
			if live {
				return c
			}
			return new(counter)
		})
	}
	return common.GetContextFromState(now, rate, expires, c.n.Add(count)), nil
}

// Peek implements limiter.Store: the count, unchanged.
func (s *LimitStore) Peek(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	c, expires, ok := s.counts.GetExpiry(key)
	if !ok {
		return common.GetContextFromState(time.Now(), rate, time.Now().Add(rate.Period), 0), nil
	}
	return common.GetContextFromState(time.Now(), rate, expires, c.n.Load()), nil
}

// Reset implements limiter.Store.
func (s *LimitStore) Reset(_ context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	s.counts.Delete(key)
	return common.GetContextFromState(time.Now(), rate, time.Now().Add(rate.Period), 0), nil
}

// Len is the number of counters held.
func (s *LimitStore) Len() int { return s.counts.Len() }
