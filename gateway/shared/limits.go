package shared

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	sredis "github.com/ulule/limiter/v3/drivers/store/redis"
)

// LimitStore is a rate-limit store shared by replicas in Redis, falling
// back to a per-replica memory store while Redis fails (limits then count
// per replica, which is looser but keeps the gateway serving). After a
// failure Redis is left alone for a few seconds, so that requests do not
// each wait on a dead connection.
type LimitStore struct {
	rdb      *redis.Client
	opts     limiter.StoreOptions
	fallback limiter.Store
	log      *slog.Logger
	mu       sync.Mutex
	primary  limiter.Store // nil until Redis first answered
	downAt   time.Time     // zero while Redis answers
}

// retryAfter is how long a failed Redis is left alone.
const retryAfter = 5 * time.Second

// NewLimitStore returns the store for one limiter, its keys under
// keyPrefix + "limit:" + name.
func NewLimitStore(rdb *redis.Client, keyPrefix, name string, log *slog.Logger) *LimitStore {
	opts := limiter.StoreOptions{Prefix: keyPrefix + "limit:" + name, CleanUpInterval: time.Minute}
	return &LimitStore{rdb: rdb, opts: opts, fallback: memory.NewStoreWithOptions(opts), log: log}
}

// pick returns the Redis store when it may be tried, else nil.
func (s *LimitStore) pick() limiter.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.downAt.IsZero() && time.Since(s.downAt) < retryAfter {
		return nil
	}
	if s.primary == nil {
		// The Redis store loads its scripts when made: it fails while
		// Redis is unreachable, so it is made on first use and retried.
		p, err := sredis.NewStoreWithOptions(s.rdb, s.opts)
		if err != nil {
			s.failedLocked(err)
			return nil
		}
		s.primary = p
	}
	return s.primary
}

func (s *LimitStore) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failedLocked(err)
}

func (s *LimitStore) failedLocked(err error) {
	if s.downAt.IsZero() {
		s.log.Error("redis unreachable: rate limits count per replica until it is back", "limiter", s.opts.Prefix, "err", err)
	}
	s.downAt = time.Now()
}

func (s *LimitStore) succeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.downAt.IsZero() {
		s.log.Info("redis reachable again: rate limits shared across replicas", "limiter", s.opts.Prefix)
		s.downAt = time.Time{}
	}
}

func (s *LimitStore) do(op func(limiter.Store) (limiter.Context, error)) (limiter.Context, error) {
	if p := s.pick(); p != nil {
		c, err := op(p)
		if err == nil {
			s.succeeded()
			return c, nil
		}
		s.failed(err)
	}
	return op(s.fallback)
}

// Get implements limiter.Store.
func (s *LimitStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(func(st limiter.Store) (limiter.Context, error) { return st.Get(ctx, key, rate) })
}

// Peek implements limiter.Store.
func (s *LimitStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(func(st limiter.Store) (limiter.Context, error) { return st.Peek(ctx, key, rate) })
}

// Reset implements limiter.Store.
func (s *LimitStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.do(func(st limiter.Store) (limiter.Context, error) { return st.Reset(ctx, key, rate) })
}

// Increment implements limiter.Store.
func (s *LimitStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	return s.do(func(st limiter.Store) (limiter.Context, error) { return st.Increment(ctx, key, count, rate) })
}
