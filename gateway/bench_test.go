package gateway

import (
	"net/http/httptest"
	"testing"

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
