package gateway

import (
	"context"
	"encoding/csv"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// The funnel after a scripted set of visits and applications, in the
// table, the chart and the CSV, matches exactly.
func TestFunnelCountsExactly(t *testing.T) {
	srv, st, visits := countingServer(t, fakeLeads{lead: sampleLead()})
	// land is a browser's visit: the landing (and the token exchange's
	// redirect), the page's beacon, and a reload, which is no new visit.
	land := func(target string) {
		b := newBrowser(t, srv)
		w := b.get(target)
		if w.Code == 303 {
			w = b.get(w.Header.Get("Location"))
		}
		b.get("/v.gif")
		b.get("/")
		b.get("/v.gif")
	}
	// Clients that never send a cookie back (scripts, curl) count nothing.
	for range 20 {
		apiGet(srv.Config.Handler, "/?utm_source=cashcat.ph&utm_campaign=spring", nil)
		apiGet(srv.Config.Handler, "/v.gif", nil)
	}
	for range 3 {
		land("/?utm_source=cashcat.ph&utm_campaign=spring")
	}
	for range 2 {
		land("/?utm_source=cashcat.ph&utm_campaign=spring&action_token=esdemo0000000001")
	}
	land("/?utm_source=partner&utm_campaign=autumn")
	if err := visits.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app := func(id, source, campaign string, status providers.Status, revenue float64, redirected bool) {
		sub := providers.Submission{ID: id, Attribution: providers.Attribution{Source: source, Campaign: campaign}}
		st.Create(ctx, store.New{ID: id, SessionHash: "s", IdempotencyKey: id, Flow: "es", Form: "es", Currency: "EUR", Deadline: time.Minute, Submission: sub})
		if status != providers.StatusPending {
			st.Claim(ctx, "w", time.Minute, 10)
			st.Decide(ctx, id, "w", providers.Verdict{Status: status, Revenue: revenue, Buyer: "casheddy"})
		}
		if redirected {
			st.MarkRedirected(ctx, id, nil)
			st.MarkRedirected(ctx, id, nil) // a replay counts once
		}
	}
	app("a1", "cashcat.ph", "spring", providers.StatusAccepted, 40, true)
	app("a2", "cashcat.ph", "spring", providers.StatusAccepted, 20, false)
	app("a3", "cashcat.ph", "spring", providers.StatusDeclined, 0, false)
	app("a4", "partner", "autumn", providers.StatusPending, 0, false)

	admin := newAdmin(t, st, "pw")
	get := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.SetBasicAuth("admin", "pw")
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		return w
	}
	page := get("/admin").Body.String()
	// The page names its icon, on this listener: the browser's default
	// /favicon.ico was a 404 and a console error on every admin page.
	if icon := get("/admin/static/favicon.svg"); !strings.Contains(page, `<link rel="icon" href="/admin/static/favicon.svg"`) ||
		icon.Code != 200 || !strings.HasPrefix(icon.Header().Get("Content-Type"), "image/svg+xml") {
		t.Errorf("the admin page's icon: linked %v, served %d %q", strings.Contains(page, `rel="icon"`), icon.Code, icon.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		// flow, source, campaign, variant, currency, visits, prefilled, applications, application rate,
		// accepted, accept rate, declined, redirected, revenue, EPC, paid calls, spend, profit, ROI, duplicates
		`<tr><td>es</td><td>cashcat.ph</td><td>spring</td><td>(none)</td><td>EUR</td><td class="num">5</td><td class="num">2</td><td class="num">3</td><td class="num">60.0 %</td><td class="num">2</td><td class="num">66.7 %</td><td class="num">1</td><td class="num">1</td><td class="num">60.00</td><td class="num">12.0000</td><td class="num">0</td><td></td><td></td><td></td><td class="num">0</td></tr>`,
		`<tr><td>es</td><td>partner</td><td>autumn</td><td>(none)</td><td>EUR</td><td class="num">1</td><td class="num">0</td><td class="num">1</td><td class="num">100.0 %</td><td class="num">0</td><td class="num">0.0 %</td>`,
		// The period's figures, in the flows' currency.
		`<dt>Visits</dt><dd>6</dd>`, `<dt>Applications</dt><dd>4</dd>`, `<dt>Application rate</dt><dd>66.7 %</dd>`,
		`<dt>Accepted</dt><dd>2</dd>`, `<dt>Accept rate</dt><dd>50.0 %</dd>`, `<dt>Revenue</dt><dd>60.00 EUR</dd>`, `<dt>EPC</dt><dd>10.0000 EUR</dd>`,
		// The daily chart: today's visits and the revenue chart in EUR.
		`<svg class="chart"`, ` visits: 6 </title>`, `Revenue per day (EUR)`, ` revenue: 60 EUR</title>`,
		`href="/admin/applications/a4"`, `<td class="num">40.00 EUR</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	w := get("/admin/funnel.csv")
	records, err := csv.NewReader(w.Body).ReadAll()
	if err != nil || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %v %s", err, w.Header().Get("Content-Type"))
	}
	want := [][]string{
		{"flow", "utm_source", "utm_campaign", "variant", "currency", "visits", "prefilled", "applications", "application_rate", "accepted", "accept_rate",
			"declined", "redirected", "revenue", "epc", "paid_calls", "spend", "profit", "roi", "duplicates"},
		{"es", "cashcat.ph", "spring", "(none)", "EUR", "5", "2", "3", "0.6000", "2", "0.6667", "1", "1", "60.00", "12.0000", "0", "", "", "", "0"},
		{"es", "partner", "autumn", "(none)", "EUR", "1", "0", "1", "1.0000", "0", "0.0000", "0", "0", "0.00", "0.0000", "0", "", "", "", "0"},
	}
	if len(records) != len(want) {
		t.Fatalf("csv: got %v", records)
	}
	for i := range want {
		if strings.Join(records[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("csv line %d: got %v, want %v", i, records[i], want[i])
		}
	}
	// Sorted without JavaScript: by visits, fewest first, then most.
	asc := get("/admin?sort=funnel.visits&dir=asc").Body.String()
	if strings.Index(asc, "<td>partner</td>") > strings.Index(asc, "<td>cashcat.ph</td><td>spring</td>") || !strings.Contains(asc, `aria-sort="ascending"`) {
		t.Error("sorting by visits, ascending: partner (1 visit) is not first")
	}
	desc := get("/admin?sort=funnel.visits&dir=desc").Body.String()
	if strings.Index(desc, "<td>partner</td>") < strings.Index(desc, "<td>cashcat.ph</td><td>spring</td>") {
		t.Error("sorting by visits, descending: partner (1 visit) is not last")
	}
	for _, table := range []string{"steps", "last-fields", "buyers"} {
		if w := get("/admin/" + table + ".csv"); w.Code != 200 || !strings.HasPrefix(w.Body.String(), map[string]string{"steps": "stage,", "last-fields": "field,", "buyers": "buyer,currency,"}[table]) {
			t.Errorf("/admin/%s.csv: %d %.80s", table, w.Code, w.Body.String())
		}
	}
	if w := get("/admin/nothing.csv"); w.Code != 404 {
		t.Errorf("an unknown table's CSV: got %d, want 404", w.Code)
	}
	// A period without traffic is empty, and says so.
	if page := get("/admin?from=2001-01-01&to=2001-01-31").Body.String(); !strings.Contains(page, "No traffic in this period.") {
		t.Error("empty period not shown as such")
	}
}

func TestDashboardRefusesWithoutCredentials(t *testing.T) {
	_, st := newTestServer(t, fakeLeads{})
	admin := newAdmin(t, st, "pw")
	for _, path := range []string{"/admin", "/admin/funnel.csv", "/admin/applications/x"} {
		if w := apiGet(admin, path, nil); w.Code != 401 {
			t.Errorf("%s without credentials: got %d", path, w.Code)
		}
	}
}

func TestUTMLinkBuilder(t *testing.T) {
	_, st := newTestServer(t, fakeLeads{})
	admin := newAdmin(t, st, "pw")
	r := httptest.NewRequest("GET", "/admin?b_source=cashcat.ph&b_medium=cpc&b_campaign=us+spring&b_flow=us", nil)
	r.SetBasicAuth("admin", "pw")
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, r)
	want := "http://localhost:8080/?flow=us&amp;utm_campaign=us&#43;spring&amp;utm_medium=cpc&amp;utm_source=cashcat.ph"
	if !strings.Contains(w.Body.String(), want) {
		t.Errorf("builder link missing: want %s in\n%s", want, w.Body)
	}
}

// countingServer is a test server counting visits into its store: flush
// visits to read them back.
func countingServer(t *testing.T, leads LeadSource) (*httptest.Server, *store.Store, *jobs.Visits) {
	t.Helper()
	var visits *jobs.Visits
	h, st := newLimitedServer(t, leads, "1000-M", func(d *Deps) {
		visits = &jobs.Visits{Store: d.Store.(*store.Store)}
		d.Funnel, d.Steps = visits, visits
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st, visits
}

// A client that keeps sending the cookie of the token's 303 (a tab
// opened twice from one link, an extension that blocks cookie updates,
// curl with a saved cookie) is one session: one visit, and the pages it
// is sent again need no new cookie.
func TestReplayedCookieCountsOneVisit(t *testing.T) {
	srv, st, visits := countingServer(t, fakeLeads{lead: sampleLead()})
	w := newBrowser(t, srv).get("/?utm_source=replay&action_token=esdemo0000000001")
	cookie, _, _ := strings.Cut(w.Header.Get("Set-Cookie"), ";")
	for i := range 5 {
		page := apiGet(srv.Config.Handler, w.Header.Get("Location"), map[string]string{"Cookie": cookie})
		if page.Code != 200 {
			t.Fatalf("page %d: %d", i, page.Code)
		}
		if i > 0 && page.Header().Get("Set-Cookie") != "" {
			t.Errorf("page %d with the same cookie sealed a new one", i)
		}
	}
	if err := visits.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Funnel(context.Background(), time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, r := range rows {
		if r.Source == "replay" {
			n += r.Visits
		}
	}
	if n != 1 {
		t.Errorf("%d visits counted for one session, want 1", n)
	}
}
