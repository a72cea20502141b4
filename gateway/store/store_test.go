package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leadgate.db")
	keys, _ := vault.New(bytes.Repeat([]byte{7}, 32))
	s, err := Open(context.Background(), "sqlite://"+path, keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func newApp(id, key string) New {
	return New{
		ID: id, SessionHash: "sess", IdempotencyKey: key, Flow: "es", Form: "es", Currency: "EUR",
		Deadline: time.Minute,
		Submission: providers.Submission{
			ID: id, IPAddress: "180.190.166.143",
			Application: providers.Application{FirstName: "Kyle", LastName: "Trazo", Email: "kyle@blendit.eu",
				NationalID: "60604016M", IBAN: "ES5020803294338752239563", MobilePhone: "608819736"},
			Attribution: providers.Attribution{Source: "cashcat.ph", Campaign: "es-demo"},
		},
	}
}

func TestCreateOnceUnderConcurrency(t *testing.T) {
	s, _ := open(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, ids := 0, map[string]bool{}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, c, err := s.Create(context.Background(), newApp("app-"+string(rune('a'+i)), "same-form"))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[a.ID] = true
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Errorf("got %d created and %d distinct ids, want 1 and 1", created, len(ids))
	}
}

func TestNoPersonalDataInTheFile(t *testing.T) {
	s, path := open(t)
	if _, _, err := s.Create(context.Background(), newApp("app-1", "k1")); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Sealed(context.Background(), "app-1")
	if err != nil || rec.Submission.Application.NationalID != "60604016M" {
		t.Fatalf("sealed record: got %+v, %v", rec, err)
	}
	s.Close()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, _ := os.ReadFile(path + suffix)
		all = append(all, b...)
	}
	for _, pii := range []string{"Kyle", "Trazo", "kyle@blendit.eu", "60604016M", "ES5020803294338752239563", "608819736", "180.190.166.143"} {
		if bytes.Contains(all, []byte(pii)) {
			t.Errorf("%q is in the database file in clear", pii)
		}
	}
	if !bytes.Contains(all, []byte("cashcat.ph")) {
		t.Error("attribution missing from the file: the check above reads the wrong file")
	}
}

func TestClaimLeaseAndAttempts(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	ids, err := s.Claim(ctx, "w1", time.Minute, 10)
	if err != nil || len(ids) != 1 {
		t.Fatalf("claim: got %v, %v", ids, err)
	}
	if again, _ := s.Claim(ctx, "w2", time.Minute, 10); len(again) != 0 {
		t.Errorf("a leased application was claimed again: %v", again)
	}
	if err := s.StartAttempt(ctx, "app-1", "w2", "casheddy", "", 1); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("non-owner start: got %v, want ErrLeaseLost", err)
	}
	if err := s.StartAttempt(ctx, "app-1", "w1", "casheddy", "", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.StartAttempt(ctx, "app-1", "w1", "casheddy", "", 2); !errors.Is(err, ErrAttempted) {
		t.Errorf("second post to one buyer: got %v, want ErrAttempted", err)
	}
	s.FinishAttempt(ctx, "app-1", "casheddy", "", Attempt{Outcome: "accepted", Latency: 120 * time.Millisecond, Price: 3.5})
	if err := s.Decide(ctx, "app-1", "w1", Decision{Status: Accepted, RedirectURL: "https://lender.example/w", Buyer: "casheddy", Revenue: 3.5}); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Get(ctx, "app-1")
	if a.Status != Accepted || a.RedirectURL != "https://lender.example/w" || a.DecidedAt.IsZero() {
		t.Errorf("got %+v", a)
	}
	atts, _ := s.Attempts(ctx, "app-1")
	if len(atts) != 1 || atts[0].Outcome != "accepted" || atts[0].Latency != 120*time.Millisecond {
		t.Errorf("got attempts %+v", atts)
	}
}

func TestExpiredLeaseIsClaimable(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "dead", time.Millisecond, 10)
	time.Sleep(5 * time.Millisecond)
	if ids, _ := s.Claim(ctx, "alive", time.Minute, 10); len(ids) != 1 {
		t.Errorf("got %v, want the expired lease taken over", ids)
	}
	s.StartAttempt(ctx, "app-1", "alive", "casheddy", "", 1)
	s.MarkInDoubt(ctx, "app-1")
	atts, _ := s.Attempts(ctx, "app-1")
	if len(atts) != 1 || atts[0].Outcome != AttemptInDoubt {
		t.Errorf("got %+v, want the unfinished attempt in doubt", atts)
	}
}

func TestFieldErrorsAreSealed(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "w", time.Minute, 1)
	if err := s.Decide(ctx, "app-1", "w", Decision{Status: NeedsFix, FieldErrors: map[string]string{"iban": "IBAN ES5020803294338752239563 no válido"}}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Sealed(ctx, "app-1")
	if err != nil || rec.FieldErrors["iban"] == "" || rec.Submission.Application.FirstName != "Kyle" {
		t.Errorf("got %+v, %v", rec, err)
	}
}
