package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/vault"
)

// A second leadgate on the same SQLite file is refused at start, with
// the message naming the process that has it; once that one is gone, the
// file opens.
func TestSQLiteFileHasOneOwner(t *testing.T) {
	first, path := open(t)
	keys, _ := vault.New(bytes.Repeat([]byte{7}, 32))
	second, err := Open(context.Background(), "sqlite://"+path, keys)
	if err == nil {
		second.Close()
		t.Fatal("a second store opened a file another one has")
	}
	host, _ := os.Hostname()
	want := fmt.Sprintf("storage.dsn: %s is in use by another leadgate (pid %d on host %s); stop it or use another file", path, os.Getpid(), host)
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	first.Close()
	again, err := Open(context.Background(), "sqlite://"+path, keys)
	if err != nil {
		t.Fatalf("reopening after the owner closed: %v", err)
	}
	again.Close()
}

// Leases found when a SQLite file is opened are a stopped process's: its
// applications and CRM work are claimable at once, not when the lease
// runs out; an attempt it left started is in doubt, never re-sent.
func TestSQLiteReclaimsLeasesAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "leadgate.db")
	keys, _ := vault.New(bytes.Repeat([]byte{7}, 32))
	dead, err := Open(ctx, "sqlite://"+path, keys)
	if err != nil {
		t.Fatal(err)
	}
	dead.Create(ctx, newApp("in-flight", "k1"))
	dead.Create(ctx, newApp("to-mirror", "k2"))
	if ids, _ := dead.Claim(ctx, "dead", time.Hour, 10); len(ids) != 2 {
		t.Fatalf("claim: got %v", ids)
	}
	if err := dead.StartAttempt(ctx, "in-flight", "dead", "lokyata", "", 1); err != nil {
		t.Fatal(err)
	}
	if err := dead.Decide(ctx, "to-mirror", "dead", Decision{Status: Accepted, Buyer: "lokyata", CRM: true}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := dead.ClaimCRM(ctx, "dead", time.Hour, 10); len(ids) != 1 {
		t.Fatalf("crm claim: got %v", ids)
	}
	dead.Close() // what a SIGKILL leaves: leases an hour long

	s, err := Open(ctx, "sqlite://"+path, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ids, err := s.Claim(ctx, "restarted", time.Hour, 10); len(ids) != 1 || ids[0] != "in-flight" {
		t.Errorf("claim after restart: got %v, %v; want the stopped process's application at once", ids, err)
	}
	if ids, err := s.ClaimCRM(ctx, "restarted", time.Hour, 10); len(ids) != 1 || ids[0] != "to-mirror" {
		t.Errorf("crm claim after restart: got %v, %v; want the stopped process's CRM work at once", ids, err)
	}
	s.MarkInDoubt(ctx, "in-flight")
	if err := s.StartAttempt(ctx, "in-flight", "restarted", "lokyata", "", 2); !errors.Is(err, ErrAttempted) {
		t.Errorf("posting again to the buyer the stopped process posted: got %v, want ErrAttempted", err)
	}
	if atts, _ := s.Attempts(ctx, "in-flight"); len(atts) != 1 || atts[0].Outcome != AttemptInDoubt {
		t.Errorf("got attempts %+v, want the one started attempt in doubt", atts)
	}
}
