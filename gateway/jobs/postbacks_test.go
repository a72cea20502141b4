package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/postback"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/providers"
)

// receiver is a traffic source's conversion endpoint: it records what it
// gets, and answers the first fail requests with status.
type receiver struct {
	mu     sync.Mutex
	got    []*http.Request
	bodies []string
	fail   int
	status int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var b bytes.Buffer
	b.ReadFrom(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got, r.bodies = append(r.got, req), append(r.bodies, b.String())
	if r.fail > 0 {
		r.fail--
		w.WriteHeader(r.status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.got...)
}

// sold stores an application with a click id and a campaign to escape,
// and decides it accepted with the postback ads queued.
func sold(t *testing.T, s *store.Store, id string) {
	t.Helper()
	ctx := context.Background()
	attr := providers.Attribution{Source: "google", Campaign: "spring & summer/26"}
	attr.SetClicks(url.Values{"gclid": {"Cj0KCQ-a_b.c~d"}}, providers.ClickParams)
	sub := providers.Submission{ID: id, Flow: "us", Currency: "USD", Attribution: attr,
		Application: providers.Application{FirstName: "John", Email: "john@example.com"}}
	if _, _, err := s.Create(ctx, store.New{ID: id, SessionHash: "s", IdempotencyKey: id, Flow: "us", Form: "us", Currency: "USD",
		Deadline: time.Minute, Submission: sub}); err != nil {
		t.Fatal(err)
	}
	s.Claim(ctx, "w", time.Minute, 10)
	if err := s.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata", Revenue: 25.5, Postbacks: []string{"ads"}}); err != nil {
		t.Fatal(err)
	}
}

func postbacksFor(t *testing.T, s *store.Store, target string, logs *bytes.Buffer) *Postbacks {
	t.Helper()
	tmpl := postback.Template{Method: "GET", URL: target + "/pb?click={gclid}&payout={revenue}&currency={currency}&camp={utm_campaign}&txn={application_id}"}
	if err := tmpl.Check(nil, false); err != nil {
		t.Fatal(err)
	}
	return &Postbacks{Store: s, Specs: map[string]PostbackSpec{"ads": {Template: tmpl, Timeout: 2 * time.Second, GiveUpAfter: time.Hour}},
		HTTP: http.DefaultClient, Owner: "pb", Log: slog.New(slog.NewJSONHandler(logs, nil)), RetryBase: time.Millisecond}
}

// drain runs delivery rounds until nothing is due or tries run out.
func drain(t *testing.T, p *Postbacks, rounds int) {
	t.Helper()
	ctx := context.Background()
	for range rounds {
		jobs, err := p.Store.ClaimPostbacks(ctx, p.Owner, time.Minute, 16)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range p.withRecords(ctx, jobs) {
			p.deliver(ctx, d)
		}
		time.Sleep(5 * time.Millisecond) // past the jittered pause of a few ms
	}
}

// A sale fires one postback with every macro escaped for the URL; the
// click id and the URL never reach the log; the audit trail shows it
// delivered.
func TestPostbackDeliveredOnceWithEscapedMacros(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var logs bytes.Buffer
	p := postbacksFor(t, s, srv.URL, &logs)
	sold(t, s, "app-1")
	drain(t, p, 5)
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("got %d postbacks, want 1", len(got))
	}
	q := got[0].URL.Query()
	want := url.Values{"click": {"Cj0KCQ-a_b.c~d"}, "payout": {"25.50"}, "currency": {"USD"}, "camp": {"spring & summer/26"}, "txn": {"app-1"}}
	for k := range want {
		if q.Get(k) != want.Get(k) {
			t.Errorf("%s: got %q, want %q (raw query %s)", k, q.Get(k), want.Get(k), got[0].URL.RawQuery)
		}
	}
	if !strings.Contains(got[0].URL.RawQuery, "camp=spring+%26+summer%2F26") {
		t.Errorf("the campaign is not escaped in the URL: %s", got[0].URL.RawQuery)
	}
	if strings.Contains(logs.String(), "Cj0KCQ") || strings.Contains(logs.String(), srv.URL) {
		t.Errorf("a click id or the postback URL reached the log:\n%s", logs.String())
	}
	pbs, _ := s.Postbacks(context.Background(), "app-1")
	if len(pbs) != 1 || pbs[0].State != providers.PostbackDelivered || pbs[0].Tries != 1 || pbs[0].LastStatus != 204 {
		t.Errorf("audit: got %+v, want delivered after 1 try", pbs)
	}
}

// A receiver that fails twice (503, then 429) gets the postback on the
// third try, and never again after its 2xx.
func TestPostbackRetriedUntilTakenThenNeverAgain(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	rcv := &receiver{fail: 2, status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var logs bytes.Buffer
	p := postbacksFor(t, s, srv.URL, &logs)
	sold(t, s, "app-1")
	drain(t, p, 20)
	if n := len(rcv.requests()); n != 3 {
		t.Errorf("got %d tries, want 3 (two failures, then taken, then none)", n)
	}
	pbs, _ := s.Postbacks(context.Background(), "app-1")
	if len(pbs) != 1 || pbs[0].State != providers.PostbackDelivered || pbs[0].Tries != 3 {
		t.Errorf("audit: got %+v, want delivered on the third try", pbs)
	}
}

// {timestamp} is when the event happened (the decision that queued the
// postback), not when a try reached the receiver: a postback retried for
// hours still tells the ad platform the hour of the sale.
func TestPostbackTimestampIsTheEvents(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var logs bytes.Buffer
	p := postbacksFor(t, s, srv.URL, &logs)
	p.Specs["ads"] = PostbackSpec{Template: postback.Template{Method: "GET", URL: srv.URL + "/pb?ts={timestamp}"}, Timeout: 2 * time.Second, GiveUpAfter: 72 * time.Hour}
	sold(t, s, "app-1")
	decided := time.Now()
	later := decided.Add(3 * time.Hour)
	p.Now = func() time.Time { return later } // the try that is taken, three hours on
	drain(t, p, 5)
	got := rcv.requests()
	if len(got) != 1 {
		t.Fatalf("got %d tries, want 1", len(got))
	}
	for _, r := range got {
		ts, _ := strconv.ParseInt(r.URL.Query().Get("ts"), 10, 64)
		if d := time.Unix(ts, 0).Sub(decided); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("timestamp %d is %v from the decision, want the decision's", ts, d)
		}
	}
}

// A 4xx other than 429 is the receiver refusing: given up at once. A
// retryable failure past give_up_after is given up too.
func TestPostbackGivenUp(t *testing.T) {
	for _, tt := range []struct {
		name    string
		status  int
		giveUp  time.Duration
		wantTry int
	}{
		{"refused", http.StatusBadRequest, time.Hour, 1},
		{"past its deadline", http.StatusBadGateway, time.Nanosecond, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := storetest.SQLite(t, store.Open)
			rcv := &receiver{fail: 100, status: tt.status}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			var logs bytes.Buffer
			p := postbacksFor(t, s, srv.URL, &logs)
			spec := p.Specs["ads"]
			spec.GiveUpAfter = tt.giveUp
			p.Specs["ads"] = spec
			sold(t, s, "app-1")
			drain(t, p, 5)
			pbs, _ := s.Postbacks(context.Background(), "app-1")
			if n := len(rcv.requests()); n != tt.wantTry || len(pbs) != 1 || pbs[0].State != providers.PostbackFailed {
				t.Errorf("got %d tries, %+v; want %d try and failed", n, pbs, tt.wantTry)
			}
		})
	}
}

// slowReceiver answers after a pause and counts the requests it holds at
// once.
type slowReceiver struct {
	mu             sync.Mutex
	now, most, got int
}

func (r *slowReceiver) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	r.now++
	r.most = max(r.most, r.now)
	r.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	r.mu.Lock()
	r.now--
	r.got++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Postbacks to a receiver that takes 50 ms are delivered several at once,
// never more than Workers, and the backlog is reported as it drains: 40
// conversions one at a time would take two seconds.
func TestPostbacksDeliveredInParallel(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	rcv := &slowReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var logs bytes.Buffer
	p := postbacksFor(t, s, srv.URL, &logs)
	p.Workers, p.Poll = 8, 10*time.Millisecond
	var mu sync.Mutex
	var backlog []int
	p.Backlog = func(n int) { mu.Lock(); backlog = append(backlog, n); mu.Unlock() }
	for i := range 40 {
		sold(t, s, fmt.Sprintf("app-%02d", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n, _ := s.PostbackBacklog(ctx, time.Now()); n == 0 {
			break
		}
	}
	cancel()
	<-done
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.got != 40 || rcv.most < 2 || rcv.most > 8 {
		t.Errorf("got %d postbacks, at most %d at once; want 40, from 2 to 8 at once", rcv.got, rcv.most)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(backlog) == 0 || backlog[0] != 40 {
		t.Errorf("backlog reported %v, want 40 first", backlog)
	}
}

// The postbacks of one claim are rendered from their applications read in
// one query, padded and split past 64: each still carries its own
// application's values; one whose application is missing from the read
// is read on its own at delivery.
func TestPostbacksOfOneClaimEachFromItsApplication(t *testing.T) {
	s := storetest.SQLite(t, store.Open)
	ctx := context.Background()
	const n = 70
	for i := range n {
		id := fmt.Sprintf("app-%02d", i)
		sub := providers.Submission{ID: id, Flow: "us", Currency: "USD", Attribution: providers.Attribution{Source: "src", Campaign: "c-" + id}}
		if _, _, err := s.Create(ctx, store.New{ID: id, SessionHash: "s", IdempotencyKey: id, Flow: "us", Form: "us", Currency: "USD",
			Deadline: time.Minute, Submission: sub}); err != nil {
			t.Fatal(err)
		}
		s.Claim(ctx, "w", time.Minute, 1)
		if err := s.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusAccepted, Buyer: "lokyata", Revenue: float64(i), Postbacks: []string{"ads"}}); err != nil {
			t.Fatal(err)
		}
	}
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var logs bytes.Buffer
	p := postbacksFor(t, s, srv.URL, &logs)
	jobs, err := s.ClaimPostbacks(ctx, p.Owner, time.Minute, 100)
	if err != nil || len(jobs) != n {
		t.Fatalf("claimed %d (%v), want %d", len(jobs), err, n)
	}
	jobs = append(jobs, store.PostbackJob{Application: "gone", Name: "ads", Event: "accepted"})
	ds := p.withRecords(ctx, jobs)
	if last := ds[len(ds)-1]; !errors.Is(last.err, store.ErrNotFound) {
		t.Errorf("a postback whose application is missing: %v, want store.ErrNotFound", last.err)
	}
	// A claim's read that failed: that postback reads its application on
	// its own, and goes as the others.
	ds[0] = delivery{PostbackJob: ds[0].PostbackJob, err: errors.New("database is locked")}
	for _, d := range ds[:n] {
		p.deliver(ctx, d)
	}
	got := rcv.requests()
	if len(got) != n {
		t.Fatalf("got %d postbacks, want %d", len(got), n)
	}
	for _, r := range got {
		q := r.URL.Query()
		var i int
		fmt.Sscanf(q.Get("txn"), "app-%d", &i)
		if q.Get("payout") != fmt.Sprintf("%d.00", i) || q.Get("camp") != "c-"+q.Get("txn") {
			t.Errorf("postback of %s: payout %s, campaign %s; want its own application's", q.Get("txn"), q.Get("payout"), q.Get("camp"))
		}
	}
}
