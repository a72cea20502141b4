package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers"
)

func sampleLead() *providers.Lead {
	return &providers.Lead{
		FirstName: "Lucía", LastName: "García", Email: "lucia@example.es", Birthday: "1990-04-12", Gender: "Female",
		CountryResidence: "Spain", Hometown: "Sevilla", MonthlyIncome: "From 1.000 to 2.000", MonthlyIncomeCurrency: "EUR",
		Loan: providers.LeadLoan{RequestedCurrency: "EUR", RequestedAmount: 300},
		Raw:  json.RawMessage(`{"lead":{"firstName":"Lucía"}}`),
	}
}

func apiGet(h http.Handler, target string, headers map[string]string) *httptest.ResponseRecorder {
	return apiDo(h, "GET", target, headers)
}

func apiDo(h http.Handler, method, target string, headers map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var withKey = map[string]string{"X-API-Key": "lender-key-0123456789"}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Message == "" {
		t.Errorf("error body is not {\"error\":{\"code\",\"message\"}}: %s", w.Body)
	}
	return e.Error.Code
}

// Every case of SPEC §4, with its status, its code and Retry-After.
func TestPrefillAPIStatuses(t *testing.T) {
	tests := []struct {
		name       string
		leads      fakeLeads
		target     string
		headers    map[string]string
		wantStatus int
		wantCode   string
		retryAfter string
	}{
		{"malformed token", fakeLeads{lead: sampleLead()}, "/api/v1/prefill/short", withKey, 400, "malformed_token", ""},
		{"no key, no origin", fakeLeads{lead: sampleLead()}, "/api/v1/prefill/esdemo0000000001", nil, 401, "unauthorized", ""},
		{"wrong key", fakeLeads{lead: sampleLead()}, "/api/v1/prefill/esdemo0000000001", map[string]string{"X-API-Key": "lender-key-0123456780"}, 401, "unauthorized", ""},
		{"origin not allowed", fakeLeads{lead: sampleLead()}, "/api/v1/prefill/esdemo0000000001", map[string]string{"Origin": "https://evil.example"}, 401, "unauthorized", ""},
		{"unknown token", fakeLeads{err: providers.ErrNotFound}, "/api/v1/prefill/esdemo0000000001", withKey, 404, "unknown_token", ""},
		{"cashcat down", fakeLeads{err: providers.ErrUnavailable}, "/api/v1/prefill/esdemo0000000001", withKey, 503, "cashcat_unavailable", "5"},
		{"breaker open", fakeLeads{err: providers.ErrBreakerOpen}, "/api/v1/prefill/esdemo0000000001", withKey, 503, "cashcat_unavailable", "30"},
		{"cashcat refuses us", fakeLeads{err: providers.ErrPaymentRequired}, "/api/v1/prefill/esdemo0000000001", withKey, 503, "cashcat_unavailable", "5"},
		// A status Cashcat's document does not give (a 3xx, a 405, a 418):
		// the lead cannot be had, which is not the lender's server failing.
		{"the lookup's time spent", fakeLeads{err: context.DeadlineExceeded}, "/api/v1/prefill/esdemo0000000001", withKey, 503, "cashcat_unavailable", "5"},
		{"cashcat answers another status", fakeLeads{err: fmt.Errorf("cashcat: %w: status 405", providers.ErrRejectedRequest)}, "/api/v1/prefill/esdemo0000000001", withKey, 503, "cashcat_unavailable", "5"},
		{"unknown flow", fakeLeads{lead: sampleLead()}, "/api/v1/prefill/esdemo0000000001?flow=fr", withKey, 400, "unknown_flow", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestServer(t, tt.leads)
			w := apiGet(h, tt.target, tt.headers)
			if w.Code != tt.wantStatus || errorCode(t, w) != tt.wantCode || w.Header().Get("Retry-After") != tt.retryAfter {
				t.Errorf("got %d %s (Retry-After %q), want %d %s (%q)", w.Code, w.Body, w.Header().Get("Retry-After"), tt.wantStatus, tt.wantCode, tt.retryAfter)
			}
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("content type %q", w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestPrefillAPILead(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: sampleLead()})
	w := apiGet(h, "/api/v1/prefill/esdemo0000000001", withKey)
	var got struct {
		Lead   map[string]string `json:"lead"`
		Source map[string]any    `json:"source"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	want := map[string]string{"first_name": "Lucía", "last_name": "García", "email": "lucia@example.es", "birth_date": "1990-04-12",
		"gender": "female", "nationality": "ES", "city": "Sevilla", "loan_amount": "300", "monthly_income": "1000"}
	for k, v := range want {
		if got.Lead[k] != v {
			t.Errorf("lead.%s: got %q, want %q", k, got.Lead[k], v)
		}
	}
	if got.Source["lead"] == nil {
		t.Errorf("source: got %v, want Cashcat's raw record", got.Source)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	// ?flow= formats for that flow's form: es2 is in EUR too, but a USD
	// lead's amounts would be dropped; the es form has no middle_name.
	usd := sampleLead()
	usd.Loan.RequestedCurrency = "USD"
	usd.MiddleName = "Quincy"
	h, _ = newTestServer(t, fakeLeads{lead: usd})
	w = apiGet(h, "/api/v1/prefill/esdemo0000000001?flow=es", withKey)
	got.Lead = nil
	json.Unmarshal(w.Body.Bytes(), &got)
	if _, ok := got.Lead["loan_amount"]; ok || got.Lead["middle_name"] != "" || got.Lead["first_name"] != "Lucía" {
		t.Errorf("flow=es: got %v", got.Lead)
	}
}

func TestPrefillCORS(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: sampleLead()})
	pre := apiDo(h, "OPTIONS", "/api/v1/prefill/esdemo0000000001", map[string]string{"Origin": "https://lender.example", "Access-Control-Request-Method": "GET"})
	if pre.Code != 204 || pre.Header().Get("Access-Control-Allow-Origin") != "https://lender.example" || !strings.Contains(pre.Header().Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("allowed preflight: got %d %v", pre.Code, pre.Header())
	}
	pre = apiDo(h, "OPTIONS", "/api/v1/prefill/esdemo0000000001", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
	if pre.Code != 403 || pre.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("refused preflight: got %d %v", pre.Code, pre.Header())
	}
	w := apiGet(h, "/api/v1/prefill/esdemo0000000001", map[string]string{"Origin": "https://lender.example"})
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://lender.example" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("browser call: got %d %v", w.Code, w.Header())
	}
	if !strings.Contains(w.Header().Get("Vary"), "Origin") {
		t.Errorf("Vary %q: a cache could serve one origin's answer to another", w.Header().Get("Vary"))
	}
	// A server-to-server call with a key answers no CORS header.
	if w := apiGet(h, "/api/v1/prefill/esdemo0000000001", withKey); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("key call got CORS headers")
	}
}

func TestPrefillRateLimits(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "2-M")
	for i := range 3 {
		w := apiGet(h, "/api/v1/prefill/esdemo0000000001", withKey)
		if i < 2 && w.Code != 200 {
			t.Fatalf("call %d: got %d", i, w.Code)
		}
		// Both limits (per IP, per token) allow 2 a minute: what is left
		// is told on every answer, so a lender can pace its calls.
		if got, want := w.Header().Get("X-RateLimit-Remaining"), strconv.Itoa(max(1-i, 0)); got != want || w.Header().Get("X-RateLimit-Limit") != "2" {
			t.Errorf("call %d: X-RateLimit-Limit %q, Remaining %q; want 2, %s", i, w.Header().Get("X-RateLimit-Limit"), got, want)
		}
		if i == 2 && (w.Code != 429 || errorCode(t, w) != "rate_limited" || w.Header().Get("Retry-After") == "") {
			t.Errorf("third call: got %d %s, Retry-After %q", w.Code, w.Body, w.Header().Get("Retry-After"))
		}
	}
}

func TestPrefillJS(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{})
	w := apiGet(h, "/prefill.js", nil)
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), "javascript") || !strings.Contains(w.Body.String(), "/api/v1/prefill/") {
		t.Errorf("got %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if n := w.Body.Len(); n > 4096 {
		t.Errorf("prefill.js is %d bytes: keep it small", n)
	}
}

// An Origin header proves nothing: anyone can send one. A keyless call
// from an allowed origin gets only the fields of the flow's form (never
// Cashcat's record, its balance or ext_id); only a valid key gets the
// source. Origins are compared exactly as a browser sends them.
func TestKeylessPrefillGetsOnlyTheFormFields(t *testing.T) {
	lead := sampleLead()
	lead.Raw = json.RawMessage(`{"lead":{"ext_id":"ES0SECRET","firstName":"Lucía"},"balance":{"availableRequests":99,"amount":12.5}}`)
	h, _ := newTestServer(t, fakeLeads{lead: lead})
	w := apiGet(h, "/api/v1/prefill/esdemo0000000001", map[string]string{"Origin": "https://lender.example"})
	if w.Code != 200 {
		t.Fatalf("allowed origin: got %d %s", w.Code, w.Body)
	}
	var got map[string]json.RawMessage
	json.Unmarshal(w.Body.Bytes(), &got)
	if _, ok := got["source"]; ok || strings.Contains(w.Body.String(), "ES0SECRET") || strings.Contains(w.Body.String(), "availableRequests") {
		t.Errorf("keyless answer carries Cashcat's record: %s", w.Body)
	}
	var fields map[string]string
	json.Unmarshal(got["lead"], &fields)
	es := form.Forms["es"]
	for name := range fields {
		if es.Field(name) == nil {
			t.Errorf("keyless answer has %q, which the default flow's form does not ask", name)
		}
	}
	if fields["first_name"] != "Lucía" {
		t.Errorf("keyless answer lacks the form's fields: %v", fields)
	}
	for _, origin := range []string{"HTTPS://LENDER.EXAMPLE", "https://Lender.example", "https://lender.example/", "https://lender.example:443", "https://lender.example.evil.example", "null"} {
		if w := apiGet(h, "/api/v1/prefill/esdemo0000000001", map[string]string{"Origin": origin}); w.Code != 401 || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %q: got %d, want 401 (not as a browser sends an allowed origin)", origin, w.Code)
		}
	}
	// A wrong key is refused even from an allowed origin.
	if w := apiGet(h, "/api/v1/prefill/esdemo0000000001", map[string]string{"Origin": "https://lender.example", "X-API-Key": "lender-key-0123456780"}); w.Code != 401 {
		t.Errorf("wrong key from an allowed origin: got %d, want 401", w.Code)
	}
	w = apiGet(h, "/api/v1/prefill/esdemo0000000001", withKey)
	if !strings.Contains(w.Body.String(), `"source":{"lead":{"ext_id":"ES0SECRET"`) {
		t.Errorf("with a key: got %s, want the source", w.Body)
	}
}

// Keyless browser calls have their own, lower limit per client IP; a
// lender's keyed calls are not counted against it.
func TestPrefillBrowserLimit(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) { d.Config.RateLimits.PrefillBrowser = "2-M" })
	browser := map[string]string{"Origin": "https://lender.example"}
	for i := range 2 {
		if w := apiGet(h, "/api/v1/prefill/esdemo000000000"+strconv.Itoa(i), browser); w.Code != 200 {
			t.Fatalf("browser call %d: got %d", i, w.Code)
		}
	}
	if w := apiGet(h, "/api/v1/prefill/esdemo0000000009", browser); w.Code != 429 || errorCode(t, w) != "rate_limited" || w.Header().Get("Retry-After") == "" {
		t.Errorf("third browser call: got %d, want 429 with Retry-After", w.Code)
	}
	if w := apiGet(h, "/api/v1/prefill/esdemo0000000009", withKey); w.Code != 200 {
		t.Errorf("keyed call after the browser limit: got %d, want 200", w.Code)
	}
}

// The per-token limit counts one token across every client: a token
// fetched from many addresses is a scraper too.
func TestPrefillLimitPerTokenAcrossAddresses(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "2-M")
	call := func(ip, token string) int {
		r := httptest.NewRequest("GET", "/api/v1/prefill/"+token, nil)
		r.RemoteAddr = ip + ":4000"
		r.Header.Set("X-API-Key", "lender-key-0123456789")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		if got := call(ip, "esdemo0000000001"); got != 200 {
			t.Fatalf("call %d from %s: got %d", i, ip, got)
		}
	}
	if got := call("198.51.100.3", "esdemo0000000001"); got != 429 {
		t.Errorf("third address, same token: got %d, want 429", got)
	}
	if got := call("198.51.100.3", "esdemo0000000002"); got != 200 {
		t.Errorf("third address, another token: got %d, want 200", got)
	}
}

// A cached prefill answer is written from its pre-encoded parts: the bytes
// are json.Marshal's, a record with HTML characters escaped as everywhere
// in our JSON, with a Content-Length that matches, on the first call and
// on the cached one. Over a real connection, since net/http writes the
// length of an answer that fits its buffer: a record past that buffer is
// still sent with its length, not chunked.
func TestPrefillAnswerBytes(t *testing.T) {
	cfg, err := config.Parse(fmt.Appendf(nil, testConfig, "1000-M"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	flow, _ := NewFlows(cfg.Flows)
	for _, size := range []string{"small", "past net/http's buffer"} {
		lead := sampleLead()
		lead.FirstName = "<b>Lucía</b> & co"
		lead.Raw = json.RawMessage(`{"lead":{"firstName":"<b>Lucía</b> & co"}}`)
		if size != "small" {
			lead.Raw = json.RawMessage(`{"lead":{"firstName":"<b>Lucía</b> & co","notes":"` + strings.Repeat("x", 3000) + `"}}`)
		}
		h, _ := newTestServer(t, fakeLeads{lead: lead})
		srv := httptest.NewServer(h)
		for _, tc := range []struct{ path, flow string }{{"/api/v1/prefill/esdemo0000000001", ""}, {"/api/v1/prefill/esdemo0000000001?flow=es", "es"}} {
			var fields map[string]string
			if f := flow.ByName(tc.flow); f != nil {
				fields = f.Form.Restrict(lead.Prefill(f.Currency), time.Now(), f.Loc)
			} else {
				fields = lead.Prefill(lead.Loan.RequestedCurrency)
			}
			want, _ := json.Marshal(prefillAnswer{Lead: fields, Source: lead.Raw})
			for _, call := range []string{"first", "cached"} {
				r, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
				r.Header.Set("X-API-Key", "lender-key-0123456789")
				resp, err := srv.Client().Do(r)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(got) != string(want) {
					t.Errorf("%s, %s, %s call: got %s, want %s", size, tc.path, call, got, want)
				}
				if resp.ContentLength != int64(len(want)) || resp.TransferEncoding != nil {
					t.Errorf("%s, %s, %s call: Content-Length %d, Transfer-Encoding %v; want %d, not chunked",
						size, tc.path, call, resp.ContentLength, resp.TransferEncoding, len(want))
				}
			}
		}
		srv.Close()
	}
}

// What a lender's server gets over the wire with a prefill answer: the
// policies of SPEC §10 in the form an API answer needs (nothing loads,
// nothing frames it), no-store, the rate-limit headers, and nothing that
// does nothing: no X-Frame-Options on JSON, no Vary without an Origin,
// no X-Request-ID on a success the sampled access log skips. Each header
// costs the hottest answer its sorting and writing, and past eight its
// map outgrows one group. A browser's call (with an Origin) gets its
// CORS headers and Vary: Origin.
func TestPrefillAnswerHeaders(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) { d.Config.Server.AccessLogSample = 100 })
	srv := httptest.NewServer(h)
	defer srv.Close()
	call := func(header, value string) *http.Response {
		r, _ := http.NewRequest("GET", srv.URL+"/api/v1/prefill/esdemo0000000001?flow=es", nil)
		r.Header.Set(header, value)
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := call("X-API-Key", "lender-key-0123456789"); resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("the first answer, which the access log samples: no X-Request-ID")
	}
	resp := call("X-API-Key", "lender-key-0123456789")
	var names []string
	for k := range resp.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"Cache-Control", "Content-Length", "Content-Security-Policy", "Content-Type", "Date", "Referrer-Policy",
		"X-Content-Type-Options", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"}
	if resp.StatusCode != 200 || !slices.Equal(names, want) {
		t.Errorf("keyed answer: %d with headers %v, want 200 with %v", resp.StatusCode, names, want)
	}
	for k, v := range map[string]string{"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	resp = call("Origin", "https://lender.example")
	if resp.StatusCode != 200 || resp.Header.Get("Vary") != "Origin" || resp.Header.Get("Access-Control-Allow-Origin") != "https://lender.example" {
		t.Errorf("browser call: %d, Vary %q, Access-Control-Allow-Origin %q; want 200, Origin, the origin",
			resp.StatusCode, resp.Header.Get("Vary"), resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// The day in a formatted answer's cache key is the UTC date, formatted
// once and kept: it still turns at UTC midnight, whatever zone the time
// is in, and turns back for a time of the day before.
func TestDayTurnsAtUTCMidnight(t *testing.T) {
	madrid := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 27, 23, 59, 59, 0, time.UTC), "2026-11-27"},
		{time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), "2026-11-28"},
		{time.Date(2026, 11, 28, 0, 30, 0, 0, madrid), "2026-11-27"},
		{time.Date(2026, 11, 28, 1, 0, 0, 0, madrid), "2026-11-28"},
		{time.Date(2027, 11, 28, 1, 0, 0, 0, madrid), "2027-11-28"},
	} {
		if got := day(tc.at); got != tc.want {
			t.Errorf("day(%v) = %s, want %s", tc.at, got, tc.want)
		}
	}
}

// Only the lookup's spent deadline is Cashcat being slow: any other
// route's is the server's own failure, not "the lead cannot be fetched".
func TestSpentDeadlineIsCashcatsOnlyForTheLookup(t *testing.T) {
	ce := (&responder{}).classify(fmt.Errorf("reading the dashboard: %w", context.DeadlineExceeded))
	if ce.code == "cashcat_unavailable" {
		t.Errorf("a store read's deadline answered %s", ce.code)
	}
}
