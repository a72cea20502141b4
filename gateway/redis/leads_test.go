package redis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/leadgate/leadgate/gateway/testenv"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashcat"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// redisForTest is the URL of the local Redis (or LEADGATE_TEST_REDIS, a
// host:port): skipped with a message when it is missing, a failure under
// CI.
func redisForTest(t *testing.T) string {
	t.Helper()
	addr := testenv.RedisAddr()
	url := "redis://" + addr + "/0"
	if open(t, url, 2*time.Second).rdb.Ping(context.Background()).Err() != nil {
		msg := "Redis is not reachable at " + addr + ": start it, or set LEADGATE_TEST_REDIS"
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return url
}

// open is one replica's client, with the product's settings.
func open(t *testing.T, url string, timeout time.Duration) *Conn {
	t.Helper()
	r, err := Open(url, timeout, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
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
	url := redisForTest(t)
	upstream := &slowCashcat{delay: 50 * time.Millisecond, calls: map[string]int{}}
	var replicas []*cashcat.Cache
	for range 3 {
		shared := NewLeads(open(t, url, 250*time.Millisecond), "test:", upstream, time.Minute, time.Minute, 5*time.Second)
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
	r := open(t, "redis://127.0.0.1:1/0", 250*time.Millisecond)
	upstream := &slowCashcat{calls: map[string]int{}}
	shared := NewLeads(r, "test:", upstream, time.Minute, time.Minute, time.Second)
	start := time.Now()
	lead, err := shared.Lead(context.Background(), "t000000000000001")
	if err != nil || lead.FirstName != "John" || r.Shared() {
		t.Errorf("got %v, %v, shared %v; want the lead, served without Redis", lead, err, r.Shared())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, want at most about 250ms (redis timeout) before serving without Redis", d)
	}
}

// After a failure Redis is left alone for a while, then used again, and
// the lead cache is shared once more.
func TestRedisComesBack(t *testing.T) {
	r := open(t, redisForTest(t), 250*time.Millisecond)
	upstream := &slowCashcat{calls: map[string]int{}}
	shared := NewLeads(r, "test-"+run()+":", upstream, time.Minute, time.Minute, time.Second)
	r.downAt.Store(time.Now().UnixNano()) // it failed just now
	shared.Lead(context.Background(), "t000000000000002")
	if r.Shared() {
		t.Fatal("shared right after a failure: Redis was not left alone")
	}
	r.downAt.Store(time.Now().Add(-retryAfter - time.Second).UnixNano()) // a while ago
	shared.Lead(context.Background(), "t000000000000002")
	if !r.Shared() {
		t.Error("Redis answers again, but the cache still says it is down")
	}
	if calls, _ := upstream.total(); calls != 2 {
		t.Errorf("got %d Cashcat calls, want 2 (one direct while down, one through the shared cache)", calls)
	}
}

// listen serves each connection made to the address it returns with
// handle, until the test ends.
func listen(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln.Addr().String()
}

// slowRedis is a TCP proxy to Redis that delays Redis's answers: every
// tenth one by long, the others by short, the way a loaded Redis (or the
// machine under it) answers. It returns the proxy's URL.
func slowRedis(t *testing.T, target string, short, long time.Duration) string {
	var n atomic.Int64
	return delayingRedis(t, target, func() time.Duration {
		if n.Add(1)%10 == 0 {
			return long
		}
		return short
	})
}

// delayingRedis is a TCP proxy to Redis that holds each of Redis's
// answers for as long as delay says. It returns the proxy's URL.
func delayingRedis(t *testing.T, target string, delay func() time.Duration) string {
	return "redis://" + listen(t, func(c net.Conn) {
		defer c.Close()
		up, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		go func() { io.Copy(up, c); up.Close() }()
		buf := make([]byte, 32<<10)
		for {
			k, err := up.Read(buf)
			if err != nil {
				return
			}
			time.Sleep(delay())
			if _, err := c.Write(buf[:k]); err != nil {
				return
			}
		}
	}) + "/0"
}

// landings sends n concurrent requests for tokens new tokens to the
// replicas in turn, each with a landing's deadline, and returns how many
// got no lead.
func landings(replicas []*cashcat.Cache, n, tokens int, prefix string) int {
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
			defer cancel()
			lead, err := replicas[i%len(replicas)].Lead(ctx, fmt.Sprintf("t%s%06d", prefix, i%tokens))
			if err != nil || lead.FirstName != "John" {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(failed.Load())
}

// A holder whose Cashcat call outlasts its lock keeps the token: the
// other replicas wait for its answer instead of paying again.
func TestOneCallWhenTheCallOutlastsTheLock(t *testing.T) {
	url := redisForTest(t)
	upstream := &slowCashcat{delay: 1500 * time.Millisecond, calls: map[string]int{}}
	prefix := run()
	var replicas []*cashcat.Cache
	for range 3 {
		shared := NewLeads(open(t, url, 250*time.Millisecond), "test-"+prefix+":", upstream, time.Minute, time.Minute, 5*time.Second)
		shared.lockFor = 600 * time.Millisecond
		replicas = append(replicas, cashcat.NewCache(shared, time.Minute, time.Minute, 1000, 5*time.Second, cashcat.CacheEvents{}))
	}
	failed := landings(replicas, 60, 10, prefix)
	if calls, tokens := upstream.total(); calls != tokens || tokens != 10 {
		t.Errorf("got %d Cashcat calls for %d tokens, want 1 per token (a call of 1.5s, a lock of 600ms)", calls, tokens)
	}
	if failed != 0 {
		t.Errorf("%d of 60 landings got no lead", failed)
	}
}

// A slow Redis is not a dead one: answers late (some later than a Redis
// call may take) never make a replica pay Cashcat for a token another one
// is already fetching.
func TestOneCallPerTokenWhileRedisIsSlow(t *testing.T) {
	direct, err := goredis.ParseURL(redisForTest(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := slowRedis(t, direct.Addr, 5*time.Millisecond, 600*time.Millisecond)
	upstream := &slowCashcat{delay: 100 * time.Millisecond, calls: map[string]int{}}
	prefix := run()
	var replicas []*cashcat.Cache
	var clients []*Conn
	for range 3 {
		r := open(t, proxy, 250*time.Millisecond)
		shared := NewLeads(r, "test-"+prefix+":", upstream, time.Minute, time.Minute, 4*time.Second)
		replicas = append(replicas, cashcat.NewCache(shared, time.Minute, time.Minute, 1000, 4*time.Second, cashcat.CacheEvents{}))
		clients = append(clients, r)
	}
	failed := landings(replicas, 200, 20, prefix)
	calls, tokens := upstream.total()
	t.Logf("200 landings of 20 tokens on 3 replicas, Redis slow: %d Cashcat calls (%.2f per token), %d landings without a lead", calls, float64(calls)/float64(tokens), failed)
	if calls != tokens || tokens != 20 {
		t.Errorf("got %d Cashcat calls for %d tokens, want 1.00 per token", calls, tokens)
	}
	if failed > 0 {
		t.Errorf("%d of 200 landings got no lead", failed)
	}
	for i, r := range clients {
		if !r.Shared() {
			t.Errorf("replica %d took a slow Redis for an unreachable one", i)
		}
	}
}

// A request whose own deadline ends while another replica fetches its
// token gives up (no prefill): it neither pays Cashcat itself nor takes
// Redis for dead.
func TestAWaiterThatGivesUpDoesNotPay(t *testing.T) {
	url := redisForTest(t)
	upstream := &slowCashcat{delay: 500 * time.Millisecond, calls: map[string]int{}}
	prefix := "test-" + run() + ":"
	ra, rb := open(t, url, 250*time.Millisecond), open(t, url, 250*time.Millisecond)
	a := NewLeads(ra, prefix, upstream, time.Minute, time.Minute, 5*time.Second)
	b := NewLeads(rb, prefix, upstream, time.Minute, time.Minute, 5*time.Second)
	token := "t" + run() + "waiter"
	first := make(chan error, 1)
	go func() { _, err := a.Lead(context.Background(), token); first <- err }()
	for ra.rdb.Exists(context.Background(), a.lockKey(token)).Val() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if lead, err := b.Lead(ctx, token); err == nil {
		t.Fatalf("got %v before its holder had it, want the waiter to give up", lead)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if lead, err := b.Lead(context.Background(), token); err != nil || lead.FirstName != "John" {
		t.Errorf("afterwards: got %v, %v, want the holder's answer", lead, err)
	}
	if calls, _ := upstream.total(); calls != 1 || !rb.Shared() {
		t.Errorf("got %d Cashcat calls, shared %v; want 1 call and Redis still shared", calls, rb.Shared())
	}
}

// hungRedis accepts connections and never answers, like a Redis that is
// stopped (SIGSTOP) or stuck. It returns its URL.
func hungRedis(t *testing.T) string {
	return "redis://" + listen(t, func(c net.Conn) { io.Copy(io.Discard, c); c.Close() }) + "/0"
}

// A Redis that answers nothing at all is unreachable after a while, not
// slow forever: the replica then serves on its own, at once.
func TestAHungRedisCountsAsUnreachable(t *testing.T) {
	r := open(t, hungRedis(t), 50*time.Millisecond) // checked within 8 × 50ms
	upstream := &slowCashcat{calls: map[string]int{}}
	shared := NewLeads(r, "test:", upstream, time.Minute, time.Minute, time.Second)
	start := time.Now()
	lead, err := shared.Lead(context.Background(), "t000000000000003")
	if err != nil || lead.FirstName != "John" || r.Shared() {
		t.Fatalf("got %v, %v, shared %v; want the lead, served without Redis", lead, err, r.Shared())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the first lead took %v, want about 400ms", d)
	}
	start = time.Now()
	shared.Lead(context.Background(), "t000000000000004")
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("the next lead took %v: an unreachable Redis must be left alone", d)
	}
}

// gate holds a replica's first lock claim until the test lets it go.
type gate struct {
	held, release chan struct{}
	once          sync.Once
}

func (g *gate) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (g *gate) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}
func (g *gate) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		switch cmd.Name() {
		case "evalsha", "eval", "setnx":
			g.once.Do(func() { close(g.held); <-g.release })
		}
		return next(ctx, cmd)
	}
}

// A replica that found nothing, then is slow to claim the lock, finds the
// answer another replica stored meanwhile: it does not pay again.
func TestASlowClaimAfterTheAnswerDoesNotPay(t *testing.T) {
	url := redisForTest(t)
	upstream := &slowCashcat{delay: 10 * time.Millisecond, calls: map[string]int{}}
	prefix := "test-" + run() + ":"
	ra, rb := open(t, url, 250*time.Millisecond), open(t, url, 250*time.Millisecond)
	g := &gate{held: make(chan struct{}), release: make(chan struct{})}
	rb.rdb.AddHook(g)
	a := NewLeads(ra, prefix, upstream, time.Minute, time.Minute, 5*time.Second)
	b := NewLeads(rb, prefix, upstream, time.Minute, time.Minute, 5*time.Second)
	token := "t" + run() + "claim"
	slow := make(chan error, 1)
	go func() { _, err := b.Lead(context.Background(), token); slow <- err }()
	<-g.held // b has looked, found nothing, and is about to claim
	if _, err := a.Lead(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if calls, _ := upstream.total(); calls != 1 {
		t.Errorf("got %d Cashcat calls, want 1", calls)
	}
}

// An answer this version cannot read (written by another one, say) is
// fetched again and overwritten, not waited on.
func TestAnUnreadableAnswerIsFetchedAgain(t *testing.T) {
	r := open(t, redisForTest(t), 250*time.Millisecond)
	upstream := &slowCashcat{calls: map[string]int{}}
	shared := NewLeads(r, "test-"+run()+":", upstream, time.Minute, time.Minute, time.Second)
	token := "t" + run() + "unread"
	r.rdb.Set(context.Background(), shared.leadKey(token), "{not json", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if lead, err := shared.Lead(ctx, token); err != nil || lead.FirstName != "John" {
		t.Fatalf("got %v, %v, want the lead fetched again", lead, err)
	}
	if v := r.rdb.Get(context.Background(), shared.leadKey(token)).Val(); v == "{not json" {
		t.Error("the unreadable answer was not overwritten")
	}
}
