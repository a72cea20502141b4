package gateway

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// fakeSteps records the step counter's calls.
type fakeSteps struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeSteps) Started(flow string, a providers.Attribution) {
	f.add(fmt.Sprintf("started %s %s", flow, a.Source))
}
func (f *fakeSteps) Reached(flow string, a providers.Attribution, step string) {
	f.add(fmt.Sprintf("reached %s %s", flow, step))
}
func (f *fakeSteps) LeftLine(flow string, a providers.Attribution, step, field string) string {
	return strings.Join([]string{flow, step, field}, " ")
}
func (f *fakeSteps) Left(line string)     { f.add("left " + line) }
func (f *fakeSteps) Returned(line string) { f.add("returned " + line) }
func (f *fakeSteps) add(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

// take returns the calls since the last take.
func (f *fakeSteps) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

// draftServer is a test server with drafts on, counting steps into the
// returned fake, its logs (JSON) into logs, changed by opts.
func draftServer(t *testing.T, logs *bytes.Buffer, opts ...func(*Deps)) (*httptest.Server, *store.Store, *fakeSteps) {
	t.Helper()
	steps := &fakeSteps{}
	all := append([]func(*Deps){func(d *Deps) {
		d.Drafts, d.Steps = d.Store.(*store.Store), steps
		if logs != nil {
			d.Log = slog.New(slog.NewJSONHandler(logs, nil))
		}
	}}, opts...)
	h, st := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "1000-M", all...)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st, steps
}

// landed is a browser that opened the form: its page and CSRF token.
func landed(t *testing.T, srv *httptest.Server, path string) (*browser, string) {
	b := newBrowser(t, srv)
	page := b.get(path)
	if page.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, page.Code)
	}
	return b, hidden(page.Body).Get("csrf_token")
}

func draftOf(csrf string, kv ...string) url.Values {
	v := url.Values{"csrf_token": {csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// What the consumer typed comes back on a reload, on its step; an unknown
// field is ignored and a consent is never restored as given.
func TestDraftRestoredOnReload(t *testing.T) {
	srv, _, _ := draftServer(t, nil)
	b, csrf := landed(t, srv, "/")
	a := b.do("POST", "/draft", draftOf(csrf, "first_name", "Lucía", "national_id", "60604016M", "housing", "rent",
		"consent_terms", "1", "is_admin", "yes", "step", "contact", "field", "national_id"))
	if a.Code != http.StatusNoContent || a.Body != "" {
		t.Fatalf("POST /draft: got %d %q, want 204 and no body", a.Code, a.Body)
	}
	page := b.get("/").Body
	for _, want := range []string{`name="first_name" value="Lucía"`, `name="national_id" value="60604016M"`, `value="rent" selected`, `data-step="contact"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the reloaded form has no %s", want)
		}
	}
	if checkedBox.MatchString(page) || strings.Contains(page, "is_admin") {
		t.Error("the reloaded form has a consent ticked or the unknown field")
	}
	// A value emptied after it was saved stays empty.
	b.do("POST", "/draft", draftOf(csrf, "first_name", "", "national_id", "60604016M", "field", "first_name"))
	if page := b.get("/").Body; strings.Contains(page, `value="Lucía"`) || !strings.Contains(page, "60604016M") {
		t.Error("an emptied value came back, or a kept one did not")
	}
}

// A save needs the session's own CSRF token; another session never sees
// the draft.
func TestDraftIsTheSessionsOwn(t *testing.T) {
	srv, _, _ := draftServer(t, nil)
	victim, csrf := landed(t, srv, "/")
	other, otherCSRF := landed(t, srv, "/")
	for name, a := range map[string]answer{
		"no token":              victim.do("POST", "/draft", draftOf("", "first_name", "Mallory")),
		"another session token": victim.do("POST", "/draft", draftOf(otherCSRF, "first_name", "Mallory")),
		"no cookie":             newBrowser(t, srv).do("POST", "/draft", draftOf(csrf, "first_name", "Mallory")),
	} {
		if a.Code != http.StatusForbidden || a.Body != "" {
			t.Errorf("%s: got %d %q, want 403 and no body", name, a.Code, a.Body)
		}
	}
	if page := victim.get("/").Body; strings.Contains(page, "Mallory") {
		t.Error("a refused save was kept")
	}
	victim.do("POST", "/draft", draftOf(csrf, "first_name", "Lucía", "field", "first_name"))
	if page := other.get("/").Body; strings.Contains(page, `value="Lucía"`) {
		t.Error("another session's form shows the draft")
	}
	if page := victim.get("/").Body; !strings.Contains(page, `value="Lucía"`) {
		t.Error("the session's own draft is not restored")
	}
}

func TestDraftBodyBoundedAndRateLimited(t *testing.T) {
	srv, _, _ := draftServer(t, nil, func(d *Deps) { d.Config.RateLimits.Draft = "3-M" })
	b, csrf := landed(t, srv, "/")
	if a := b.do("POST", "/draft", draftOf(csrf, "first_name", strings.Repeat("a", maxDraftBody))); a.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a save past the bound: got %d, want 413", a.Code)
	}
	// Not form encoding: refused with a bare 400, nothing kept.
	req, _ := http.NewRequest("POST", srv.URL+"/draft", strings.NewReader("csrf_token="+csrf+"&first_name=%zz"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || res.ContentLength > 0 {
		t.Errorf("a body that is not form encoding: got %d (%d bytes), want 400 and no body", res.StatusCode, res.ContentLength)
	}
	b.do("POST", "/draft", draftOf(csrf, "first_name", "Lucía"))
	a := b.do("POST", "/draft/left", draftOf(csrf, "step", "you"))
	if a.Code != http.StatusTooManyRequests || a.Header.Get("Retry-After") == "" {
		t.Errorf("past rate_limits.draft: got %d, want 429 with Retry-After", a.Code)
	}
}

// The step funnel's signals: the first field once, each step once, a
// leave once with the flow's own names; garbage names count nothing.
func TestDraftStepSignals(t *testing.T) {
	srv, _, steps := draftServer(t, nil)
	b, csrf := landed(t, srv, "/?utm_source=cashcat.ph")
	for _, tc := range []struct {
		path string
		post url.Values
		want []string
	}{
		{"/draft", draftOf(csrf, "first_name", "L", "field", "first_name", "step", "you"), []string{"started es cashcat.ph", "reached es you"}},
		{"/draft", draftOf(csrf, "first_name", "Lucía", "field", "first_name", "step", "you"), nil},
		// Without a step (no step UI), the field's own.
		{"/draft", draftOf(csrf, "email", "l@example.es", "field", "email"), []string{"reached es contact"}},
		{"/draft", draftOf(csrf, "step", "income"), []string{"reached es income"}},
		{"/draft", draftOf(csrf, "step", "<script>", "field", "ssn-of-bob"), nil},
		{"/draft/left", draftOf(csrf, "step", "you'); DROP", "field", "email"), nil},
		{"/draft/left", draftOf(csrf, "step", "income", "field", "john@example.com"), nil},
		{"/draft/left", draftOf(csrf, "step", "income", "field", "monthly_income"), []string{"left es income monthly_income"}},
		{"/draft/left", draftOf(csrf, "step", "bank", "field", "iban"), nil}, // once per session
	} {
		if a := b.do("POST", tc.path, tc.post); a.Code != http.StatusNoContent {
			t.Fatalf("%s %v: got %d, want 204", tc.path, tc.post, a.Code)
		}
		if got := steps.take(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %v: got %q, want %q", tc.path, tc.post, got, tc.want)
		}
	}
	// A session without a draft, and one that sent its application, did
	// not leave.
	fresh, freshCSRF := landed(t, srv, "/")
	fresh.do("POST", "/draft/left", draftOf(freshCSRF, "step", "you"))
	sender, senderCSRF := landed(t, srv, "/")
	sender.do("POST", "/draft", draftOf(senderCSRF, "first_name", "Lucía", "field", "first_name"))
	steps.take()
	// The pagehide beacon of the page that sent, with the session it had.
	late := sendFrom(t, srv, sender)
	if a := late.do("POST", "/draft/left", draftOf(senderCSRF, "step", "review", "field", "consent_terms")); a.Code != http.StatusNoContent {
		t.Errorf("the sending page's beacon: got %d, want 204", a.Code)
	}
	if got := steps.take(); len(got) != 0 {
		t.Errorf("leaves without a draft or after sending: got %q, want none", got)
	}
}

// A consumer who left the form and came back to send it did not leave
// without sending: the leave is taken back, on the line it was counted
// on, when the application is stored; one who never left has nothing
// taken back.
func TestDraftLeaveTakenBackWhenSent(t *testing.T) {
	srv, _, steps := draftServer(t, nil)
	b, csrf := landed(t, srv, "/?utm_source=cashcat.ph")
	b.do("POST", "/draft", draftOf(csrf, "first_name", "Lucía", "field", "first_name", "step", "income"))
	b.do("POST", "/draft/left", draftOf(csrf, "step", "income", "field", "monthly_income"))
	steps.take()
	sendFrom(t, srv, b) // back, and sends
	if got := steps.take(); !reflect.DeepEqual(got, []string{"returned es income monthly_income"}) {
		t.Errorf("after coming back to send: got %q, want the leave taken back", got)
	}
	stayed, stayedCSRF := landed(t, srv, "/")
	stayed.do("POST", "/draft", draftOf(stayedCSRF, "first_name", "Ana", "field", "first_name"))
	steps.take()
	sendFrom(t, srv, stayed)
	if got := steps.take(); len(got) != 0 {
		t.Errorf("a session that never left: got %q, want nothing taken back", got)
	}
}

// sendFrom sends a valid application from b's form and returns a browser
// holding the session b had before: a request still in flight from the
// page that sent.
func sendFrom(t *testing.T, srv *httptest.Server, b *browser) *browser {
	t.Helper()
	before := b.cookie()
	page := b.get("/")
	if a := b.do("POST", "/apply", with(validES(), hidden(page.Body))); a.Code != http.StatusSeeOther {
		t.Fatalf("apply: got %d", a.Code)
	}
	late := newBrowser(t, srv)
	late.plant(before)
	return late
}

// Sending the application erases the draft: a reload after it (the
// consumer's Back) shows nothing typed, and a save still in flight with
// the old session is not kept.
func TestDraftErasedWhenSent(t *testing.T) {
	srv, _, _ := draftServer(t, nil)
	b, csrf := landed(t, srv, "/")
	b.do("POST", "/draft", draftOf(csrf, "first_name", "Lucía", "iban", "ES5020803294338752239563", "field", "iban"))
	late := sendFrom(t, srv, b)
	if a := late.do("POST", "/draft", draftOf(csrf, "iban", "ES5020803294338752239563", "field", "iban")); a.Code != http.StatusNoContent {
		t.Errorf("a late save: got %d, want 204", a.Code)
	}
	if page := late.get("/").Body; strings.Contains(page, "ES5020803294338752239563") || strings.Contains(page, `value="Lucía"`) {
		t.Error("the old session's form shows the sent draft again")
	}
}

// A draft older than drafts.ttl is not restored.
func TestDraftNotRestoredAfterTTL(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv, _, _ := draftServer(t, nil, func(d *Deps) { d.Now, d.Config.Drafts.TTL = clock, time.Hour })
	b, csrf := landed(t, srv, "/")
	b.do("POST", "/draft", draftOf(csrf, "first_name", "Lucía", "field", "first_name"))
	if !strings.Contains(b.get("/").Body, `value="Lucía"`) {
		t.Fatal("the draft is not restored within its TTL")
	}
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	if strings.Contains(b.get("/").Body, `value="Lucía"`) {
		t.Error("a draft past its TTL was restored")
	}
}

// Saving, restoring, leaving and refusing log nothing the consumer typed.
func TestDraftNothingPersonalInLogs(t *testing.T) {
	var logs bytes.Buffer
	srv, _, _ := draftServer(t, &logs)
	b, csrf := landed(t, srv, "/")
	b.do("POST", "/draft", draftOf(csrf, "first_name", "Lucía", "iban", "ES5020803294338752239563", "email", "lucia@example.es", "field", "iban"))
	b.get("/")
	b.do("POST", "/draft", draftOf("forged", "national_id", "60604016M", "field", "national_id"))
	b.do("POST", "/draft/left", draftOf(csrf, "step", "bank", "field", "lucia@example.es"))
	b.do("POST", "/draft", draftOf(csrf, "first_name", strings.Repeat("Lucía", maxDraftBody)))
	if !strings.Contains(logs.String(), `"route":"/draft"`) {
		t.Fatal("no access log line of /draft: the check below reads nothing")
	}
	for _, pii := range []string{"Lucía", "ES5020803294338752239563", "lucia@example.es", "60604016M"} {
		if strings.Contains(logs.String(), pii) {
			t.Errorf("%q is in the logs", pii)
		}
	}
}

// A draft belongs to the flow of the form that sent it, not to the one its
// session switched to since (a link with another ?flow= opened in another
// tab): kept under it, its steps and its leaving counted under it, and
// back when that flow's page is shown again.
func TestDraftIsOfTheFlowItsFormWasShownFor(t *testing.T) {
	srv, _, steps := draftServer(t, nil)
	b := newBrowser(t, srv)
	shown := hidden(b.get("/?flow=es2&utm_source=cashcat.ph").Body)
	if shown.Get("flow") != "es2" {
		t.Fatalf("the es2 page names flow %q", shown.Get("flow"))
	}
	b.get("/?flow=es") // the other tab
	steps.take()
	save := draftOf(shown.Get("csrf_token"), "flow", "es2", "first_name", "Lucía", "field", "first_name", "step", "you")
	if a := b.do("POST", "/draft", save); a.Code != http.StatusNoContent {
		t.Fatalf("POST /draft: %d", a.Code)
	}
	left := draftOf(shown.Get("csrf_token"), "flow", "es2", "step", "you", "field", "first_name")
	if a := b.do("POST", "/draft/left", left); a.Code != http.StatusNoContent {
		t.Fatalf("POST /draft/left: %d", a.Code)
	}
	want := []string{"started es2 cashcat.ph", "reached es2 you", "left es2 you first_name"}
	if got := steps.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("counted %q, want %q", got, want)
	}
	if page := b.get("/?flow=es2").Body; !strings.Contains(page, `name="first_name" value="Lucía"`) {
		t.Error("the es2 form shown again lacks what was typed in it")
	}
}

// Two tabs of two flows typed in turn count each flow's start and steps
// once: the draft keeps each flow's signals while the session is in the
// other.
func TestDraftsOfTwoFlowsInTurnCountOnce(t *testing.T) {
	srv, _, steps := draftServer(t, nil)
	b := newBrowser(t, srv)
	es2 := hidden(b.get("/?flow=es2&utm_source=cashcat.ph").Body)
	es := hidden(b.get("/?flow=es&utm_source=cashcat.ph").Body)
	steps.take()
	var got []string
	for range 5 {
		for _, tab := range []url.Values{es2, es} {
			save := draftOf(tab.Get("csrf_token"), "flow", tab.Get("flow"), "first_name", "Lucía", "field", "first_name", "step", "you")
			if a := b.do("POST", "/draft", save); a.Code != http.StatusNoContent {
				t.Fatalf("POST /draft: %d", a.Code)
			}
			got = append(got, steps.take()...)
		}
	}
	want := []string{"started es2 cashcat.ph", "reached es2 you", "started es cashcat.ph", "reached es you"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ten saves in turn counted %q, want %q", got, want)
	}
	if page := b.get("/?flow=es").Body; !strings.Contains(page, `data-step="you"`) || !strings.Contains(page, `value="Lucía"`) {
		t.Error("the es form shown again lacks its draft or its step")
	}
}
