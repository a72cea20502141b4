package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/config"
	"github.com/leadgate/leadgate/gateway/session"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// browser is a consumer's (or an attacker's) browser against a test
// server: its own cookie jar, redirects not followed, so each answer can be
// looked at.
type browser struct {
	t      *testing.T
	srv    *httptest.Server
	client *http.Client
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	// srv.Client's transport trusts a TLS test server's certificate.
	return &browser{t: t, srv: srv, client: &http.Client{Jar: jar, Transport: srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	Code   int
	Header http.Header
	Body   string
}

func (b *browser) do(method, path string, form url.Values) answer {
	b.t.Helper()
	var req *http.Request
	if form != nil {
		req, _ = http.NewRequest(method, b.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, b.srv.URL+path, nil)
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return answer{Code: res.StatusCode, Header: res.Header, Body: sb.String()}
}

func (b *browser) get(path string) answer { return b.do("GET", path, nil) }

// cookie is the session cookie the browser holds now (under either name).
func (b *browser) cookie() string {
	u, _ := url.Parse(b.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == session.CookieName || c.Name == session.SecureCookieName {
			return c.Value
		}
	}
	return ""
}

// plant puts a session cookie into the browser, as a fixation attack
// would.
func (b *browser) plant(value string) { b.plantAs(session.CookieName, value) }

func (b *browser) plantAs(name, value string) {
	u, _ := url.Parse(b.srv.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// hidden reads the form's hidden fields (csrf_token, submission_id).
func hidden(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], m[2])
	}
	return v
}

// validES is a complete, valid es application.
func validES() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{
		"loan_amount": "300", "loan_period_days": "30", "first_name": "Lucía", "last_name": "García",
		"gender": "female", "birth_date": "1990-04-12", "national_id": "60604016M", "nationality": "ES",
		"marital_status": "single", "email": "lucia@example.es", "mobile_phone": "612345678",
		"address_line1": "Calle Mayor", "house_number": "5", "postal_code": "33560", "city": "Ribadesella",
		"housing": "rent", "income_source": "employed", "employed_since": "2020-01-01", "monthly_income": "1500",
		"monthly_expenses": "600", "next_pay_date": time.Now().AddDate(0, 0, 10).Format("2006-01-02"),
		"iban": "ES5020803294338752239563", "consent_terms": "1", "consent_marketing": "1",
	} {
		v.Set(k, x)
	}
	return v
}

func with(a, b url.Values) url.Values {
	out := url.Values{}
	for _, v := range []url.Values{a, b} {
		for k, x := range v {
			out[k] = x
		}
	}
	return out
}

var checkedBox = regexp.MustCompile(`<input type="checkbox"[^>]* checked`)

// An attacker's page auto-submits a form to /apply from another site: the
// victim's browser sends no cookie (SameSite=Lax). The refusal must not
// become a form filled in by the attacker, with consents ticked and a
// valid token, under a new session that replaces the victim's.
func TestRefusedPostEchoesNothingAndKeepsTheSession(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := context.Background()

	attack := url.Values{"first_name": {"Mallory"}, "email": {"attacker@evil.example"}, "iban": {"ES9121000418450200051332"},
		"consent_terms": {"1"}, "consent_marketing": {"1"}, "csrf_token": {"forged"}, "submission_id": {strings.Repeat("a", 32)}}

	// Cross-site: no cookie at all.
	stranger := newBrowser(t, srv)
	got := stranger.do("POST", "/apply", attack)
	if got.Code != http.StatusForbidden {
		t.Errorf("cross-site post: got %d, want 403", got.Code)
	}
	if sc := got.Header.Values("Set-Cookie"); len(sc) > 0 {
		t.Errorf("cross-site post set a cookie: %q", sc)
	}
	for _, echoed := range []string{"Mallory", "attacker@evil.example", "ES9121000418450200051332"} {
		if strings.Contains(got.Body, echoed) {
			t.Errorf("cross-site post echoed %q", echoed)
		}
	}
	if checkedBox.MatchString(got.Body) || strings.Contains(got.Body, `name="csrf_token"`) {
		t.Error("cross-site post answered a form with a consent ticked or a usable token")
	}

	// The victim has a session with a lead and an application; the
	// attacker's post (now with the victim's cookie, as a same-site bug
	// would send it, but a forged token) changes nothing of it.
	victim := newBrowser(t, srv)
	victim.get("/?action_token=esdemo0000000001&utm_source=cashcat.ph")
	form := victim.get("/")
	applied := victim.do("POST", "/apply", with(validES(), hidden(form.Body)))
	if applied.Code != http.StatusSeeOther {
		t.Fatalf("victim's application: got %d", applied.Code)
	}
	status := applied.Header.Get("Location")
	before := victim.cookie()
	got = victim.do("POST", "/apply", attack)
	if got.Code != http.StatusForbidden || victim.cookie() != before {
		t.Errorf("forged token with the victim's cookie: got %d, cookie replaced: %v", got.Code, victim.cookie() != before)
	}
	for _, echoed := range []string{"Mallory", "attacker@evil.example", "ES9121000418450200051332"} {
		if strings.Contains(got.Body, echoed) {
			t.Errorf("forged post echoed %q", echoed)
		}
	}
	if checkedBox.MatchString(got.Body) {
		t.Error("forged post rendered a consent as given")
	}
	if w := victim.get(status); w.Code == http.StatusNotFound {
		t.Errorf("after the attack the victim's %s is 404: the session was replaced", status)
	}
	// Nothing of the attacker's was stored: only the victim's application.
	recent, err := st.Recent(ctx, 10)
	if err != nil || len(recent) != 1 {
		t.Errorf("applications stored: %d (%v), want only the victim's", len(recent), err)
	}
}

// The CSRF token is checked, not only the cookie: a post with the
// session's own cookie and a missing or wrong token is refused and stores
// nothing; the right token is accepted.
func TestCSRFTokenIsChecked(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	form := hidden(b.get("/").Body)
	other := hidden(newBrowser(t, srv).get("/").Body).Get("csrf_token") // a real token, of another session
	for name, token := range map[string]string{"missing": "", "wrong": "forged", "another session's": other} {
		fields := with(validES(), form)
		fields.Set("csrf_token", token)
		if got := b.do("POST", "/apply", fields); got.Code != http.StatusForbidden {
			t.Errorf("%s token: got %d, want 403", name, got.Code)
		}
	}
	if recent, _ := st.Recent(context.Background(), 10); len(recent) != 0 {
		t.Fatalf("refused posts stored %d applications", len(recent))
	}
	if got := b.do("POST", "/apply", with(validES(), form)); got.Code != http.StatusSeeOther {
		t.Errorf("the session's own token: got %d, want 303", got.Code)
	}
	if recent, _ := st.Recent(context.Background(), 10); len(recent) != 1 {
		t.Errorf("got %d applications, want 1", len(recent))
	}
}

// Session fixation: a cookie planted in the victim's browser before the
// token exchange must open nothing of what the victim does after it. The
// session rotates at the exchange and when the application is stored.
func TestSessionRotatesAtExchangeAndApplication(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	attacker := newBrowser(t, srv)
	attacker.get("/")
	planted := attacker.cookie()
	plantedCSRF := hidden(attacker.get("/").Body).Get("csrf_token")

	victim := newBrowser(t, srv)
	victim.plant(planted)
	victim.get("/?action_token=esdemo0000000001")
	if victim.cookie() == planted {
		t.Fatal("the token exchange kept the planted cookie")
	}
	form := hidden(victim.get("/").Body)
	if form.Get("csrf_token") == plantedCSRF {
		t.Error("the CSRF token is the same before and after the token exchange")
	}
	afterExchange := victim.cookie()
	applied := victim.do("POST", "/apply", with(validES(), form))
	status := applied.Header.Get("Location")
	if applied.Code != http.StatusSeeOther || !strings.HasPrefix(status, "/status/") {
		t.Fatalf("apply: got %d to %q", applied.Code, status)
	}
	if victim.cookie() == afterExchange {
		t.Error("storing the application kept the session id")
	}
	if got := victim.get(status); got.Code != http.StatusOK {
		t.Errorf("the victim's own status page: got %d", got.Code)
	}
	id := strings.TrimPrefix(status, "/status/")
	for name, cookie := range map[string]string{"planted": planted, "pre-application": afterExchange} {
		b := newBrowser(t, srv)
		b.plant(cookie)
		if got := b.get(status); got.Code != http.StatusNotFound {
			t.Errorf("%s cookie reads the application page: %d", name, got.Code)
		}
		if got := b.get("/api/v1/applications/" + id); got.Code != http.StatusNotFound {
			t.Errorf("%s cookie reads the application JSON: %d", name, got.Code)
		}
	}
}

// Behind https the session cookie is __Host-leadgate, which no sibling
// subdomain and no plain-http answer can plant. A cookie under the plain
// name (what they can plant) is not kept by the landing page: a consumer
// on a tokenless form with a planted cookie gets a session of their own,
// so the planter neither reads what the consumer types (an SSN, a bank
// account) nor fills it in for them. A form rendered under the plain
// name before the upgrade still posts.
func TestPlantedCookieOpensNothingBehindHTTPS(t *testing.T) {
	srv := httpsServer(t)

	attacker := newBrowser(t, srv)
	page := attacker.get("/?utm_source=partner")
	set := page.Header.Get("Set-Cookie")
	if !strings.HasPrefix(set, session.SecureCookieName+"=") || !strings.Contains(set, "; Path=/;") ||
		!strings.Contains(set, "; Secure") || strings.Contains(set, "Domain") {
		t.Fatalf("the session cookie behind https: %q; want __Host-leadgate, Secure, Path=/, no Domain", set)
	}
	csrf := hidden(page.Body).Get("csrf_token")
	if a := attacker.do("POST", "/draft", draftOf(csrf, "first_name", "Mallory", "iban", "ES9121000418450200051332")); a.Code != http.StatusNoContent {
		t.Fatalf("the attacker's draft: got %d", a.Code)
	}
	planted := attacker.cookie()

	victim := newBrowser(t, srv)
	victim.plantAs(session.CookieName, planted)
	page = victim.get("/?utm_source=partner")
	if strings.Contains(page.Body, "Mallory") || strings.Contains(page.Body, "ES9121000418450200051332") {
		t.Error("the planted session's draft fills the victim's form")
	}
	if victim.cookie() == planted || hidden(page.Body).Get("csrf_token") == csrf {
		t.Fatal("the landing page kept the planted session")
	}
	u, _ := url.Parse(srv.URL)
	for _, c := range victim.client.Jar.Cookies(u) {
		if c.Name == session.CookieName {
			t.Error("the plain-named cookie is still in the victim's browser")
		}
	}
	if a := victim.do("POST", "/draft", draftOf(hidden(page.Body).Get("csrf_token"), "first_name", "Lucía", "iban", "ES5020803294338752239563")); a.Code != http.StatusNoContent {
		t.Fatalf("the victim's draft: got %d", a.Code)
	}
	for name, b := range map[string]*browser{"the attacker's own": attacker, "the planted": func() *browser {
		b := newBrowser(t, srv)
		b.plantAs(session.CookieName, planted)
		return b
	}()} {
		if body := b.get("/?utm_source=partner").Body; strings.Contains(body, `value="Lucía"`) || strings.Contains(body, "ES5020803294338752239563") {
			t.Errorf("%s cookie reads what the victim typed", name)
		}
	}

	// A consumer whose form was rendered under the plain name (before the
	// upgrade) sends it: the application is stored, not refused.
	before := newBrowser(t, srv)
	form := hidden(before.get("/").Body)
	value := before.cookie()
	old := newBrowser(t, srv)
	old.plantAs(session.CookieName, value)
	if a := old.do("POST", "/apply", with(validES(), form)); a.Code != http.StatusSeeOther || !strings.HasPrefix(a.Header.Get("Location"), "/status/") {
		t.Errorf("a form rendered under the plain name: got %d to %q, want 303 to its status", a.Code, a.Header.Get("Location"))
	}
}

// Back from the buyer's page lands on "/": a session that has sent an
// application gets a page offering that application and a new one, not a
// fresh form that would make a second application by mistake. "Start a
// new application" and a new token both give the form again, and a form
// sent from there is a new application.
func TestBackAfterSendingOffersTheApplicationNotANewForm(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	b.get("/?action_token=esdemo0000000001")
	sent := b.do("POST", "/apply", with(validES(), hidden(b.get("/").Body)))
	status := sent.Header.Get("Location")
	if sent.Code != http.StatusSeeOther || !strings.HasPrefix(status, "/status/") {
		t.Fatalf("apply: got %d to %q", sent.Code, status)
	}
	back := b.get("/")
	if back.Code != 200 || strings.Contains(back.Body, `name="submission_id"`) ||
		!strings.Contains(back.Body, `href="`+status+`"`) || !strings.Contains(back.Body, `href="/?new=1"`) ||
		!strings.Contains(back.Body, "Ya has enviado esta solicitud") {
		t.Fatalf("Back after sending: got %d, want the sent page linking %s and /?new=1, no form:\n%s", back.Code, status, back.Body)
	}
	// Its page is the URL without "new" (see below why).
	if again := b.get("/?new=1&utm_source=cashcat.ph"); again.Code != http.StatusSeeOther || again.Header.Get("Location") != "/?utm_source=cashcat.ph" {
		t.Fatalf("Start a new application: got %d to %q, want 303 to /?utm_source=cashcat.ph", again.Code, again.Header.Get("Location"))
	}
	again := b.get("/?utm_source=cashcat.ph")
	form := hidden(again.Body)
	if again.Code != 200 || form.Get("submission_id") == "" {
		t.Fatalf("Start a new application: got %d, no form", again.Code)
	}
	if page := b.get("/"); !strings.Contains(page.Body, `name="submission_id"`) {
		t.Error("after starting a new application, a reload shows the sent page again")
	}
	second := b.do("POST", "/apply", with(validES(), form))
	loc := second.Header.Get("Location")
	if second.Code != http.StatusSeeOther || loc == status || !strings.HasPrefix(loc, "/status/") {
		t.Errorf("the new application: got %d to %q, want a new one (not %s)", second.Code, loc, status)
	}
	// Back from the buyer after the new application: the page it was
	// sent from shows what was sent, not a form to send again.
	if back := b.get("/?utm_source=cashcat.ph"); strings.Contains(back.Body, `name="submission_id"`) || !strings.Contains(back.Body, `href="`+loc+`"`) {
		t.Error("Back after the new application shows a form to send again, not the one sent")
	}
	b.get("/?action_token=esdemo0000000002")
	if page := b.get("/"); !strings.Contains(page.Body, `name="submission_id"`) {
		t.Error("a new token's landing shows the sent page, not its form")
	}
}

// flakyLeads has the sample lead for any token, or none while down.
type flakyLeads struct{ down *atomic.Bool }

func (f flakyLeads) Lead(context.Context, string) (*providers.Lead, error) {
	if f.down.Load() {
		return nil, providers.ErrUnavailable
	}
	return sampleLead(), nil
}

// A consumer who lands again with the token they came with (a second tap
// on the offer, Back to the marketplace and its link again) has not
// changed offer: behind https, where no one can plant the session's
// cookie, the session is kept, with what they typed, the form they have
// open in another tab still sends, and once they have applied the landing
// shows what they sent, not a form for a second application. On plain
// http, where the cookie can be planted, the exchange still gives a new
// session: a planter who knows the token would otherwise share it.
func TestSameTokenAgainKeepsTheSession(t *testing.T) {
	down := &atomic.Bool{}
	srv := httpsServer(t, func(d *Deps) { d.Leads = flakyLeads{down} })
	b := newBrowser(t, srv)
	b.get("/?action_token=esdemo0000000001&utm_source=cashcat.ph")
	open := hidden(b.get("/").Body)
	if a := b.do("POST", "/draft", draftOf(open.Get("csrf_token"), "national_id", "60604016M", "iban", "ES5020803294338752239563",
		"step", "contact", "field", "iban")); a.Code != http.StatusNoContent {
		t.Fatalf("POST /draft: %d", a.Code)
	}
	if again := b.get("/?action_token=esdemo0000000001&utm_source=cashcat.ph"); again.Code != http.StatusSeeOther {
		t.Fatalf("the second landing: got %d, want the 303 to the clean URL", again.Code)
	}
	page := b.get("/").Body
	if hidden(page).Get("csrf_token") != open.Get("csrf_token") {
		t.Error("landing again with the same token replaced the session (its CSRF token)")
	}
	for _, want := range []string{`value="60604016M"`, `value="ES5020803294338752239563"`, `value="Lucía"`} {
		if !strings.Contains(page, want) {
			t.Errorf("after the second landing the form lost %s", want)
		}
	}
	sent := b.do("POST", "/apply", with(validES(), open))
	status := sent.Header.Get("Location")
	if sent.Code != http.StatusSeeOther || !strings.HasPrefix(status, "/status/") {
		t.Fatalf("the form opened before the second landing: got %d to %q, want it sent", sent.Code, status)
	}
	b.get("/?action_token=esdemo0000000001&utm_source=cashcat.ph")
	if page := b.get("/").Body; strings.Contains(page, `name="submission_id"`) || !strings.Contains(page, `href="`+status+`"`) {
		t.Error("landing again with the token just applied with shows a form for a second application, not the one sent")
	}
	// The same token while its lead cannot be had (Cashcat down, the
	// budget spent): the prefill goes, the session and its page stay.
	down.Store(true)
	for range 2 { // and again: each is the same offer
		b.get("/?action_token=esdemo0000000001&utm_source=cashcat.ph")
		if page := b.get("/").Body; strings.Contains(page, `name="submission_id"`) || !strings.Contains(page, `href="`+status+`"`) {
			t.Fatal("landing again with the token while its lead cannot be had offers a form for a second application")
		}
	}
	down.Store(false)
	b.get("/?action_token=esdemo0000000002&utm_source=cashcat.ph")
	if page := b.get("/").Body; !strings.Contains(page, `name="submission_id"`) || strings.Contains(page, "60604016M") {
		t.Error("a new token's landing does not show a new form")
	}

	// Plain http: the planter lands with the victim's token first.
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) { d.Drafts = d.Store.(*store.Store) })
	plain := httptest.NewServer(h)
	defer plain.Close()
	attacker := newBrowser(t, plain)
	attacker.get("/?action_token=esdemo0000000001")
	plantedCSRF := hidden(attacker.get("/").Body).Get("csrf_token")
	victim := newBrowser(t, plain)
	victim.plant(attacker.cookie())
	victim.get("/?action_token=esdemo0000000001")
	if hidden(victim.get("/").Body).Get("csrf_token") == plantedCSRF {
		t.Error("on plain http the exchange kept a planted session holding the same token")
	}
}

// The clean URL after the token exchange carries no click id, even when
// the session's first visit came from another source (whose click
// parameters are not this URL's).
func TestCleanURLDropsThisURLsClickIDs(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) {
		d.Config.Attribution.ClickParams = map[string][]string{"cashcat.ph": {"click_id"}}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for name, first := range map[string]string{"a new session": "", "a session first from a newsletter": "/?utm_source=newsletter&action_token=esdemo0000000001"} {
		b := newBrowser(t, srv)
		if first != "" {
			b.get(first)
		}
		a := b.get("/?utm_source=cashcat.ph&click_id=SECRETCLICK123&gclid=CjwKGCLIDSECRET&action_token=esdemo0000000001")
		loc := a.Header.Get("Location")
		if a.Code != http.StatusSeeOther || strings.Contains(loc, "SECRET") || !strings.Contains(loc, "utm_source=cashcat.ph") {
			t.Errorf("%s: got %d to %q, want 303 to the URL without its click ids", name, a.Code, loc)
		}
	}
}

// Without a token too, a URL's click ids and anything else the page does
// not read (a lender's own tracking: an email) leave the address bar: the
// landing keeps the click ids in the session and sends the browser to the
// clean URL, whose application still carries them. A clean URL is served
// at once.
func TestLandingWithoutTokenDropsClickIDs(t *testing.T) {
	h, st := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) {
		d.Config.Attribution.ClickParams = map[string][]string{"cashcat.ph": {"click_id"}, "partner": {"utm_content"}}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	a := b.get("/?utm_source=cashcat.ph&click_id=SECRETCLICK123&gclid=CjwKGCLIDSECRET&email=john%40example.com&utm_campaign=spring")
	if loc := a.Header.Get("Location"); a.Code != http.StatusSeeOther || loc != "/?utm_campaign=spring&utm_source=cashcat.ph" ||
		a.Header.Get("Set-Cookie") == "" || !strings.Contains(a.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("got %d to %q (cookie %q), want 303 to the clean URL with the session", a.Code, loc, a.Header.Get("Set-Cookie"))
	}
	page := b.get(a.Header.Get("Location"))
	if page.Code != http.StatusOK || strings.Contains(page.Body, "SECRET") || strings.Contains(page.Body, "john") {
		t.Fatalf("clean URL: got %d", page.Code)
	}
	if res := b.do("POST", "/apply", with(validES(), hidden(page.Body))); res.Code != http.StatusSeeOther {
		t.Fatalf("apply: got %d", res.Code)
	}
	recent, _ := st.Recent(context.Background(), 1)
	if len(recent) != 1 {
		t.Fatal("no application")
	}
	sealed, err := st.Sealed(context.Background(), recent[0].ID)
	if ids := sealed.Submission.Attribution.ClickIDs(); err != nil || ids["click_id"] == nil || ids["click_id"][0] != "SECRETCLICK123" || ids["gclid"][0] != "CjwKGCLIDSECRET" {
		t.Errorf("the application's click ids: %v, %v; want both kept", ids, err)
	}
	// What net/url cannot read does not stay in the address bar either,
	// nor a click id of this URL's source when the session came from
	// another.
	for _, path := range []string{"/?utm_source=x&email=jane@example.com;", "/?utm_source=cashcat.ph&click_id=SECRET%zz", "/?utm_source=x&gclid=AB;CD",
		"/?utm_source=partner&utm_content=SECRETPARTNER", "/?utm_source=x&click_id=SECRETAMP" + strings.Repeat("&", 10001)} {
		if got := b.get(path); got.Code != http.StatusSeeOther || strings.ContainsAny(got.Header.Get("Location"), ";%@") || strings.Contains(got.Header.Get("Location"), "SECRET") {
			t.Errorf("%s: got %d to %q, want 303 to a clean URL", path, got.Code, got.Header.Get("Location"))
		}
	}
	// A clean URL is the page.
	for _, path := range []string{"/", "/?utm_source=cashcat.ph&flow=es"} {
		if got := newBrowser(t, srv).get(path); got.Code != http.StatusOK {
			t.Errorf("%s: got %d, want the page at once", path, got.Code)
		}
	}
}

// A form is judged by the flow it was shown for, not the one its session
// has switched to since (a link with another ?flow= opened in another
// tab): each page names its own, the skeleton of two flows with the same
// form and language included.
func TestFormPostedIsJudgedByItsOwnFlow(t *testing.T) {
	yaml := strings.Replace(fmt.Sprintf(testConfig, "1000-M"), "flows:\n", "flows:\n  - { name: es3, form: es, currency: EUR, buyers: [casheddy] }\n", 1)
	cfg, err := config.Parse([]byte(yaml), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	h, st := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1000-M", func(d *Deps) { d.Config = cfg })
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	shown := b.get("/?flow=es3").Body
	if got := hidden(shown).Get("flow"); got != "es3" {
		t.Fatalf("the es3 page names flow %q", got)
	}
	if got := hidden(b.get("/?flow=es").Body).Get("flow"); got != "es" {
		t.Fatalf("the es page names flow %q", got)
	}
	if res := b.do("POST", "/apply", with(validES(), hidden(shown))); res.Code != http.StatusSeeOther {
		t.Fatalf("the es3 form posted after the switch: got %d", res.Code)
	}
	recent, _ := st.Recent(context.Background(), 1)
	if len(recent) != 1 || recent[0].Flow != "es3" {
		t.Errorf("got %+v, want one application of the flow shown, es3", recent)
	}
	// A flow that is not configured is no flow: the session's judges.
	b.get("/?new=1")
	form := with(validES(), hidden(b.get("/").Body))
	form.Set("flow", "nosuchflow")
	if res := b.do("POST", "/apply", form); res.Code != http.StatusSeeOther {
		t.Fatalf("an unknown flow named: got %d", res.Code)
	}
	if recent, _ = st.Recent(context.Background(), 2); len(recent) != 2 || recent[0].Flow == "nosuchflow" {
		t.Errorf("got %+v", recent)
	}
}

// Sending the same form twice (a double click, or "back" and send) makes
// one application even though the first answer rotated the session: the
// second copy replays the first. Two consumers who happen to send the same
// hidden submission id make two.
func TestResubmitReplaysAndSessionsNeverShareAnApplication(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := context.Background()
	b := newBrowser(t, srv)
	form := with(validES(), hidden(b.get("/").Body))
	first := b.do("POST", "/apply", form)
	again := b.do("POST", "/apply", form) // the old page's token, the new cookie
	if first.Code != http.StatusSeeOther || again.Code != http.StatusSeeOther || again.Header.Get("Location") != first.Header.Get("Location") {
		t.Errorf("resubmit: got %d %q then %d %q, want the same redirect", first.Code, first.Header.Get("Location"), again.Code, again.Header.Get("Location"))
	}
	if recent, _ := st.Recent(ctx, 10); len(recent) != 1 {
		t.Errorf("resubmit made %d applications, want 1", len(recent))
	}

	// Another consumer's form with the same submission_id.
	other := newBrowser(t, srv)
	otherForm := hidden(other.get("/").Body)
	otherForm.Set("submission_id", form.Get("submission_id"))
	got := other.do("POST", "/apply", with(validES(), otherForm))
	if got.Code != http.StatusSeeOther || got.Header.Get("Location") == first.Header.Get("Location") {
		t.Errorf("second consumer: got %d to %q, want their own application", got.Code, got.Header.Get("Location"))
	}
	if recent, _ := st.Recent(ctx, 10); len(recent) != 2 {
		t.Errorf("got %d applications, want 2 (one per consumer)", len(recent))
	}
}

// A body that is not proper form encoding is the client's problem: 400,
// the consumer's session kept, the form shown again with what could be read.
func TestMalformedBodyIsTheClientsProblem(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{err: providers.ErrNotFound})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	form := hidden(b.get("/").Body)
	before := b.cookie()
	req, _ := http.NewRequest("POST", srv.URL+"/apply", strings.NewReader("first_name=%zz&last_name=Garc%C3%ADa&"+form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 64<<10)
	n, _ := res.Body.Read(body)
	res.Body.Close()
	page := string(body[:n])
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("got %d, want 400", res.StatusCode)
	}
	if strings.Contains(page, "problema de nuestra parte") || !strings.Contains(page, `name="csrf_token"`) {
		t.Error("the answer is not the form with a client-side message")
	}
	if !strings.Contains(page, `value="García"`) {
		t.Error("what could be read was not kept")
	}
	if b.cookie() != before {
		t.Error("the session was replaced")
	}
	if recent, _ := st.Recent(context.Background(), 10); len(recent) != 0 {
		t.Error("a malformed body was stored")
	}
}

// A lender's own link may carry anything (an email, a phone number for
// its own tracking): the clean URL keeps only what the page reads, the
// utm_* values, the flow and the variant, so nothing else stays in the
// address bar, the history or a Referer.
func TestCleanURLKeepsOnlyWhatThePageReads(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	a := newBrowser(t, srv).get("/?utm_source=news&utm_campaign=nov&flow=es&variant=b&email=ana%40example.com&phone=%2B34600111222&action_token=esdemo0000000001")
	loc, err := url.Parse(a.Header.Get("Location"))
	if a.Code != http.StatusSeeOther || err != nil {
		t.Fatalf("got %d to %q, want 303", a.Code, a.Header.Get("Location"))
	}
	want := url.Values{"utm_source": {"news"}, "utm_campaign": {"nov"}, "flow": {"es"}, "variant": {"b"}}
	if loc.Path != "/" || loc.Query().Encode() != want.Encode() {
		t.Errorf("clean URL %q, want / with only %s", loc, want.Encode())
	}
	// A mailing tool that merges the subscriber's address into a utm_*
	// value: the address is the consumer's, not an attribution, and
	// leaves the URL and the session (the dashboard, the buyers, the CRM).
	for _, path := range []string{"/?utm_source=news&utm_content=ana.garcia%40example.com&utm_term=Ana%20%3Cana%40example.es%3E&utm_medium=ana%40example.%E2%80%8Bes",
		"/?utm_source=news&utm_content=ana.garcia%40example.com&utm_term=Ana%20%3Cana%40example.es%3E&action_token=esdemo0000000001"} {
		b := newBrowser(t, srv)
		a := b.get(path)
		if a.Code != http.StatusSeeOther || a.Header.Get("Location") != "/?utm_source=news" {
			t.Errorf("%s: got %d to %q, want 303 to /?utm_source=news", path, a.Code, a.Header.Get("Location"))
		}
		b.get(a.Header.Get("Location"))
		sent := b.do("POST", "/apply", with(validES(), hidden(b.get("/?utm_source=news").Body)))
		rec, err := st.Get(context.Background(), strings.TrimPrefix(sent.Header.Get("Location"), "/status/"))
		if err != nil {
			t.Fatalf("%s: the application: %v", path, err)
		}
		if at := rec.Attribution; at.Source != "news" || at.Content != "" || at.Term != "" || at.Medium != "" {
			t.Errorf("%s: the application's attribution kept %+v", path, at)
		}
	}
	// A handle or a plain campaign id is not an address.
	a = newBrowser(t, srv).get("/?utm_source=%40lender&utm_campaign=23170012345&utm_content=a%40b")
	if a.Code != http.StatusOK {
		t.Errorf("a handle, a campaign id and a bare a@b: got %d to %q, want the page", a.Code, a.Header.Get("Location"))
	}
}

// A planted plain-named cookie is never written back under the __Host-
// name with its id: not by the beacon (no CSRF token needed), not by a
// draft (a same-site form from a sibling subdomain posts with the
// planter's own token). Otherwise one request turns it into a cookie the
// landing page keeps, and the planter reads what the consumer types.
func TestPlantedCookieIsNotLaunderedIntoTheHostCookie(t *testing.T) {
	srv := httpsServer(t, func(d *Deps) { d.Funnel = nopFunnel{} }) // the beacon saves only when it counts
	for _, way := range []string{"beacon", "draft"} {
		attacker := newBrowser(t, srv)
		csrf := hidden(attacker.get("/?utm_source=partner").Body).Get("csrf_token")
		planted := attacker.cookie() // not counted by a beacon, no draft yet
		attacker.do("POST", "/draft", draftOf(csrf, "loan_purpose", "other"))

		victim := newBrowser(t, srv)
		victim.plantAs(session.CookieName, planted)
		var a answer
		if way == "beacon" {
			a = victim.get("/v.gif")
		} else {
			a = victim.do("POST", "/draft", draftOf(csrf, "loan_purpose", "other"))
		}
		for _, c := range a.Header.Values("Set-Cookie") {
			if strings.HasPrefix(c, session.SecureCookieName+"=") {
				t.Errorf("%s: the planted session was written under the __Host- name", way)
			}
		}
		page := victim.get("/?utm_source=partner")
		victim.do("POST", "/draft", draftOf(hidden(page.Body).Get("csrf_token"), "first_name", "Lucía", "iban", "ES5020803294338752239563"))
		if body := attacker.get("/?utm_source=partner").Body; strings.Contains(body, "ES5020803294338752239563") {
			t.Errorf("%s: the planter reads the victim's IBAN", way)
		}
	}
}

// nopFunnel counts nothing.
type nopFunnel struct{}

func (nopFunnel) Visit(string, providers.Attribution, bool) {}
func (nopFunnel) Spend(string, providers.Attribution, int)  {}

// The landing page gives a plain-named session a new id, which owns none
// of the old id's applications: it must not offer the old id's "sent"
// page, whose link would answer 404 (and a planted cookie would replace
// the consumer's form with someone else's sent page).
func TestLegacySessionRotatedOffersNoSentPageItCannotOpen(t *testing.T) {
	srv := httpsServer(t)
	before := newBrowser(t, srv)
	sent := before.do("POST", "/apply", with(validES(), hidden(before.get("/").Body)))
	status := sent.Header.Get("Location")
	if sent.Code != http.StatusSeeOther || !strings.HasPrefix(status, "/status/") {
		t.Fatalf("apply: %d %q", sent.Code, status)
	}
	old := newBrowser(t, srv)
	old.plantAs(session.CookieName, before.cookie())
	back := old.get("/")
	if strings.Contains(back.Body, `href="`+status+`"`) && old.get(status).Code == http.StatusNotFound {
		t.Errorf("the page offers %s, which answers 404 to its session", status)
	}
	if !strings.Contains(back.Body, `name="first_name"`) {
		t.Errorf("the rotated session got no form: %.300s", back.Body)
	}
}

// tokenLeads knows the leads of its tokens; any other is not found.
type tokenLeads map[string]*providers.Lead

func (l tokenLeads) Lead(_ context.Context, token string) (*providers.Lead, error) {
	if lead, ok := l[token]; ok {
		return lead, nil
	}
	return nil, providers.ErrNotFound
}

// A second token in the same browser (a shared phone: the next consumer)
// whose lead cannot be had (Cashcat does not know it, is down, or the
// budget is spent), or a malformed one, shows an empty form: never the
// first token's consumer's name and email.
func TestFailedExchangeDropsThePreviousLead(t *testing.T) {
	h, _ := newTestServer(t, tokenLeads{"esdemo0000000001": sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	land := func(token string) string {
		a := b.get("/?utm_source=cashcat.ph&action_token=" + token)
		return b.get(a.Header.Get("Location")).Body
	}
	if page := land("esdemo0000000001"); !strings.Contains(page, "lucia@example.es") {
		t.Fatal("the first token's form is not prefilled")
	}
	for _, token := range []string{"notfound00000404", "not-a-token"} {
		// (A value, not the word: Santa Lucía is in the nationality list.)
		if page := land(token); strings.Contains(page, "lucia@example.es") || strings.Contains(page, `value="Lucía"`) {
			t.Errorf("token %s: the form shows the previous token's consumer", token)
		}
	}
}

// A form is never bound to a planted plain-named session's id: a post
// that brings only that cookie (the planter's sibling subdomain
// auto-posting a form, or the consumer's own form once its __Host-
// cookie is gone) gets its refused, 422 or 400 form under a new id, and a
// draft posted with the plain cookie alone is not saved under it. The
// planter, sending the planted value under the __Host- name from a
// script, reads nothing the victim typed.
func TestPlantedCookieGetsNoFormBoundToItsID(t *testing.T) {
	srv := httpsServer(t)
	for name, post := range map[string]func(csrf string) url.Values{
		"refused (stale token)": func(string) url.Values { return with(validES(), url.Values{"csrf_token": {"stale"}}) },
		"422 (the planter's own token)": func(csrf string) url.Values {
			return with(url.Values{"first_name": {"x"}}, url.Values{"csrf_token": {csrf}})
		},
	} {
		attacker := newBrowser(t, srv)
		csrf := hidden(attacker.get("/?utm_source=partner").Body).Get("csrf_token")
		attacker.do("POST", "/draft", draftOf(csrf, "loan_purpose", "other"))
		planted := attacker.cookie()

		victim := newBrowser(t, srv)
		victim.plantAs(session.CookieName, planted)
		page := victim.do("POST", "/apply", post(csrf))
		if page.Code != http.StatusForbidden && page.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: got %d", name, page.Code)
		}
		if got := hidden(page.Body).Get("csrf_token"); got == "" || got == csrf {
			t.Errorf("%s: the form's token is the planted session's (%q)", name, got)
		}
		victim.do("POST", "/draft", draftOf(hidden(page.Body).Get("csrf_token"), "first_name", "Lucía", "iban", "ES5020803294338752239563"))
		// With only the plain cookie and the planted session's token.
		alone := newBrowser(t, srv)
		alone.plantAs(session.CookieName, planted)
		alone.do("POST", "/draft", draftOf(csrf, "iban", "ES5020803294338752239563"))

		script := newBrowser(t, srv)
		script.plantAs(session.SecureCookieName, planted)
		if body := script.get("/?utm_source=partner").Body; strings.Contains(body, "ES5020803294338752239563") {
			t.Errorf("%s: the planter reads the victim's IBAN", name)
		}
	}
}

// httpsServer is a test server behind https (the __Host- cookie), with
// drafts kept in its store and no lead for any token.
func httpsServer(t *testing.T, mods ...func(*Deps)) *httptest.Server {
	t.Helper()
	h, _ := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "1000-M", func(d *Deps) {
		d.Drafts = d.Store.(*store.Store)
		d.Config.Server.PublicURL = "https://apply.lender.example"
		for _, m := range mods {
			m(d)
		}
	})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// A consent posted as a word the form reads as "no" (no, false, off: a
// hand-made post, or a lender's own form) is stored as not given, and
// the form sent back for another field's error must show it so: a box
// shown ticked is a consent given by the next Send, not by the consumer.
func TestConsentPostedAsNoIsNotShownTicked(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, no := range []string{"no", "false", "off", "NO", "0"} {
		b := newBrowser(t, srv)
		b.get("/?action_token=esdemo0000000001")
		post := with(validES(), hidden(b.get("/").Body))
		post.Set("consent_marketing", no)
		post.Del("first_name")
		got := b.do("POST", "/apply", post)
		if got.Code != http.StatusUnprocessableEntity {
			t.Fatalf("consent_marketing=%s, no first name: got %d, want 422", no, got.Code)
		}
		// Still the form of the lead the consumer came with, not one that
		// reads like starting over.
		if !strings.Contains(got.Body, " data-prefilled") {
			t.Errorf("consent_marketing=%s: the form sent back forgot it was prefilled", no)
		}
		if regexp.MustCompile(`<input type="checkbox" id="[^"]*" name="consent_marketing"[^>]* checked`).MatchString(got.Body) {
			t.Errorf("consent_marketing=%s: the form sent back shows the consent ticked", no)
		}
		if !regexp.MustCompile(`<input type="checkbox" id="[^"]*" name="consent_terms"[^>]* checked`).MatchString(got.Body) {
			t.Errorf("consent_marketing=%s: the consent the consumer ticked is not shown ticked", no)
		}
		// Nor does the browser tick one: a box it restores on Back (its
		// form state kept per page) is not the consumer's tick on the
		// page it sends. autocomplete="off" keeps it from doing so.
		for _, page := range []string{got.Body, b.get("/").Body} {
			if boxes := regexp.MustCompile(`<input type="checkbox"[^>]*>`).FindAllString(page, -1); len(boxes) == 0 || slices.ContainsFunc(boxes, func(box string) bool { return !strings.Contains(box, `autocomplete="off"`) }) {
				t.Errorf("a box the browser may tick on Back: %q", boxes)
			}
		}
	}
}

// A post whose submission_id is missing or not one of ours (a hand-made
// post, a lender's own form) is still one application however often it is
// sent: a double click of it must not post the consumer to a buyer twice.
func TestPostWithoutSubmissionIDIsStillOneApplication(t *testing.T) {
	h, _ := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for name, id := range map[string]string{"missing": "", "malformed": "BAD", "too long": strings.Repeat("a", 33)} {
		b := newBrowser(t, srv)
		b.get("/?action_token=esdemo0000000001")
		post := with(validES(), hidden(b.get("/").Body))
		post.Set("submission_id", id)
		if id == "" {
			post.Del("submission_id")
		}
		clicked := b.cookie()
		first := b.do("POST", "/apply", post)
		b.plant(clicked) // the double click's second copy left with the first's cookie
		second := b.do("POST", "/apply", post)
		status := first.Header.Get("Location")
		if first.Code != http.StatusSeeOther || !strings.HasPrefix(status, "/status/") {
			t.Fatalf("%s: the first post got %d to %q", name, first.Code, status)
		}
		if got := second.Header.Get("Location"); got != status {
			t.Errorf("%s: the second copy went to %q, the first to %q: two applications", name, got, status)
		}
		// Another application (a field changed) is another application.
		b.plant(clicked)
		post.Set("monthly_income", "1600")
		if got := b.do("POST", "/apply", post).Header.Get("Location"); got == status || !strings.HasPrefix(got, "/status/") {
			t.Errorf("%s: a changed application went to %q (the first: %q)", name, got, status)
		}
	}
}

// Back from the buyer to a page sent back for an error, and the browser's
// "resend": the first (invalid) post comes again with a form older than
// the application. It gets the page of what was sent, not a form that
// would make a second application.
func TestResentInvalidPostAfterSendingOpensNoForm(t *testing.T) {
	h, st := newTestServer(t, fakeLeads{lead: sampleLead()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	b := newBrowser(t, srv)
	b.get("/?action_token=esdemo0000000001")
	bad := with(validES(), hidden(b.get("/").Body))
	bad.Del("first_name")
	first := b.do("POST", "/apply", bad)
	if first.Code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid post: got %d", first.Code)
	}
	sent := b.do("POST", "/apply", with(validES(), hidden(first.Body)))
	status := sent.Header.Get("Location")
	if sent.Code != http.StatusSeeOther || !strings.HasPrefix(status, "/status/") {
		t.Fatalf("apply: got %d to %q", sent.Code, status)
	}
	again := b.do("POST", "/apply", bad)
	if again.Code != http.StatusForbidden || strings.Contains(again.Body, `name="submission_id"`) || !strings.Contains(again.Body, `href="`+status+`"`) {
		t.Errorf("the resent invalid post after sending: got %d, want 403 with the sent page linking %s and no form", again.Code, status)
	}
	if recent, err := st.Recent(context.Background(), 5); err != nil || len(recent) != 1 {
		t.Errorf("applications stored: %d (%v), want 1", len(recent), err)
	}
}

// A lead that gives the form nothing: the first page is not the
// prefilled one, and the same form sent back for an error is not either;
// one that gives it values is, both times.
func TestFormSentBackIsPrefilledOnlyIfItWas(t *testing.T) {
	for _, tc := range []struct {
		lead *providers.Lead
		want bool
	}{{&providers.Lead{}, false}, {sampleLead(), true}} {
		h, _ := newTestServer(t, fakeLeads{lead: tc.lead})
		srv := httptest.NewServer(h)
		b := newBrowser(t, srv)
		b.get("/?action_token=esdemo0000000001")
		page := b.get("/")
		bad := with(validES(), hidden(page.Body))
		bad.Del("first_name")
		got := b.do("POST", "/apply", bad)
		if first, again := strings.Contains(page.Body, " data-prefilled"), strings.Contains(got.Body, " data-prefilled"); first != tc.want || again != tc.want {
			t.Errorf("lead %v: first page prefilled %v, sent back %v; want %v both", tc.lead.FirstName != "", first, again, tc.want)
		}
		srv.Close()
	}
}
