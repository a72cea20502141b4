package redis

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
	sredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/leadgate/leadgate/providers"
	memlimit "github.com/leadgate/leadgate/providers/bounded"
)

// LimitStore is a rate-limit store shared by replicas in Redis, falling
// back to a per-replica memory store for a call that Redis does not answer
// in time, and for every call while Redis is unreachable (limits then
// count per replica, which is looser but keeps the gateway serving). A
// request never waits on Redis longer than one bounded call.
type LimitStore struct {
	r        *Conn
	opts     limiter.StoreOptions
	fallback limiter.Store
	making   sync.Mutex
	primary  atomic.Pointer[limiter.Store] // nil until Redis first answered
}

// NewLimitStore returns the store for one limiter, its keys under
// keyPrefix + "limit:" + name.
func NewLimitStore(r *Conn, keyPrefix, name string) *LimitStore {
	opts := limiter.StoreOptions{Prefix: keyPrefix + "limit:" + name, CleanUpInterval: time.Minute}
	return &LimitStore{r: r, opts: opts, fallback: memlimit.NewLimitStore(memlimit.MaxCounters)}
}

// pick returns the Redis store when it may be tried, else nil.
func (s *LimitStore) pick(ctx context.Context) limiter.Store {
	if !s.r.usable() {
		return nil
	}
	if p := s.primary.Load(); p != nil {
		return *p
	}
	// The Redis store loads its scripts when made: it fails while Redis is
	// unreachable, so it is made on first use, and the requests that come
	// meanwhile count in memory rather than wait behind it.
	if !s.making.TryLock() {
		return nil
	}
	defer s.making.Unlock()
	p, err := sredis.NewStoreWithOptions(s.r.rdb, s.opts)
	if s.r.judge(ctx, err) != answered {
		return nil
	}
	s.primary.Store(&p)
	return p
}

func (s *LimitStore) do(ctx context.Context, op func(limiter.Store) (limiter.Context, error)) (limiter.Context, error) {
	tally, pinned := providers.TallyOf(ctx)
	if pinned {
		return s.undo(ctx, tally, op)
	}
	sent := false // to Redis, which may have counted it
	if p := s.pick(ctx); p != nil {
		c, err := op(p)
		if s.r.judge(ctx, err) == answered {
			if tally != nil {
				*tally = providers.Tally{Shared: true}
			}
			return c, nil
		}
		sent = answerLost(err)
	}
	if err := providers.Ended(ctx); err != nil {
		// The caller is gone, not Redis: counted in memory, a count Redis
		// never saw would later be undone in Redis (a paid lookup's place
		// given back: a free guess).
		return limiter.Context{}, err
	}
	if tally != nil {
		*tally = providers.Tally{Memory: true, Shared: sent}
	}
	return op(s.fallback)
}

// undo makes a give-back (op) where the count it undoes was made, as its
// tally says, and nowhere else: undone where it was not made, a count
// stays counted for good in one store (a carrier address's budget spent
// by consumers long gone, its lookups each waiting a second) and is a
// free pass in the other.
func (s *LimitStore) undo(ctx context.Context, t *providers.Tally, op func(limiter.Store) (limiter.Context, error)) (limiter.Context, error) {
	c, err := limiter.Context{}, error(providers.ErrNotWhereCounted)
	if t.Shared {
		if p := s.pick(ctx); p != nil {
			if sc, serr := op(p); s.r.judge(ctx, serr) == answered {
				c, err = sc, nil
			}
		}
	}
	if t.Memory {
		return op(s.fallback)
	}
	return c, err
}

// answerLost says a failed Redis call was sent and its answer not read in
// time: Redis may well have made the count (a slow Redis, not a gone
// one), so a count made in memory instead is given back in both. A call
// that failed to dial or to find a connection never reached Redis.
func answerLost(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && ne.Op == "read"
}

// Get implements limiter.Store.
func (s *LimitStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(st limiter.Store) (limiter.Context, error) { return st.Get(ctx, key, rate) })
}

// Peek implements limiter.Store.
func (s *LimitStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(st limiter.Store) (limiter.Context, error) { return st.Peek(ctx, key, rate) })
}

// Reset implements limiter.Store.
func (s *LimitStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(st limiter.Store) (limiter.Context, error) { return st.Reset(ctx, key, rate) })
}

// Increment implements limiter.Store.
func (s *LimitStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	return s.do(ctx, func(st limiter.Store) (limiter.Context, error) { return st.Increment(ctx, key, count, rate) })
}
