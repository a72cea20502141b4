package shared

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadgate/leadgate/gateway/testenv"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// redisForTest is the local Redis (or LEADGATE_TEST_REDIS, a host:port):
// skipped with a message when it is missing, a failure under CI.
func redisForTest(t *testing.T) *redis.Client {
	t.Helper()
	addr := testenv.RedisAddr()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		msg := "Redis is not reachable at " + addr + ": start it, or set LEADGATE_TEST_REDIS"
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// slowCashcat counts calls per token and answers after a delay.
type slowCashcat struct {
	delay time.Duration
	mu    sync.Mutex
	calls map[string]int
}

func (s *slowCashcat) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	s.mu.Lock()
	s.calls[token]++
	s.mu.Unlock()
	time.Sleep(s.delay)
	if token[0] == 'x' {
		return nil, fmt.Errorf("cashcat: %w", providers.ErrNotFound)
	}
	return &providers.Lead{FirstName: "John", Loan: providers.LeadLoan{RequestedCurrency: "USD", RequestedAmount: 500}}, nil
}

func (s *slowCashcat) total() (calls, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.calls {
		calls += n
	}
	return calls, len(s.calls)
}

func run() string { return fmt.Sprintf("%d", time.Now().UnixNano()%1e9) }

// Three replicas, each with its own in-process cache, one Redis: 200
// concurrent requests for 20 new tokens make exactly 20 Cashcat calls.
func TestOneCashcatCallPerTokenAcrossReplicas(t *testing.T) {
	rdb := redisForTest(t)
	upstream := &slowCashcat{delay: 50 * time.Millisecond, calls: map[string]int{}}
	var replicas []*cashcat.Cache
	for range 3 {
		shared := NewLeads(rdb, "test:", upstream, time.Minute, time.Minute, 5*time.Second, quiet)
		replicas = append(replicas, cashcat.NewCache(shared, time.Minute, time.Minute, 1000, 5*time.Second, cashcat.CacheEvents{}))
	}
	prefix := run()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := fmt.Sprintf("t%s%06d", prefix, i%20)
			lead, err := replicas[i%3].Lead(context.Background(), token)
			if err != nil || lead.FirstName != "John" {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if calls, tokens := upstream.total(); calls != 20 || tokens != 20 || failed.Load() != 0 {
		t.Errorf("got %d Cashcat calls for %d tokens (%d failed), want exactly 20", calls, tokens, failed.Load())
	}
	// An unknown token is remembered for every replica too.
	for _, r := range replicas {
		r.Lead(context.Background(), "x"+prefix+"unknown")
	}
	if calls, _ := upstream.total(); calls != 21 {
		t.Errorf("unknown token: got %d calls in all, want 21", calls)
	}
}

// Redis down: every replica still serves, each paying its own call.
func TestRedisDownFallsBackToDirectCalls(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	upstream := &slowCashcat{calls: map[string]int{}}
	shared := NewLeads(rdb, "test:", upstream, time.Minute, time.Minute, time.Second, quiet)
	lead, err := shared.Lead(context.Background(), "t000000000000001")
	if err != nil || lead.FirstName != "John" || shared.Healthy() {
		t.Errorf("got %v, %v, healthy %v; want the lead, served without Redis", lead, err, shared.Healthy())
	}
}

// After a failure Redis is left alone for a while, then used again, and
// the lead cache is shared once more.
func TestRedisComesBack(t *testing.T) {
	rdb := redisForTest(t)
	upstream := &slowCashcat{calls: map[string]int{}}
	shared := NewLeads(rdb, "test-"+run()+":", upstream, time.Minute, time.Minute, time.Second, quiet)
	shared.downAt.Store(time.Now().UnixNano()) // it failed just now
	shared.Lead(context.Background(), "t000000000000002")
	if shared.Healthy() {
		t.Fatal("healthy right after a failure: Redis was not left alone")
	}
	shared.downAt.Store(time.Now().Add(-retryAfter - time.Second).UnixNano()) // a while ago
	shared.Lead(context.Background(), "t000000000000002")
	if !shared.Healthy() {
		t.Error("Redis answers again, but the cache still says it is down")
	}
	if calls, _ := upstream.total(); calls != 2 {
		t.Errorf("got %d Cashcat calls, want 2 (one direct while down, one through the shared cache)", calls)
	}
}
