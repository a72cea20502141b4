package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/gateway/vault"
	"github.com/leadgate/leadgate/providers"
)

// opener opens a fresh, migrated store for one test (and the SQLite
// file's path, "" for PostgreSQL).
type opener func(t *testing.T) (*Store, string)

// suite runs against every backend: the same behaviour on SQLite and on
// PostgreSQL (SPEC §8).
var suite = []struct {
	name string
	fn   func(*testing.T, opener)
}{
	{"CreateOnceUnderConcurrency", testCreateOnceUnderConcurrency},
	{"ClaimLeaseAndAttempts", testClaimLeaseAndAttempts},
	{"ExpiredLeaseIsClaimable", testExpiredLeaseIsClaimable},
	{"FieldErrorsAreSealed", testFieldErrorsAreSealed},
	{"ConcurrentClaimsNeverOverlap", testConcurrentClaimsNeverOverlap},
	{"RetryCRMAndErase", testRetryCRMAndErase},
	{"Funnel", testFunnel},
	{"NoPersonalDataAtRest", testNoPersonalDataAtRest},
	{"LongReasonsCutOnCharacters", testLongReasonsCutOnCharacters},
	{"RetryReopensOnlyUndeliveredFailures", testRetryReopensOnlyUndeliveredFailures},
	{"SealedDataIsBoundToItsRow", testSealedDataIsBoundToItsRow},
	{"CountAcceptedWithinItsWindow", testCountAcceptedWithinItsWindow},
	{"DuplicatePostedOncePerBuyer", testDuplicatePostedOncePerBuyer},
	{"DuplicateClaimFreedByFieldErrors", testDuplicateClaimFreedByFieldErrors},
	{"CorrectionCountedOnce", testCorrectionCountedOnce},
	{"DuplicatesAtTheSameInstant", testDuplicatesAtTheSameInstant},
	{"PostbacksQueuedWithTheVerdict", testPostbacksQueuedWithTheVerdict},
	{"CreateAnswersWhatGetReads", testCreateAnswersWhatGetReads},
	{"CreatedInHandIsNotClaimed", testCreatedInHandIsNotClaimed},
	{"FinishAndDecideInOneWrite", testFinishAndDecideInOneWrite},
	{"CRMFirstClaimOnlyWithoutTries", testCRMFirstClaimOnlyWithoutTries},
	{"SubmissionFromMemoryOnce", testSubmissionFromMemoryOnce},
	{"RecordsReadsWhatGetReads", testRecordsReadsWhatGetReads},
}

func TestStoreSQLite(t *testing.T) {
	for _, tc := range slices.Concat(suite, draftSuite) {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func TestStorePostgres(t *testing.T) {
	dsn := storetest.PostgresForTest(t)
	for _, tc := range slices.Concat(suite, draftSuite) {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, func(t *testing.T) (*Store, string) {
				keys, _ := vault.New(bytes.Repeat([]byte{7}, 32))
				s, err := Open(context.Background(), storetest.FreshSchema(t, dsn), keys)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s, ""
			})
		})
	}
}

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
			ID: id, IPAddress: "180.190.166.143", UserAgent: "KyleBrowser/1.0",
			Consents: []providers.Consent{{Field: "consent_terms", Text: "Acepto las condiciones", Given: true}},
			Application: providers.Application{FirstName: "Kyle", LastName: "Trazo", Email: "kyle@blendit.eu",
				NationalID: "60604016M", IBAN: "ES5020803294338752239563", MobilePhone: "608819736"},
			Attribution: providers.Attribution{Source: "cashcat.ph", Campaign: "es-demo"},
		},
	}
}

func testCreateOnceUnderConcurrency(t *testing.T, open opener) {
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

func testNoPersonalDataAtRest(t *testing.T, open opener) {
	s, path := open(t)
	ctx := context.Background()
	for _, id := range []string{"app-1", "app-2"} {
		n := newApp(id, id)
		n.Submission.Attribution.Referrer = "https://ref.example/?email=kyle@blendit.eu"
		n.Submission.Attribution.SetClicks(map[string][]string{"gclid": {"Cj0KCQclickid"}}, providers.ClickParams)
		n.Keys = providers.DedupeKeys(n.Submission.Application, []string{"national_id", "email", "mobile_phone"}, []byte("dedupe-secret"))
		if _, _, err := s.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// One decided with a buyer's field errors, which echo what was typed,
	// after a claim of its duplicate keys; one sold, with a postback.
	s.Claim(ctx, "w", time.Minute, 2)
	if err := s.StartAttemptOnce(ctx, "app-2", "w", "casheddy", "", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	// The buyer's redirect URL, which may carry the consumer's data in
	// its query, on the attempt and the application.
	redirect := "https://lender.example/continue?email=kyle%40blendit.eu&lead=LDX99"
	if err := s.StartAttemptOnce(ctx, "app-1", "w", "lokyata", "", 1, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAndDecide(ctx, "app-1", "w", Finished{Buyer: "lokyata", Attempt: providers.Attempt{Outcome: "accepted", RedirectURL: redirect}},
		providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata", RedirectURL: redirect, Postbacks: []string{"ads"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "app-1")
	if err != nil || got.RedirectURL != redirect {
		t.Errorf("the application's redirect URL read back: %q, %v; want %q", got.RedirectURL, err, redirect)
	}
	if recs, err := s.Records(ctx, []string{"app-1"}); err != nil || recs["app-1"].RedirectURL != redirect {
		t.Errorf("read back with others: %+v, %v", recs["app-1"], err)
	}
	if atts, err := s.Attempts(ctx, "app-1"); err != nil || len(atts) != 1 || atts[0].RedirectURL != redirect {
		t.Errorf("the attempt's redirect URL read back: %+v, %v", atts, err)
	}
	s.FinishAttempt(ctx, "app-2", "casheddy", "", providers.Attempt{Outcome: "needs_fix", Reason: "casheddy: fields rejected"})
	if err := s.Decide(ctx, "app-2", "w", providers.Verdict{Status: providers.StatusNeedsFix, Buyer: "casheddy", FieldErrors: map[string]string{"personal_id": "DNI 60604016X no válido"}}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Sealed(ctx, "app-1")
	if err != nil || rec.Submission.Application.NationalID != "60604016M" {
		t.Fatalf("sealed record: got %+v, %v", rec, err)
	}
	var all []byte
	if path == "" { // PostgreSQL: every value of every table, as stored
		all = dumpPostgres(t, s.db)
		// BYTEA read as text would be hex, where no clear text can show:
		// the ciphertext must be found as its own bytes.
		var ct []byte
		if err := s.db.QueryRow(`SELECT pii FROM application_pii WHERE application_id = 'app-2'`).Scan(&ct); err != nil || len(ct) == 0 {
			t.Fatalf("reading the ciphertext: %v", err)
		}
		if !bytes.Contains(all, ct) {
			t.Error("the ciphertext is not in the dump as raw bytes: the check below reads the wrong thing")
		}
	}
	s.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if path != "" {
			b, _ := os.ReadFile(path + suffix)
			all = append(all, b...)
		}
	}
	for _, pii := range []string{"Kyle", "Trazo", "kyle@blendit.eu", "60604016M", "ES5020803294338752239563", "608819736", "180.190.166.143",
		"KyleBrowser", "Acepto las condiciones", "ref.example", "60604016X", "Cj0KCQclickid", "lender.example", "LDX99", "kyle%40blendit.eu"} {
		if bytes.Contains(all, []byte(pii)) {
			t.Errorf("%q is in the database file in clear", pii)
		}
	}
	if !bytes.Contains(all, []byte("cashcat.ph")) {
		t.Error("attribution missing from the file: the check above reads the wrong file")
	}
}

// dumpPostgres reads every value of every table of the store's schema as
// the bytes the database returns for it (BYTEA raw, not as hex text).
func dumpPostgres(t *testing.T, db *sql.DB) []byte {
	t.Helper()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	if !slices.Contains(tables, "applications") || !slices.Contains(tables, "attempts") {
		t.Fatalf("tables of the schema: got %v, want applications and attempts among them", tables)
	}
	var all []byte
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					all = append(all, v...)
				case string:
					all = append(all, v...)
				default:
					all = fmt.Append(all, v)
				}
				all = append(all, 0)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return all
}

func testClaimLeaseAndAttempts(t *testing.T, open opener) {
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
	// Only the owner renews or gives back its lease.
	if err := s.Renew(ctx, "app-1", "w2", time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("non-owner renewal: got %v, want ErrLeaseLost", err)
	}
	s.Release(ctx, "app-1", "w2", time.Now().Add(-time.Second))
	if again, _ := s.Claim(ctx, "w2", time.Minute, 10); len(again) != 0 {
		t.Errorf("released by a worker that did not hold it, then claimed: %v", again)
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
	s.FinishAttempt(ctx, "app-1", "casheddy", "", providers.Attempt{Outcome: "accepted", Latency: 120 * time.Millisecond, Price: 3.5})
	// A worker that lost its lease cannot decide behind the owner's back.
	if err := s.Decide(ctx, "app-1", "w2", providers.Verdict{Status: providers.StatusDeclined, Reason: "stale worker"}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("non-owner decision: got %v, want ErrLeaseLost", err)
	}
	if err := s.Decide(ctx, "app-1", "w1", providers.Verdict{Status: providers.StatusAccepted, RedirectURL: "https://lender.example/w", Buyer: "casheddy", Revenue: 3.5}); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Get(ctx, "app-1")
	if a.Status != providers.StatusAccepted || a.RedirectURL != "https://lender.example/w" || a.DecidedAt.IsZero() {
		t.Errorf("got %+v", a)
	}
	atts, _ := s.Attempts(ctx, "app-1")
	if len(atts) != 1 || atts[0].Outcome != "accepted" || atts[0].Latency != 120*time.Millisecond {
		t.Errorf("got attempts %+v", atts)
	}
	// Decided, it is never claimed again (and so never posted again).
	if again, _ := s.Claim(ctx, "w3", time.Minute, 10); len(again) != 0 {
		t.Errorf("a decided application was claimed: %v", again)
	}
}

func testExpiredLeaseIsClaimable(t *testing.T, open opener) {
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
	if len(atts) != 1 || atts[0].Outcome != providers.InDoubt {
		t.Errorf("got %+v, want the unfinished attempt in doubt", atts)
	}
}

func testFieldErrorsAreSealed(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "w", time.Minute, 1)
	if err := s.Decide(ctx, "app-1", "w", providers.Verdict{Status: providers.StatusNeedsFix, FieldErrors: map[string]string{"iban": "IBAN ES5020803294338752239563 no válido"}}); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Sealed(ctx, "app-1")
	if err != nil || rec.FieldErrors["iban"] == "" || rec.Submission.Application.FirstName != "Kyle" {
		t.Errorf("got %+v, %v", rec, err)
	}
}

// Rotating the encryption key: what was sealed under the old key still
// opens once the old key is kept among the old ones; new data uses the new.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "leadgate.db")
	oldKey, newKey := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	keys, _ := vault.New(oldKey)
	s, err := Open(ctx, "sqlite://"+path, keys)
	if err != nil {
		t.Fatal(err)
	}
	s.Create(ctx, newApp("before", "k1"))
	s.Close()

	rotated, _ := vault.New(newKey, oldKey)
	s, err = Open(ctx, "sqlite://"+path, rotated)
	if err != nil {
		t.Fatal(err)
	}
	s.Create(ctx, newApp("after", "k2"))
	for _, id := range []string{"before", "after"} {
		rec, err := s.Sealed(ctx, id)
		if err != nil || rec.Submission.Application.FirstName != "Kyle" {
			t.Errorf("%s: got %v, %v", id, rec.Submission.Application.FirstName, err)
		}
	}
	var before, after string
	s.db.QueryRow(`SELECT key_id FROM application_pii WHERE application_id = 'before'`).Scan(&before)
	s.db.QueryRow(`SELECT key_id FROM application_pii WHERE application_id = 'after'`).Scan(&after)
	if before == after || after != rotated.Current() {
		t.Errorf("key ids: before %q, after %q, want the new key's id %q for new data", before, after, rotated.Current())
	}
	s.Close()
	// Without the old key, old data is unreadable (and says so).
	newOnly, _ := vault.New(newKey)
	s2, err := Open(ctx, "sqlite://"+path, newOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if rec, err := s2.Sealed(ctx, "before"); !errors.Is(err, vault.ErrUnknownKey) || rec.Submission.ID != "" {
		t.Errorf("data sealed with a key that is gone: got %q, %v; want nothing and vault.ErrUnknownKey", rec.Submission.ID, err)
	}
	if _, err := s2.Sealed(ctx, "after"); err != nil {
		t.Errorf("data sealed with the key kept: %v", err)
	}
}

// Two replicas claiming at once never get the same application.
func testConcurrentClaimsNeverOverlap(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	for i := range 60 {
		if _, _, err := s.Create(ctx, newApp(fmt.Sprintf("app-%02d", i), fmt.Sprintf("k%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				ids, err := s.Claim(ctx, fmt.Sprintf("w%d", w), time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, id := range ids {
					if prev, dup := seen[id]; dup {
						t.Errorf("%s claimed by w%d and %s", id, w, prev)
					}
					seen[id] = fmt.Sprintf("w%d", w)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 60 {
		t.Errorf("claimed %d of 60", len(seen))
	}
}

func testRetryCRMAndErase(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "w", time.Minute, 1)
	if err := s.StartAttempt(ctx, "app-1", "w", "lokyata", "", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishAttempt(ctx, "app-1", "lokyata", "", providers.Attempt{Outcome: providers.Accepted, Reason: "ERASEME", RedirectURL: "https://x.example/ERASEME",
		Exchange: providers.Exchange{Request: "POST /x\n\n{\"loan\":500}", Status: 200, Response: `{"comment":"ERASEME"}`}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Decide(ctx, "app-1", "w", providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata", Revenue: 25, CRM: true,
		RedirectURL: "https://lender.example/welcome?em=ERASEME", Reason: "ERASEME decided"}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimCRM(ctx, "m", time.Minute, 5)
	if want := (CRMJob{ID: "app-1", Status: providers.StatusAccepted, First: true}); len(jobs) != 1 || jobs[0] != want {
		t.Fatalf("crm claim: got %+v, %v; want %+v", jobs, err, want)
	}
	s.RetryCRM(ctx, "app-1", "m", time.Now().Add(-time.Second), "cashfin down: ERASEME")
	jobs, _ = s.ClaimCRM(ctx, "m", time.Minute, 5)
	if want := (CRMJob{ID: "app-1", Status: providers.StatusAccepted, Tries: 1}); len(jobs) != 1 || jobs[0] != want {
		t.Fatalf("crm retry: got %+v, want %+v (not first: the failed try may have created the lead)", jobs, want)
	}
	// A mirror that lost its lease does not record a CRM lead.
	if err := s.FinishCRM(ctx, "app-1", "other", "lead-x"); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("non-owner crm finish: got %v, want ErrLeaseLost", err)
	}
	if err := s.FinishCRM(ctx, "app-1", "m", "lead-1"); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.ClaimCRM(ctx, "m", time.Minute, 5); len(again) != 0 {
		t.Errorf("a mirrored application was claimed for the CRM again: %v", again)
	}
	app, _ := s.Get(ctx, "app-1")
	if app.CRMStatus != providers.CRMDone || app.CRMRef != "lead-1" || app.CRMTries != 2 {
		t.Errorf("crm state: got %+v", app)
	}
	if n, err := s.Erase(ctx, time.Now().Add(time.Minute)); n != 1 || err != nil {
		t.Fatalf("erase: %d, %v", n, err)
	}
	if rec, err := s.Sealed(ctx, "app-1"); !errors.Is(err, ErrNotFound) || rec.Submission.ID != "" {
		t.Errorf("erased data: got %q, %v; want nothing and ErrNotFound", rec.Submission.ID, err)
	}
	// Erased means gone from the database, not only unreadable here: a
	// ciphertext left behind opens for whoever holds the key.
	var left int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM application_pii WHERE application_id = 'app-1'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("after erasure %d sealed rows are left (%v)", left, err)
	}
	var ct []byte
	if err := s.db.QueryRowContext(ctx, `SELECT pii FROM applications WHERE id = 'app-1'`).Scan(&ct); err != nil || len(ct) != 0 {
		t.Errorf("after erasure the row still holds %d bytes of ciphertext (%v)", len(ct), err)
	}
	if app, _ := s.Get(ctx, "app-1"); app.Revenue != 25 || !app.Erased || app.Buyer != "lokyata" {
		t.Errorf("after erasure: %+v", app)
	}
	// Nor is anyone's free text about the consumer left (a buyer's reason,
	// Cashfin's error, a redirect URL with what the buyer was sent).
	var text string
	if err := s.db.QueryRowContext(ctx, `SELECT reason || crm_error || redirect_url FROM applications WHERE id = 'app-1'`).Scan(&text); err != nil || text != "" {
		t.Errorf("after erasure the row still holds %q (%v)", text, err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM attempts WHERE application_id = 'app-1' AND (reason <> '' OR redirect_url <> '')`).Scan(&left); err != nil || left != 0 {
		t.Errorf("after erasure %d attempts still hold a reason or a redirect URL (%v)", left, err)
	}
	// The buyer's answer is its words about the consumer: it goes too.
	// The masked request (codes and amounts) is the statistics'.
	if xs, err := s.Exchanges(ctx, "app-1"); err != nil || len(xs) != 1 || xs[0] != (providers.Exchange{Request: "POST /x\n\n{\"loan\":500}", Status: 200}) {
		t.Errorf("after erasure the exchange is %+v (%v), want the request and status alone", xs, err)
	}
	// Nor its idempotency key: a post without a form's submission id is
	// keyed by a digest of its answers (gateway.submissionKey), which
	// would link two erased applications that gave the same ones.
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM applications WHERE idempotency_key = 'k1'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("after erasure the application still holds its idempotency key (%v)", err)
	}
}

func testFunnel(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	day := time.Now().UTC().Format("2006-01-02")
	k := FunnelKey{Day: day, Flow: "es", Source: "cashcat.ph", Campaign: "es-demo"}
	s.AddVisits(ctx, map[FunnelKey]VisitCounts{k: {Visits: 3, Prefilled: 1}})
	s.AddVisits(ctx, map[FunnelKey]VisitCounts{k: {Visits: 2, Prefilled: 2}})
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "w", time.Minute, 1)
	s.Decide(ctx, "app-1", "w", providers.Verdict{Status: providers.StatusAccepted, Revenue: 12.5})
	s.MarkRedirected(ctx, "app-1", nil)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	rows, err := s.Funnel(ctx, today, today)
	if err != nil || len(rows) != 1 {
		t.Fatalf("funnel: %v %v", rows, err)
	}
	want := FunnelRow{Flow: "es", Source: "cashcat.ph", Campaign: "es-demo", Visits: 5, Prefilled: 3, Applications: 1, Accepted: 1, Redir: 1, Revenue: 12.5}
	if rows[0] != want {
		t.Errorf("got %+v, want %+v", rows[0], want)
	}
}

// A consumer whose application was sent back for fixing sends the form
// again: the funnel and the days count one application (it counted two:
// an application rate of 200 %), accepted. Only the posting session's own
// application sent back is taken as corrected.
func testCorrectionCountedOnce(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	day := time.Now().UTC().Format("2006-01-02")
	s.AddVisits(ctx, map[FunnelKey]VisitCounts{{Day: day, Flow: "es", Source: "cashcat.ph", Campaign: "es-demo"}: {Visits: 1}})
	s.Create(ctx, newApp("first", "k1")) // session "sess"
	s.Claim(ctx, "w", time.Minute, 1)
	s.Decide(ctx, "first", "w", providers.Verdict{Status: providers.StatusNeedsFix, FieldErrors: map[string]string{"consent_marketing": "must_accept"}})
	other := newApp("other", "k-other")
	other.SessionHash = "another"
	s.Create(ctx, other)
	s.Claim(ctx, "w", time.Minute, 1)
	s.Decide(ctx, "other", "w", providers.Verdict{Status: providers.StatusNeedsFix})
	// Another session naming both: neither is its own.
	stranger := newApp("stranger", "k-stranger")
	stranger.SessionHash, stranger.DraftKey, stranger.Corrects = "stranger", "stranger", "other"
	s.Create(ctx, stranger)
	corrected := newApp("corrected", "k2")
	corrected.DraftKey, corrected.Corrects = "sess", "first"
	if _, _, err := s.Create(ctx, corrected); err != nil {
		t.Fatal(err)
	}
	s.Claim(ctx, "w", time.Minute, 10)
	s.Decide(ctx, "corrected", "w", providers.Verdict{Status: providers.StatusAccepted, Revenue: 12.5})
	today := time.Now().UTC().Truncate(24 * time.Hour)
	rows, err := s.Funnel(ctx, today, today)
	if err != nil || len(rows) != 1 {
		t.Fatalf("funnel: %v %v", rows, err)
	}
	// first is corrected; other (not the stranger's to correct), stranger
	// and corrected count.
	if r := rows[0]; r.Applications != 3 || r.Accepted != 1 {
		t.Errorf("funnel: %d applications, %d accepted; want 3 (first counted in its correction), 1", r.Applications, r.Accepted)
	}
	days, err := s.Daily(ctx, today, today)
	if err != nil || len(days) != 1 || days[0].Applications != 3 {
		t.Errorf("days: %+v %v, want 3 applications", days, err)
	}
}

// A buyer's reason longer than the column keeps is cut on a character,
// never inside one: PostgreSQL refuses half a UTF-8 character.
func testLongReasonsCutOnCharacters(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "w", time.Minute, 1)
	s.StartAttempt(ctx, "app-1", "w", "astoria", "tier50", 1)
	reason := "astoria: " + strings.Repeat("é", 600) // 2 bytes each: byte 500 falls inside one
	if err := s.FinishAttempt(ctx, "app-1", "astoria", "tier50", providers.Attempt{Outcome: "declined", Reason: reason}); err != nil {
		t.Fatalf("storing a long reason: %v", err)
	}
	atts, _ := s.Attempts(ctx, "app-1")
	if got := atts[0].Reason; !utf8.ValidString(got) || utf8.RuneCountInString(got) != 500 {
		t.Errorf("stored reason: %d characters, valid UTF-8 %v", utf8.RuneCountInString(got), utf8.ValidString(got))
	}
}

// RetryAttempt re-opens only a failure marked retry (it provably never
// reached the buyer), and only once per failure: a buyer that answered,
// even with a 500, or whose post was interrupted, may hold the lead and is
// never posted it again, whatever the worker asks.
func testRetryReopensOnlyUndeliveredFailures(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	if ids, err := s.Claim(ctx, "w", time.Minute, 1); err != nil || len(ids) != 1 {
		t.Fatalf("claim: got %v, %v", ids, err)
	}
	for i, a := range []struct {
		buyer string
		att   providers.Attempt
	}{
		{"answered500", providers.Attempt{Outcome: providers.Failed, Reason: "status 500"}},
		{"decliner", providers.Attempt{Outcome: "declined"}},
		{"gone", providers.Attempt{Outcome: providers.Failed, Reason: "connection refused", Retry: true}},
	} {
		if err := s.StartAttempt(ctx, "app-1", "w", a.buyer, "", i+1); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishAttempt(ctx, "app-1", a.buyer, "", a.att); err != nil {
			t.Fatal(err)
		}
	}
	for _, buyer := range []string{"answered500", "decliner", "nobody"} {
		if err := s.RetryAttempt(ctx, "app-1", "w", buyer, ""); !errors.Is(err, ErrAttempted) {
			t.Errorf("retrying %s: got %v, want ErrAttempted", buyer, err)
		}
	}
	if err := s.RetryAttempt(ctx, "app-1", "other", "gone", ""); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("retry by a worker without the lease: got %v, want ErrLeaseLost", err)
	}
	if err := s.RetryAttempt(ctx, "app-1", "w", "gone", ""); err != nil {
		t.Fatalf("retrying the unreachable buyer: %v", err)
	}
	// The retry is in flight: asking again must not open a second post.
	if err := s.RetryAttempt(ctx, "app-1", "w", "gone", ""); !errors.Is(err, ErrAttempted) {
		t.Errorf("second retry of one failure: got %v, want ErrAttempted", err)
	}
	// A crash during the retried post leaves it in doubt: never re-sent.
	if err := s.MarkInDoubt(ctx, "app-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryAttempt(ctx, "app-1", "w", "gone", ""); !errors.Is(err, ErrAttempted) {
		t.Errorf("retrying an interrupted post: got %v, want ErrAttempted", err)
	}
	atts, _ := s.Attempts(ctx, "app-1")
	want := map[string]struct {
		outcome providers.Outcome
		tries   int
	}{"answered500": {providers.Failed, 1}, "decliner": {"declined", 1}, "gone": {providers.InDoubt, 2}}
	for _, a := range atts {
		if w := want[a.Buyer]; a.Outcome != w.outcome || a.Tries != w.tries {
			t.Errorf("%s: got %s after %d tries, want %s after %d", a.Buyer, a.Outcome, a.Tries, w.outcome, w.tries)
		}
	}
	if len(atts) != 3 {
		t.Errorf("got %d attempts, want 3", len(atts))
	}
}

// Personal data is sealed bound to its row: one application's ciphertext
// (and key id) copied onto another row, as someone with write access to
// the database might, does not open there, whether it was sealed at
// creation or re-sealed with a buyer's field errors.
func testSealedDataIsBoundToItsRow(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	other := newApp("victim", "k2")
	other.Submission.Application.FirstName, other.Submission.Application.Email = "Ana", "ana@example.es"
	for _, n := range []New{newApp("created", "k1"), other, newApp("decided", "k3")} {
		if _, _, err := s.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	s.Claim(ctx, "w", time.Minute, 3)
	if err := s.Decide(ctx, "decided", "w", providers.Verdict{Status: providers.StatusNeedsFix, FieldErrors: map[string]string{"iban": "no válido"}}); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{"created", "decided"} {
		var keyID string
		var ct []byte
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT key_id, pii FROM application_pii WHERE application_id = ?`), from).Scan(&keyID, &ct); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.ExecContext(ctx, s.q(`UPDATE application_pii SET key_id = ?, pii = ? WHERE application_id = ?`), keyID, ct, "victim"); err != nil {
			t.Fatal(err)
		}
		rec, err := s.Sealed(ctx, "victim")
		if !errors.Is(err, vault.ErrNotAuthentic) || !reflect.DeepEqual(rec, Sealed{}) {
			t.Errorf("%s's ciphertext on another row: opened as %q's record (%v); want nothing and vault.ErrNotAuthentic", from, rec.Submission.ID, err)
		}
		if rec, err := s.Sealed(ctx, from); err != nil || rec.Submission.Application.FirstName != "Kyle" {
			t.Errorf("%s on its own row: got %+v, %v", from, rec, err)
		}
	}
}

// A buyer's cap counts its acceptances since the start of the window only,
// and acceptances only: yesterday's leads do not keep it capped today.
func testCountAcceptedWithinItsWindow(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	now := time.Now()
	for i, at := range []time.Time{now.Add(-26 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Minute), now} {
		id := fmt.Sprintf("app-%d", i)
		s.now = func() time.Time { return at }
		s.Create(ctx, newApp(id, id))
		if ids, err := s.Claim(ctx, "w", time.Hour, 1); err != nil || len(ids) != 1 {
			t.Fatalf("claim %s: got %v, %v", id, ids, err)
		}
		s.StartAttempt(ctx, id, "w", "lokyata", "", 1)
		s.StartAttempt(ctx, id, "w", "astoria", "tier50", 2)
		s.FinishAttempt(ctx, id, "lokyata", "", providers.Attempt{Outcome: "accepted"})
		s.FinishAttempt(ctx, id, "astoria", "tier50", providers.Attempt{Outcome: "declined"})
		s.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata"})
	}
	s.now = time.Now
	for _, tc := range []struct {
		buyer string
		since time.Time
		want  int
	}{
		{"lokyata", now.Add(-time.Hour), 2},
		{"lokyata", now.Add(-24 * time.Hour), 3},
		{"lokyata", now.Add(-48 * time.Hour), 4},
		{"astoria", now.Add(-48 * time.Hour), 0}, // declines do not count
	} {
		if got, err := s.CountAccepted(ctx, tc.buyer, tc.since); err != nil || got != tc.want {
			t.Errorf("%s since %s ago: got %d, %v; want %d", tc.buyer, now.Sub(tc.since), got, err, tc.want)
		}
	}
}

// consumer is an application of the one consumer every duplicate test
// uses, recognised by her identity document and her email.
func consumer(id string) New {
	n := newApp(id, id)
	n.Keys = providers.DedupeKeys(n.Submission.Application, []string{"national_id", "email"}, []byte("dedupe-secret"))
	return n
}

// A buyer that answers with field errors has not taken the consumer: it
// asked for the form corrected. The corrected application, a new one with
// the same keys, goes to that buyer; a buyer that declined her does not
// get her again.
func testDuplicateClaimFreedByFieldErrors(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	for _, id := range []string{"first", "corrected"} {
		if _, _, err := s.Create(ctx, consumer(id)); err != nil {
			t.Fatal(err)
		}
	}
	s.Claim(ctx, "w", time.Hour, 10)
	for _, buyer := range []string{"lokyata", "casheddy"} {
		if err := s.StartAttemptOnce(ctx, "first", "w", buyer, "", 1, 720*time.Hour); err != nil {
			t.Fatalf("first application, %s: %v", buyer, err)
		}
	}
	if err := s.FinishAndDecide(ctx, "first", "w", Finished{Buyer: "casheddy", Attempt: providers.Attempt{Buyer: "casheddy", Seq: 1, Outcome: providers.NeedsFix}},
		providers.Verdict{Status: providers.StatusNeedsFix, Buyer: "casheddy", FieldErrors: map[string]string{"phone_plan": "required"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartAttemptOnce(ctx, "corrected", "w", "casheddy", "", 1, 720*time.Hour); err != nil {
		t.Errorf("the corrected application, to the buyer that asked for it: %v", err)
	}
	var dup *DuplicateError
	if err := s.StartAttemptOnce(ctx, "corrected", "w", "lokyata", "", 2, 720*time.Hour); !errors.As(err, &dup) || dup.Application != "first" {
		t.Errorf("the corrected application, to a buyer the first was posted to: got %v, want a duplicate of first", err)
	}
}

// Within the window a buyer gets a consumer once, whichever application
// asks first; another buyer still gets her; past the window, the buyer
// gets her again.
func testDuplicatePostedOncePerBuyer(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	for _, id := range []string{"first", "second"} {
		if _, _, err := s.Create(ctx, consumer(id)); err != nil {
			t.Fatal(err)
		}
	}
	s.Claim(ctx, "w", time.Hour, 10)
	if err := s.StartAttemptOnce(ctx, "first", "w", "lokyata", "", 1, 720*time.Hour); err != nil {
		t.Fatalf("first application: %v", err)
	}
	now = now.Add(24 * time.Hour)
	err := s.StartAttemptOnce(ctx, "second", "w", "lokyata", "", 1, 720*time.Hour)
	var dup *DuplicateError
	if !errors.As(err, &dup) || dup.Application != "first" || dup.Error() != "posted to this buyer on 2026-11-20" {
		t.Fatalf("second application, same buyer: got %v, want a duplicate of first posted on 2026-11-20", err)
	}
	if atts, _ := s.Attempts(ctx, "second"); len(atts) != 0 {
		t.Errorf("a refused claim recorded an attempt: %+v", atts)
	}
	if err := s.StartAttemptOnce(ctx, "second", "w", "astoria", "tier100", 2, 720*time.Hour); err != nil {
		t.Errorf("second application, another buyer: %v", err)
	}
	if err := s.StartAttemptOnce(ctx, "first", "w", "lokyata", "tier50", 2, 720*time.Hour); err != nil {
		t.Errorf("the first application's own next tier: %v", err)
	}
	// The window runs from the buyer's last post of her (tier50, above).
	now = now.Add(720*time.Hour + time.Second)
	if err := s.StartAttemptOnce(ctx, "second", "w", "lokyata", "", 3, 720*time.Hour); err != nil {
		t.Errorf("past the window: %v", err)
	}
	// Erasing the personal data erases the keys derived from it.
	s.Claim(ctx, "w", time.Hour, 10)
	for _, id := range []string{"first", "second"} {
		s.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusDeclined})
	}
	if _, err := s.Erase(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var keys, claims int
	s.db.QueryRow(`SELECT COUNT(*) FROM application_keys`).Scan(&keys)
	s.db.QueryRow(`SELECT COUNT(*) FROM dedupe_claims`).Scan(&claims)
	if keys != 0 || claims != 0 {
		t.Errorf("after erasure: %d keys, %d claims left", keys, claims)
	}
}

// Two applications of one consumer submitted at the same instant (on two
// replicas, as far as the database can tell) reach a buyer once.
func testDuplicatesAtTheSameInstant(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	ids := []string{"a", "b", "c", "d", "e", "f"}
	for _, id := range ids {
		if _, _, err := s.Create(ctx, consumer(id)); err != nil {
			t.Fatal(err)
		}
	}
	s.Claim(ctx, "w", time.Hour, 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	posted, dups := 0, 0
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.StartAttemptOnce(ctx, id, "w", "lokyata", "", 1, 720*time.Hour)
			var dup *DuplicateError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				posted++
			case errors.As(err, &dup):
				dups++
			default:
				t.Errorf("%s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	if posted != 1 || dups != len(ids)-1 {
		t.Errorf("got %d posted and %d duplicates, want 1 and %d", posted, dups, len(ids)-1)
	}
}

// The postbacks of a verdict are queued in its transaction, once; a
// redirect's, only the first time the consumer is sent on.
func testPostbacksQueuedWithTheVerdict(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "w", time.Minute, 1)
	if err := s.Decide(ctx, "app-1", "w", providers.Verdict{Status: providers.StatusAccepted, Postbacks: []string{"ads", "crm"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Decide(ctx, "app-1", "w", providers.Verdict{Status: providers.StatusAccepted, Postbacks: []string{"ads"}}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("deciding twice: got %v", err)
	}
	for range 2 {
		if err := s.MarkRedirected(ctx, "app-1", []string{"ads"}); err != nil {
			t.Fatal(err)
		}
	}
	pbs, err := s.Postbacks(ctx, "app-1")
	var got []string
	for _, p := range pbs {
		got = append(got, p.Name+"/"+p.Event+"/"+string(p.State))
	}
	slices.Sort(got)
	if want := []string{"ads/accepted/pending", "ads/redirected/pending", "crm/accepted/pending"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v (%v), want %v", got, err, want)
	}
	jobs, err := s.ClaimPostbacks(ctx, "pb", time.Minute, 10)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("claim: got %d jobs, %v", len(jobs), err)
	}
	if again, _ := s.ClaimPostbacks(ctx, "pb2", time.Minute, 10); len(again) != 0 {
		t.Errorf("leased postbacks claimed again: %v", again)
	}
	if err := s.FinishPostback(ctx, jobs[0], "pb2", providers.PostbackDelivered, time.Time{}, 200, ""); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("finishing another's postback: got %v", err)
	}
}

// Many consumers submitting at once are written in fewer transactions than
// applications (group commit), each told its own result: an application
// that fails its constraint fails alone, the others are stored; and every
// application answered is in the file when it is opened again.
func TestGroupCommit(t *testing.T) {
	s, path := open(t)
	ctx := context.Background()
	if _, _, err := s.Create(ctx, newApp("taken", "first-form")); err != nil {
		t.Fatal(err)
	}
	// Hold SQLite's write lock, so that every submission below queues
	// behind the writer before any is written.
	hold, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := s.writer.commits.Load()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		id := fmt.Sprintf("app-%02d", i)
		if i == 7 {
			id = "taken" // a new form with an id already stored: the primary key refuses it
		}
		wg.Go(func() { _, _, errs[i] = s.Create(ctx, newApp(id, fmt.Sprintf("form-%02d", i))) })
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.writer.jobs) < n-1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	hold.Rollback()
	wg.Wait()
	for i, err := range errs {
		if got, want := err != nil, i == 7; got != want {
			t.Errorf("submission %d: got error %v, want an error: %v", i, err, want)
		}
	}
	if commits := s.writer.commits.Load() - before; commits >= n/2 {
		t.Errorf("got %d transactions for %d applications, want them batched", commits, n)
	}
	s.Close()
	keys, _ := vault.New(bytes.Repeat([]byte{7}, 32))
	again, err := Open(ctx, "sqlite://"+path, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for i := range n {
		_, err := again.Get(ctx, fmt.Sprintf("app-%02d", i))
		if got, want := err == nil, i != 7; got != want {
			t.Errorf("app-%02d: stored %v, want %v (%v)", i, got, want, err)
		}
	}
	if a, err := again.Get(ctx, "taken"); err != nil || a.SessionHash != "sess" {
		t.Errorf("the first application: %+v, %v", a, err)
	}
}

// Create answers the application it wrote without reading it back: what
// it answers must be what Get reads, field for field.
func testCreateAnswersWhatGetReads(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	n := newApp("app-1", "form-1")
	n.Prefilled = true
	n.Submission.Attribution = providers.Attribution{Source: "cashcat", Medium: "cpc", Campaign: "c", Content: "x", Term: "t",
		Variant: strings.Repeat("v", 40), Clicks: "gclid=abc"}
	created, ok, err := s.Create(ctx, n)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	read, err := s.Get(ctx, "app-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(created, read) {
		t.Errorf("Create answered\n%+v\nGet reads\n%+v", created, read)
	}
	again, ok, err := s.Create(ctx, newApp("app-2", "form-1"))
	if err != nil || ok || !reflect.DeepEqual(again, read) {
		t.Errorf("the same form again: %+v, created %v, %v; want the first application", again, ok, err)
	}
}

// An application created in hand (Owner set) is stored leased: no claim
// takes it while the lease lasts, and its owner may post it.
func testCreatedInHandIsNotClaimed(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	n := newApp("app-1", "form-1")
	n.Owner, n.Lease = "me", time.Minute
	if _, _, err := s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.Claim(ctx, "other", time.Minute, 10); err != nil || len(ids) != 0 {
		t.Errorf("claimed %v, %v; want nothing", ids, err)
	}
	if err := s.StartAttempt(ctx, "app-1", "other", "a", "", 1); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("another worker's post: %v, want ErrLeaseLost", err)
	}
	if err := s.StartAttempt(ctx, "app-1", "me", "a", "", 1); err != nil {
		t.Errorf("the owner's post: %v", err)
	}
}

// The attempt that ends a round is finished in the decision's write, and
// not at all when the lease was lost.
func testFinishAndDecideInOneWrite(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	for _, id := range []string{"app-1", "app-2"} {
		n := newApp(id, id)
		n.Owner, n.Lease = "me", time.Minute
		if _, _, err := s.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := s.StartAttempt(ctx, id, "me", "a", "", 1); err != nil {
			t.Fatal(err)
		}
	}
	att := providers.Attempt{Outcome: providers.Accepted, RedirectURL: "https://a.example/r", Price: 3, Latency: 20 * time.Millisecond}
	v := providers.Verdict{Status: providers.StatusAccepted, RedirectURL: "https://a.example/r", Buyer: "a", Revenue: 3}
	if err := s.FinishAndDecide(ctx, "app-1", "me", Finished{Buyer: "a", Attempt: att}, v); err != nil {
		t.Fatal(err)
	}
	app, _ := s.Get(ctx, "app-1")
	atts, _ := s.Attempts(ctx, "app-1")
	if app.Status != providers.StatusAccepted || len(atts) != 1 || atts[0].Outcome != providers.Accepted || atts[0].Price != 3 || atts[0].FinishedAt.IsZero() {
		t.Errorf("got %s, attempts %+v", app.Status, atts)
	}
	if err := s.FinishAndDecide(ctx, "app-2", "not-me", Finished{Buyer: "a", Attempt: att}, v); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("without the lease: %v, want ErrLeaseLost", err)
	}
	app, _ = s.Get(ctx, "app-2")
	atts, _ = s.Attempts(ctx, "app-2")
	if app.Status != providers.StatusPending || atts[0].Outcome != providers.Started {
		t.Errorf("without the lease: %s, attempts %+v; want nothing written", app.Status, atts)
	}
}

// The WAL is copied back beside the writer (no COMMIT runs a checkpoint),
// and under a steady stream of writes and reads, with no pause for a
// passive checkpoint to catch up, the writer still starts it over: it
// stays about its restart length instead of growing by every frame
// written. (Here the length is cut to 256 frames, 1 MiB, and the
// checkpointer runs every 5 ms; the stream writes about 40 MiB, and the
// bound leaves room for a restart a reader held off and for a slow
// machine's later checkpoints.)
func TestWALRestartsUnderSteadyLoad(t *testing.T) {
	s, path := open(t)
	s.writer.restartAt, s.writer.every = 256, 5*time.Millisecond
	ctx := context.Background()
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Get(ctx, "app-0000"); err != nil && !errors.Is(err, ErrNotFound) {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond) // a server's reads, one after another
			}
		})
	}
	createMany(t, s, "app-", 8000)
	close(stop)
	readers.Wait()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if s.writer.checkpoints.Load() == 0 {
		t.Error("no checkpoint ran")
	}
	// A WAL still under the restart length needed no restart: on a quiet
	// run the passive checkpoints caught up between the readers and
	// SQLite began it again itself (CI once saw 0 restarts and 997,072
	// bytes). Past the length, the writer must have restarted it.
	restartLen := int64(s.writer.restartAt) * 4096
	if fi.Size() > 8<<20 || (s.writer.restarts.Load() == 0 && fi.Size() > restartLen+restartLen/8) {
		t.Errorf("WAL of %d bytes after 8,000 applications, %d restarts; want under 8 MiB, and restarted once past %d bytes", fi.Size(), s.writer.restarts.Load(), restartLen)
	}
}

// A restart waits only briefly for a reader that began before it (an
// admin's long query): the writer's batches wait restartWait with it, not
// the 10 s a statement waits for a lock. Once the reader is done, the
// next restart is made.
func TestWALRestartWaitsBrieflyForReaders(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	createMany(t, s, "app-", 3)
	rows := holdRead(t, s)
	createMany(t, s, "late-", 1) // frames the reader does not see
	// untilRestart writes until the writer has tried a restart (it leaves
	// its turn to a passive checkpoint running beside it, which on a busy
	// machine may wait for the core a while) and returns how long the
	// write behind the try took.
	untilRestart := func(prefix string) time.Duration {
		tries := s.writer.tries.Load()
		s.writer.askRestart()
		for i, end := 0, time.Now().Add(10*time.Second); time.Now().Before(end); i++ {
			t0 := time.Now()
			createMany(t, s, fmt.Sprintf("%s%d-", prefix, i), 1)
			if s.writer.tries.Load() > tries {
				// The try ran after this batch; the next write waits for it.
				createMany(t, s, prefix+"next-", 1)
				return time.Since(t0)
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatal("no restart tried in 10 s of writes")
		return 0
	}
	if d := untilRestart("held-"); d > time.Second || s.writer.restarts.Load() != 0 {
		t.Errorf("with a reader in the WAL: the write behind the restart took %v, %d restarts; want well under a second and none", d, s.writer.restarts.Load())
	}
	// The reader may last: the checkpointer asks again only once the WAL
	// has grown by another restart length.
	if at := s.writer.retryAt.Load(); at < int64(s.writer.restartAt) {
		t.Errorf("after a restart the reader held off, next try at %d frames; want past %d", at, s.writer.restartAt)
	}
	rows.Close()
	if untilRestart("free-"); s.writer.restarts.Load() != 1 || s.writer.retryAt.Load() != 0 {
		t.Errorf("%d restarts once the reader was done (next try at %d frames), want 1", s.writer.restarts.Load(), s.writer.retryAt.Load())
	}
	// The restart's short wait for a lock is never left on a connection.
	for i, c := range pooled(t, s) {
		var ms int64
		if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&ms); err != nil || ms != busyTimeout.Milliseconds() {
			t.Errorf("connection %d: busy_timeout %d ms (%v), want %d", i, ms, err, busyTimeout.Milliseconds())
		}
	}
}

// A restart a reader held off (an admin's long query) is not tried again
// at every checkpoint, each try holding the writer restartWait, but once
// the WAL has grown by another restart length.
func TestWALRestartBacksOffAHeldReader(t *testing.T) {
	s, _ := open(t)
	s.writer.restartAt, s.writer.every = 2048, time.Millisecond
	createMany(t, s, "app-", 3)
	holdRead(t, s) // until the test ends
	for i, end := 0, time.Now().Add(10*time.Second); s.writer.tries.Load() == 0; i++ {
		if time.Now().After(end) {
			t.Fatal("the WAL grew past the restart length and no restart was tried")
		}
		createMany(t, s, fmt.Sprintf("grow-%d-", i), 50)
	}
	if n := s.writer.restarts.Load(); n != 0 {
		t.Fatalf("%d restarts with a reader in the WAL", n)
	}
	tries, checkpoints := s.writer.tries.Load(), s.writer.checkpoints.Load()
	// A few writes (a few dozen frames, against 2,048), each followed by
	// a checkpoint that sees the WAL still past restartAt.
	for i := 0; i < 40 && s.writer.checkpoints.Load() < checkpoints+3; i++ {
		createMany(t, s, fmt.Sprintf("more-%d-", i), 1)
		time.Sleep(2 * time.Millisecond)
	}
	createMany(t, s, "last-", 1) // a restart asked for runs after this batch
	if s.writer.checkpoints.Load() < checkpoints+3 {
		t.Fatalf("%d checkpoints in 40 writes", s.writer.checkpoints.Load()-checkpoints)
	}
	if n := s.writer.tries.Load() - tries; n != 0 {
		t.Errorf("%d more restarts tried with the reader still there and the WAL grown by a few writes; want none", n)
	}
}

// holdRead starts a read of the applications and keeps it open, its
// snapshot held, until the rows are closed (at the latest when the test
// ends).
func holdRead(t *testing.T, s *Store) *sql.Rows {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), `SELECT id FROM applications`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	return rows
}

// pooled holds every connection of s's pool until the test ends.
func pooled(t *testing.T, s *Store) []*sql.Conn {
	t.Helper()
	conns := make([]*sql.Conn, sqliteConns)
	for i := range conns {
		c, err := s.db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns
}

// createMany creates applications prefix0000 … up to n, 32 at once.
func createMany(t *testing.T, s *Store, prefix string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			id := fmt.Sprintf("%s%04d", prefix, i)
			if _, _, err := s.Create(context.Background(), newApp(id, id)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// A checkpoint does not wait for the writers' turn: it runs while a write
// transaction holds it (and so while a batch commits).
func TestCheckpointRunsBesideTheWriter(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	if _, _, err := s.Create(ctx, newApp("app-1", "form-1")); err != nil {
		t.Fatal(err)
	}
	hold, err := s.db.BeginTx(ctx, nil) // takes the writers' turn
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	done := make(chan error, 1)
	go func() { _, err := s.writer.checkpoint(); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the checkpoint waited for the writer")
	}
}

// A first claim by the mirror is first only if no try failed either: a
// replica of an older version (a rolling upgrade) records its failures
// but not its claims, and its failed try may have created the lead.
func testCRMFirstClaimOnlyWithoutTries(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	s.Create(ctx, newApp("app-1", "k1"))
	s.Claim(ctx, "w", time.Minute, 1)
	if err := s.Decide(ctx, "app-1", "w", providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata", CRM: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE applications SET crm_tries = 1 WHERE id = ?`), "app-1"); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimCRM(ctx, "m", time.Minute, 5)
	if err != nil || len(jobs) != 1 || jobs[0].First {
		t.Errorf("got %+v, %v; want the application, not as a first try", jobs, err)
	}
}

// The savepoints of a batch keep their statement journal in memory on
// every connection: spilled to a temporary file, it was half of the
// store's system calls under load (a write of every page a batch changed).
// And every connection cuts the WAL file back after a restart, whichever
// one makes the commit that follows it.
func TestStatementJournalInMemory(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	for i, c := range pooled(t, s) {
		var mode int
		if err := c.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&mode); err != nil || mode != 2 {
			t.Errorf("connection %d: temp_store %d (%v), want 2 (MEMORY)", i, mode, err)
		}
		var limit int64
		if err := c.QueryRowContext(ctx, `PRAGMA journal_size_limit`).Scan(&limit); err != nil || limit != walSizeLimit {
			t.Errorf("connection %d: journal_size_limit %d (%v), want %d", i, limit, err, walSizeLimit)
		}
	}
}

// The mirror's first read of a submission this process stored is from
// memory: the sealed part in the store is not read (here it was broken
// after the write, and the submission still comes back whole). Once: the
// next read is the store's, and finds the breakage.
func testSubmissionFromMemoryOnce(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	// Kept only once a mirror runs in the process.
	if _, _, err := s.Create(ctx, newApp("app-0", "k0")); err != nil {
		t.Fatal(err)
	}
	s.KeepForMirror()
	if _, _, err := s.Create(ctx, newApp("app-1", "k1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE application_pii SET pii = pii || pii`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submission(ctx, "app-0"); !errors.Is(err, vault.ErrNotAuthentic) {
		t.Errorf("stored before a mirror ran: %v; want the store's sealed part, which no longer opens", err)
	}
	sub, err := s.Submission(ctx, "app-1")
	if err != nil || sub.Application.NationalID != "60604016M" || sub.Consents[0].Text != "Acepto las condiciones" {
		t.Fatalf("first read: %q, %v; want the submission as stored", sub.Application.FirstName, err)
	}
	if _, err := s.Submission(ctx, "app-1"); !errors.Is(err, vault.ErrNotAuthentic) {
		t.Errorf("second read: %v; want the store's sealed part, which no longer opens", err)
	}
	if _, err := s.Submission(ctx, "never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no such application: %v, want ErrNotFound", err)
	}
	// An erasure empties what is kept.
	if _, _, err := s.Create(ctx, newApp("app-2", "k2")); err != nil {
		t.Fatal(err)
	}
	s.Claim(ctx, "w", time.Minute, 5)
	for _, id := range []string{"app-0", "app-1"} {
		if err := s.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusDeclined}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Erase(ctx, time.Now().Add(time.Minute)); n != 2 || err != nil {
		t.Fatalf("erase: %d, %v", n, err)
	}
	if sub, ok := s.fresh.Load().Get("app-2"); ok {
		t.Errorf("kept after an erasure: %q", sub.ID)
	}
	if _, err := s.Submission(ctx, "app-2"); err != nil {
		t.Errorf("pending, not erased, read from the store: %v", err)
	}
}

// A mirror a second behind at 1,500 applications a second still takes
// each submission from memory: none of the 1,500 stored here is read
// from the store (whose sealed parts no longer open).
func TestKeptForAMirrorASecondBehind(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	s.KeepForMirror()
	const n = 1500
	createMany(t, s, "app-", n)
	if _, err := s.db.ExecContext(ctx, `UPDATE application_pii SET pii = pii || pii`); err != nil {
		t.Fatal(err)
	}
	read := 0
	for i := range n {
		if _, err := s.Submission(ctx, fmt.Sprintf("app-%04d", i)); err != nil {
			read++
		}
	}
	if read > 0 {
		t.Errorf("%d of the %d submissions read from the store; want all from memory", read, n)
	}
}

// Records answers, for each id that exists, what Get reads, whatever the
// number of ids (padded to 1, 4, 16 or 64, split past 64).
func testRecordsReadsWhatGetReads(t *testing.T, open opener) {
	s, _ := open(t)
	ctx := context.Background()
	var ids []string
	for i := range 70 {
		id := fmt.Sprintf("app-%02d", i)
		n := newApp(id, id)
		n.Submission.Attribution.Campaign = "c-" + id
		if _, _, err := s.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, k := range []int{0, 1, 3, 5, 64, 70} {
		asked := append(slices.Clone(ids[:k]), "missing")
		got, err := s.Records(ctx, asked)
		if err != nil || len(got) != k {
			t.Fatalf("%d ids and a missing one: %d records, %v", k, len(got), err)
		}
		for _, id := range ids[:k] {
			want, _ := s.Get(ctx, id)
			if !reflect.DeepEqual(got[id], want) {
				t.Errorf("%s: Records %+v, Get %+v", id, got[id], want)
			}
		}
	}
}

// A redirect URL that a version before sealing wrote reads as it was
// written. One altered in the file, moved to another application, or
// moved between an application and its attempt does not open: the URL is
// lost (RedirectLost), and the rest of the record still reads.
func TestRedirectURLOfEarlierVersionsAndMovedOnes(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	for _, id := range []string{"app-1", "app-2", "app-3", "app-4"} {
		if _, _, err := s.Create(ctx, newApp(id, id)); err != nil {
			t.Fatal(err)
		}
	}
	sealed := s.sealURL("app-1", "https://lender.example/x", "applications")
	altered := []byte(sealed)
	altered[len(altered)-3] ^= 1
	for id, v := range map[string]string{
		"app-1": "https://old.example/continue",                                            // written in clear
		"app-2": sealed,                                                                    // another application's
		"app-3": string(altered),                                                           // altered
		"app-4": s.sealURL("app-4", "https://lender.example/x", "attempts", "lokyata", ""), // its attempt's
	} {
		if _, err := s.db.Exec(`UPDATE applications SET redirect_url = ? WHERE id = ?`, v, id); err != nil {
			t.Fatal(err)
		}
	}
	if a, err := s.Get(ctx, "app-1"); err != nil || a.RedirectURL != "https://old.example/continue" || a.RedirectLost {
		t.Errorf("a URL written in clear: %q (lost %v), %v", a.RedirectURL, a.RedirectLost, err)
	}
	for _, id := range []string{"app-2", "app-3", "app-4"} {
		a, err := s.Get(ctx, id)
		if err != nil || a.RedirectURL != "" || !a.RedirectLost || a.Flow != "es" {
			t.Errorf("%s: %q (lost %v, flow %q), %v; want the record without its URL", id, a.RedirectURL, a.RedirectLost, a.Flow, err)
		}
	}
}
