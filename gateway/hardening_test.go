package gateway

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leadgate/leadgate/gateway/views"
	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/templates"
)

// Health checkers and link previewers ask with HEAD: it is answered
// wherever GET is, on both listeners. /static/ lists nothing.
func TestHeadAnsweredAndStaticNotListed(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	for _, path := range []string{"/", "/healthz", "/static/app.css", "/prefill.js", "/v.gif"} {
		if w := do(h, "HEAD", path, nil); w.Code != 200 {
			t.Errorf("HEAD %s: got %d, want 200", path, w.Code)
		}
	}
	admin := newAdmin(t, st, "pw")
	for _, path := range []string{"/healthz", "/readyz"} {
		if w := do(admin, "HEAD", path, nil); w.Code != 200 {
			t.Errorf("admin HEAD %s: got %d, want 200", path, w.Code)
		}
	}
	authed := httptest.NewRequest("HEAD", "/admin", nil)
	authed.SetBasicAuth("admin", "pw")
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, authed)
	if rec.Code != 200 {
		t.Errorf("admin HEAD /admin with the password: got %d, want 200", rec.Code)
	}
	// Every GET route of either listener, present and future, has its HEAD.
	for name, e := range map[string]http.Handler{"public": h, "admin": admin} {
		heads := map[string]bool{}
		routes := e.(*gin.Engine).Routes()
		for _, rt := range routes {
			if rt.Method == "HEAD" {
				heads[rt.Path] = true
			}
		}
		for _, rt := range routes {
			if rt.Method == "GET" && !heads[rt.Path] {
				t.Errorf("%s listener: GET %s has no HEAD", name, rt.Path)
			}
		}
	}
	for _, path := range []string{"/static/", "/static/locales/"} {
		w := do(h, "GET", path, nil)
		if w.Code != 404 || strings.Contains(w.Body.String(), "app.css") {
			t.Errorf("GET %s: got %d, a listing: %v", path, w.Code, strings.Contains(w.Body.String(), "app.css"))
		}
	}
	r := httptest.NewRequest("GET", "/admin/static/", nil)
	r.SetBasicAuth("admin", "pw")
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, r)
	if w.Code != 404 {
		t.Errorf("admin static directory: got %d, want 404", w.Code)
	}
}

// The operator pages carry the public pages' security headers, and are
// never stored.
func TestAdminSecurityHeaders(t *testing.T) {
	_, st := newTestServer(t, fakeLeads{})
	admin := newAdmin(t, st, "pw")
	for _, path := range []string{"/admin", "/admin/funnel.csv", "/readyz"} {
		r := httptest.NewRequest("GET", path, nil)
		r.SetBasicAuth("admin", "pw")
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if got := w.Header().Get(k); got != want {
				t.Errorf("%s %s: got %q, want %q", path, k, got, want)
			}
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s CSP %q", path, csp)
		}
	}
}

// A path with a trailing slash is not found like any other unknown path,
// through the middleware: Gin's own redirect answered a 301 (which
// browsers keep) with the token in its Location, before any security
// header, log line or request id.
func TestTrailingSlashIsNotFoundWithItsHeaders(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{lead: sampleLead()})
	admin := newAdmin(t, st, "pw")
	for _, tc := range []struct {
		h    http.Handler
		path string
	}{
		{h, "/api/v1/prefill/esdemo0000000001/?flow=es"},
		{h, "/status/abc/"},
		{h, "/apply/"},
		{admin, "/admin/"},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Header.Set("X-API-Key", "lender-key-0123456789")
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound || w.Header().Get("Location") != "" {
			t.Errorf("%s: got %d, Location %q; want 404 and none", tc.path, w.Code, w.Header().Get("Location"))
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			w.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s: headers %v, want the security headers and a request id", tc.path, w.Header())
		}
		if strings.Contains(w.Body.String(), "esdemo0000000001") {
			t.Errorf("%s: the answer names the token: %s", tc.path, w.Body.String())
		}
	}
	// The sandbox's index typed without its slash still opens it.
	sb, _ := newLimitedServer(t, fakeLeads{}, "1000-M", func(d *Deps) {
		d.Sandbox = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "sandbox "+r.URL.Path) })
	})
	for path, want := range map[string]string{"/sandbox": "302 /sandbox/", "/sandbox/": "200 sandbox /sandbox/"} {
		w := httptest.NewRecorder()
		sb.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if got := fmt.Sprint(w.Code, " ", w.Header().Get("Location"), w.Body.String()); !strings.HasPrefix(got, want) {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
}

// Back to the page a POST /apply answered asks GET /apply: the browser is
// sent to the form, not shown an error. An unknown page speaks the
// session's flow's language, not the default flow's.
func TestBackToApplyAndErrorPagesInTheFlowsLanguage(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	b.get("/?flow=es2") // an English flow; the default (es) is Spanish
	for _, method := range []string{"GET", "HEAD"} {
		if a := b.do(method, "/apply", nil); a.Code != http.StatusSeeOther || a.Header.Get("Location") != "/" {
			t.Errorf("%s /apply: got %d to %q, want 303 to /", method, a.Code, a.Header.Get("Location"))
		}
	}
	if a := b.get("/no-such-page"); a.Code != 404 || !strings.Contains(a.Body, `lang="en"`) {
		t.Errorf("the es2 session's 404: got %d, in English %v", a.Code, strings.Contains(a.Body, `lang="en"`))
	}
	if a := newBrowser(t, srv).get("/no-such-page"); a.Code != 404 || !strings.Contains(a.Body, `lang="es"`) {
		t.Errorf("a 404 without a session: got %d, in the default flow's Spanish %v", a.Code, strings.Contains(a.Body, `lang="es"`))
	}
	if a := b.do("PUT", "/", nil); a.Code != 405 || !strings.Contains(a.Body, `lang="en"`) {
		t.Errorf("the es2 session's 405: got %d, in English %v", a.Code, strings.Contains(a.Body, `lang="en"`))
	}
}

// Guessing the admin password: every wrong try is logged (address and
// user name, never the password), and past 10 a minute from one address
// the answer is 429 with Retry-After, even for the right password.
// Another address is not locked out. Requests get an access log line.
func TestAdminBruteForceIsLimitedAndLogged(t *testing.T) {
	_, st := newTestServer(t, fakeLeads{})
	views, _ := views.New(templates.FS, views.Options{})
	var logs bytes.Buffer
	admin := NewAdmin(AdminDeps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Store: st, Views: views,
		Breakers: func() map[string]string { return nil }, Username: "admin", Password: "right-password"})
	try := func(ip, pass string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/admin", nil)
		r.RemoteAddr = ip + ":5000"
		r.SetBasicAuth("admin", pass)
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		return w
	}
	for i := range 10 {
		if w := try("198.51.100.9", "guess-"+string(rune('a'+i))); w.Code != 401 {
			t.Fatalf("wrong password %d: got %d, want 401", i, w.Code)
		}
	}
	w := try("198.51.100.9", "right-password")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("after 10 failures: got %d, Retry-After %q; want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if w := try("203.0.113.1", "right-password"); w.Code != 200 {
		t.Errorf("another address: got %d, want 200", w.Code)
	}
	out := logs.String()
	if n := strings.Count(out, `"msg":"admin: failed login"`); n != 10 {
		t.Errorf("got %d failed-login lines, want 10", n)
	}
	if !strings.Contains(out, `"client_ip":"198.51.100.9"`) || !strings.Contains(out, `"user_known":true`) {
		t.Errorf("failed logins do not name the address and whether the user was right:\n%s", out)
	}
	// A password typed into the user box is not logged either.
	r := httptest.NewRequest("GET", "/admin", nil)
	r.RemoteAddr = "203.0.113.2:5000"
	r.SetBasicAuth("typed-password-as-user", "")
	admin.ServeHTTP(httptest.NewRecorder(), r)
	out = logs.String()
	if strings.Contains(out, "guess-") || strings.Contains(out, "right-password") || strings.Contains(out, "typed-password") {
		t.Error("a password reached the log")
	}
	if !strings.Contains(out, `"user_known":false`) {
		t.Errorf("a wrong user name is not logged as such:\n%s", out)
	}
	if !strings.Contains(out, `"listener":"admin"`) || !strings.Contains(out, `"route":"/admin"`) {
		t.Error("the admin listener has no access log")
	}
}

// Rate limits count an IPv6 /64 as one client: one subscriber is given
// the whole /64 and could otherwise send from a new address every time.
// Another /64 is another client; IPv4 addresses are each their own.
func TestRateLimitsCountAnIPv6SlashSixtyFourAsOneClient(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{}, "3-M")
	get := func(ip string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "[" + ip + "]:5000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 3 {
		if got := get(fmt.Sprintf("2001:db8:1:2::%x", i+1)); got != 200 {
			t.Fatalf("landing %d: got %d", i, got)
		}
	}
	if got := get("2001:db8:1:2:ffff::9"); got != http.StatusTooManyRequests {
		t.Errorf("a fourth address of the same /64: got %d, want 429", got)
	}
	if got := get("2001:db8:1:3::1"); got != 200 {
		t.Errorf("another /64: got %d, want 200", got)
	}

	_, st := newTestServer(t, fakeLeads{})
	views, _ := views.New(templates.FS, views.Options{})
	admin := NewAdmin(AdminDeps{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Store: st, Views: views,
		Breakers: func() map[string]string { return nil }, Username: "admin", Password: "right-password"})
	try := func(ip, pass string) int {
		r := httptest.NewRequest("GET", "/admin", nil)
		r.RemoteAddr = "[" + ip + "]:5000"
		r.SetBasicAuth("admin", pass)
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 10 {
		try(fmt.Sprintf("2001:db8:9:9::%x", i+1), "guess")
	}
	if got := try("2001:db8:9:9::ff", "right-password"); got != http.StatusTooManyRequests {
		t.Errorf("admin, after 10 failures across one /64: got %d, want 429", got)
	}
}

// A campaign name built to become a formula in a spreadsheet (control
// characters, spaces, then "=") is exported as text.
func TestFunnelCSVNeverStartsAFormula(t *testing.T) {
	srv, st, visits := countingServer(t, fakeLeads{err: providers.ErrNotFound})
	attacks := []string{"\x01 =1+1", "=HYPERLINK(\"http://evil\")", " +1", "\t-2", "@SUM(1)", "\x00\x1f=cmd"}
	for _, campaign := range attacks {
		b := newBrowser(t, srv)
		b.get("/?utm_source=" + url.QueryEscape(" \x02=src") + "&utm_campaign=" + url.QueryEscape(campaign))
		b.get("/v.gif")
	}
	if err := visits.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/admin/funnel.csv", nil)
	r.SetBasicAuth("admin", "pw")
	w := httptest.NewRecorder()
	newAdmin(t, st, "pw").ServeHTTP(w, r)
	records, err := csv.NewReader(w.Body).ReadAll()
	if err != nil || len(records) != len(attacks)+1 {
		t.Fatalf("csv: %v, %d lines", err, len(records))
	}
	for _, rec := range records[1:] {
		for _, cell := range rec[:3] {
			if t2 := strings.TrimLeft(cell, " \t\r\n\x00\x01\x02\x1f"); t2 != "" && strings.ContainsRune("=+-@", rune(t2[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
	}
}

// Only a browser that comes back with its session cookie is a visit.
// Cookie-less requests (curl, a script inflating the counts) count
// nothing, whatever they send.
func TestVisitsCountOnlyReturningBrowsers(t *testing.T) {
	srv, st, visits := countingServer(t, fakeLeads{lead: sampleLead()})
	for range 300 {
		res, err := http.Get(srv.URL + "/?utm_source=cashcat.ph&utm_campaign=spring")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	for _, target := range []string{"/?utm_source=cashcat.ph&utm_campaign=spring", "/?utm_source=cashcat.ph&utm_campaign=spring&action_token=esdemo0000000001"} {
		b := newBrowser(t, srv)
		w := b.get(target)
		if w.Code == 303 {
			b.get(w.Header.Get("Location"))
		}
		b.get("/v.gif")
	}
	visits.Flush(context.Background())
	day := time.Now().UTC()
	rows, _ := st.Funnel(context.Background(), day, day)
	if len(rows) != 1 || rows[0].Visits != 2 || rows[0].Prefilled != 1 {
		t.Errorf("got %+v, want 2 visits (1 prefilled) for the two browsers and none for 300 cookie-less requests", rows)
	}
}
