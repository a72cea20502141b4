package submit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/providers"
)

type fakeBuyer struct {
	name  string
	calls atomic.Int32
	delay time.Duration
	d     providers.Decision
	err   error
	// tiers, when set, make it a tiered buyer; byTier answers per tier.
	tiers  []string
	byTier map[string]providers.Decision
	// errs, when set, are the answers of the first calls, in order.
	errs   []error
	mu     sync.Mutex
	posted []string // tiers posted, in order
}

func (f *fakeBuyer) Name() string    { return f.name }
func (f *fakeBuyer) Tiers() []string { return f.tiers }
func (f *fakeBuyer) Submit(ctx context.Context, s *providers.Submission, tier string) (providers.Decision, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.posted = append(f.posted, tier)
	f.mu.Unlock()
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return providers.Decision{}, ctx.Err()
	}
	if d, ok := f.byTier[tier]; ok {
		return d, nil
	}
	if n := int(f.calls.Load()); n <= len(f.errs) && f.errs[n-1] != nil {
		return providers.Decision{}, f.errs[n-1]
	}
	return f.d, f.err
}

func (f *fakeBuyer) tiersPosted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.posted)
}

func create(t *testing.T, s *store.Store, id string, deadline time.Duration) {
	t.Helper()
	_, _, err := s.Create(context.Background(), store.New{ID: id, SessionHash: "s", IdempotencyKey: id, Flow: "es", Form: "es", Currency: "EUR", Deadline: deadline,
		Submission: providers.Submission{ID: id}})
	if err != nil {
		t.Fatal(err)
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func run(t *testing.T, s *store.Store, buyers ...*fakeBuyer) *Worker {
	t.Helper()
	list := make([]Buyer, len(buyers))
	for i, b := range buyers {
		list[i] = b
	}
	return runWith(t, s, nil, list...)
}

// workers counts the workers the tests made, for their owner names.
var workers atomic.Int32

func runWith(t *testing.T, s Store, caps map[string]providers.CapsConfig, buyers ...Buyer) *Worker {
	t.Helper()
	m := map[string]Buyer{}
	var order []string
	for _, b := range buyers {
		m[b.Name()] = b
		order = append(order, b.Name())
	}
	// Each worker its own owner, as each replica has: two workers on one
	// store are two replicas.
	w := New(s, m, map[string][]string{"es": order}, Config{Owner: fmt.Sprintf("test-%d", workers.Add(1)), Lease: time.Minute, Workers: 4, Poll: 20 * time.Millisecond,
		Caps: caps, RetryBase: 20 * time.Millisecond}, quiet, Events{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func accept(url string) providers.Decision {
	return providers.Decision{Outcome: providers.Accepted, RedirectURL: url, Price: 2}
}

func TestWaterfallFallsThroughToTheFirstAcceptance(t *testing.T) {
	tests := []struct {
		name  string
		first *fakeBuyer
	}{
		{"decline", &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.Declined, Reason: "cap reached"}}},
		{"error", &fakeBuyer{name: "a", err: providers.ErrUnavailable}},
		{"bad answer", &fakeBuyer{name: "a", err: providers.ErrBadResponse}},
		{"breaker open", &fakeBuyer{name: "a", err: providers.ErrBreakerOpen}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			second := &fakeBuyer{name: "b", d: accept("https://b.example/welcome")}
			third := &fakeBuyer{name: "c", d: accept("https://c.example/welcome")}
			create(t, s, "app-1", time.Minute)
			w := run(t, s, tt.first, second, third)
			w.Wake()
			app, err := w.Wait(context.Background(), "app-1", 5*time.Second)
			if err != nil || app.Status != providers.StatusAccepted || app.RedirectURL != "https://b.example/welcome" || app.Buyer != "b" || app.Revenue != 2 {
				t.Fatalf("got %+v, %v; want accepted by b for its price, 2", app, err)
			}
			if tt.first.calls.Load() != 1 || second.calls.Load() != 1 || third.calls.Load() != 0 {
				t.Errorf("calls a=%d b=%d c=%d, want 1 1 0", tt.first.calls.Load(), second.calls.Load(), third.calls.Load())
			}
			atts, _ := s.Attempts(context.Background(), "app-1")
			if len(atts) != 2 || atts[0].Buyer != "a" || atts[1].Outcome != "accepted" || atts[1].Price != 2 {
				t.Errorf("got attempts %+v", atts)
			}
		})
	}
}

// With the CRM mirror on, every decided application is queued for it,
// whatever the outcome; with it off, none is.
func TestDecisionsAreQueuedForTheCRM(t *testing.T) {
	for _, crm := range []bool{true, false} {
		t.Run(fmt.Sprintf("crm=%v", crm), func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			a := &fakeBuyer{name: "a", d: accept("https://a.example")}
			d := &fakeBuyer{name: "d", d: providers.Decision{Outcome: providers.Declined}}
			flows := map[string][]string{"es": {"a"}, "us": {"d"}}
			w := New(s, map[string]Buyer{"a": a, "d": d}, flows, Config{Owner: "w", Lease: time.Minute, Workers: 2, Poll: 20 * time.Millisecond, CRM: crm}, quiet, Events{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { w.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			create(t, s, "app-es", time.Minute)
			s.Create(context.Background(), store.New{ID: "app-us", SessionHash: "s", IdempotencyKey: "app-us", Flow: "us", Form: "us", Currency: "USD",
				Deadline: time.Minute, Submission: providers.Submission{ID: "app-us"}})
			w.Wake()
			want := map[bool]providers.CRMState{true: providers.CRMPending, false: ""}[crm]
			for id, status := range map[string]providers.Status{"app-es": providers.StatusAccepted, "app-us": providers.StatusDeclined} {
				app, _ := w.Wait(context.Background(), id, 5*time.Second)
				if app.Status != status || app.CRMStatus != want {
					t.Errorf("%s: got %s with crm status %q, want %s with %q", id, app.Status, app.CRMStatus, status, want)
				}
			}
		})
	}
}

// A buyer that accepts for a price no lead sells for (its bug, an answer
// tampered with) has still bought the lead: the consumer goes to it. The
// price counts as none, and the audit says why: summed into the revenue,
// 1e308 made +Inf of every total and chart it entered.
func TestAbsurdPriceCountsAsNone(t *testing.T) {
	for _, price := range []float64{1e308, 2e9, math.Inf(1), math.NaN(), -3} {
		s := storetest.SQLite(t, store.Open)
		a := &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.Accepted, RedirectURL: "https://a.example/w", Price: price, Reason: "ok"}}
		create(t, s, "app-1", time.Minute)
		w := run(t, s, a)
		w.Wake()
		app, err := w.Wait(context.Background(), "app-1", 5*time.Second)
		if err != nil || app.Status != providers.StatusAccepted || app.RedirectURL != "https://a.example/w" || app.Revenue != 0 {
			t.Errorf("price %v: got %s to %q for %v (%v); want accepted to a's URL for 0", price, app.Status, app.RedirectURL, app.Revenue, err)
		}
		atts, _ := s.Attempts(context.Background(), "app-1")
		if len(atts) != 1 || atts[0].Price != 0 || !strings.Contains(atts[0].Reason, "price") {
			t.Errorf("price %v: the audit has %+v, want price 0 and why", price, atts)
		}
	}
}

func TestEveryBuyerDeclines(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	a := &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.Declined}}
	create(t, s, "app-1", time.Minute)
	w := run(t, s, a)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != providers.StatusDeclined {
		t.Errorf("got %s, want declined", app.Status)
	}
}

func TestNeedsFixStopsTheWaterfall(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	a := &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.NeedsFix, FieldErrors: map[string]string{"phone_plan": "vacío"}}}
	b := &fakeBuyer{name: "b", d: accept("https://b.example")}
	create(t, s, "app-1", time.Minute)
	w := run(t, s, a, b)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != providers.StatusNeedsFix || b.calls.Load() != 0 {
		t.Errorf("got %s with %d calls to b", app.Status, b.calls.Load())
	}
	rec, _ := s.Sealed(context.Background(), "app-1")
	if rec.FieldErrors["phone_plan"] != "vacío" {
		t.Errorf("field errors: got %v", rec.FieldErrors)
	}
}

func TestDeadlineSendsToFallback(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	slow := &fakeBuyer{name: "a", delay: time.Minute, d: accept("https://a.example")}
	next := &fakeBuyer{name: "b", d: accept("https://b.example")}
	create(t, s, "app-1", 200*time.Millisecond)
	w := run(t, s, slow, next)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != providers.StatusDeclined || app.Reason != "flow deadline passed" || next.calls.Load() != 0 {
		t.Errorf("got %s (%s), b called %d times; want declined at the deadline", app.Status, app.Reason, next.calls.Load())
	}
}

// A process that stopped mid-post leaves a started attempt: that buyer may
// have the lead, so it is not posted again; the next buyer is tried.
func TestInterruptedAttemptIsNotResent(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	ctx := context.Background()
	create(t, s, "app-1", time.Minute)
	s.Claim(ctx, "crashed", time.Millisecond, 1)
	if err := s.StartAttempt(ctx, "app-1", "crashed", "a", "", 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the dead worker's lease runs out
	a := &fakeBuyer{name: "a", d: accept("https://a.example")}
	b := &fakeBuyer{name: "b", d: accept("https://b.example")}
	w := run(t, s, a, b)
	app, _ := w.Wait(ctx, "app-1", 5*time.Second)
	if app.Status != providers.StatusAccepted || app.Buyer != "b" || a.calls.Load() != 0 {
		t.Errorf("got %+v, a called %d times", app, a.calls.Load())
	}
	atts, _ := s.Attempts(ctx, "app-1")
	if atts[0].Outcome != providers.InDoubt {
		t.Errorf("got %+v, want the interrupted attempt in doubt", atts[0])
	}
}

func TestManyApplicationsEachPostedOnce(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	b := &fakeBuyer{name: "a", d: accept("https://a.example")}
	for i := range 40 {
		create(t, s, "app-"+string(rune('A'+i)), time.Minute)
	}
	// Two workers (two replicas) on one store.
	w1 := run(t, s, b)
	w2 := run(t, s, b)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := w1
			if i%2 == 1 {
				w = w2
			}
			// Generous: the pure-Go SQLite runs many times slower under
			// -race on a loaded machine; a second post would fail below.
			app, err := w.Wait(context.Background(), "app-"+string(rune('A'+i)), 60*time.Second)
			if app.Status != providers.StatusAccepted {
				t.Errorf("app %d: got %q (%v)", i, app.Status, err)
			}
		}()
	}
	wg.Wait()
	if n := b.calls.Load(); n != 40 {
		t.Errorf("got %d posts for 40 applications, want 40", n)
	}
}

func declined(reason string, final bool) providers.Decision {
	return providers.Decision{Outcome: providers.Declined, Reason: reason, Final: final}
}

func TestTierRideDown(t *testing.T) {
	tiers := []string{"tier150", "tier100", "tier50"}
	tests := []struct {
		name       string
		byTier     map[string]providers.Decision
		err        error
		wantPosted []string
		wantBuyer  string
	}{
		{"accepted at the third tier",
			map[string]providers.Decision{"tier150": declined("Unable to Monetize", false), "tier100": declined("Unable to Monetize", false), "tier50": accept("https://a.example")},
			nil, tiers, "a"},
		{"accepted at the first tier",
			map[string]providers.Decision{"tier150": accept("https://a.example")},
			nil, tiers[:1], "a"},
		{"duplicate stops the ride",
			map[string]providers.Decision{"tier150": declined("Duplicate Lead", true), "tier100": accept("https://a.example")},
			nil, tiers[:1], "b"},
		{"errors detected at the second tier stop it",
			map[string]providers.Decision{"tier150": declined("Unable to Monetize", false), "tier100": declined("Errors Detected", true), "tier50": accept("https://a.example")},
			nil, tiers[:2], "b"},
		{"a failing buyer is not ridden down",
			nil, providers.ErrUnavailable, tiers[:1], "b"},
		{"every tier declines",
			map[string]providers.Decision{"tier150": declined("Unable to Monetize", false), "tier100": declined("Unable to Monetize", false), "tier50": declined("Unable to Monetize", false)},
			nil, tiers, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			a := &fakeBuyer{name: "a", tiers: tiers, byTier: tt.byTier, err: tt.err}
			b := &fakeBuyer{name: "b", d: accept("https://b.example")}
			create(t, s, "app-1", time.Minute)
			w := run(t, s, a, b)
			app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
			if app.Status != providers.StatusAccepted || app.Buyer != tt.wantBuyer {
				t.Fatalf("got %s by %q, want accepted by %s", app.Status, app.Buyer, tt.wantBuyer)
			}
			if got := a.tiersPosted(); !reflect.DeepEqual(got, tt.wantPosted) {
				t.Errorf("tiers posted: got %v, want %v", got, tt.wantPosted)
			}
			atts, _ := s.Attempts(context.Background(), "app-1")
			for i, want := range tt.wantPosted {
				if atts[i].Buyer != "a" || atts[i].Tier != want {
					t.Errorf("attempt %d: got %s/%s, want a/%s", i, atts[i].Buyer, atts[i].Tier, want)
				}
			}
		})
	}
}

// A ride interrupted by a restart goes on from the tier after the last one
// answered, and never re-posts a tier; after a decline no lower tier can
// change (a duplicate), it goes on to the next buyer instead.
func TestTierRideResumes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		final      bool
		wantPosted []string
		wantBuyer  string
	}{
		{"after a price decline", false, []string{"tier100"}, "a"},
		{"after a duplicate", true, nil, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			ctx := context.Background()
			create(t, s, "app-1", time.Minute)
			crashed(t, s, "app-1", providers.Attempt{Buyer: "a", Tier: "tier150", Outcome: "declined", Reason: "Unable to Monetize", Final: tc.final})
			a := &fakeBuyer{name: "a", tiers: []string{"tier150", "tier100"}, d: accept("https://a.example/100")}
			b := &fakeBuyer{name: "b", d: accept("https://b.example")}
			w := run(t, s, a, b)
			app, _ := w.Wait(ctx, "app-1", 5*time.Second)
			if app.Status != providers.StatusAccepted || app.Buyer != tc.wantBuyer || !reflect.DeepEqual(a.tiersPosted(), tc.wantPosted) {
				t.Errorf("got %s by %q, a's tiers posted %v; want accepted by %s after %v", app.Status, app.Buyer, a.tiersPosted(), tc.wantBuyer, tc.wantPosted)
			}
		})
	}
}

// crashed leaves app as a worker that stopped after recording attempts
// but before deciding: its lease runs out and the attempts stay.
func crashed(t *testing.T, s *store.Store, id string, attempts ...providers.Attempt) {
	t.Helper()
	ctx := context.Background()
	if ids, err := s.Claim(ctx, "crashed", 50*time.Millisecond, 1); err != nil || len(ids) != 1 {
		t.Fatalf("claim: got %v, %v", ids, err)
	}
	for i, a := range attempts {
		if err := s.StartAttempt(ctx, id, "crashed", a.Buyer, a.Tier, i+1); err != nil {
			t.Fatal(err)
		}
		for range a.Tries - 1 { // earlier posts that never reached the buyer
			s.FinishAttempt(ctx, id, a.Buyer, a.Tier, providers.Attempt{Outcome: providers.Failed, Retry: true})
			if err := s.RetryAttempt(ctx, id, "crashed", a.Buyer, a.Tier); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.FinishAttempt(ctx, id, a.Buyer, a.Tier, a); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(60 * time.Millisecond) // the crashed worker's lease runs out
}

// A buyer that accepted just before a crash kept the decision from being
// recorded: the resumed application ends at that buyer, and no other
// buyer is posted a lead already sold.
func TestAcceptanceBeforeACrashIsKept(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	create(t, s, "app-1", time.Minute)
	crashed(t, s, "app-1",
		providers.Attempt{Buyer: "a", Outcome: "declined"},
		providers.Attempt{Buyer: "b", Outcome: "accepted", Price: 7, RedirectURL: "https://b.example/welcome"})
	a := &fakeBuyer{name: "a", d: accept("https://a.example")}
	b := &fakeBuyer{name: "b", d: accept("https://b.example/again")}
	c := &fakeBuyer{name: "c", d: accept("https://c.example")}
	w := run(t, s, a, b, c)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != providers.StatusAccepted || app.Buyer != "b" || app.RedirectURL != "https://b.example/welcome" || app.Revenue != 7 {
		t.Errorf("got %s by %q to %q for %v; want b's acceptance as recorded", app.Status, app.Buyer, app.RedirectURL, app.Revenue)
	}
	if n := a.calls.Load() + b.calls.Load() + c.calls.Load(); n != 0 {
		t.Errorf("%d posts after the lead was sold, want none", n)
	}
}

// The bound on posts to an unreachable buyer holds across a restart: a
// worker that crashed after the last allowed try leaves it spent.
func TestRetriesBoundedAcrossRestarts(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	create(t, s, "app-1", time.Minute)
	crashed(t, s, "app-1", providers.Attempt{Buyer: "a", Outcome: providers.Failed, Retry: true, Tries: 4, Reason: "connection refused"})
	a := &fakeBuyer{name: "a", d: accept("https://a.example")}
	b := &fakeBuyer{name: "b", d: accept("https://b.example")}
	w := run(t, s, a, b) // MaxTries 4, the default
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != providers.StatusAccepted || app.Buyer != "b" || a.calls.Load() != 0 {
		t.Errorf("got %s by %q with %d more posts to a; want a left alone after its 4 tries", app.Status, app.Buyer, a.calls.Load())
	}
}

// The store's word is final: when it says a buyer was already posted
// (another replica recorded it first), the worker does not post.
func TestStoreRefusalMeansNoPost(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	create(t, s, "app-1", time.Minute)
	a := &fakeBuyer{name: "a", d: accept("https://a.example")}
	b := &fakeBuyer{name: "b", d: accept("https://b.example")}
	w := runWith(t, &refusing{Store: s, buyer: "a"}, nil, a, b)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != providers.StatusAccepted || app.Buyer != "b" || a.calls.Load() != 0 {
		t.Errorf("got %s by %q with %d posts to a; want a not posted", app.Status, app.Buyer, a.calls.Load())
	}
}

// refusing is a store that has already seen a post to buyer.
type refusing struct {
	Store
	buyer string
}

func (r *refusing) StartAttemptOnce(ctx context.Context, id, owner, buyer, tier string, seq int, _ time.Duration) error {
	return r.StartAttempt(ctx, id, owner, buyer, tier, seq)
}

func (r *refusing) StartAttempt(ctx context.Context, id, owner, buyer, tier string, seq int) error {
	if buyer == r.buyer {
		return store.ErrAttempted
	}
	return r.Store.StartAttempt(ctx, id, owner, buyer, tier, seq)
}

func TestCappedBuyerIsSkipped(t *testing.T) {
	for _, tt := range []struct {
		caps   providers.CapsConfig
		reason string
	}{
		{providers.CapsConfig{Hourly: 2, Timezone: "America/New_York"}, "hourly cap of 2 reached"},
		// A half-hour zone: the window is the zone's own hour and day.
		{providers.CapsConfig{Daily: 2, Timezone: "Asia/Kolkata"}, "daily cap of 2 reached"},
		{providers.CapsConfig{Hourly: 2}, "hourly cap of 2 reached"}, // no zone: UTC
	} {
		t.Run(tt.reason+" "+tt.caps.Timezone, func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			a := &fakeBuyer{name: "a", d: accept("https://a.example")}
			b := &fakeBuyer{name: "b", d: accept("https://b.example")}
			w := runWith(t, s, map[string]providers.CapsConfig{"a": tt.caps}, a, b)
			for i, want := range []string{"a", "a", "b"} {
				id := fmt.Sprintf("app-%d", i)
				create(t, s, id, time.Minute)
				w.Wake()
				app, _ := w.Wait(context.Background(), id, 5*time.Second)
				if app.Buyer != want {
					t.Fatalf("%s: got buyer %q, want %s", id, app.Buyer, want)
				}
			}
			if a.calls.Load() != 2 {
				t.Errorf("a posted %d times, want 2 (its cap)", a.calls.Load())
			}
			atts, _ := s.Attempts(context.Background(), "app-2")
			if len(atts) != 2 || atts[0].Outcome != providers.Skipped || atts[0].Reason != tt.reason {
				t.Errorf("got attempts %+v, want a skipped at its cap", atts)
			}
		})
	}
}

// A cap's hour and day are the buyer's own clock's: in India (UTC+5:30)
// the hour starts at :30 UTC and the day at 18:30 UTC the evening before.
func TestCapWindowsAreTheZonesOwn(t *testing.T) {
	for _, zone := range []string{"Asia/Kolkata", "America/St_Johns", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			s := storetest.SQLite(t, store.Open)
			rec := &sinceLog{Store: s}
			a := &fakeBuyer{name: "a", d: accept("https://a.example")}
			create(t, s, "app-1", time.Minute)
			before := time.Now().In(loc)
			w := runWith(t, rec, map[string]providers.CapsConfig{"a": {Hourly: 5, Daily: 50, Timezone: zone}}, a)
			w.Wait(context.Background(), "app-1", 5*time.Second)
			after := time.Now().In(loc)
			got := rec.windows()
			if len(got) != 2 {
				t.Fatalf("got windows %v, want the hourly and the daily one", got)
			}
			// Start of the hour and of the day on the zone's clock, with
			// the zone's own arithmetic: wall clock fields, not UTC's.
			for i, unit := range []string{"hour", "day"} {
				ok := false
				for _, now := range []time.Time{before, after} {
					h := now.Hour()
					if unit == "day" {
						h = 0
					}
					want := time.Date(now.Year(), now.Month(), now.Day(), h, 0, 0, 0, loc)
					ok = ok || got[i].Equal(want)
				}
				if !ok {
					t.Errorf("%s window starts %s, want the start of the %s in %s", unit, got[i].In(loc), unit, zone)
				}
			}
		})
	}
}

// sinceLog is the store, noting from when the worker counts a buyer's
// acceptances for its caps.
type sinceLog struct {
	Store
	mu    sync.Mutex
	since []time.Time
}

func (l *sinceLog) CountAccepted(ctx context.Context, buyer string, since time.Time) (int, error) {
	l.mu.Lock()
	l.since = append(l.since, since)
	l.mu.Unlock()
	return l.Store.CountAccepted(ctx, buyer, since)
}

func (l *sinceLog) windows() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.since)
}

func TestTimeoutAndOpenBreakerFallThrough(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	slow := &fakeBuyer{name: "a", delay: time.Minute, d: accept("https://a.example")}
	cb := providers.NewBreaker[providers.Decision]("a", providers.BreakerConfig{Failures: 2, OpenFor: time.Minute}, nil)
	guarded := Guard(slow, cb, 50*time.Millisecond)
	b := &fakeBuyer{name: "b", d: accept("https://b.example")}
	w := runWith(t, s, nil, guarded, b)
	for i := range 4 {
		id := fmt.Sprintf("app-%d", i)
		create(t, s, id, time.Minute)
		w.Wake()
		app, _ := w.Wait(context.Background(), id, 5*time.Second)
		if app.Status != providers.StatusAccepted || app.Buyer != "b" {
			t.Fatalf("%s: got %s by %q, want accepted by b", id, app.Status, app.Buyer)
		}
		atts, _ := s.Attempts(context.Background(), id)
		if atts[0].Outcome != providers.Failed {
			t.Errorf("%s: a's attempt: got %+v", id, atts[0])
		}
	}
	// Two timeouts open the breaker: the later applications never wait on a.
	if n := slow.calls.Load(); n != 2 {
		t.Errorf("slow buyer called %d times, want 2 before its breaker opened", n)
	}
}

var (
	unreachable = fmt.Errorf("a: %w: %w: connection refused", providers.ErrUnavailable, providers.ErrNotDelivered)
	failed500   = fmt.Errorf("a: %w: status 500", providers.ErrUnavailable)
)

// A buyer that could not be reached is posted again after a pause, once
// the others had their turn; one that answered is never posted twice.
func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		a         *fakeBuyer
		deadline  time.Duration
		wantCalls int32
		want      providers.Status
		wantTries int
	}{
		{"unreachable twice, then accepted", &fakeBuyer{name: "a", errs: []error{unreachable, unreachable}, d: accept("https://a.example")},
			time.Minute, 3, providers.StatusAccepted, 3},
		{"breaker open, then accepted", &fakeBuyer{name: "a", errs: []error{providers.ErrBreakerOpen}, d: accept("https://a.example")},
			time.Minute, 2, providers.StatusAccepted, 2},
		{"a 500 may have reached it: not re-sent", &fakeBuyer{name: "a", errs: []error{failed500}, d: accept("https://a.example")},
			time.Minute, 1, providers.StatusDeclined, 1},
		{"a decline is final", &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.Declined}},
			time.Minute, 1, providers.StatusDeclined, 1},
		{"never reachable: bounded tries", &fakeBuyer{name: "a", err: unreachable},
			time.Minute, 4, providers.StatusDeclined, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			b := &fakeBuyer{name: "b", d: providers.Decision{Outcome: providers.Declined, Reason: "no"}}
			create(t, s, "app-1", tt.deadline)
			w := run(t, s, tt.a, b)
			app, _ := w.Wait(context.Background(), "app-1", 10*time.Second)
			if app.Status != tt.want || tt.a.calls.Load() != tt.wantCalls {
				t.Fatalf("got %s after %d posts to a, want %s after %d", app.Status, tt.a.calls.Load(), tt.want, tt.wantCalls)
			}
			if b.calls.Load() != 1 {
				t.Errorf("b posted %d times, want once", b.calls.Load())
			}
			atts, _ := s.Attempts(context.Background(), "app-1")
			if atts[0].Buyer != "a" || atts[0].Tries != tt.wantTries {
				t.Errorf("a's attempt: got %+v, want %d tries", atts[0], tt.wantTries)
			}
		})
	}
}

// A buyer that answered 500 may have the lead; one beside it that could
// not be reached is posted again in a later round, which resumes from the
// store. That round must not post the 500 buyer again: the worker reads
// each attempt's retry mark, and the store re-opens only an attempt
// marked retry, so either alone keeps the lead from being sent twice.
func TestResumedRoundNeverRepostsAnAnsweredBuyer(t *testing.T) {
	for _, order := range [][]string{{"answered", "unreachable"}, {"unreachable", "answered"}} {
		t.Run(strings.Join(order, " then "), func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			buyers := map[string]*fakeBuyer{
				// Both would accept if posted again: a second post shows.
				"answered":    {name: "answered", errs: []error{failed500}, d: accept("https://answered.example")},
				"unreachable": {name: "unreachable", errs: []error{unreachable, unreachable}, d: accept("https://unreachable.example")},
			}
			rs := &retryLog{Store: s}
			create(t, s, "app-1", time.Minute)
			w := runWith(t, rs, nil, buyers[order[0]], buyers[order[1]])
			app, err := w.Wait(context.Background(), "app-1", 10*time.Second)
			if err != nil || app.Status != providers.StatusAccepted || app.Buyer != "unreachable" {
				t.Fatalf("got %s by %q (%v), want accepted by the buyer reached on its third try", app.Status, app.Buyer, err)
			}
			if n := buyers["answered"].calls.Load(); n != 1 {
				t.Errorf("the buyer that answered 500 was posted %d times, want once", n)
			}
			if n := buyers["unreachable"].calls.Load(); n != 3 {
				t.Errorf("the unreachable buyer was posted %d times, want 3", n)
			}
			if got := rs.retriedBuyers(); slices.Contains(got, "answered") {
				t.Errorf("the worker asked the store to post again to %v; the 500 buyer must never be asked for", got)
			}
			atts, _ := s.Attempts(context.Background(), "app-1")
			for _, a := range atts {
				if a.Buyer == "answered" && (a.Tries != 1 || a.Outcome != providers.Failed) {
					t.Errorf("the 500 buyer's attempt: got %+v, want one try ending in error", a)
				}
			}
		})
	}
}

// retryLog is the store, noting the buyers the worker asks to post again.
type retryLog struct {
	Store
	mu      sync.Mutex
	retried []string
}

func (r *retryLog) RetryAttempt(ctx context.Context, id, owner, buyer, tier string) error {
	r.mu.Lock()
	r.retried = append(r.retried, buyer)
	r.mu.Unlock()
	return r.Store.RetryAttempt(ctx, id, owner, buyer, tier)
}

func (r *retryLog) retriedBuyers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.retried)
}

// Retries stop at the flow's deadline: the consumer is not kept waiting.
func TestRetriesStopAtTheDeadline(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	a := &fakeBuyer{name: "a", err: unreachable}
	create(t, s, "app-1", 30*time.Millisecond)
	w := run(t, s, a)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != providers.StatusDeclined || a.calls.Load() > 2 {
		t.Errorf("got %s after %d posts", app.Status, a.calls.Load())
	}
}

// A buyer slower than the lease: the worker renews its lease while it
// waits, so a second worker (replica) never takes the application over
// and posts it again — also when a renewal fails for a moment (a busy
// database): only a lease actually lost stops the renewals.
func TestLeaseRenewedWhileABuyerIsSlow(t *testing.T) {
	for _, tc := range []struct {
		name        string
		failRenewal int // renewals of the first worker that fail
	}{{"renewals succeed", 0}, {"the first two renewals fail", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			slow := &fakeBuyer{name: "a", delay: 1500 * time.Millisecond, d: accept("https://a.example")}
			create(t, s, "app-1", time.Minute)
			var workers []*Worker
			for i := range 2 {
				var st Store = s
				if i == 0 {
					st = &flakyRenew{Store: s, fail: tc.failRenewal}
				}
				w := New(st, map[string]Buyer{"a": slow}, map[string][]string{"es": {"a"}},
					Config{Owner: fmt.Sprintf("w%d", i), Lease: 600 * time.Millisecond, Workers: 2, Poll: 10 * time.Millisecond}, quiet, Events{})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { w.Run(ctx); close(done) }()
				t.Cleanup(func() { cancel(); <-done })
				workers = append(workers, w)
				if i == 0 {
					// The first worker claims it; the second polls beside it.
					for slow.calls.Load() == 0 {
						time.Sleep(5 * time.Millisecond)
					}
				}
			}
			app, _ := workers[0].Wait(context.Background(), "app-1", 5*time.Second)
			if app.Status != providers.StatusAccepted || slow.calls.Load() != 1 {
				t.Errorf("got %s with %d posts, want accepted after one post", app.Status, slow.calls.Load())
			}
		})
	}
}

// flakyRenew is a store whose first renewals fail as a busy database does.
type flakyRenew struct {
	*store.Store
	mu   sync.Mutex
	fail int
}

func (f *flakyRenew) Renew(ctx context.Context, id, owner string, lease time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return errors.New("database is locked (SQLITE_BUSY)")
	}
	return f.Store.Renew(ctx, id, owner, lease)
}

// A graceful stop while a buyer is answering waits for the answer: the
// attempt is recorded as finished, never left "started" (in doubt).
func TestGracefulStopFinishesTheAttempt(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	slow := &fakeBuyer{name: "a", delay: 300 * time.Millisecond, d: accept("https://a.example")}
	create(t, s, "app-1", time.Minute)
	w := New(s, map[string]Buyer{"a": slow}, map[string][]string{"es": {"a"}},
		Config{Owner: "w", Lease: time.Minute, Workers: 1, Poll: 10 * time.Millisecond}, quiet, Events{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	for slow.calls.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel() // SIGTERM while the post is in flight
	<-done
	atts, _ := s.Attempts(context.Background(), "app-1")
	app, _ := s.Get(context.Background(), "app-1")
	if len(atts) != 1 || atts[0].Outcome != "accepted" || app.Status != providers.StatusAccepted {
		t.Errorf("after a graceful stop: attempts %+v, application %s; want the answer recorded", atts, app.Status)
	}
}

// A round that ends while a renewal of its lease hangs (a database that
// does not answer) stops the renewal and waits for it: once Run has
// returned, nothing of the worker still uses the store, which its caller
// then closes.
func TestNoRenewalOutlivesRun(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	hang := &hangingRenew{Store: s, started: make(chan struct{})}
	create(t, s, "app-1", time.Minute)
	w := New(hang, map[string]Buyer{"a": &gatedBuyer{gate: hang.started}}, map[string][]string{"es": {"a"}},
		Config{Owner: "w", Lease: 60 * time.Millisecond, Workers: 1, Poll: 10 * time.Millisecond}, quiet, Events{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	if app, _ := w.Wait(context.Background(), "app-1", 5*time.Second); app.Status != providers.StatusAccepted {
		t.Fatalf("got %s, want accepted", app.Status)
	}
	cancel()
	<-done
	if n := hang.inflight.Load(); n != 0 {
		t.Errorf("%d lease renewals still running after Run returned, want none", n)
	}
}

// hangingRenew is a store whose lease renewals answer only when given up,
// and then slowly.
type hangingRenew struct {
	Store
	once     sync.Once
	started  chan struct{} // closed when the first renewal starts
	inflight atomic.Int32
}

func (h *hangingRenew) Renew(ctx context.Context, id, owner string, lease time.Duration) error {
	h.inflight.Add(1)
	defer h.inflight.Add(-1)
	h.once.Do(func() { close(h.started) })
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	return ctx.Err()
}

// gatedBuyer accepts once its gate is open.
type gatedBuyer struct{ gate <-chan struct{} }

func (g *gatedBuyer) Name() string { return "a" }
func (g *gatedBuyer) Submit(ctx context.Context, s *providers.Submission, tier string) (providers.Decision, error) {
	<-g.gate
	return accept("https://a.example"), nil
}

// consentingBuyer is a buyer whose document requires consents.
type consentingBuyer struct {
	*fakeBuyer
	required []string
}

func (c *consentingBuyer) RequiredConsents() []string { return c.required }

// A buyer whose document requires a consent the consumer did not give is
// skipped with "consent not given" in the audit trail, and the waterfall
// goes on; given, the same buyer is posted. The buyer is behind its
// breaker, as the gateway wires it.
func TestBuyerWithoutItsConsentIsSkipped(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	inner := &consentingBuyer{fakeBuyer: &fakeBuyer{name: "a", d: accept("https://a.example")}, required: []string{"consent_terms", "consent_marketing"}}
	cb := providers.NewBreaker[providers.Decision]("a", providers.BreakerConfig{Failures: 2, OpenFor: time.Minute}, nil)
	b := &fakeBuyer{name: "b", d: accept("https://b.example")}
	w := runWith(t, s, nil, Guard(inner, cb, time.Minute), b)
	for _, tt := range []struct {
		id        string
		marketing bool
		buyer     string
	}{{"app-without", false, "b"}, {"app-with", true, "a"}} {
		_, _, err := s.Create(context.Background(), store.New{ID: tt.id, SessionHash: "s", IdempotencyKey: tt.id, Flow: "es", Form: "es", Currency: "EUR",
			Deadline: time.Minute, Submission: providers.Submission{ID: tt.id, Consents: []providers.Consent{
				{Field: "consent_terms", Text: "terms", Given: true}, {Field: "consent_marketing", Text: "marketing", Given: tt.marketing}}}})
		if err != nil {
			t.Fatal(err)
		}
		w.Wake()
		app, _ := w.Wait(context.Background(), tt.id, 10*time.Second)
		if app.Status != providers.StatusAccepted || app.Buyer != tt.buyer {
			t.Fatalf("%s: got %s by %q, want accepted by %s", tt.id, app.Status, app.Buyer, tt.buyer)
		}
		atts, _ := s.Attempts(context.Background(), tt.id)
		if tt.marketing {
			if len(atts) != 1 || atts[0].Buyer != "a" || atts[0].Outcome != providers.Accepted {
				t.Errorf("%s: got attempts %+v, want a posted and accepting", tt.id, atts)
			}
			continue
		}
		if len(atts) != 2 || atts[0].Buyer != "a" || atts[0].Outcome != providers.Skipped || atts[0].Reason != "consent not given" {
			t.Errorf("%s: got attempts %+v, want a skipped: consent not given", tt.id, atts)
		}
	}
	if n := inner.calls.Load(); n != 1 {
		t.Errorf("a was posted %d times, want once (only with the consent)", n)
	}
}

// With its only buyer skipped for the consent, no buyer is asked: the
// application needs fixing, saying so and which consents kept them out
// (the consumer may tick them and send again), and only those that would
// get a buyer asked. With another buyer asked and declining, or with the
// buyer at its cap or its breaker open (the consent given would not get
// it asked now), it is an ordinary decline.
func TestOnlyBuyerWithoutConsentNeedsFixing(t *testing.T) {
	marketing := []providers.Consent{{Field: "consent_marketing", Text: "marketing", Given: true}, {Field: "consent_sms", Text: "sms", Given: true}}
	for _, tt := range []struct {
		name   string
		first  providers.Decision // a's answer to an application with the consents, sent first
		fails  bool               // a fails that one, and its breaker opens
		caps   map[string]providers.CapsConfig
		others []Buyer
		status providers.Status
		reason string
		fields []string
	}{
		{name: "only buyer", status: providers.StatusNeedsFix, reason: ReasonNoBuyerConsented, fields: []string{"consent_marketing", "consent_sms"}},
		{name: "another buyer asked", others: []Buyer{&fakeBuyer{name: "b", d: providers.Decision{Outcome: providers.Declined, Final: true}}},
			status: providers.StatusDeclined, reason: "no buyer accepted"},
		{name: "buyer at its cap", first: accept("https://a.example"), caps: map[string]providers.CapsConfig{"a": {Hourly: 1}},
			status: providers.StatusDeclined, reason: "no buyer accepted"},
		{name: "buyer's breaker open", fails: true, status: providers.StatusDeclined, reason: "no buyer accepted"},
		// Another buyer that would be asked with the consents: worth
		// ticking them, whatever the first one's cap.
		{name: "buyer at its cap, another needing the consents", first: accept("https://a.example"), caps: map[string]providers.CapsConfig{"a": {Hourly: 1}},
			others: []Buyer{&consentingBuyer{fakeBuyer: &fakeBuyer{name: "c", d: accept("https://c.example")}, required: []string{"consent_sms"}}},
			status: providers.StatusNeedsFix, reason: ReasonNoBuyerConsented, fields: []string{"consent_sms"}},
		// A buyer at its cap needing no consent: the consents would get
		// the first one asked.
		{name: "another buyer at its cap", first: providers.Decision{Outcome: providers.Declined, Final: true}, caps: map[string]providers.CapsConfig{"b": {Hourly: 1}},
			others: []Buyer{&fakeBuyer{name: "b", d: accept("https://b.example")}},
			status: providers.StatusNeedsFix, reason: ReasonNoBuyerConsented, fields: []string{"consent_marketing", "consent_sms"}},
	} {
		s := storetest.SQLite(t, store.Open)
		inner := &fakeBuyer{name: "a", d: tt.first}
		if tt.fails {
			inner.errs = []error{errors.New("connection reset")}
		}
		a := &consentingBuyer{fakeBuyer: inner, required: []string{"consent_marketing", "consent_sms"}}
		cb := providers.NewBreaker[providers.Decision]("a", providers.BreakerConfig{Failures: 1, OpenFor: time.Minute}, nil)
		w := runWith(t, s, tt.caps, append([]Buyer{Guard(a, cb, time.Minute)}, tt.others...)...)
		if tt.first.Outcome != "" || tt.fails {
			_, _, err := s.Create(context.Background(), store.New{ID: "app-0", SessionHash: "s", IdempotencyKey: "app-0", Flow: "es", Form: "es", Currency: "EUR",
				Deadline: time.Minute, Submission: providers.Submission{ID: "app-0", Consents: marketing}})
			if err != nil {
				t.Fatal(err)
			}
			w.Wake()
			w.Wait(context.Background(), "app-0", 10*time.Second)
		}
		posts := inner.calls.Load()
		create(t, s, "app-1", time.Minute) // no consents at all
		w.Wake()
		app, _ := w.Wait(context.Background(), "app-1", 10*time.Second)
		if app.Status != tt.status || inner.calls.Load() != posts || app.Reason != tt.reason {
			t.Errorf("%s: got %s (%q) with %d posts, want %s (%q) without a post", tt.name, app.Status, app.Reason, inner.calls.Load()-posts, tt.status, tt.reason)
		}
		sealed, err := s.Sealed(context.Background(), "app-1")
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(sealed.FieldErrors)); !slices.Equal(got, tt.fields) {
			t.Errorf("%s: consents named %v, want %v", tt.name, got, tt.fields)
		}
	}
}

// counting is the store, counting the reads and claims the worker makes.
type counting struct {
	Store
	claims, gets, sealed, attempts atomic.Int32
}

func (c *counting) Claim(ctx context.Context, owner string, lease time.Duration, limit int) ([]string, error) {
	ids, err := c.Store.Claim(ctx, owner, lease, limit)
	c.claims.Add(int32(len(ids)))
	return ids, err
}

func (c *counting) Get(ctx context.Context, id string) (providers.Record, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, id)
}

func (c *counting) Sealed(ctx context.Context, id string) (store.Sealed, error) {
	c.sealed.Add(1)
	return c.Store.Sealed(ctx, id)
}

func (c *counting) Attempts(ctx context.Context, id string) ([]providers.Attempt, error) {
	c.attempts.Add(1)
	return c.Store.Attempts(ctx, id)
}

func newApp(id string) store.New {
	return store.New{ID: id, SessionHash: "s", IdempotencyKey: id, Flow: "es", Form: "es", Currency: "EUR", Deadline: time.Minute,
		Submission: providers.Submission{ID: id}}
}

// An application created through a running worker with a free slot is
// stored already leased to it and ridden from memory: no claim, no read
// of what was just written, and its request learns the decision from
// memory. What is on disk is the same as after a claimed round: the
// decision, and the accepted post finished with it.
func TestCreateTakesTheApplicationInHand(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	c := &counting{Store: s}
	b := &fakeBuyer{name: "a", d: accept("https://a.example/r")}
	w := runWith(t, c, nil, b)
	ctx := context.Background()
	waitRunning(t, w)
	rec, created, err := w.Create(ctx, newApp("app-1"))
	if err != nil || !created || rec.ID != "app-1" || rec.Status != providers.StatusPending {
		t.Fatalf("got %+v, %v, %v", rec, created, err)
	}
	app, err := w.Wait(ctx, "app-1", 5*time.Second)
	if err != nil || app.Status != providers.StatusAccepted || app.RedirectURL != "https://a.example/r" || app.Buyer != "a" {
		t.Fatalf("got %+v, %v; want accepted by a", app, err)
	}
	if n := c.claims.Load() + c.gets.Load() + c.sealed.Load() + c.attempts.Load(); n != 0 {
		t.Errorf("%d claims, %d reads, %d sealed reads, %d attempt reads; want none", c.claims.Load(), c.gets.Load(), c.sealed.Load(), c.attempts.Load())
	}
	stored, _ := s.Get(ctx, "app-1")
	if stored.Status != app.Status || stored.RedirectURL != app.RedirectURL || stored.Buyer != app.Buyer || stored.Revenue != app.Revenue {
		t.Errorf("stored %+v; Wait said %+v", stored, app)
	}
	atts, _ := s.Attempts(ctx, "app-1")
	if len(atts) != 1 || atts[0].Outcome != providers.Accepted || atts[0].FinishedAt.IsZero() || atts[0].RedirectURL != "https://a.example/r" {
		t.Errorf("attempts %+v; want the accepted post, finished", atts)
	}
	if b.calls.Load() != 1 {
		t.Errorf("buyer posted %d times", b.calls.Load())
	}
}

// With every slot busy, an application is stored due and the first slot
// freed claims it: nothing waits for the poll.
func TestCreateWithEverySlotBusyIsClaimedWhenOneFrees(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	b := &fakeBuyer{name: "a", delay: 300 * time.Millisecond, d: accept("https://a.example")}
	m := map[string]Buyer{"a": b}
	w := New(s, m, map[string][]string{"es": {"a"}}, Config{Owner: "one", Lease: time.Minute, Workers: 1, Poll: time.Hour}, quiet, Events{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitRunning(t, w)
	for _, id := range []string{"first", "second"} {
		if _, _, err := w.Create(context.Background(), newApp(id)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	app, _ := w.Wait(context.Background(), "second", 5*time.Second)
	if app.Status != providers.StatusAccepted {
		t.Fatalf("second: %s after %s", app.Status, time.Since(start))
	}
	if b.calls.Load() != 2 {
		t.Errorf("buyer posted %d times, want 2", b.calls.Load())
	}
}

// A worker that is not running takes nothing in hand: the application is
// stored due, for whichever worker claims next.
func TestCreateWithoutRunningStoresDue(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	w := New(s, nil, nil, Config{Owner: "idle", Lease: time.Minute, Workers: 4}, quiet, Events{})
	if _, _, err := w.Create(context.Background(), newApp("app-1")); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Claim(context.Background(), "other", time.Minute, 10); len(ids) != 1 {
		t.Errorf("claimed %v; want the application due", ids)
	}
}

// waitRunning waits until Run has started taking applications in hand.
func waitRunning(t *testing.T, w *Worker) {
	t.Helper()
	for range 500 {
		w.mu.Lock()
		running := w.running
		w.mu.Unlock()
		if running {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("the worker did not start")
}

// heldBuyer accepts every application, in the order it is posted them,
// holding the one named hold until open is closed.
type heldBuyer struct {
	hold string
	open chan struct{}
	mu   sync.Mutex
	seen []string
}

func (g *heldBuyer) Name() string    { return "a" }
func (g *heldBuyer) Tiers() []string { return nil }
func (g *heldBuyer) Submit(ctx context.Context, s *providers.Submission, _ string) (providers.Decision, error) {
	g.mu.Lock()
	g.seen = append(g.seen, s.ID)
	g.mu.Unlock()
	if s.ID == g.hold {
		<-g.open
	}
	return accept("https://a.example/r"), nil
}

// An application stored due because every slot was busy is posted before
// any application that arrives after it: the slot its wait frees is its
// own, not the next request's. Taken in hand at once, the new arrivals
// took every freed slot, and under load the ones stored due waited
// seconds (5 s and more, loaded with the race detector) behind
// applications that came later.
func TestApplicationsStoredDueGoFirst(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	b := &heldBuyer{hold: "first", open: make(chan struct{})}
	w := New(s, map[string]Buyer{"a": b}, map[string][]string{"es": {"a"}},
		Config{Owner: "one", Lease: time.Minute, Workers: 1, Poll: time.Hour}, quiet, Events{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitRunning(t, w)
	bg := context.Background()
	for _, id := range []string{"first", "second"} { // second: every slot busy
		if _, _, err := w.Create(bg, newApp(id)); err != nil {
			t.Fatal(err)
		}
	}
	// Applications keep arriving while the first one's slot frees.
	var wg sync.WaitGroup
	var n atomic.Int32
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("later-%03d", n.Add(1))
				if _, _, err := w.Create(bg, newApp(id)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(b.open)
	if app, err := w.Wait(bg, "second", 10*time.Second); err != nil || app.Status != providers.StatusAccepted {
		t.Errorf("second: %s, %v", app.Status, err)
	}
	close(stop)
	wg.Wait()
	b.mu.Lock()
	seen := slices.Clone(b.seen)
	b.mu.Unlock()
	if len(seen) < 2 || seen[0] != "first" || seen[1] != "second" {
		t.Errorf("posted in the order %v; want first, then second, then the later ones", seen[:min(len(seen), 5)])
	}
}

// An application due that the worker did not store itself (another
// replica's, a lease that ran out, a retry come due) is claimed within
// about a poll, even while consumers who apply again as soon as they are
// answered keep every slot busy (here within 1 s, the poll; 5 s allowed
// for a loaded machine). Taken in hand, each of their new
// applications had the slot its predecessor freed, and an application
// stored straight into the store waited 15-30 s and more.
func TestUncountedDueApplicationsAreNotStarved(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	b := &fakeBuyer{name: "a", d: accept("https://a.example/r")}
	w := New(s, map[string]Buyer{"a": b}, map[string][]string{"es": {"a"}},
		Config{Owner: "one", Lease: time.Minute, Workers: 2, Poll: time.Second}, quiet, Events{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitRunning(t, w)
	bg := context.Background()
	var wg sync.WaitGroup
	var n atomic.Int32
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("client-%05d", n.Add(1))
				if _, _, err := w.Create(bg, newApp(id)); err != nil {
					t.Error(err)
					return
				}
				w.Wait(bg, id, 10*time.Second)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(50 * time.Millisecond)
	if _, _, err := s.Create(bg, newApp("other-replica")); err != nil { // stored due, by no one here
		t.Fatal(err)
	}
	start := time.Now()
	for {
		app, err := s.Get(bg, "other-replica")
		if err != nil {
			t.Fatal(err)
		}
		if app.Status != providers.StatusPending {
			t.Logf("decided after %v, with %d applications arriving meanwhile", time.Since(start).Round(time.Millisecond), n.Load())
			return
		}
		if time.Since(start) > 5*time.Second { // a poll is 1 s
			t.Fatalf("still pending after %v, behind %d later applications", time.Since(start).Round(time.Millisecond), n.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A handoff whose request never comes for it (the request died) is
// forgotten after forgetAfter, and a request that comes later still
// learns the decision, from the store. One whose round ended before its
// request came has its timer stopped when the request takes it.
func TestHandoffsAreForgotten(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	w := runWith(t, s, nil, &fakeBuyer{name: "a", d: accept("https://a.example/r")})
	waitRunning(t, w)
	ctx := context.Background()
	// armed is the handoff of id once its round has ended with nobody
	// asking (its timer armed), taken under the lock the worker arms it
	// under.
	armed := func(id string) *handoff {
		w.mu.Lock()
		defer w.mu.Unlock()
		if h := w.handed[id]; h != nil && h.forget != nil {
			return h
		}
		return nil
	}
	waitArmed := func(id string) *handoff {
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			if h := armed(id); h != nil {
				return h
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("the round of %s did not end", id)
			}
		}
	}

	// Asked late, with the worker's own minute: Wait stops the timer.
	if _, _, err := w.Create(ctx, newApp("asked-late")); err != nil {
		t.Fatal(err)
	}
	h := waitArmed("asked-late")
	if app, err := w.Wait(ctx, "asked-late", 5*time.Second); err != nil || app.Status != providers.StatusAccepted {
		t.Errorf("asked-late: %s, %v", app.Status, err)
	}
	w.mu.Lock()
	running := h.forget.Stop() // true: Wait had not stopped it
	w.mu.Unlock()
	if running {
		t.Error("the forget timer of a handoff its request took was still running")
	}

	// Never asked, with a short delay: forgotten.
	w.mu.Lock()
	w.forgetAfter = 50 * time.Millisecond // read under the lock, when a round ends
	w.mu.Unlock()
	if _, _, err := w.Create(ctx, newApp("never-asked")); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		w.mu.Lock()
		kept := w.handed["never-asked"] != nil
		w.mu.Unlock()
		if !kept {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("a handoff nobody asked for was kept")
		}
	}
	if app, err := w.Wait(ctx, "never-asked", 5*time.Second); err != nil || app.Status != providers.StatusAccepted {
		t.Errorf("never-asked, asked after it was forgotten: %s, %v", app.Status, err)
	}
}

// A buyer's reason that echoes what was posted keeps none of it: not in
// the log, not in the stored attempt (the admin's page reads it), not in
// the decision. An attacker's pass found a Lokyata "Duplicate: <email>
// <phone> ssn <ssn>" in all three.
func TestBuyersEchoedDataIsNotKept(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	pii := []string{"zq.buyer@example.com", "5125550134", "876543210", "Zebulon", "Quistgaard"}
	echo := "Duplicate: " + strings.Join(pii, " ")
	a := &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.Declined, Reason: echo}}
	b := &fakeBuyer{name: "b", err: fmt.Errorf("%w: buyer said %s", providers.ErrBadResponse, echo)}
	_, _, err := s.Create(context.Background(), store.New{ID: "app-1", SessionHash: "s", IdempotencyKey: "app-1", Flow: "es", Form: "es", Currency: "EUR",
		Deadline: time.Minute, Submission: providers.Submission{ID: "app-1", Application: providers.Application{
			FirstName: "Zebulon", LastName: "Quistgaard", Email: "zq.buyer@example.com", MobilePhone: "5125550134", SSN: "876543210"}}})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	w := New(s, map[string]Buyer{"a": a, "b": b}, map[string][]string{"es": {"a", "b"}},
		Config{Owner: "w", Lease: time.Minute, Workers: 2, Poll: 20 * time.Millisecond}, slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil)), Events{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	w.Wake()
	app, err := w.Wait(context.Background(), "app-1", 5*time.Second)
	cancel()
	<-done
	if err != nil || app.Status == providers.StatusPending {
		t.Fatalf("got %+v, %v; want decided", app, err)
	}
	atts, _ := s.Attempts(context.Background(), "app-1")
	kept := fmt.Sprintf("%+v %+v", app, atts)
	if len(atts) != 2 || !strings.Contains(atts[0].Reason, "Duplicate: ") {
		t.Errorf("attempts %+v: want both, the reason's own words kept", atts)
	}
	for _, v := range pii {
		if strings.Contains(logs.String(), v) || strings.Contains(kept, v) {
			t.Errorf("%q kept:\nlog: %s\nstore: %s", v, logs.String(), kept)
		}
	}
}

// syncWriter lets the worker's goroutines log into one buffer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
