package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/astoria"
	"github.com/leadgate/leadgate/providers/lokyata"
)

// usSubmission is a complete us application, as the us form produces it.
func usSubmission(id, email, zip string) *providers.Submission {
	months, bank := 30, 40
	d := func(days int) time.Time { return providers.Today(time.Now(), time.UTC).AddDate(0, 0, days) }
	return &providers.Submission{
		ID: id, Flow: "us", Currency: "USD", IPAddress: "203.0.113.9", UserAgent: "Mozilla/5.0 (test)",
		PageURL: "http://localhost:8080/", SubmittedAt: time.Now().UTC(),
		Attribution: providers.Attribution{Source: "cashcat.ph", Campaign: "us-spring"},
		Consents:    []providers.Consent{{Field: "consent_tcpa", Text: "I agree to be called.", Given: true}},
		Application: providers.Application{
			LoanAmount: 500, FirstName: "John", LastName: "Smith", Gender: "male", BirthDate: d(-365 * 40),
			SSN: "876543210", IsCitizen: true, DriversLicenseNumber: "D1234567", DriversLicenseState: "TX",
			Email: email, MobilePhone: "5125550134", HomePhone: "5125550135", WorkPhone: "5125550136",
			AddressLine1: "1 Congress Ave", City: "Austin", State: "TX", PostalCode: zip, Housing: "rent",
			MonthsAtAddress: &months, IncomeSource: "employed", EmploymentType: "full_time", EmployerName: "Acme",
			EmployerPhone: "5125550100", EmployerAddress: "2 Main St", SupervisorName: "Jane Roe",
			EmployedSince: d(-800), MonthlyIncome: 3500, PayFrequency: "biweekly", PayMethod: "direct_deposit",
			LastPayDate: d(-5), NextPayDate: d(9), BankName: "Bank", BankRoutingNumber: "021000021",
			BankAccountNumber: "12345678", BankAccountType: "checking", BankMonths: &bank,
			ConsentTerms: true, ConsentTCPA: true,
		},
	}
}

func TestLokyataEmulatorThroughTheClient(t *testing.T) {
	s := New(Options{Slow: 50 * time.Millisecond})
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := func(key, testType string) *lokyata.Client {
		c, err := lokyata.New(lokyata.Config{BuyerConfig: providers.BuyerConfig{BaseURL: srv.URL + "/sandbox/lokyata"}, APIKey: key, LeadProviderID: "LP",
			CampaignID: "C1", AffiliateID: "A1", LeadPrice: 25, TestType: testType}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	tests := []struct {
		name, testType, email string
		want                  providers.Outcome
		reason                string
	}{
		{"accepted", "", "a@example.com", providers.Accepted, ""},
		{"test_type Accept", "Accept", "b+decline@example.com", providers.Accepted, ""},
		{"test_type Deny", "Deny", "c@example.com", providers.Declined, "lokyata: Denial Reason"},
		{"test_type Review", "Review", "d@example.com", providers.Declined, "lokyata: under review Application under review"},
		{"declined", "", "e+decline@example.com", providers.Declined, "lokyata: Denial Reason"},
		{"hourly cap", "", "f+cap@example.com", providers.Declined, "lokyata: Not Accepting Leads - Hourly Cap Reached"},
	}
	for i, tt := range tests {
		d, err := client(LokyataAPIKey, tt.testType).Submit(ctx, usSubmission("app-"+string(rune('a'+i)), tt.email, "78701"), "")
		if err != nil || d.Outcome != tt.want || (tt.reason != "" && d.Reason != tt.reason) {
			t.Errorf("%s: got %+v, %v; want %s %q", tt.name, d, err, tt.want, tt.reason)
		}
		if d.Outcome == providers.Accepted && (!strings.Contains(d.RedirectURL, "/sandbox/lender/welcome") || d.Price != 25) {
			t.Errorf("%s: got %+v, want the welcome page at the lead price", tt.name, d)
		}
	}
	// The same request_id again is refused: a double post shows.
	if d, _ := client(LokyataAPIKey, "").Submit(ctx, usSubmission("app-a", "a@example.com", "78701"), ""); d.Outcome != providers.Declined {
		t.Errorf("second post of one request_id: got %+v", d)
	}
	if _, err := client("wrong-key", "").Submit(ctx, usSubmission("app-x", "x@example.com", "78701"), ""); !errors.Is(err, providers.ErrUnauthorized) {
		t.Errorf("wrong key: got %v", err)
	}
	for _, sw := range []struct {
		email string
		want  error
	}{{"g+fail@example.com", providers.ErrUnavailable}, {"h+garbage@example.com", providers.ErrBadResponse}} {
		if _, err := client(LokyataAPIKey, "").Submit(ctx, usSubmission("app-"+sw.email[:1], sw.email, "78701"), ""); !errors.Is(err, sw.want) {
			t.Errorf("%s: got %v, want %v", sw.email, err, sw.want)
		}
	}
	// A mapping mistake (a required field missing) is refused, by name.
	bad := usSubmission("app-bad", "bad@example.com", "78701")
	bad.Application.SSN = ""
	_, err := client(LokyataAPIKey, "").Submit(ctx, bad, "")
	if !errors.Is(err, providers.ErrRejectedRequest) || !strings.Contains(err.Error(), "ssn is required") {
		t.Errorf("missing ssn: got %v", err)
	}
	// Every post is counted but the one with a wrong key (refused first).
	if got := s.Calls(CallsLokyata); got != 10 {
		t.Errorf("counted %d posts, want 10", got)
	}
}

func TestAstoriaEmulatorThroughTheClient(t *testing.T) {
	s := New(Options{Slow: 50 * time.Millisecond})
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := func(vendor string, mode int) *astoria.Client {
		c, err := astoria.New(astoria.Config{BuyerConfig: providers.BuyerConfig{BaseURL: srv.URL + "/sandbox/astoria"}, VendorID: vendor, LeadMode: &mode,
			Tiers: []string{"tier100", "tier50"}, TimeLimit: 60 * time.Second}, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	tests := []struct {
		name, vendor, email, zip, tier string
		mode                           int
		want                           providers.Outcome
		price                          float64
		final                          bool
		reason                         string
	}{
		{"even zip accepted", AstoriaVendorID, "a@example.com", "78702", "tier100", 0, providers.Accepted, 100, false, ""},
		{"odd zip: no coverage", AstoriaVendorID, "b@example.com", "78701", "tier100", 0, providers.Declined, 0, false, "astoria: No Coverage"},
		{"zip ending in 0", AstoriaVendorID, "c@example.com", "78710", "tier100", 0, providers.Declined, 0, false, "astoria: No Coverage"},
		{"under the tier switch", AstoriaVendorID, "d+tier50@example.com", "78702", "tier100", 0, providers.Declined, 0, false, "astoria: Unable to Monetize"},
		{"at the tier switch", AstoriaVendorID, "d+tier50@example.com", "78702", "tier50", 0, providers.Accepted, 50, false, ""},
		{"live mode of a test vendor", AstoriaVendorID, "e@example.com", "78702", "tier100", 1, providers.Declined, 0, true, "astoria: Provided vendor_id is in TEST MODE"},
		{"unknown vendor", "999", "f@example.com", "78702", "tier100", 0, providers.Declined, 0, true, "astoria: Invalid vendor_id"},
		{"blacklisted", AstoriaVendorID, "g+blacklist@example.com", "78702", "tier100", 0, providers.Declined, 0, true, "astoria: Blacklisted Data"},
		{"daily cap", AstoriaVendorID, "h+cap@example.com", "78702", "tier100", 0, providers.Declined, 0, true, "astoria: Daily Cap Exhausted"},
	}
	for i, tt := range tests {
		id := "app-" + string(rune('a'+i))
		d, err := client(tt.vendor, tt.mode).Submit(ctx, usSubmission(id, tt.email, tt.zip), tt.tier)
		if err != nil || d.Outcome != tt.want || d.Price != tt.price || d.Final != tt.final || !strings.HasPrefix(d.Reason, tt.reason) {
			t.Errorf("%s: got %+v, %v; want %s at %v, final %v, reason %q", tt.name, d, err, tt.want, tt.price, tt.final, tt.reason)
		}
	}
	// One lead to one tier twice: a duplicate, which ends the ride.
	d, _ := client(AstoriaVendorID, 0).Submit(ctx, usSubmission("app-a", "a@example.com", "78702"), "tier100")
	if d.Outcome != providers.Declined || !d.Final || !strings.Contains(d.Reason, "Duplicate Lead") {
		t.Errorf("second post to one tier: got %+v", d)
	}
	// What our mapping must never do: send a field empty, or an unknown tier.
	post := func(body string) string {
		resp, err := http.Post(srv.URL+"/sandbox/astoria/v2/fulldirect/", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return b.String()
	}
	v := url.Values{"lead_type": {"1"}, "lead_mode": {"0"}, "vendor_id": {AstoriaVendorID}, "job_title": {""}, "tier": {"tier7"}}
	body := post(v.Encode())
	for _, want := range []string{"<Reason>Errors Detected</Reason>", "<Error>job_title was sent empty: omit empty fields</Error>", "<Error>tier is not a known tier</Error>", "<Error>ssn is required</Error>"} {
		if !strings.Contains(body, want) {
			t.Errorf("errors answer lacks %s:\n%s", want, body)
		}
	}
	if body := post(""); !strings.Contains(body, "<Reason>Post data is empty</Reason>") {
		t.Errorf("empty post: %s", body)
	}
	if body := post("lead_type=2"); !strings.Contains(body, "<Reason>Invalid lead_type</Reason>") {
		t.Errorf("lead_type 2: %s", body)
	}
}
