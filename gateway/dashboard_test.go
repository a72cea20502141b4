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
	for _, want := range []string{
		// flow, source, campaign, visits, prefilled, applications, accepted, declined, redirected, revenue, EPC
		"<tr><td>es</td><td>cashcat.ph</td><td>spring</td><td>5</td><td>2</td><td>3</td><td>2</td><td>1</td><td>1</td><td>60.00 EUR</td><td>12.0000</td><td>0</td><td></td><td></td><td></td><td>0</td></tr>",
		"<tr><td>es</td><td>partner</td><td>autumn</td><td>1</td><td>0</td><td>1</td><td>0</td><td>0</td><td>0</td><td>0.00 EUR</td><td>0.0000</td><td>0</td><td></td><td></td><td></td><td>0</td></tr>",
		`<svg class="chart"`, `<rect x="220"`, "es · cashcat.ph · spring: 5 visits",
		`href="/admin/applications/a4"`,
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
		{"flow", "utm_source", "utm_campaign", "visits", "prefilled", "applications", "accepted", "declined", "redirected",
			"currency", "revenue", "epc", "paid_calls", "spend", "profit", "roi", "duplicates"},
		{"es", "cashcat.ph", "spring", "5", "2", "3", "2", "1", "1", "EUR", "60.00", "12.0000", "0", "", "", "", "0"},
		{"es", "partner", "autumn", "1", "0", "1", "0", "0", "0", "EUR", "0.00", "0.0000", "0", "", "", "", "0"},
	}
	if len(records) != len(want) {
		t.Fatalf("csv: got %v", records)
	}
	for i := range want {
		if strings.Join(records[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("csv line %d: got %v, want %v", i, records[i], want[i])
		}
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
