package cashcat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/bounded"
)

const token = "p47m6005xhf0f6z6"

func TestParseBothNestings(t *testing.T) {
	for _, file := range []string{"testdata/lead_inside.json", "testdata/lead_beside.json"} {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			l, err := Parse(body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if l.FirstName != "Hose" || l.LastName != "Gatungay" || l.CountryResidence != "Philippines" {
				t.Errorf("got name %q %q country %q", l.FirstName, l.LastName, l.CountryResidence)
			}
			if l.Loan.RequestedAmount != 8000 || l.Loan.RequestedCurrency != "PHP" {
				t.Errorf("got loan %+v, want 8000 PHP", l.Loan)
			}
			if l.Clicks.Clicks != 2 || l.Clicks.Object != "YJ36B46314F3AN00" {
				t.Errorf("got clicks %+v", l.Clicks)
			}
			if !l.Balance.Known || l.Balance.AvailableRequests != 22 || l.Balance.Amount != 22 {
				t.Errorf("got balance %+v, want 22 requests", l.Balance)
			}
			if len(l.Raw) == 0 {
				t.Error("raw record not kept")
			}
		})
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	for _, body := range []string{
		``, `not json`, `{"lead": `, `[]`, `{}`, `{"lead": "text"}`,
		`{"lead": {"firstName": {"nested": 1}}}`,
		`{"lead": {"firstName": "A", "loan": {"requestedAmount": "lots"}}}`,
		// A number of the consumer's that is not finite.
		`{"lead": {"firstName": "A", "loan": {"requestedAmount": "NaN"}}}`,
		`{"lead": {"firstName": "A", "loan": {"requestedAmount": 1e400}}}`,
		// the document's own sample, verbatim, is not JSON
		`"lead": { "ext_id": "4Z0XSQ22Y6", "firstName": "Hose" "loan": {`,
	} {
		_, err := Parse([]byte(body))
		if !errors.Is(err, providers.ErrBadResponse) {
			t.Errorf("Parse(%q): got %v, want ErrBadResponse", body, err)
		}
	}
}

// A count of requests too big for an int is as many as an int holds, not
// a negative one (which raised a false "balance low" alert), and a
// negative count is none.
func TestParseClampsAvailableRequests(t *testing.T) {
	// A number about our own account that cannot be read (not finite, a
	// word) is not known: the consumer's lead is read all the same. Read as a
	// number, "Infinity" made the balance metric +Inf; read strictly, it
	// lost the consumer's prefill.
	for _, body := range []string{`{"lead": {"firstName": "A"}, "balance": {"amount": "Infinity", "availableRequests": "lots"}, "clicks": {"clicks": "NaN"}}`,
		`{"lead": {"firstName": "A"}, "balance": {"amount": 1e400, "availableRequests": 1e400}}`} {
		l, err := Parse([]byte(body))
		if err != nil || l.FirstName != "A" || l.Balance.Known || l.Clicks.Clicks != 0 {
			t.Errorf("Parse(%s): got %+v, %v; want the lead, its balance not known (read as 0 it raised a false alert), clicks 0", body, l, err)
		}
	}
	for body, want := range map[string]int{
		`{"lead": {"firstName": "A"}, "balance": {"amount": 5, "availableRequests": 1e300}}`: math.MaxInt32,
		`{"lead": {"firstName": "A"}, "balance": {"amount": 5, "availableRequests": -5}}`:    0,
		`{"lead": {"firstName": "A"}, "balance": {"amount": 5, "availableRequests": 249}}`:   249,
	} {
		l, err := Parse([]byte(body))
		if err != nil || l.Balance.AvailableRequests != want {
			t.Errorf("Parse(%s): got %d (%v), want %d", body, l.Balance.AvailableRequests, err, want)
		}
	}
}

func TestParseBareLead(t *testing.T) {
	l, err := Parse([]byte(`{"firstName":"Ana","email":"a@example.es","loan":{"requestedAmount":300,"requestedCurrency":"EUR"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if l.FirstName != "Ana" || l.Loan.RequestedAmount != 300 {
		t.Errorf("got %+v", l)
	}
}

func TestPrefillFromDocumentLead(t *testing.T) {
	body, _ := os.ReadFile("testdata/lead_inside.json")
	l, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	got := l.Prefill("PHP")
	want := map[string]string{
		"first_name": "Hose", "middle_name": "Jr", "last_name": "Gatungay",
		"email": "hose.gatungay@example.ph", "birth_date": "1981-05-22", "gender": "male",
		"nationality": "PH", "city": "Manila", "loan_amount": "8000",
		"monthly_income": "20000", "income_source": "employed",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	// In a flow of another currency, amounts are not carried over.
	eur := l.Prefill("EUR")
	if _, ok := eur["loan_amount"]; ok {
		t.Errorf("loan_amount prefilled across currencies: %q", eur["loan_amount"])
	}
	if _, ok := eur["monthly_income"]; ok {
		t.Errorf("monthly_income prefilled across currencies: %q", eur["monthly_income"])
	}
}

func TestIncomeSourceKeywords(t *testing.T) {
	tests := []struct{ status, want string }{
		{"Employed At A Factory", "employed"},
		{"Unemployed", "unemployed"},
		{"Self-employed", "self_employed"},
		{"Owns A Business", "self_employed"},
		{"Student", "student"},
		{"Retired", "pension"},
		{"On Maternity Leave", "maternity_leave"},
		{"Receives Benefits", "benefits"},
		{"", ""},
		{"Astronaut", ""},
	}
	for _, tt := range tests {
		if got := providers.IncomeSourceFromStatus(tt.status); got != tt.want {
			t.Errorf("IncomeSourceFromStatus(%q) = %q, want %q", tt.status, got, tt.want)
		}
	}
}

// A lead that says full or part time prefills the us form's question.
func TestEmploymentTypeKeywords(t *testing.T) {
	for status, want := range map[string]string{
		"Employed Full Time": "full_time", "full-time employee": "full_time", "Employed (fulltime)": "full_time",
		"Part Time": "part_time", "Employed At A Factory": "", "Unemployed, looking for full time work": "", "": "",
	} {
		if got := providers.EmploymentTypeFromStatus(status); got != want {
			t.Errorf("EmploymentTypeFromStatus(%q) = %q, want %q", status, got, want)
		}
	}
	l := providers.Lead{SocialStatus: "Employed Full Time"}
	if v := l.Prefill("USD"); v["employment_type"] != "full_time" || v["income_source"] != "employed" {
		t.Errorf("prefill of %q: %v", l.SocialStatus, v)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestClient(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hc, err := NewHTTPClient(Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(srv.URL, hc, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientStatuses(t *testing.T) {
	lead, _ := os.ReadFile("testdata/lead_inside.json")
	// paid: what the call costs the lender in the funnel's spend. A 401
	// (our IP unknown to Cashcat) and a 402 (no funds) charge nothing;
	// any other answer is counted, as Cashcat may bill it.
	tests := []struct {
		status int
		body   string
		want   error
		paid   int
	}{
		{200, string(lead), nil, 1},
		{401, `{'error': {'code': 50002, 'message': 'no server IP 1.2.3.4 in Actions API whitelist'}}`, providers.ErrUnauthorized, 0},
		{402, `{'error': {'code': 50004, 'message': 'insufficient funds'}}`, providers.ErrPaymentRequired, 0},
		{404, `{'error': {'code': 50003, 'message': 'action not found'}}`, providers.ErrNotFound, 1},
		{405, `{'error': {'code': 50001}}`, providers.ErrRejectedRequest, 1},
		{500, `oops`, providers.ErrUnavailable, 1},
		{200, `<html>`, providers.ErrBadResponse, 1},
	}
	for _, tt := range tests {
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/api/v1/actions/action/"+token {
				t.Errorf("got %s %s", r.Method, r.URL.Path)
			}
			w.WriteHeader(tt.status)
			io.WriteString(w, tt.body)
		})
		var spend Spend
		_, err := c.Lead(WithSpend(context.Background(), &spend), token)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("status %d: got %v, want %v", tt.status, err, tt.want)
		}
		if spend.Calls() != tt.paid {
			t.Errorf("status %d: %d paid calls counted, want %d", tt.status, spend.Calls(), tt.paid)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("status %d: error %q carries the token", tt.status, err)
		}
	}
}

// 401 and 402 are the operator's to fix: each raises an alert line that
// names the problem, and neither carries the token.
func TestClientAlertsTheOperator(t *testing.T) {
	for status, alert := range map[int]string{401: "cashcat_unauthorized", 402: "cashcat_payment_required"} {
		var logs strings.Builder
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, `{'error': {'code': 50002, 'message': 'no server IP 1.2.3.4 in Actions API whitelist'}}`)
		}))
		hc, _ := NewHTTPClient(Config{Timeout: time.Second})
		c, _ := New(srv.URL, hc, slog.New(slog.NewJSONHandler(&logs, nil)))
		c.Lead(context.Background(), token)
		srv.Close()
		out := logs.String()
		if !strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, `"alert":"`+alert+`"`) || !strings.Contains(out, `"cashcat_code":"50002"`) {
			t.Errorf("status %d: got log %q, want an error line with alert %s", status, out, alert)
		}
		if strings.Contains(out, token) {
			t.Errorf("status %d: the alert carries the token", status)
		}
	}
}

func TestClientNeverSendsMalformedToken(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	for _, tok := range []string{"", "short", "p47m6005xhf0f6z6x", "p47m6005xhf0f6z!", "../../admin/xxxxx"} {
		if _, err := c.Lead(context.Background(), tok); !errors.Is(err, providers.ErrRejectedRequest) {
			t.Errorf("Lead(%q): got %v, want ErrRejectedRequest", tok, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("got %d upstream calls for malformed tokens, want 0", n)
	}
}

func TestClientTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	hc, _ := NewHTTPClient(Config{Timeout: 100 * time.Millisecond})
	c, _ := New(srv.URL, hc, quiet())
	start := time.Now()
	_, err := c.Lead(context.Background(), token)
	if !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("timeout of 100ms took %v", d)
	}
}

// The whitelisted IP is the whole of Cashcat's authorisation: the request
// must leave through the configured proxy, or from the configured address.
func TestEgressProxy(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy receives the absolute URL of the target.
		if !strings.HasPrefix(r.RequestURI, "http://cashcat.invalid/api/v1/actions/action/") {
			t.Errorf("proxy got request uri %q", r.RequestURI)
		}
		proxied.Add(1)
		body, _ := os.ReadFile("testdata/lead_inside.json")
		w.Write(body)
	}))
	defer proxy.Close()
	hc, err := NewHTTPClient(Config{Timeout: time.Second, EgressProxy: proxy.URL})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New("http://cashcat.invalid", hc, quiet())
	if _, err := c.Lead(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 1 {
		t.Errorf("got %d requests through the proxy, want 1", proxied.Load())
	}
}

func TestEgressLocalAddr(t *testing.T) {
	var from string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, _, _ = net.SplitHostPort(r.RemoteAddr)
		w.WriteHeader(404)
	}))
	defer srv.Close()
	hc, err := NewHTTPClient(Config{Timeout: time.Second, EgressLocalAddr: "127.0.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := New(srv.URL, hc, quiet())
	c.Lead(context.Background(), token)
	if from != "127.0.0.2" {
		t.Errorf("request came from %q, want 127.0.0.2", from)
	}
}

func TestEgressConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{EgressProxy: "::nope"}, {EgressProxy: "ftp://x"}, {EgressLocalAddr: "not-an-ip"}} {
		if _, err := NewHTTPClient(cfg); err == nil || !strings.Contains(err.Error(), "cashcat.egress") {
			t.Errorf("NewHTTPClient(%+v): got %v, want an error naming the key", cfg, err)
		}
	}
}

// fakeSource counts calls and answers after a delay, or once gate is
// closed when there is one; like the HTTP client, it gives up when its
// context ends first.
type fakeSource struct {
	calls   atomic.Int32
	delay   time.Duration
	gate    chan struct{}
	started chan struct{} // when set, told of each call
	err     error
}

func (f *fakeSource) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	f.calls.Add(1)
	if f.started != nil {
		f.started <- struct{}{}
	}
	answer := f.gate
	if answer == nil {
		ch := make(chan struct{})
		defer time.AfterFunc(f.delay, func() { close(ch) }).Stop()
		answer = ch
	}
	select {
	case <-answer:
	case <-ctx.Done():
		return nil, fmt.Errorf("cashcat: %w: %w", providers.ErrUnavailable, ctx.Err())
	}
	if f.err != nil {
		return nil, f.err
	}
	return &providers.Lead{FirstName: "Ana"}, nil
}

func TestCacheOneCallForConcurrentRequests(t *testing.T) {
	src := &fakeSource{delay: 50 * time.Millisecond}
	c := NewCache(src, time.Minute, time.Minute, 100, time.Second, CacheEvents{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l, err := c.Lead(context.Background(), token); err != nil || l.FirstName != "Ana" {
				t.Errorf("got %v, %v", l, err)
			}
		}()
	}
	wg.Wait()
	c.Lead(context.Background(), token)
	if n := src.calls.Load(); n != 1 {
		t.Errorf("got %d upstream calls, want 1", n)
	}
}

func TestCacheRemembersUnknownTokens(t *testing.T) {
	src := &fakeSource{err: providers.ErrNotFound}
	c := NewCache(src, time.Minute, 50*time.Millisecond, 100, time.Second, CacheEvents{})
	for range 3 {
		if _, err := c.Lead(context.Background(), token); !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("got %d calls within negative ttl, want 1", n)
	}
	time.Sleep(80 * time.Millisecond)
	c.Lead(context.Background(), token)
	if n := src.calls.Load(); n != 2 {
		t.Errorf("got %d calls after negative ttl, want 2", n)
	}
}

func TestCacheDoesNotKeepFailures(t *testing.T) {
	src := &fakeSource{err: providers.ErrUnavailable}
	c := NewCache(src, time.Minute, time.Minute, 100, time.Second, CacheEvents{})
	c.Lead(context.Background(), token)
	c.Lead(context.Background(), token)
	if n := src.calls.Load(); n != 2 {
		t.Errorf("got %d calls, want 2: an outage must not be cached", n)
	}
}

// A consumer who leaves while a paid call is under way for their token
// does not fail the others waiting on that call, nor waste it: the shared
// call runs on a context of its own, and its answer is kept for the next.
func TestCacheWaiterLeavingDoesNotFailOthers(t *testing.T) {
	src := &fakeSource{gate: make(chan struct{}), started: make(chan struct{}, 2)}
	c := NewCache(src, time.Minute, time.Minute, 100, 10*time.Second, CacheEvents{})
	ctx, leave := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := c.Lead(ctx, token); first <- err }()
	select {
	case <-src.started: // the paid call is under way
	case <-time.After(10 * time.Second):
		t.Fatal("the first caller never reached the source")
	}
	type answer struct {
		lead *providers.Lead
		err  error
	}
	second := make(chan answer, 1)
	go func() { l, err := c.Lead(context.Background(), token); second <- answer{l, err} }()
	leave()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller who left: got %v, want its own context's end", err)
	}
	close(src.gate) // Cashcat answers
	select {
	case a := <-second:
		if a.err != nil || a.lead.FirstName != "Ana" {
			t.Errorf("the caller who stayed: got %+v, %v; want the lead", a.lead, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the caller who stayed got no answer")
	}
	if _, ok := c.Peek(token); !ok {
		t.Error("the shared answer was not kept")
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("got %d paid calls, want the one shared call", n)
	}
}

// A Cashcat call that never ends is given up after the fetch limit, even
// for a caller with no deadline of its own: the landing page waits for
// nobody, and the next request for that token tries again.
func TestCacheFetchLimit(t *testing.T) {
	src := &fakeSource{gate: make(chan struct{})} // never answers
	c := NewCache(src, time.Minute, time.Minute, 100, 50*time.Millisecond, CacheEvents{})
	done := make(chan error, 1)
	go func() { _, err := c.Lead(context.Background(), token); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the fetch limit's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a hung Cashcat call held its caller past the fetch limit")
	}
	if _, ok := c.Peek(token); ok {
		t.Error("a call that timed out left a lead cached")
	}
}

func TestCacheBound(t *testing.T) {
	src := &fakeSource{}
	c := NewCache(src, time.Minute, time.Minute, 2, time.Second, CacheEvents{})
	for _, tok := range []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"} {
		c.Lead(context.Background(), tok)
	}
	if c.Len() != 2 {
		t.Errorf("got %d entries, want the bound 2", c.Len())
	}
}

func TestBreakerOpensOnFailuresButNotOnUnknownTokens(t *testing.T) {
	notFound := &fakeSource{err: providers.ErrNotFound}
	b := NewBreaker(notFound, providers.NewBreaker[*providers.Lead]("cashcat", providers.BreakerConfig{Failures: 3, OpenFor: time.Minute}, nil))
	for range 10 {
		b.Lead(context.Background(), token)
	}
	if n := notFound.calls.Load(); n != 10 {
		t.Errorf("404s: got %d calls, want 10 (404 must not trip the breaker)", n)
	}

	failing := &fakeSource{err: providers.ErrUnavailable}
	b = NewBreaker(failing, providers.NewBreaker[*providers.Lead]("cashcat", providers.BreakerConfig{Failures: 3, OpenFor: time.Minute}, nil))
	var last error
	for range 10 {
		_, last = b.Lead(context.Background(), token)
	}
	if n := failing.calls.Load(); n != 3 {
		t.Errorf("500s: got %d calls, want 3 before the breaker opens", n)
	}
	if !errors.Is(last, providers.ErrBreakerOpen) || !errors.Is(last, providers.ErrUnavailable) {
		t.Errorf("got %v, want ErrBreakerOpen wrapping ErrUnavailable", last)
	}
}

// recordSource answers each token with a lead parsed from a record that
// names the token, as Cashcat's client does, and counts its calls.
type recordSource struct{ calls atomic.Int64 }

func (s *recordSource) Lead(_ context.Context, token string) (*providers.Lead, error) {
	s.calls.Add(1)
	return Parse([]byte(`{"lead":{"ext_id":"` + token + `","firstName":"Ana <&>","lastName":"Smith"},"loan":{"requestedAmount":500}}`))
}

// A lead is kept as its record past the hot set of parsed leads: a
// consumer coming back after thousands of others gets the same lead, read
// again from its record, and Cashcat is not paid twice.
func TestCacheKeepsRecordsPastTheHotSet(t *testing.T) {
	src := &recordSource{}
	c := NewCache(src, time.Minute, time.Minute, 3*bounded.Hot, time.Second, CacheEvents{})
	tok := func(i int) string { return fmt.Sprintf("t%015d", i) }
	first, err := c.Lead(context.Background(), tok(0))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 2*bounded.Hot; i++ {
		c.Lead(context.Background(), tok(i))
	}
	if n := c.parsed.Len(); n > bounded.Hot {
		t.Errorf("parsed leads kept: got %d, want at most %d", n, bounded.Hot)
	}
	again, err := c.Lead(context.Background(), tok(0))
	if err != nil || !reflect.DeepEqual(again, first) || again.ExtID != tok(0) {
		t.Errorf("the first token again: got %+v, %v; want %+v", again, err, first)
	}
	if n := src.calls.Load(); n != 2*bounded.Hot {
		t.Errorf("upstream calls: got %d, want %d (one per token)", n, 2*bounded.Hot)
	}
}
