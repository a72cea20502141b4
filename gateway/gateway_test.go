package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/templates"
)

type fakeLeads struct {
	lead *providers.Lead
	err  error
}

func (f fakeLeads) Lead(ctx context.Context, token string) (*providers.Lead, error) {
	return f.lead, f.err
}

type fakeSubmitter struct{ st *store.Store }

func (f fakeSubmitter) Create(ctx context.Context, n store.New) (providers.Record, bool, error) {
	return f.st.Create(ctx, n)
}
func (f fakeSubmitter) Wait(ctx context.Context, id string, max time.Duration) (providers.Record, error) {
	return f.st.Get(ctx, id)
}

const testConfig = `
server: { session_secret: "0123456789abcdef0123456789abcdef", trusted_proxies: ["10.0.0.0/8"] }
storage: { encryption_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
rate_limits: { landing: "%[1]s", apply: "100-M", prefill_api: "%[1]s" }
prefill_api: { keys: ["lender-key-0123456789"], allowed_origins: ["https://lender.example"] }
providers: { casheddy: { base_url: "https://casheddy.invalid", username: u, password: p } }
flows:
  - { name: es, form: es, currency: EUR, buyers: [casheddy], default: true }
  - { name: es2, form: es, locale: en, currency: EUR, buyers: [casheddy], match: { utm_source: ["partner*"], country: ["ES"] } }
`

func newTestServer(t *testing.T, leads LeadSource) (http.Handler, *store.Store) {
	return newLimitedServer(t, leads, "1000-M")
}

func newLimitedServer(t *testing.T, leads LeadSource, landingRate string, opts ...func(*Deps)) (http.Handler, *store.Store) {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, landingRate)), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.SQLite(t, store.Open)
	pages, err := views.New(templates.FS, views.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Leads: leads,
		Store: st, Submitter: fakeSubmitter{st}, Views: pages}
	for _, o := range opts {
		o(&d)
	}
	h, err := NewServer(d)
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

func do(h http.Handler, method, target string, body url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(body.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestLandingRateLimitedPerIP(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "3-M")
	for i := range 3 {
		w := do(h, "GET", "/", nil)
		if w.Code != 200 {
			t.Fatalf("request %d: got %d", i, w.Code)
		}
		// The X-RateLimit headers are the API's (prefill_test); a page
		// does without them.
		if v := w.Header().Get("X-RateLimit-Remaining"); v != "" {
			t.Errorf("request %d: a page carries X-RateLimit-Remaining %q", i, v)
		}
	}
	w := do(h, "GET", "/", nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("got %d, Retry-After %q; want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "demasiadas solicitudes") {
		t.Error("429 page is not the localized page")
	}
	// Refused with a token, the page's URL still holds it: no Referer
	// may carry it.
	w = do(h, "GET", "/?action_token=abcdefghijklmnop", nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("a token link past the limit: got %d, Referrer-Policy %q; want 429, no-referrer", w.Code, w.Header().Get("Referrer-Policy"))
	}
}

// Behind a trusted proxy every consumer arrives from the proxy's address:
// X-Forwarded-For must be believed from it, or every consumer would share
// one rate-limit bucket; from anyone else it must not, or a client could
// pick its own bucket.
func TestClientAddressFromTrustedProxiesOnly(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "2-M")
	from := func(peer, forwarded string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer + ":5555"
		if forwarded != "" {
			r.Header.Set("X-Forwarded-For", forwarded)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// Two consumers behind the load balancer (10.0.0.0/8 is trusted).
	for i := range 2 {
		if got := from("10.1.2.3", "203.0.113.9"); got != 200 {
			t.Fatalf("consumer A, request %d: got %d", i, got)
		}
	}
	if got := from("10.1.2.3", "203.0.113.9"); got != http.StatusTooManyRequests {
		t.Errorf("consumer A past the limit: got %d, want 429", got)
	}
	if got := from("10.1.2.3", "203.0.113.10"); got != 200 {
		t.Errorf("consumer B through the same proxy: got %d, want 200 (its own bucket)", got)
	}
	// A client not behind a trusted proxy cannot pick a new bucket.
	for i, forwarded := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		got := from("192.0.2.50", forwarded)
		if want := map[bool]int{true: 200, false: http.StatusTooManyRequests}[i < 2]; got != want {
			t.Errorf("untrusted peer, request %d with X-Forwarded-For %s: got %d, want %d", i, forwarded, got, want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: &providers.Lead{FirstName: "Ana"}})
	// However the token is written, its link is exchanged and sent on to
	// the clean URL without a Referer: net/url decodes action%5Ftoken to
	// the name, and drops a pair holding a ";" (the token would stay in
	// the address bar). A value that merely says the words is no token.
	for target, clean := range map[string]string{
		"/?action_token=abcdefghijklmnop":                           "/",
		"/?action%5Ftoken=abcdefghijklmnop&utm_source=a":            "/?utm_source=a",
		"/?action_token=abcdefghijklmnop;email=x@y.z&utm_source=a":  "/?utm_source=a",
		"/?utm_source=a;action_token=abcdefghijklmnop&utm_medium=b": "/?utm_medium=b",
	} {
		w := do(h, "GET", target, nil)
		if w.Code != 303 || w.Header().Get("Location") != clean || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: %d to %q, Referrer-Policy %q; want 303 to %s, no-referrer", target, w.Code, w.Header().Get("Location"), w.Header().Get("Referrer-Policy"), clean)
		}
	}
	if w := do(h, "GET", "/?utm_content=an_action_token_promo", nil); w.Code != 200 || w.Header().Get("Referrer-Policy") != "same-origin" {
		t.Errorf("a value saying action_token: %d, Referrer-Policy %q; want the form, same-origin", w.Code, w.Header().Get("Referrer-Policy"))
	}
	w := do(h, "GET", "/?action_token=abcdefghijklmnop", nil)
	w = do(h, "GET", "/", nil)
	for k, want := range map[string]string{"Referrer-Policy": "same-origin", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if got := w.Result().Header.Get(k); got != want { // as sent
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	cookie := w.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax", cookie)
	}
}

// Behind https the session cookie is Secure; on plain http (the sandbox)
// it cannot be, or the browser would never send it back.
func TestCookieSecureBehindHTTPS(t *testing.T) {
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig, "100-M")+"\n"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for publicURL, want := range map[string]bool{"https://apply.lender.example": true, "http://localhost:8080": false} {
		cfg.Server.PublicURL = publicURL
		views, _ := views.New(templates.FS, views.Options{})
		h, err := NewServer(Deps{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Leads: fakeLeads{err: providers.ErrNotFound}, Views: views})
		if err != nil {
			t.Fatal(err)
		}
		if got := do(h, "GET", "/", nil).Result().Cookies()[0].Secure; got != want {
			t.Errorf("%s: Secure=%v, want %v", publicURL, got, want)
		}
	}
}

func TestFlowChoice(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: &providers.Lead{CountryResidence: "Spain"}})
	tests := []struct{ query, wantLang string }{
		{"utm_source=partner1&action_token=abcdefghijklmnop", "en"}, // match: utm_source glob and the lead's country
		{"utm_source=other&action_token=abcdefghijklmnop", "es"},    // no match: default
		{"flow=es2", "en"}, // explicit
	}
	for _, tt := range tests {
		w := do(h, "GET", "/?"+tt.query, nil)
		cookies := w.Result().Cookies()
		if w.Code == 303 {
			w = do(h, "GET", w.Header().Get("Location"), nil, cookies...)
		}
		if !strings.Contains(w.Body.String(), `lang="`+tt.wantLang+`"`) {
			t.Errorf("%s: page not in %s", tt.query, tt.wantLang)
		}
	}
}

func TestApplyBodyLimit(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	w := do(h, "POST", "/apply", url.Values{"first_name": {strings.Repeat("a", 100<<10)}})
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("got %d, want 413", w.Code)
	}
}

func TestStatusUnknownAndMalformedIDs(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	landing := do(h, "GET", "/", nil)
	cookies := landing.Result().Cookies()
	for _, id := range []string{"nope", strings.Repeat("a", 32), "../../etc/passwd"} {
		if w := do(h, "GET", "/status/"+url.PathEscape(id), nil, cookies...); w.Code != 404 {
			t.Errorf("status %q: got %d", id, w.Code)
		}
		if w := do(h, "GET", "/api/v1/applications/"+url.PathEscape(id), nil, cookies...); w.Code != 404 || !strings.Contains(w.Body.String(), `"code":"not_found"`) {
			t.Errorf("json %q: got %d %s", id, w.Code, w.Body)
		}
	}
}

// A new application's id is the time it was made then 128 random bits
// (store.NewID): its status page and JSON open for its own session. An
// application stored before that, under the random bits alone, still does.
func TestStatusOpensNewAndOlderIDs(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	applied := b.do("POST", "/apply", with(validES(), hidden(b.get("/").Body)))
	id := strings.TrimPrefix(applied.Header.Get("Location"), "/status/")
	if applied.Code != http.StatusSeeOther || len(id) != 44 || !store.ValidID(id) {
		t.Fatalf("apply: got %d to %q, want a new id", applied.Code, applied.Header.Get("Location"))
	}
	if got := b.get("/status/" + id); got.Code != http.StatusOK {
		t.Errorf("status page: got %d", got.Code)
	}
	if got := b.get("/api/v1/applications/" + id); got.Code != http.StatusOK || !strings.Contains(got.Body, id) {
		t.Errorf("status JSON: got %d %s", got.Code, got.Body)
	}

	sessions := session.New("0123456789abcdef0123456789abcdef", false, time.Now)
	sess := session.Session{ID: session.RandomID()}
	older := strings.Repeat("0f", 16)
	apps := olderApps{providers.Record{ID: older, SessionHash: sessions.Owner(sess.ID)}}
	if rec, err := owned(context.Background(), sessions, apps, sess, true, older); err != nil || rec.ID != older {
		t.Errorf("an application stored under an older id: got %+v, %v", rec, err)
	}
	if _, err := owned(context.Background(), sessions, apps, sess, true, older[1:]); err != errNoApplication {
		t.Errorf("a malformed id: got %v, want not found", err)
	}
}

// olderApps holds one application, stored under an id made before
// store.NewID.
type olderApps struct{ rec providers.Record }

func (o olderApps) Get(_ context.Context, id string) (providers.Record, error) {
	if id != o.rec.ID {
		return providers.Record{}, store.ErrNotFound
	}
	return o.rec, nil
}
func (olderApps) Sealed(context.Context, string) (store.Sealed, error)          { return store.Sealed{}, nil }
func (olderApps) Attempts(context.Context, string) ([]providers.Attempt, error) { return nil, nil }
func (olderApps) MarkRedirected(context.Context, string, []string) error        { return nil }

func TestHealthzStaticAndNotFound(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{})
	if w := do(h, "GET", "/healthz", nil); w.Code != 200 {
		t.Errorf("healthz: %d", w.Code)
	}
	if w := do(h, "GET", "/static/app.css", nil); w.Code != 200 || !strings.Contains(w.Body.String(), ":root") {
		t.Errorf("static: %d", w.Code)
	}
	if w := do(h, "GET", "/nothing-here", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "<html") {
		t.Errorf("404: %d", w.Code)
	}
	if w := do(h, "DELETE", "/apply", nil); w.Code != 405 {
		t.Errorf("DELETE /apply: %d", w.Code)
	}
}

type downStore struct{ AdminStore }

func (downStore) Ping(context.Context) error { return errors.New("connection refused") }

func newAdmin(t *testing.T, st AdminStore, password string) http.Handler {
	t.Helper()
	views, err := views.New(templates.FS, views.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	breakers := func() map[string]string { return map[string]string{"cashcat": "open"} }
	return NewAdmin(AdminDeps{Log: log, Store: st, Views: views, Breakers: breakers, Username: "admin", Password: password,
		PublicURL: "http://localhost:8080", Flows: []string{"es", "us"}, Currencies: map[string]string{"es": "EUR", "us": "USD"}})
}

func TestReadyz(t *testing.T) {
	_, st := newTestServer(t, fakeLeads{})
	up := newAdmin(t, st, "pw")
	if w := do(up, "GET", "/readyz", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"cashcat":"open"`) {
		t.Errorf("ready: %d %s", w.Code, w.Body)
	}
	// Redis down degrades, it does not unready: the gateway still serves.
	views, _ := views.New(templates.FS, views.Options{})
	degraded := NewAdmin(AdminDeps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: st, Views: views,
		Breakers: func() map[string]string { return nil }, Redis: func() string { return "unreachable: serving with per-replica cache and limits" }})
	if w := do(degraded, "GET", "/readyz", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"redis":"unreachable`) {
		t.Errorf("redis down: got %d %s", w.Code, w.Body)
	}
	down := newAdmin(t, downStore{st}, "pw")
	if w := do(down, "GET", "/readyz", nil); w.Code != 503 {
		t.Errorf("storage down: got %d, want 503", w.Code)
	}
}

// Support sees every attempt of an application: buyer, tier, latency,
// outcome, price, reason; never the consumer's personal data.
func TestAdminAuditTrail(t *testing.T) {
	_, st := newTestServer(t, fakeLeads{})
	ctx := context.Background()
	sub := providers.Submission{ID: "app-1", Application: providers.Application{FirstName: "Charlie", Email: "charlie@example.com"}}
	if _, _, err := st.Create(ctx, store.New{ID: "app-1", SessionHash: "s", IdempotencyKey: "k", Flow: "us", Form: "us", Currency: "USD",
		Deadline: time.Minute, Submission: sub}); err != nil {
		t.Fatal(err)
	}
	st.Claim(ctx, "w", time.Minute, 1)
	st.StartAttempt(ctx, "app-1", "w", "astoria", "tier100", 1)
	rejected := providers.Exchange{Request: "POST /v2/fulldirect/\n\ntier=tier100\nfirst_name=•••", Status: 200,
		Response: "<PostResponse><Response>Rejected</Response><Reason>Unable to Monetize</Reason></PostResponse>"}
	st.FinishAttempt(ctx, "app-1", "astoria", "tier100", providers.Attempt{Outcome: "declined", Reason: "astoria: Unable to Monetize", Latency: 1200 * time.Millisecond,
		Exchange: rejected})
	st.StartAttempt(ctx, "app-1", "w", "astoria", "tier50", 2)
	st.FinishAttempt(ctx, "app-1", "astoria", "tier50", providers.Attempt{Outcome: "accepted", Price: 50, Latency: 900 * time.Millisecond,
		Exchange: providers.Exchange{Request: `POST /v1/lead` + "\n\n" + `{"loan":500,"name":"•••"}`, Status: 201, Response: `{"ok":true}`}})

	h := newAdmin(t, st, "s3cret")
	if w := do(h, "GET", "/admin/api/applications/app-1", nil); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("without credentials: got %d", w.Code)
	}
	get := func(path, user, pass string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.SetBasicAuth(user, pass)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get("/admin/api/applications/app-1", "admin", "wrong"); w.Code != 401 {
		t.Errorf("wrong password: got %d", w.Code)
	}
	w := get("/admin/api/applications/app-1", "admin", "s3cret")
	var got views.AuditPage
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	// The application's fields only, and lists as lists when empty.
	var keys map[string]json.RawMessage
	json.Unmarshal(w.Body.Bytes(), &keys)
	_, title := keys["Title"]
	_, version := keys["Version"]
	if title || version || string(keys["postbacks"]) != "[]" {
		t.Errorf("audit JSON: keys %v, postbacks %s; want no page fields and postbacks []", slices.Collect(maps.Keys(keys)), keys["postbacks"])
	}
	// An application no buyer was asked about yet: attempts [] too.
	sub.ID = "app-2"
	if _, _, err := st.Create(ctx, store.New{ID: "app-2", SessionHash: "s2", IdempotencyKey: "k2", Flow: "us", Form: "us", Currency: "USD",
		Deadline: time.Minute, Submission: sub}); err != nil {
		t.Fatal(err)
	}
	var fresh map[string]json.RawMessage
	json.Unmarshal(get("/admin/api/applications/app-2", "admin", "s3cret").Body.Bytes(), &fresh)
	if string(fresh["attempts"]) != "[]" {
		t.Errorf("audit JSON of an application not tried yet: attempts %s, want []", fresh["attempts"])
	}
	want := []views.AuditAttempt{
		{Seq: 1, Buyer: "astoria", Tier: "tier100", LatencyMS: 1200, Outcome: "declined", Reason: "astoria: Unable to Monetize",
			Request: rejected.Request, AnswerStatus: 200, Response: rejected.Response},
		{Seq: 2, Buyer: "astoria", Tier: "tier50", LatencyMS: 900, Outcome: "accepted", Price: 50,
			Request: "POST /v1/lead\n\n{\"loan\":500,\"name\":\"•••\"}", AnswerStatus: 201, Response: `{"ok":true}`},
	}
	for i := range got.Attempts {
		got.Attempts[i].Started = ""
	}
	if !reflect.DeepEqual(got.Attempts, want) {
		t.Errorf("attempts: got %+v, want %+v", got.Attempts, want)
	}
	page := get("/admin/applications/app-1", "admin", "s3cret").Body.String()
	// The exchanges, laid out to be read: JSON one member to a line.
	for _, want := range []string{"<td>tier50</td>", "<td>accepted</td>", "astoria: Unable to Monetize", "1200 ms",
		"#1 astoria tier100: answered 200", "tier=tier100\nfirst_name=•••", "&lt;Reason&gt;Unable to Monetize&lt;/Reason&gt;",
		"POST /v1/lead\n\n{\n  &#34;loan&#34;: 500,\n  &#34;name&#34;: &#34;•••&#34;\n}", "{\n  &#34;ok&#34;: true\n}"} {
		if !strings.Contains(page, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	for _, pii := range []string{"Charlie", "charlie@example.com"} {
		if strings.Contains(page, pii) || strings.Contains(w.Body.String(), pii) {
			t.Errorf("audit shows %q", pii)
		}
	}
	if w := get("/admin/api/applications/nope", "admin", "s3cret"); w.Code != 404 {
		t.Errorf("unknown id: got %d", w.Code)
	}
	if w := do(newAdmin(t, st, ""), "GET", "/admin/api/applications/app-1", nil); w.Code != 503 {
		t.Errorf("no password configured: got %d, want 503 (admin off)", w.Code)
	}
}

var hiddenField = regexp.MustCompile(`name="(csrf_token|submission_id|flow)" value="([^"]*)"`)

// Consent is evidence: which consents, the exact text shown, when, from
// which IP and browser, on which page version, sealed with the application.
func TestConsentEvidenceIsStored(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{})
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(w.Body.String(), -1) {
		form.Set(m[1], m[2])
	}
	for k, v := range validES() {
		form[k] = v
	}
	post := httptest.NewRequest("POST", "/apply", strings.NewReader(form.Encode()))
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	post.Header.Set("User-Agent", "Mozilla/5.0 (consent test)")
	post.RemoteAddr = "198.51.100.7:5555"
	for _, c := range w.Result().Cookies() {
		post.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, post)
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/status/") {
		t.Fatalf("apply: got %d to %q\n%s", w.Code, loc, w.Body)
	}
	rec, err := st.Sealed(context.Background(), strings.TrimPrefix(loc, "/status/"))
	if err != nil {
		t.Fatal(err)
	}
	views, _ := views.New(templates.FS, views.Options{})
	cat := views.Catalog("es")
	sub := rec.Submission
	if len(sub.Consents) != 2 {
		t.Fatalf("got consents %+v, want terms and marketing", sub.Consents)
	}
	for _, c := range sub.Consents {
		if c.Text != cat.T("field."+c.Field) || !c.Given || c.At.IsZero() {
			t.Errorf("consent %s: got %+v, want the exact text shown, given, with its time", c.Field, c)
		}
	}
	if sub.IPAddress != "198.51.100.7" || sub.UserAgent != "Mozilla/5.0 (consent test)" || sub.PageVersion != views.Version || sub.PageURL == "" {
		t.Errorf("evidence: ip %q, ua %q, version %q, url %q", sub.IPAddress, sub.UserAgent, sub.PageVersion, sub.PageURL)
	}
}

// Every answer carries a fresh X-Request-ID, and the one access-log line
// of the request carries the same id (how an operator finds a user's
// request in the logs) with the route pattern, never the URL and its token.
func TestRequestIDInAnswerAndLog(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) {
		d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	seen := map[string]bool{}
	for range 2 {
		logs.Reset()
		w := do(h, "GET", "/?action_token=esdemo0000000001", nil)
		id := w.Result().Header.Get("X-Request-ID") // as sent
		if len(id) != 16 || seen[id] {
			t.Fatalf("X-Request-ID %q: want 16 hex characters, new on each request", id)
		}
		seen[id] = true
		var line struct{ Msg, RequestID, Route string }
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
				line.Msg, line.RequestID, line.Route = "request", fmt.Sprint(m["request_id"]), fmt.Sprint(m["route"])
			}
		}
		if line.RequestID != id || line.Route != "/" || strings.Contains(logs.String(), "esdemo0000000001") {
			t.Errorf("access log %q: want request_id %s, route /, and no token", logs.String(), id)
		}
	}
}

// With the access log sampled, every error still names its line, however
// it is answered: the responder, the form sent back with its mistakes (422)
// or for a session it does not belong to (403), net/http's file server
// (404, 416), the sandbox's emulators.
func TestSampledErrorsNameTheirLine(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) {
		d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		d.Config.Server.AccessLogSample = 1000
		d.Sandbox = http.NotFoundHandler()
	})
	do(h, "GET", "/healthz", nil) // the one success the sample logs
	page := do(h, "GET", "/", nil)
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page.Body.String(), -1) {
		form.Set(m[1], m[2])
	}
	post := func(form url.Values) *http.Request {
		r := httptest.NewRequest("POST", "/apply", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range page.Result().Cookies() {
			r.AddCookie(c)
		}
		return r
	}
	wrongToken := url.Values{"csrf_token": {"not-the-token"}, "submission_id": form["submission_id"]}
	ranged := httptest.NewRequest("GET", "/static/app.css", nil)
	ranged.Header.Set("Range", "bytes=999999-")
	rangedJS := httptest.NewRequest("GET", "/prefill.js", nil)
	rangedJS.Header.Set("Range", "bytes=999999-")
	for name, r := range map[string]*http.Request{
		"422, the form's mistakes":     post(form),
		"403, another's form":          post(wrongToken),
		"404, no such asset":           httptest.NewRequest("GET", "/static/nothing.css", nil),
		"416, a range past an asset":   ranged,
		"416, a range past prefill.js": rangedJS,
		"404, the sandbox":             httptest.NewRequest("GET", "/sandbox/nothing", nil),
		"404, no such page":            httptest.NewRequest("GET", "/nothing", nil),
	} {
		logs.Reset()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		sent := w.Result().Header.Get("X-Request-ID") // as sent
		var line map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
				line = m
			}
		}
		if w.Code < 400 || line == nil || sent == "" || line["request_id"] != sent {
			t.Errorf("%s: %d, X-Request-ID %q sent, access-log line %v", name, w.Code, sent, line)
		}
	}
}

// A panic in a handler is a whole 500 page, logged twice under the id its
// answer carries: the access-log line every request gets, and the error
// naming the panic's type, never its value (which may hold what the
// consumer sent).
func TestPanicIsAnErrorPageWithItsLines(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) {
		d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		d.Config.Server.AccessLogSample = 1000
		d.Sandbox = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("lucia@example.es") })
	})
	do(h, "GET", "/healthz", nil) // the one success the sample logs
	logs.Reset()
	w := do(h, "GET", "/sandbox/boom", nil)
	id := w.Result().Header.Get("X-Request-ID") // as sent
	if w.Code != 500 || !strings.Contains(w.Body.String(), "</html>") || id == "" {
		t.Fatalf("a panic: %d, X-Request-ID %q, body %q; want a whole 500 page with an id", w.Code, id, w.Body.String())
	}
	lines := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			lines[fmt.Sprint(m["msg"])] = m
		}
	}
	access, failed := lines["request"], lines["request failed"]
	if access == nil || access["status"] != 500.0 || access["request_id"] != id {
		t.Errorf("access-log line %v: want status 500 and request_id %s", access, id)
	}
	if failed == nil || failed["request_id"] != id || strings.Contains(logs.String(), "lucia@") {
		t.Errorf("error line %v: want request_id %s, and the panic's value nowhere in:\n%s", failed, id, logs.String())
	}
}

// With server.access_log_sample N, one success in N is logged (marked
// "sampled": N) and every error is: 20 answers of 200 and 5 of 404 give
// 2 + 5 lines. An answer carries X-Request-ID when it has a line, the id
// of that line; a success with no line carries none.
func TestAccessLogSampled(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) {
		d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		d.Config.Server.AccessLogSample = 10
	})
	answered := map[string]int{} // request id: status
	unnamed := 0
	for i := range 25 {
		path := "/healthz"
		if i >= 20 {
			path = "/no-such-page"
		}
		w := do(h, "GET", path, nil)
		// As sent: the recorder's live map also shows what was set after.
		if id := w.Result().Header.Get("X-Request-ID"); id != "" {
			answered[id] = w.Code
		} else {
			unnamed++
		}
	}
	ok, errs := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["msg"] != "request" {
			continue
		}
		switch m["status"] {
		case 200.0:
			ok++
			if m["sampled"] != 10.0 {
				t.Errorf("a sampled line without \"sampled\": 10: %s", l)
			}
		case 404.0:
			errs++
		}
		id, _ := m["request_id"].(string)
		if status, named := answered[id]; !named || float64(status) != m["status"] {
			t.Errorf("line %s: no answer carried its request id", l)
		}
		delete(answered, id)
	}
	if ok != 2 || errs != 5 {
		t.Errorf("got %d lines of 200 and %d of 404, want 2 and 5:\n%s", ok, errs, logs.String())
	}
	if len(answered) != 0 || unnamed != 18 {
		t.Errorf("%d answers named a line that was not written, %d named none; want 0 and the 18 successes not logged", len(answered), unnamed)
	}
}

// acceptingSubmitter stores applications and answers each as accepted by
// a buyer, with its URL.
type acceptingSubmitter struct{ st *store.Store }

func (a acceptingSubmitter) Create(ctx context.Context, n store.New) (providers.Record, bool, error) {
	return a.st.Create(ctx, n)
}
func (a acceptingSubmitter) Wait(ctx context.Context, id string, max time.Duration) (providers.Record, error) {
	rec, err := a.st.Get(ctx, id)
	rec.Status, rec.Buyer, rec.RedirectURL = providers.StatusAccepted, "casheddy", "https://buyer.example/offer?ref=1"
	return rec, err
}

// heldMarks is a store whose redirect marks wait until released, and
// tell how they went.
type heldMarks struct {
	*store.Store
	release chan struct{}
	marked  chan error
}

func (h heldMarks) MarkRedirected(ctx context.Context, id string, postbacks []string) error {
	<-h.release
	err := h.Store.MarkRedirected(ctx, id, postbacks)
	h.marked <- err
	return err
}

// An accepted consumer is sent to the buyer at once: the funnel's record
// of the redirect (a write of its own, behind every other on a loaded
// core) is made after the answer, and still made.
//
// Also when the client closes the connection once answered, as nginx does
// when it speaks HTTP/1.0 to its upstream: that cancels the request's
// context, and the record went with it.
func TestAcceptedConsumerDoesNotWaitForTheRedirectsRecord(t *testing.T) {
	held := heldMarks{release: make(chan struct{}), marked: make(chan error, 1)}
	h, st := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) {
		held.Store = d.Store.(*store.Store)
		d.Store, d.Submitter = held, acceptingSubmitter{held.Store}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, closing := range []bool{false, true} {
		b := newBrowser(t, srv)
		if closing {
			b.client.Transport = &http.Transport{DisableKeepAlives: true}
		}
		b.get("/?action_token=esdemo0000000001")
		post := with(validES(), hidden(b.get("/").Body))
		answered := make(chan answer, 1)
		go func() { answered <- b.do("POST", "/apply", post) }()
		select {
		case a := <-answered:
			if a.Code != http.StatusSeeOther || a.Header.Get("Location") != "https://buyer.example/offer?ref=1" {
				t.Errorf("closing=%v: got %d to %q, want 303 to the buyer", closing, a.Code, a.Header.Get("Location"))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("closing=%v: the consumer waited for the redirect's record", closing)
		}
		if closing {
			time.Sleep(100 * time.Millisecond) // the server sees the close
		}
		held.release <- struct{}{}
		select {
		case err := <-held.marked:
			if err != nil {
				t.Errorf("closing=%v: the redirect's record failed: %v", closing, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("closing=%v: the redirect was never recorded", closing)
		}
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if rows, err := st.Funnel(context.Background(), today, today); err != nil || len(rows) != 1 || rows[0].Redir != 2 {
		t.Errorf("the funnel counts %+v (%v), want 2 redirects", rows, err)
	}
}
