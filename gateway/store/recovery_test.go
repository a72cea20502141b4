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

	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
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
	if err := dead.Decide(ctx, "to-mirror", "dead", providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata", CRM: true}); err != nil {
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
	if jobs, err := s.ClaimCRM(ctx, "restarted", time.Hour, 10); len(jobs) != 1 || jobs[0].ID != "to-mirror" || jobs[0].First {
		t.Errorf("crm claim after restart: got %+v, %v; want the stopped process's CRM work at once, not as a first claim (it may have created the lead)", jobs, err)
	}
	s.MarkInDoubt(ctx, "in-flight")
	if err := s.StartAttempt(ctx, "in-flight", "restarted", "lokyata", "", 2); !errors.Is(err, ErrAttempted) {
		t.Errorf("posting again to the buyer the stopped process posted: got %v, want ErrAttempted", err)
	}
	if atts, _ := s.Attempts(ctx, "in-flight"); len(atts) != 1 || atts[0].Outcome != providers.InDoubt {
		t.Errorf("got attempts %+v, want the one started attempt in doubt", atts)
	}
}

// openPostgresPair opens two stores on one fresh schema, as two replicas.
func openPostgresPair(t *testing.T) (*Store, *Store) {
	t.Helper()
	dsn := storetest.FreshSchema(t, storetest.PostgresForTest(t))
	keys, _ := vault.New(bytes.Repeat([]byte{7}, 32))
	var stores []*Store
	for range 2 {
		s, err := Open(context.Background(), dsn, keys)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	return stores[0], stores[1]
}

// claimWithin claims on s until it gets something or within has passed.
func claimWithin(s *Store, claim func(*Store) ([]string, error), within time.Duration) ([]string, time.Duration) {
	start := time.Now()
	for {
		ids, err := claim(s)
		if len(ids) > 0 || err != nil || time.Since(start) > within {
			return ids, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// On PostgreSQL a claim lasts as long as its replica's database session:
// while the replica lives, nobody else gets its work however long it
// takes; once its session is closed, another replica claims the work at
// once, long before the lease would run out.
func TestPostgresClaimEndsWithItsSession(t *testing.T) {
	ctx := context.Background()
	dying, other := openPostgresPair(t)
	dying.Create(ctx, newApp("in-flight", "k1"))
	dying.Create(ctx, newApp("to-mirror", "k2"))
	if ids, _ := dying.Claim(ctx, "dying", time.Hour, 10); len(ids) != 2 {
		t.Fatalf("claim: got %v", ids)
	}
	dying.StartAttempt(ctx, "in-flight", "dying", "lokyata", "", 1)
	dying.Decide(ctx, "to-mirror", "dying", providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata", CRM: true})
	if ids, _ := dying.ClaimCRM(ctx, "dying", time.Hour, 10); len(ids) != 1 {
		t.Fatalf("crm claim: got %v", ids)
	}
	claim := func(s *Store) ([]string, error) { return s.Claim(ctx, "other", time.Hour, 10) }
	claimCRM := func(s *Store) ([]string, error) {
		jobs, err := s.ClaimCRM(ctx, "other", time.Hour, 10)
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
		return ids, err
	}
	if ids, _ := claimWithin(other, claim, 1500*time.Millisecond); len(ids) != 0 {
		t.Fatalf("a live replica's application was claimed by another: %v", ids)
	}
	if ids, _ := claimCRM(other); len(ids) != 0 {
		t.Fatalf("a live replica's CRM work was claimed by another: %v", ids)
	}

	dying.Close()
	ids, took := claimWithin(other, claim, 5*time.Second)
	if len(ids) != 1 || took > time.Second {
		t.Errorf("after the replica's session closed: claimed %v in %v, want its application within 1s", ids, took)
	}
	if ids, took := claimWithin(other, claimCRM, 5*time.Second); len(ids) != 1 || took > time.Second {
		t.Errorf("after the replica's session closed: claimed CRM work %v in %v, want it within 1s", ids, took)
	}
	other.MarkInDoubt(ctx, "in-flight")
	if err := other.StartAttempt(ctx, "in-flight", "other", "lokyata", "", 2); !errors.Is(err, ErrAttempted) {
		t.Errorf("posting again to the buyer the dead replica posted: got %v, want ErrAttempted", err)
	}
}

// A replica whose own session drops (a database restart, a proxy cutting
// a long connection) takes its session back: what another replica took
// over meanwhile is lost to it (it may not post for it any more), and its
// later claims are held again.
func TestPostgresSessionComesBack(t *testing.T) {
	ctx := context.Background()
	blipped, other := openPostgresPair(t)
	blipped.Create(ctx, newApp("taken-over", "k1"))
	if ids, _ := blipped.Claim(ctx, "blipped", time.Hour, 10); len(ids) != 1 {
		t.Fatalf("claim: got %v", ids)
	}
	var killed bool
	if err := other.db.QueryRowContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2`, sessionSpace, blipped.session.key).Scan(&killed); err != nil || !killed {
		t.Fatalf("ending the replica's session: %v %v", killed, err)
	}
	claim := func(s *Store) ([]string, error) { return s.Claim(ctx, "other", time.Hour, 10) }
	if ids, _ := claimWithin(other, claim, 5*time.Second); len(ids) != 1 {
		t.Fatalf("the application of a replica without a session was not taken over: %v", ids)
	}
	if err := blipped.StartAttempt(ctx, "taken-over", "blipped", "lokyata", "", 1); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("the replica posting for an application taken over: got %v, want ErrLeaseLost", err)
	}

	blipped.Create(ctx, newApp("later", "k2"))
	ids, _ := claimWithin(blipped, func(s *Store) ([]string, error) { return s.Claim(ctx, "blipped", time.Hour, 10) }, 5*time.Second)
	if len(ids) != 1 {
		t.Fatalf("the replica claimed %v after its session came back, want the new application", ids)
	}
	if ids, _ := claimWithin(other, claim, 1500*time.Millisecond); len(ids) != 0 {
		t.Errorf("a claim made after the session came back was taken over: %v", ids)
	}
	if err := blipped.StartAttempt(ctx, "later", "blipped", "lokyata", "", 1); err != nil {
		t.Errorf("posting under the session that came back: %v", err)
	}
}

// A replica whose session is gone posts nothing more: its leases may be
// taken over at any moment. It gives the application back instead, to
// be claimed at once.
func TestPostgresNoPostWithoutItsSession(t *testing.T) {
	ctx := context.Background()
	s, _ := openPostgresPair(t)
	s.Create(ctx, newApp("app-1", "k1"))
	if ids, _ := s.Claim(ctx, "w", time.Hour, 1); len(ids) != 1 {
		t.Fatalf("claim: got %v", ids)
	}
	s.session.close() // gone, and not coming back
	for held := true; held; {
		if err := s.db.QueryRowContext(ctx, `SELECT `+sessionAlive("$1"), s.session.key).Scan(&held); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.StartAttempt(ctx, "app-1", "w", "lokyata", "", 1); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("posting without a session: got %v, want ErrLeaseLost", err)
	}
	if atts, _ := s.Attempts(ctx, "app-1"); len(atts) != 0 {
		t.Errorf("got attempts %+v, want none", atts)
	}
	var owner string
	var until int64
	s.db.QueryRowContext(ctx, `SELECT lease_owner, lease_until FROM applications WHERE id = 'app-1'`).Scan(&owner, &until)
	if owner != "" || until != 0 {
		t.Errorf("lease after giving up: owner %q until %d, want the application given back", owner, until)
	}
}
