package submit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
)

type fakeBuyer struct {
	name  string
	calls atomic.Int32
	delay time.Duration
	d     providers.Decision
	err   error
}

func (f *fakeBuyer) Name() string { return f.name }
func (f *fakeBuyer) Submit(ctx context.Context, s *providers.Submission) (providers.Decision, error) {
	f.calls.Add(1)
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return providers.Decision{}, ctx.Err()
	}
	return f.d, f.err
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	keys, _ := vault.New(bytes.Repeat([]byte{1}, 32))
	s, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "t.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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
	m := map[string]Buyer{}
	var order []string
	for _, b := range buyers {
		m[b.name] = b
		order = append(order, b.name)
	}
	w := New(s, m, map[string][]string{"es": order}, Config{Owner: "test", Lease: time.Minute, Workers: 4, Poll: 20 * time.Millisecond}, quiet, Events{})
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
			s := openStore(t)
			second := &fakeBuyer{name: "b", d: accept("https://b.example/welcome")}
			third := &fakeBuyer{name: "c", d: accept("https://c.example/welcome")}
			create(t, s, "app-1", time.Minute)
			w := run(t, s, tt.first, second, third)
			w.Wake()
			app, err := w.Wait(context.Background(), "app-1", 5*time.Second)
			if err != nil || app.Status != store.Accepted || app.RedirectURL != "https://b.example/welcome" || app.Buyer != "b" {
				t.Fatalf("got %+v, %v", app, err)
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

func TestEveryBuyerDeclines(t *testing.T) {
	s := openStore(t)
	a := &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.Declined}}
	create(t, s, "app-1", time.Minute)
	w := run(t, s, a)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != store.Declined {
		t.Errorf("got %s, want declined", app.Status)
	}
}

func TestNeedsFixStopsTheWaterfall(t *testing.T) {
	s := openStore(t)
	a := &fakeBuyer{name: "a", d: providers.Decision{Outcome: providers.NeedsFix, FieldErrors: map[string]string{"phone_plan": "vacío"}}}
	b := &fakeBuyer{name: "b", d: accept("https://b.example")}
	create(t, s, "app-1", time.Minute)
	w := run(t, s, a, b)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != store.NeedsFix || b.calls.Load() != 0 {
		t.Errorf("got %s with %d calls to b", app.Status, b.calls.Load())
	}
	rec, _ := s.Sealed(context.Background(), "app-1")
	if rec.FieldErrors["phone_plan"] != "vacío" {
		t.Errorf("field errors: got %v", rec.FieldErrors)
	}
}

func TestDeadlineSendsToFallback(t *testing.T) {
	s := openStore(t)
	slow := &fakeBuyer{name: "a", delay: time.Minute, d: accept("https://a.example")}
	next := &fakeBuyer{name: "b", d: accept("https://b.example")}
	create(t, s, "app-1", 200*time.Millisecond)
	w := run(t, s, slow, next)
	app, _ := w.Wait(context.Background(), "app-1", 5*time.Second)
	if app.Status != store.Declined || next.calls.Load() != 0 {
		t.Errorf("got %s, b called %d times; want declined at the deadline", app.Status, next.calls.Load())
	}
}

// A process that stopped mid-post leaves a started attempt: that buyer may
// have the lead, so it is not posted again; the next buyer is tried.
func TestInterruptedAttemptIsNotResent(t *testing.T) {
	s := openStore(t)
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
	if app.Status != store.Accepted || app.Buyer != "b" || a.calls.Load() != 0 {
		t.Errorf("got %+v, a called %d times", app, a.calls.Load())
	}
	atts, _ := s.Attempts(ctx, "app-1")
	if atts[0].Outcome != store.AttemptInDoubt {
		t.Errorf("got %+v, want the interrupted attempt in doubt", atts[0])
	}
}

func TestManyApplicationsEachPostedOnce(t *testing.T) {
	s := openStore(t)
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
			if app, _ := w.Wait(context.Background(), "app-"+string(rune('A'+i)), 10*time.Second); app.Status != store.Accepted {
				t.Errorf("app %d: got %s", i, app.Status)
			}
		}()
	}
	wg.Wait()
	if n := b.calls.Load(); n != 40 {
		t.Errorf("got %d posts for 40 applications, want 40", n)
	}
}
