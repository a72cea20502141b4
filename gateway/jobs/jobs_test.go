package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/cashfin"
	"github.com/leadgate/leadgate/providers/sandbox"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// decided stores an application and decides it as a worker would.
func decided(t *testing.T, s *store.Store, id, email string, status providers.Status, crm bool) {
	t.Helper()
	ctx := context.Background()
	sub := providers.Submission{ID: id, Flow: "us", Currency: "USD", Country: "US",
		Attribution: providers.Attribution{Source: "cashcat.ph"},
		Application: providers.Application{FirstName: "John", LastName: "Smith", Email: email, MobilePhone: "5125550134", LoanAmount: 500}}
	if _, _, err := s.Create(ctx, store.New{ID: id, SessionHash: "s", IdempotencyKey: id, Flow: "us", Form: "us", Currency: "USD",
		Deadline: time.Minute, Submission: sub}); err != nil {
		t.Fatal(err)
	}
	if status == providers.StatusPending {
		return
	}
	s.Claim(ctx, "w-"+id, time.Minute, 100)
	if err := s.Decide(ctx, id, "w-"+id, providers.Verdict{Status: status, Buyer: "lokyata", Revenue: 25, CRM: crm}); err != nil {
		t.Fatal(err)
	}
}

// flakyProxy stands in front of the Cashfin emulator: down (503) for a
// while, then creating leads but losing the answers, then healthy.
type flakyProxy struct {
	down      atomic.Bool
	loseFirst sync.Map // application marker → answered once already
	next      http.Handler
}

func (p *flakyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/lead/create") {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		var l struct{ Request string }
		json.Unmarshal(b, &l)
		if _, seen := p.loseFirst.LoadOrStore(l.Request, true); !seen {
			// The lead is created, but the answer never arrives.
			p.next.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
	}
	p.next.ServeHTTP(w, r)
}

// Cashfin down, then up, then losing answers: every application ends in
// the CRM exactly once.
func TestMirrorCashfinDownThenUp(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	for i := range 6 {
		status := providers.StatusAccepted
		if i%2 == 1 {
			status = providers.StatusDeclined
		}
		decided(t, s, fmt.Sprintf("app-%d", i), fmt.Sprintf("c%d@example.com", i), status, true)
	}
	decided(t, s, "app-pending", "p@example.com", providers.StatusPending, true)
	decided(t, s, "app-no-crm", "n@example.com", providers.StatusAccepted, false)

	emu := sandbox.New(sandbox.Options{})
	proxy := &flakyProxy{next: emu}
	proxy.down.Store(true)
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	client, _ := cashfin.New(cashfin.Config{BaseURL: srv.URL + "/sandbox/cashfin", ClientSecret: sandbox.CashfinSecret}, srv.Client())
	m := &Mirror{Store: s, CRM: client, Owner: "m1", Log: quiet, Poll: 10 * time.Millisecond, RetryBase: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// Tried while down (a wait on the condition: a race build on a loaded
	// machine takes its time).
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		app, _ := s.Get(context.Background(), "app-0")
		if app.CRMTries > 0 {
			if app.CRMStatus != providers.CRMPending || !strings.Contains(app.CRMError, "503") {
				t.Errorf("while Cashfin is down: got %+v, want pending with the error recorded", app)
			}
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("never tried while Cashfin is down: %+v", app)
		}
	}
	proxy.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 6; {
		app, _ := s.Get(context.Background(), fmt.Sprintf("app-%d", i))
		if app.CRMStatus == providers.CRMDone {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("app-%d never reached the CRM: %+v", i, app)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Exactly one lead per application, with its outcome.
	leads := crmLeads(t, srv.URL)
	perApp := map[string]int{}
	for _, l := range leads {
		for i := range 6 {
			if strings.Contains(l.Request, cashfin.Marker(fmt.Sprintf("app-%d", i))) {
				perApp[fmt.Sprintf("app-%d", i)]++
				want := "converted"
				if i%2 == 1 {
					want = "lost"
				}
				if l.Status != want {
					t.Errorf("app-%d: CRM status %q, want %q", i, l.Status, want)
				}
			}
		}
	}
	if len(leads) != 6 || len(perApp) != 6 {
		t.Errorf("got %d CRM leads for %d applications (%v), want exactly 6", len(leads), len(perApp), perApp)
	}
	for id, n := range perApp {
		if n != 1 {
			t.Errorf("%s: %d CRM leads", id, n)
		}
	}
	app, _ := s.Get(context.Background(), "app-0")
	if app.CRMRef == "" {
		t.Error("the CRM lead id is not recorded")
	}
	for _, id := range []string{"app-pending", "app-no-crm"} {
		if app, _ := s.Get(context.Background(), id); app.CRMStatus != "" {
			t.Errorf("%s: crm status %q, want none", id, app.CRMStatus)
		}
	}
}

// crmLead is a lead as the Cashfin emulator lists it.
type crmLead struct{ ID, Request, Status string }

// crmLeads lists the leads in the Cashfin emulator served at base.
func crmLeads(t *testing.T, base string) []crmLead {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/sandbox/cashfin/business/lead/list?limit=100", nil)
	req.Header.Set("Authorization", sandbox.CashfinSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []crmLead `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.Data
}

// Retention erases personal data of decided applications past the
// retention, and keeps what the statistics need.
func TestRetentionErasesPIIKeepsCounts(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	decided(t, s, "old-accepted", "a@example.com", providers.StatusAccepted, true)
	decided(t, s, "old-declined", "b@example.com", providers.StatusDeclined, false)
	decided(t, s, "still-pending", "c@example.com", providers.StatusPending, false)

	// Nothing is older than a day yet.
	r := &Retention{Store: s, Keep: 24 * time.Hour, Log: quiet}
	if n, err := s.Erase(context.Background(), time.Now().Add(-r.Keep)); n != 0 || err != nil {
		t.Fatalf("erased %d fresh applications (%v), want none", n, err)
	}
	// With no retention left, the decided ones go; the pending one stays.
	r.Keep = -time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if app, _ := s.Get(context.Background(), "old-declined"); app.Erased {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention never ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	for _, id := range []string{"old-accepted", "old-declined"} {
		app, err := s.Get(context.Background(), id)
		if err != nil || !app.Erased || app.Status == providers.StatusPending || app.Buyer != "lokyata" || app.Revenue != 25 || app.Attribution.Source != "cashcat.ph" {
			t.Errorf("%s: got %+v, %v; want erased with its statistics kept", id, app, err)
		}
		if rec, err := s.Sealed(context.Background(), id); !errors.Is(err, store.ErrNotFound) || rec.Submission.ID != "" {
			t.Errorf("%s: got %q, %v; want the personal data gone (store.ErrNotFound)", id, rec.Submission.ID, err)
		}
	}
	if app, _ := s.Get(context.Background(), "old-accepted"); app.CRMStatus != providers.CRMErased {
		t.Errorf("a CRM mirror still pending at erasure: got %q, want erased", app.CRMStatus)
	}
	if _, err := s.Sealed(context.Background(), "still-pending"); err != nil {
		t.Errorf("a pending application lost its data: %v", err)
	}
}

// failingOnce refuses the first batch, as a database that hiccups.
type failingOnce struct {
	failed bool
	calls  int
	got    map[store.FunnelKey]store.VisitCounts
}

func (f *failingOnce) AddVisits(_ context.Context, counts map[store.FunnelKey]store.VisitCounts) error {
	f.calls++
	if !f.failed {
		f.failed = true
		return fmt.Errorf("database is locked")
	}
	f.got = counts
	return nil
}

func (f *failingOnce) Campaigns(context.Context, string) ([][2]string, error) { return nil, nil }

func (f *failingOnce) AddSteps(context.Context, map[store.StepKey]int64) error { return nil }

// Random utm_campaign values cannot grow the funnel without bound: past
// MaxCampaigns distinct (source, campaign) pairs a day, visits count under
// (other). Pairs another replica wrote count against the bound too.
func TestVisitsBoundTheCampaignsOfADay(t *testing.T) {
	st := storetest.SQLite(t, store.Open)
	ctx := context.Background()
	a := &Visits{Store: st, Log: quiet, MaxCampaigns: 3}
	for i := range 5 {
		a.Visit("us", providers.Attribution{Source: "cashcat.ph", Campaign: fmt.Sprintf("c%d", i)}, true)
	}
	a.Visit("us", providers.Attribution{Source: "cashcat.ph", Campaign: "c0"}, false) // an admitted pair stays itself
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := &Visits{Store: st, Log: quiet, MaxCampaigns: 3}
	if err := b.Flush(ctx); err != nil { // a replica starting: reads the day's pairs
		t.Fatal(err)
	}
	b.Visit("us", providers.Attribution{Source: "cashcat.ph", Campaign: "c9"}, true)
	b.Visit("us", providers.Attribution{Source: "cashcat.ph", Campaign: "c1"}, false)
	rows := flushedToday(t, b, st)
	got := map[string]int64{}
	for _, r := range rows {
		got[r.Source+"/"+r.Campaign] = r.Visits
	}
	want := map[string]int64{"cashcat.ph/c0": 2, "cashcat.ph/c1": 2, "cashcat.ph/c2": 1, Other + "/" + Other: 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// flushedToday flushes v and reads today's funnel from st.
func flushedToday(t *testing.T, v *Visits, st *store.Store) []store.FunnelRow {
	t.Helper()
	ctx := context.Background()
	if err := v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC()
	rows, err := st.Funnel(ctx, day, day)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// A script making up visits without a lead (no token: free) fills at most
// half the day's places: the campaigns whose consumers arrive with a lead
// still get theirs, and their visits stay on their own line, not (other).
func TestMadeUpVisitsLeaveTheDaysCampaignsTheirPlaces(t *testing.T) {
	st := storetest.SQLite(t, store.Open)
	v := &Visits{Store: st, Log: quiet, MaxCampaigns: 10}
	for i := range 50 {
		v.Visit("us", providers.Attribution{Source: "junk", Campaign: fmt.Sprintf("flood%d", i)}, false)
	}
	for i := range 5 {
		real := providers.Attribution{Source: "google", Campaign: fmt.Sprintf("real%d", i)}
		v.Spend("us", real, 1)
		v.Visit("us", real, true)
	}
	rows := flushedToday(t, v, st)
	junk, real := 0, 0
	for _, r := range rows {
		switch {
		case r.Source == "junk":
			junk++
		case r.Source == "google" && r.Visits == 1 && r.PaidCalls == 1:
			real++
		}
	}
	if junk != 5 || real != 5 {
		t.Errorf("%d made-up campaigns and %d real ones with their own line, want 5 and 5: %+v", junk, real, rows)
	}
}

// Visits a failed flush could not write are kept, and added to those
// counted meanwhile: none is lost, none counted twice.
func TestVisitsSurviveAFailedFlush(t *testing.T) {
	st := &failingOnce{}
	v := &Visits{Store: st, Log: quiet}
	v.Visit("us", providers.Attribution{Source: "cashcat.ph", Campaign: "spring"}, true)
	v.Visit("us", providers.Attribution{Source: "cashcat.ph", Campaign: "spring"}, false)
	if err := v.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("the failing flush: got %v, want the store's error", err)
	}
	v.Visit("us", providers.Attribution{Source: "cashcat.ph", Campaign: "spring"}, false)
	if err := v.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	k := store.FunnelKey{Day: time.Now().UTC().Format("2006-01-02"), Flow: "us", Source: "cashcat.ph", Campaign: "spring"}
	if got := st.got[k]; got.Visits != 3 || got.Prefilled != 1 || len(st.got) != 1 {
		t.Errorf("got %v, want 3 visits, 1 prefilled", st.got)
	}
	if err := v.Flush(context.Background()); err != nil || st.calls != 2 {
		t.Errorf("nothing new counted, yet the store was written (%d writes in all, want 2)", st.calls)
	}
}

// Retention sweeps the drafts nobody came back to within drafts.ttl, and
// keeps the others.
func TestRetentionSweepsDraftsPastTheirTTL(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	ctx := context.Background()
	if _, err := s.SaveDraft(ctx, "sess", store.DraftChange{Flow: "es", Values: map[string]string{"first_name": "Ana"}, Field: "first_name"}); err != nil {
		t.Fatal(err)
	}
	// sweep runs retention until the draft is gone or a few seconds pass,
	// and says whether it went.
	sweep := func(ttl time.Duration) bool {
		ctx, cancel := context.WithCancel(ctx)
		r := &Retention{Store: s, Keep: time.Hour, Drafts: s, DraftTTL: ttl, Every: 20 * time.Millisecond, Log: quiet}
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := s.Draft(context.Background(), "sess"); errors.Is(err, store.ErrNotFound) {
				return true
			}
		}
		return false
	}
	if sweep(time.Hour) {
		t.Fatal("a fresh draft was swept")
	}
	if !sweep(-time.Second) {
		t.Error("a draft past its TTL was kept")
	}
}

// gatedCRM holds every call until released, counting the calls in flight
// at once.
type gatedCRM struct {
	mu               sync.Mutex
	inFlight, most   int
	created          int
	release, entered chan struct{}
}

func (c *gatedCRM) call() {
	c.mu.Lock()
	c.inFlight++
	c.most = max(c.most, c.inFlight)
	c.mu.Unlock()
	c.entered <- struct{}{}
	<-c.release
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
}

func (c *gatedCRM) Find(context.Context, string, string) (string, error) { return "", nil }
func (c *gatedCRM) Create(context.Context, cashfin.Lead) (string, error) {
	c.call()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created++
	return fmt.Sprint("lead-", c.created), nil
}

// A slow CRM is called by several workers at once, never more than
// Workers; the backlog the mirror reports falls to 0 as it catches up.
func TestMirrorWorksInParallelAndReportsItsBacklog(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	for i := range 12 {
		decided(t, s, fmt.Sprintf("app-%d", i), fmt.Sprintf("c%d@example.com", i), providers.StatusAccepted, true)
	}
	crm := &gatedCRM{release: make(chan struct{}), entered: make(chan struct{}, 100)}
	var backlog []int
	var mu sync.Mutex
	m := &Mirror{Store: s, CRM: crm, Owner: "m1", Log: quiet, Poll: 10 * time.Millisecond, Workers: 4,
		Backlog: func(n int) { mu.Lock(); backlog = append(backlog, n); mu.Unlock() }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	var open sync.Once
	letGo := func() { open.Do(func() { close(crm.release) }) }
	defer func() { letGo(); cancel(); <-done }()

	// Four calls are held at once before any is let go: the workers run
	// in parallel, up to their number.
	for i := range 4 {
		select {
		case <-crm.entered:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d CRM calls in flight at once with 4 workers, want 4", i)
		}
	}
	letGo()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := s.CRMBacklog(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRM backlog still %d", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	crm.mu.Lock()
	most, created := crm.most, crm.created
	crm.mu.Unlock()
	if most != 4 || created != 12 {
		t.Errorf("got %d calls in flight at most and %d leads, want 4 and 12", most, created)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(backlog) == 0 || backlog[0] != 12 {
		t.Errorf("backlog reported: got %v, want 12 first", backlog)
	}
}

// A lead no mirror has claimed before is created without a search first:
// one CRM call, not two. (A retry searches: TestMirrorCashfinDownThenUp.)
func TestMirrorFirstTryCreatesWithoutSearching(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	for i := range 3 {
		decided(t, s, fmt.Sprintf("app-%d", i), fmt.Sprintf("c%d@example.com", i), providers.StatusAccepted, true)
	}
	emu := sandbox.New(sandbox.Options{})
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
		mu.Unlock()
		emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client, _ := cashfin.New(cashfin.Config{BaseURL: srv.URL + "/sandbox/cashfin", ClientSecret: sandbox.CashfinSecret}, srv.Client())
	m := &Mirror{Store: s, CRM: client, Owner: "m1", Log: quiet, Poll: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for i, deadline := 0, time.Now().Add(10*time.Second); i < 3; {
		if app, _ := s.Get(context.Background(), fmt.Sprintf("app-%d", i)); app.CRMStatus == providers.CRMDone {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("app-%d never reached the CRM", i)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	if calls["create"] != 3 || calls["list"] != 0 {
		t.Errorf("CRM calls %v; want 3 creates and no search", calls)
	}
	mu.Unlock()
	if leads := crmLeads(t, srv.URL); len(leads) != 3 {
		t.Errorf("%d CRM leads, want 3", len(leads))
	}
}

// echoCRM refuses every lead in words that quote it.
type echoCRM struct{}

func (echoCRM) Find(context.Context, string, string) (string, error) { return "", nil }
func (echoCRM) Create(_ context.Context, l cashfin.Lead) (string, error) {
	return "", fmt.Errorf("cashfin: 422: duplicate of echo@example.com, phone 5125550134, John SMITH")
}

// Cashfin's words about a lead that quote it are logged and stored (the
// admin shows them) without what they quote.
func TestMirrorErrorsKeepNoPersonalData(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	decided(t, s, "app-1", "echo@example.com", providers.StatusAccepted, true)
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), nil))
	m := &Mirror{Store: s, CRM: echoCRM{}, Owner: "m1", Log: log, Poll: 10 * time.Millisecond, RetryBase: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	var app providers.Record
	for wait := time.Now().Add(10 * time.Second); app.CRMTries == 0 && time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
		app, _ = s.Get(context.Background(), "app-1")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(app.CRMError, "duplicate of") || strings.Contains(app.CRMError+logs.String(), "echo@example.com") ||
		strings.Contains(app.CRMError+logs.String(), "5125550134") || strings.Contains(app.CRMError+logs.String(), "SMITH") {
		t.Errorf("stored %q, logged:\n%s", app.CRMError, logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
