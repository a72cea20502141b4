package gateway

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/leadgate/leadgate/gateway/jobs"
	"github.com/leadgate/leadgate/gateway/store"
	"github.com/leadgate/leadgate/providers"
)

// BenchmarkLandingCached: the prefilled form for a session whose lead is
// in the cache (what every landing after the token exchange costs).
func BenchmarkLandingCached(b *testing.B) {
	lead := &providers.Lead{FirstName: "Lucía", LastName: "García", Email: "lucia@example.es", Birthday: "1990-04-12",
		Gender: "Female", CountryResidence: "Spain", Hometown: "Ribadesella",
		Loan: providers.LeadLoan{RequestedCurrency: "EUR", RequestedAmount: 300}}
	t := &testing.T{}
	h, _ := newLimitedServer(t, fakeLeads{lead: lead}, "100000000-S")
	ex := do(h, "GET", "/?action_token=abcdefghijklmnop", nil)
	cookies := ex.Result().Cookies()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookies[0])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("got %d", w.Code)
		}
	}
}

// dropVisits takes flushed visits and drops them: the benchmark measures
// what counting costs the landing page itself.
type dropVisits struct{}

func (dropVisits) AddVisits(context.Context, map[store.FunnelKey]store.VisitCounts) error { return nil }
func (dropVisits) Campaigns(context.Context, string) ([][2]string, error)                 { return nil, nil }
func (dropVisits) AddSteps(context.Context, map[store.StepKey]int64) error                { return nil }

// BenchmarkLandingFunnel: landings of new sessions (each one a counted
// visit) with funnel counting off and on. Counting is in memory, so "on"
// must stay within 5% of "off" (README, performance).
func BenchmarkLandingFunnel(b *testing.B) {
	for _, tc := range []struct {
		name    string
		counter VisitCounter
	}{{"off", nil}, {"on", &jobs.Visits{Store: dropVisits{}}}} {
		b.Run(tc.name, func(b *testing.B) {
			t := &testing.T{}
			h, _ := newLimitedServer(t, fakeLeads{}, "100000000-S", func(d *Deps) { d.Funnel = tc.counter })
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("GET", "/?utm_source=cashcat.ph&utm_campaign=spring", nil)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("got %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkPrefillCached: the prefill API for a cached lead, with a key.
func BenchmarkPrefillCached(b *testing.B) {
	t := &testing.T{}
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "100000000-S")
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", "/api/v1/prefill/esdemo0000000001?flow=es", nil)
		r.Header.Set("X-API-Key", "lender-key-0123456789")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("got %d", w.Code)
		}
	}
}

// BenchmarkTokenLanding: the token exchange of a cached lead (the 303 with
// its new sealed cookie), what every arrival from Cashcat costs.
func BenchmarkTokenLanding(b *testing.B) {
	t := &testing.T{}
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "100000000-S")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/?action_token=esdemo0000000001", nil))
		if w.Code != 303 {
			b.Fatalf("got %d", w.Code)
		}
	}
}
