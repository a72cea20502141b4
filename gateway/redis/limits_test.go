package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/leadgate/leadgate/gateway/testenv"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

// One client's limit is one limit, whichever replica it reaches.
func TestLimitSharedAcrossReplicas(t *testing.T) {
	url := redisForTest(t)
	rate := limiter.Rate{Period: time.Minute, Limit: 3}
	prefix := "test-" + run()
	a := limiter.New(NewLimitStore(open(t, url, 250*time.Millisecond), "test:", prefix), rate)
	b := limiter.New(NewLimitStore(open(t, url, 250*time.Millisecond), "test:", prefix), rate)
	ctx := context.Background()
	for i, l := range []*limiter.Limiter{a, b, a, b} {
		c, err := l.Get(ctx, "203.0.113.7")
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 3; c.Reached != want {
			t.Errorf("request %d: reached %v, want %v", i+1, c.Reached, want)
		}
	}
}

// Redis down or hung: the limits keep working, per replica, and no
// request waits on Redis longer than one bounded call.
func TestLimitsDoNotWaitOnRedis(t *testing.T) {
	tests := []struct {
		name, url string
		timeout   time.Duration
	}{
		{"refused", "redis://127.0.0.1:1/0", 250 * time.Millisecond},
		{"hung", hungRedis(t), 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := open(t, tt.url, tt.timeout)
			l := limiter.New(NewLimitStore(r, "test:", "down"), limiter.Rate{Period: time.Minute, Limit: 2})
			var reached []bool
			for range 3 {
				start := time.Now()
				c, err := l.Get(context.Background(), "203.0.113.7")
				if err != nil {
					t.Fatalf("Redis failed the limiter: %v", err)
				}
				// Generous: the machine may be loaded.
				if d := time.Since(start); d > time.Second {
					t.Errorf("a limit took %v, want at most about %v (redis.timeout)", d, tt.timeout)
				}
				reached = append(reached, c.Reached)
			}
			if reached[0] || reached[1] || !reached[2] {
				t.Errorf("got %v, want the third request limited by the per-replica fallback", reached)
			}
		})
	}
}

// A burst of new tokens from one address past its unknown-token budget,
// over two replicas: the lookups past the budget on one wait for the
// calls in flight on the other, which give their places back, and every
// token is looked up. Guesses are still held to the budget across
// both.
func TestUnknownBudgetWaitsForCallsInFlightOnAnyReplica(t *testing.T) {
	url := redisForTest(t)
	prefix := "test-" + run()
	up := &slowCashcat{delay: 40 * time.Millisecond, calls: map[string]int{}}
	var refused atomic.Int32
	replica := func() *cashcat.Budget {
		r := open(t, url, 250*time.Millisecond)
		cfg := cashcat.BudgetConfig{
			Unknown:  limiter.New(NewLimitStore(r, "test:", prefix+"-unknown"), limiter.Rate{Period: time.Hour, Limit: 10}),
			InFlight: limiter.New(NewLimitStore(r, "test:", prefix+"-inflight"), cashcat.InFlightRate(time.Second)),
			Wait:     time.Second,
			Refused:  func(string) { refused.Add(1) },
		}
		// Each store counts in Redis from its first answer on: the
		// requests that come while it loads its scripts count in memory.
		for _, l := range []*limiter.Limiter{cfg.Unknown, cfg.InFlight} {
			if _, err := l.Peek(context.Background(), "warm-up"); err != nil {
				t.Fatal(err)
			}
		}
		return cashcat.NewBudget(up, cfg, slog.New(slog.DiscardHandler))
	}
	replicas := []*cashcat.Budget{replica(), replica()}
	burst := func(ip, kind string, n int) (failed int) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ctx = cashcat.WithPayer(ctx, ip)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				// The budget's ten places taken on one replica, the rest
				// asked for on the other while those calls are in flight.
				r := replicas[0]
				if i >= 10 {
					r = replicas[1]
					time.Sleep(10 * time.Millisecond)
				}
				_, err := r.Lead(ctx, fmt.Sprintf("%s%s%03d", kind, prefix, i))
				if err != nil && !errors.Is(err, providers.ErrNotFound) {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return failed
	}
	if failed := burst("198.51.100.90", "k", 24); failed != 0 {
		t.Errorf("24 new tokens at once from one address on two replicas: %d refused, want none", failed)
	}
	if calls, _ := up.total(); calls != 24 {
		t.Errorf("24 new tokens: %d Cashcat calls, want 24", calls)
	}
	if failed := burst("198.51.100.91", "x", 40); failed != 30 || refused.Load() != 30 {
		t.Errorf("40 guesses at once on two replicas: %d refused (%d counted), want 30 (a budget of 10)", failed, refused.Load())
	}
	if calls, _ := up.total(); calls != 24+10 {
		t.Errorf("40 guesses: %d Cashcat calls, want 10", calls-24)
	}
}

// A count whose caller has gone is not made in the replica's memory: Redis
// never saw it, and undone later in Redis (a lookup's place given back)
// it would be a free guess. Gone means its deadline has passed, even in
// the moment before its timer marks it done: Redis's read deadline, set
// from the caller's, may end the call first.
func TestLimitOfAGoneCallerIsNotCountedInMemory(t *testing.T) {
	r := open(t, hungRedis(t), 100*time.Millisecond)
	l := limiter.New(NewLimitStore(r, "test:", "gone"), limiter.Rate{Period: time.Minute, Limit: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for _, ctx := range []context.Context{ctx, deadlinePassed{context.Background()}} {
		if _, err := l.Get(ctx, "203.0.113.7"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a count whose caller's deadline ended: %v, want the deadline's error", err)
		}
	}
	c, err := l.Peek(context.Background(), "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Limit - c.Remaining; n != 0 {
		t.Errorf("the replica's memory counts %d, want 0", n)
	}
}

// deadlinePassed is a context whose deadline has passed, its timer not
// fired yet.
type deadlinePassed struct{ context.Context }

func (deadlinePassed) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// sourceFunc is a Cashcat lookup as a function.
type sourceFunc func(ctx context.Context, token string) (*providers.Lead, error)

func (f sourceFunc) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	return f(ctx, token)
}

// A lookup's place in the unknown-token budget, and its count in flight,
// taken in the replica's memory while Redis was slow, are given back in
// memory once Redis answers again: given back in Redis, they stayed
// counted in memory for good (an hour, for the budget), so that with
// Redis then cut every lookup from that address waited its full second
// and was refused, and Redis counted a free guess. A count made in Redis
// is given back there.
func TestBudgetPlacesAreGivenBackWhereTheyWereTaken(t *testing.T) {
	direct := redisForTest(t)
	var stall atomic.Int64
	r := open(t, delayingRedis(t, testenv.RedisAddr(), func() time.Duration { return time.Duration(stall.Load()) }), 100*time.Millisecond)
	prefix := "test-" + run()
	unknown, inflight := NewLimitStore(r, "test:", prefix+"-unknown"), NewLimitStore(r, "test:", prefix+"-inflight")
	budgetRate, flightRate := limiter.Rate{Period: time.Hour, Limit: 10}, cashcat.InFlightRate(time.Second)
	cfg := cashcat.BudgetConfig{Unknown: limiter.New(unknown, budgetRate), InFlight: limiter.New(inflight, flightRate), Wait: time.Second}
	for _, l := range []*limiter.Limiter{cfg.Unknown, cfg.InFlight} {
		if _, err := l.Peek(context.Background(), "warm-up"); err != nil { // Redis's store made
			t.Fatal(err)
		}
	}
	// Cashcat answers once Redis does again.
	b := cashcat.NewBudget(sourceFunc(func(context.Context, string) (*providers.Lead, error) {
		stall.Store(0)
		return &providers.Lead{FirstName: "John"}, nil
	}), cfg, slog.New(slog.DiscardHandler))
	ip := "198.51.100.77"
	counts := func(s *LimitStore, rate limiter.Rate) (memory, shared int64) {
		m, err := s.fallback.Peek(context.Background(), ip, rate)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := NewLimitStore(open(t, direct, time.Second), "test:", strings.TrimPrefix(s.opts.Prefix, "test:limit:")).Peek(context.Background(), ip, rate)
		if err != nil {
			t.Fatal(err)
		}
		return m.Limit - m.Remaining, sh.Limit - sh.Remaining
	}
	for i, slow := range []bool{true, true, false} {
		if slow {
			stall.Store(int64(300 * time.Millisecond)) // past redis.timeout: the counts go to memory
		}
		ctx, cancel := context.WithTimeout(cashcat.WithPayer(context.Background(), ip), 5*time.Second)
		_, err := b.Lead(ctx, fmt.Sprintf("t%015d", i))
		cancel()
		if err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		for _, s := range []struct {
			name  string
			store *LimitStore
			rate  limiter.Rate
		}{{"unknown-token budget", unknown, budgetRate}, {"calls in flight", inflight, flightRate}} {
			if m, sh := counts(s.store, s.rate); m != 0 || sh != 0 {
				t.Errorf("after lookup %d (Redis slow: %v), the %s counts %d in memory and %d in Redis, want 0 and 0", i, slow, s.name, m, sh)
			}
		}
	}
}
