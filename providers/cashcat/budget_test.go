package cashcat

import (
	"bytes"
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
	"github.com/ulule/limiter/v3/drivers/store/memory"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
)

// knownOnly answers tokens starting with "known" and 404 for the rest,
// counting the calls that reached it.
type knownOnly struct {
	mu    sync.Mutex
	calls int
}

func (k *knownOnly) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	k.mu.Lock()
	k.calls++
	k.mu.Unlock()
	if strings.HasPrefix(token, "known") {
		return &providers.Lead{FirstName: "Ana"}, nil
	}
	return nil, fmt.Errorf("cashcat: %w", providers.ErrNotFound)
}

func testLimiter(t *testing.T, rate string) *limiter.Limiter {
	t.Helper()
	r, err := limiter.NewRateFromFormatted(rate)
	if err != nil {
		t.Fatal(err)
	}
	return limiter.New(memory.NewStore(), r)
}

// One client IP can spend only its budgets: the unknown-token budget
// first (guessing tokens is what burns paid calls), then the overall one.
// Another IP keeps its own, and a lender's keyed call (no payer) is not
// charged to any IP.
func TestBudgetBoundsWhatOneAddressSpends(t *testing.T) {
	up := &knownOnly{}
	refused := map[string]int{}
	b := NewBudget(up, BudgetConfig{
		PerIP: testLimiter(t, "5-H"), Unknown: testLimiter(t, "2-H"),
		Refused: func(budget string) { refused[budget]++ },
	}, quiet())
	attacker := WithPayer(context.Background(), "198.51.100.66")
	for i := range 4 {
		_, err := b.Lead(attacker, fmt.Sprintf("guess%011d", i))
		if i < 2 && !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("guess %d: got %v, want Cashcat's 404", i, err)
		}
		if i >= 2 && !errors.Is(err, ErrBudgetSpent) {
			t.Fatalf("guess %d: got %v, want the unknown-token budget spent", i, err)
		}
	}
	if up.calls != 2 {
		t.Errorf("after 4 guesses Cashcat got %d calls, want 2", up.calls)
	}
	// Past the unknown budget even a real token is not looked up from
	// that address: a scraper would otherwise mix in one real token.
	if _, err := b.Lead(attacker, "known0000000001a"); !errors.Is(err, ErrBudgetSpent) {
		t.Errorf("a known token from the same address: got %v, want refused", err)
	}

	consumer := WithPayer(context.Background(), "203.0.113.7")
	for i := range 5 {
		if _, err := b.Lead(consumer, fmt.Sprintf("known%011d", i)); err != nil {
			t.Fatalf("consumer token %d: %v", i, err)
		}
	}
	if _, err := b.Lead(consumer, "known99999999999"); !errors.Is(err, ErrBudgetSpent) {
		t.Errorf("sixth token from one address: got %v, want the per-IP budget spent", err)
	}
	if _, err := b.Lead(context.Background(), "known88888888888"); err != nil {
		t.Errorf("a keyed call (no payer): got %v, want it made", err)
	}
	if refused["unknown"] != 3 || refused["ip"] != 1 {
		t.Errorf("refusals counted: %v, want unknown 3, ip 1", refused)
	}
}

// slowUnknown knows no token and answers after a while, counting calls:
// requests sent at once are all in flight before the first answer.
type slowUnknown struct{ knownOnly }

func (s *slowUnknown) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	time.Sleep(30 * time.Millisecond)
	return s.knownOnly.Lead(ctx, token)
}

// Guesses sent at once from one address spend no more than its budget:
// each takes its place in the budget before the call, not after the 404
// (checked after, 60 at once all passed while the count was 0). A token
// Cashcat knows gives its place back.
func TestUnknownBudgetHoldsAgainstConcurrentGuesses(t *testing.T) {
	up := &slowUnknown{}
	b := NewBudget(up, BudgetConfig{Unknown: testLimiter(t, "10-H")}, quiet())
	attacker := WithPayer(context.Background(), "198.51.100.66")
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() { b.Lead(attacker, fmt.Sprintf("guess%011d", i)) })
	}
	wg.Wait()
	if up.calls != 10 {
		t.Errorf("60 guesses at once made %d paid calls, want the budget's 10", up.calls)
	}
	consumer := WithPayer(context.Background(), "203.0.113.7")
	for i := range 30 {
		if _, err := b.Lead(consumer, fmt.Sprintf("known%011d", i)); err != nil {
			t.Fatalf("known token %d from an address without guesses: %v", i, err)
		}
	}
}

// A client with an IPv6 /64 has 2^64 addresses: its guesses are charged to
// one budget, whichever addresses they come from. Another /64 has its own.
func TestBudgetCountsAnIPv6SlashSixtyFourAsOneClient(t *testing.T) {
	up := &knownOnly{}
	b := NewBudget(up, BudgetConfig{Unknown: testLimiter(t, "2-H")}, quiet())
	for i := range 4 {
		_, err := b.Lead(WithPayer(context.Background(), fmt.Sprintf("2001:db8:1:2::%x", i+1)), fmt.Sprintf("guess%011d", i))
		if want := i >= 2; errors.Is(err, ErrBudgetSpent) != want {
			t.Fatalf("guess %d from a new address of the /64: got %v, budget spent %v", i, err, want)
		}
	}
	if up.calls != 2 {
		t.Errorf("Cashcat got %d calls from one /64, want 2", up.calls)
	}
	if _, err := b.Lead(WithPayer(context.Background(), "2001:db8:1:3::1"), "guess99999999999"); errors.Is(err, ErrBudgetSpent) {
		t.Error("another /64 was refused")
	}
}

// The daily ceiling stops every new call once reached, and the operator
// is alerted once when 80 % of it is used.
func TestDailyBudgetCeilingAndAlert(t *testing.T) {
	up := &knownOnly{}
	var logs bytes.Buffer
	b := NewBudget(up, BudgetConfig{Daily: limiter.New(memory.NewStore(), limiter.Rate{Period: 25 * time.Hour, Limit: 5})},
		slog.New(slog.NewJSONHandler(&logs, nil)))
	for i := range 7 {
		_, err := b.Lead(context.Background(), fmt.Sprintf("known%011d", i))
		if i < 5 && err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if i >= 5 && !errors.Is(err, ErrBudgetSpent) {
			t.Fatalf("call %d past the ceiling: got %v", i, err)
		}
	}
	if up.calls != 5 {
		t.Errorf("Cashcat got %d calls, want 5", up.calls)
	}
	if n := strings.Count(logs.String(), `"alert":"cashcat_daily_budget"`); n != 1 {
		t.Errorf("got %d alerts, want 1:\n%s", n, logs.String())
	}
}

// A refused call is not cached and does not trip the breaker: the same
// token is fetched as soon as the budget allows again.
func TestBudgetRefusalIsNeitherCachedNorAFailure(t *testing.T) {
	up := &knownOnly{}
	perIP := testLimiter(t, "1-H")
	cb := providers.NewBreaker[*providers.Lead]("cashcat", providers.BreakerConfig{Failures: 1, OpenFor: time.Hour}, nil)
	c := NewCache(NewBudget(NewBreaker(up, cb), BudgetConfig{PerIP: perIP}, quiet()), time.Hour, time.Hour, 100, time.Second, CacheEvents{})
	ip := WithPayer(context.Background(), "203.0.113.8")
	c.Lead(ip, "known00000000001")
	if _, err := c.Lead(ip, "known00000000002"); !errors.Is(err, ErrBudgetSpent) {
		t.Fatalf("second token: got %v, want refused", err)
	}
	if cb.State().String() != "closed" {
		t.Errorf("a refusal tripped the breaker: %s", cb.State())
	}
	perIP.Reset(context.Background(), "203.0.113.8")
	if lead, err := c.Lead(ip, "known00000000002"); err != nil || lead == nil {
		t.Errorf("after the budget came back: got %v, %v; the refusal was cached", lead, err)
	}
}

// slowKnown knows every token and answers after a while.
type slowKnown struct{ after time.Duration }

func (s slowKnown) Lead(context.Context, string) (*providers.Lead, error) {
	time.Sleep(s.after)
	return &providers.Lead{FirstName: "Ana"}, nil
}

// A known token whose answer comes after its budget window ended gives
// its place back to no one: given back into the next window, it would
// start that one below zero, a free guess.
func TestUnknownBudgetPlaceIsGivenBackToItsOwnWindowOnly(t *testing.T) {
	for _, st := range map[string]limiter.Store{"memory": memory.NewStore(), "bounded": bounded.NewLimitStore(100)} {
		l := limiter.New(st, limiter.Rate{Period: time.Second, Limit: 2})
		ip := WithPayer(context.Background(), "198.51.100.70")
		if _, err := NewBudget(slowKnown{1100 * time.Millisecond}, BudgetConfig{Unknown: l}, quiet()).Lead(ip, "known0000000001a"); err != nil {
			t.Fatal(err)
		}
		up := &knownOnly{}
		b := NewBudget(up, BudgetConfig{Unknown: l}, quiet())
		for i := range 3 {
			b.Lead(ip, fmt.Sprintf("guess%011d", i))
		}
		if up.calls != 2 {
			t.Errorf("3 guesses after a slow known token: %d paid calls, want the budget's 2", up.calls)
		}
	}
}

// slowMixed answers tokens starting with "known" and 404 for the rest,
// each after a while: requests sent at once are all in flight together.
type slowMixed struct{ knownOnly }

func (s *slowMixed) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	time.Sleep(40 * time.Millisecond)
	return s.knownOnly.Lead(ctx, token)
}

// More new tokens at once from one address than its unknown-token budget
// (a carrier NAT at the evening peak) are all looked up: a lookup past the
// budget while places are held by calls still in flight waits for them,
// and takes a place a known token gave back. Refused outright, those
// consumers got an empty form. So with the counts in a store a few
// milliseconds away, as Redis is: a call is counted in flight a round trip
// after it took its place. Guesses still wait for nothing: once the places
// are spent on 404s and no call is in flight, the rest are refused.
func TestUnknownBudgetWaitsForCallsInFlight(t *testing.T) {
	for name, store := range map[string]func() limiter.Store{
		"memory":    func() limiter.Store { return memory.NewStore() },
		"bounded":   func() limiter.Store { return bounded.NewLimitStore(100) },
		"3 ms away": func() limiter.Store { return distantStore{memory.NewStore(), 3 * time.Millisecond} },
		// A count in flight slow to land (a loaded machine, a store
		// far away): a call between its place and that count was in no
		// count, and waiters that looked twice then were refused.
		"counts in flight land late": func() limiter.Store { return lateIncrements{memory.NewStore(), 30 * time.Millisecond} },
	} {
		t.Run(name, func(t *testing.T) {
			up := &slowMixed{}
			var refused atomic.Int32
			unknown := store()
			if late, ok := unknown.(lateIncrements); ok {
				unknown = late.Store // only the counts in flight are late
			}
			b := NewBudget(up, BudgetConfig{
				Unknown:  limiter.New(unknown, limiter.Rate{Period: time.Hour, Limit: 10}),
				InFlight: limiter.New(store(), InFlightRate(time.Second)),
				Wait:     time.Second,
				Refused:  func(string) { refused.Add(1) },
			}, quiet())
			// A deadline, as every lookup has: a count never undone fails
			// the test instead of hanging it.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			nat := WithPayer(ctx, "198.51.100.80")
			var wg sync.WaitGroup
			for i := range 25 {
				wg.Go(func() {
					if _, err := b.Lead(nat, fmt.Sprintf("known%011d", i)); err != nil {
						t.Errorf("token %d of 25 at once: %v", i, err)
					}
				})
			}
			wg.Wait()
			if up.calls != 25 || refused.Load() != 0 {
				t.Errorf("25 known tokens at once: %d calls, %d refused, want 25 and 0", up.calls, refused.Load())
			}

			// The scraper's side is unchanged: 60 guesses at once, 10 paid
			// calls, and the rest answered once the places are spent.
			up.calls = 0
			scraper := WithPayer(ctx, "198.51.100.81")
			start := time.Now()
			for i := range 60 {
				wg.Go(func() { b.Lead(scraper, fmt.Sprintf("guess%011d", i)) })
			}
			wg.Wait()
			if up.calls != 10 || refused.Load() != 50 {
				t.Errorf("60 guesses at once: %d calls, %d refused, want 10 and 50", up.calls, refused.Load())
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the refused guesses took %v: they waited for more than the calls in flight", took)
			}
		})
	}
}

// distantStore answers each count after a delay, as a store across a
// network does.
type distantStore struct {
	limiter.Store
	delay time.Duration
}

func (d distantStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	time.Sleep(d.delay)
	return d.Store.Get(ctx, key, rate)
}

func (d distantStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	time.Sleep(d.delay)
	return d.Store.Increment(ctx, key, count, rate)
}

func (d distantStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	time.Sleep(d.delay)
	return d.Store.Peek(ctx, key, rate)
}

// lateIncrements is a store whose increments land after a delay, its
// reads at once.
type lateIncrements struct {
	limiter.Store
	delay time.Duration
}

func (d lateIncrements) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	time.Sleep(d.delay)
	return d.Store.Increment(ctx, key, count, rate)
}

// blockedScraper is an address whose budget is spent on guesses while
// ten calls of its hold their places for 300 ms: b's upstream counts the
// calls, inflight's store the looks.
func blockedScraper(t *testing.T, wait time.Duration) (b *Budget, up *slowKnownCount, looks *atomic.Int64, ip context.Context) {
	t.Helper()
	up = &slowKnownCount{after: 300 * time.Millisecond}
	looks = new(atomic.Int64)
	b = NewBudget(up, BudgetConfig{
		Unknown:  testLimiter(t, "10-H"),
		InFlight: limiter.New(countingStore{memory.NewStore(), looks}, InFlightRate(time.Second)),
		Wait:     wait,
	}, quiet())
	ip = WithPayer(context.Background(), "198.51.100.82")
	for i := range 10 {
		go b.Lead(ip, fmt.Sprintf("known%011d", i))
	}
	for deadline := time.Now().Add(time.Second); up.calls.Load() < 10; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls in flight, want 10", up.calls.Load())
		}
	}
	return b, up, looks, ip
}

// A lookup whose own deadline ends while it waits makes no call: cut at
// once, it would be paid all the same, count as Cashcat failing (its
// breaker opened for everyone), and give back a place it never held.
func TestUnknownBudgetWaitEndsWithTheLookupsDeadline(t *testing.T) {
	b, up, _, ip := blockedScraper(t, time.Second)
	ctx, cancel := context.WithTimeout(ip, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Lead(ctx, "known99999999999")
	if !errors.Is(err, ErrBudgetSpent) {
		t.Errorf("a lookup whose deadline ended while it waited: %v, want refused", err)
	}
	if took := time.Since(start); took > 250*time.Millisecond {
		t.Errorf("it answered after %v, past its deadline of 50 ms", took)
	}
	if n := up.calls.Load(); n != 10 {
		t.Errorf("%d calls, want the 10 in flight only", n)
	}
}

// A wait lasts cfg.Wait at most, even when the calls it waits for never
// answer (a count in flight whose undoing was lost with its replica),
// and a flood of lookups from one address while calls are in flight is
// answered with a bounded number of looks at the store.
func TestUnknownBudgetWaitIsBounded(t *testing.T) {
	b, up, looks, ip := blockedScraper(t, 100*time.Millisecond)
	start := time.Now()
	if _, err := b.Lead(ip, "known99999999999"); !errors.Is(err, ErrBudgetSpent) {
		t.Errorf("past the budget with the places held past the wait: %v, want refused", err)
	}
	if took := time.Since(start); took < 80*time.Millisecond || took > 250*time.Millisecond {
		t.Errorf("refused after %v, want after the wait of 100 ms", took)
	}
	looks.Store(0)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() { b.Lead(ip, fmt.Sprintf("guess%011d", i)) })
	}
	wg.Wait()
	// 32 waiters, each looking at most about 6 times in 100 ms.
	if n := looks.Load(); n > 32*8 {
		t.Errorf("200 lookups waiting at once looked at the store %d times, want at most %d", n, 32*8)
	}
	if n := up.calls.Load(); n != 10 {
		t.Errorf("%d calls, want the 10 in flight only", n)
	}
}

// A call answered after the window it was counted in flight in stops
// counting in no other window: undone in the next, it would start that
// one below zero, hiding a call in flight from the lookups waiting.
func TestInFlightCountIsUndoneInItsOwnWindowOnly(t *testing.T) {
	inflight := limiter.New(memory.NewStore(), limiter.Rate{Period: time.Second, Limit: 1 << 40})
	b := NewBudget(slowKnown{1100 * time.Millisecond}, BudgetConfig{Unknown: testLimiter(t, "10-H"), InFlight: inflight, Wait: time.Second}, quiet())
	ip := WithPayer(context.Background(), "198.51.100.83")
	if _, err := b.Lead(ip, "known0000000001a"); err != nil {
		t.Fatal(err)
	}
	lc, err := inflight.Peek(context.Background(), providers.ClientNet("198.51.100.83"))
	if err != nil {
		t.Fatal(err)
	}
	if n := lc.Limit - lc.Remaining; n != 0 {
		t.Errorf("after a call answered in the next window, %d in flight, want 0", n)
	}
}

// slowKnownCount knows every token, answers after a while and counts its
// calls.
type slowKnownCount struct {
	after time.Duration
	calls atomic.Int64
}

func (s *slowKnownCount) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	s.calls.Add(1)
	select {
	case <-time.After(s.after):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if strings.HasPrefix(token, "known") {
		return &providers.Lead{FirstName: "Ana"}, nil
	}
	return nil, fmt.Errorf("cashcat: %w", providers.ErrNotFound)
}

// countingStore counts the reads (Peek) made of a store.
type countingStore struct {
	limiter.Store
	n *atomic.Int64
}

func (c countingStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	c.n.Add(1)
	return c.Store.Peek(ctx, key, rate)
}

// A lookup stops waiting while its call would still have its whole time
// (CallTime) before the lookup's deadline: a place taken later would make
// a call cut short, paid all the same and counted as Cashcat failing.
func TestUnknownBudgetWaitLeavesTheCallItsTime(t *testing.T) {
	b, up, _, ip := blockedScraper(t, time.Second)
	b.cfg.CallTime = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(ip, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := b.Lead(ctx, "known99999999999"); !errors.Is(err, ErrBudgetSpent) {
		t.Errorf("past the budget with the places held: %v, want refused", err)
	}
	if took := time.Since(start); took < 80*time.Millisecond || took > 180*time.Millisecond {
		t.Errorf("refused after %v, want after about 100 ms (its deadline less the call's time)", took)
	}
	if n := up.calls.Load(); n != 10 {
		t.Errorf("%d calls, want the 10 in flight only", n)
	}
}
