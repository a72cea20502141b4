package lokyata

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/providertest"
)

var day = providertest.Day

// documentExample is the application behind the document's example payload.
func documentExample() (*providers.Submission, Config) {
	residence, bank := 48, 36
	cfg := Config{
		LeadProviderID: "LP", CampaignID: "LEADPROVIDER25", AffiliateID: "342256601",
		LeadPrice: 25, TestType: "Deny", APIKey: "0VIBkISQiaQS4z6iggxT11JKqvw0subW",
	}
	return &providers.Submission{
		ID: "64109500301", PageURL: "abcd.com", IPAddress: "124.110.100.54",
		Attribution: providers.Attribution{Source: "54321"},
		UserAgent:   "Mozilla/5.0 (Linux; Android 12; SM-S906N Build/QP1A.190711.020; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/80.0.3987.119 Mobile Safari/537.36",
		SubmittedAt: time.Date(2021, 5, 31, 14, 0, 0, 0, time.UTC),
		Application: providers.Application{
			LoanAmount: 500, SSN: "876543210", BirthDate: day("1994-03-07"), Gender: "male",
			FirstName: "Charlie", MiddleName: "Albert", LastName: "Chaplin",
			AddressLine1: "123 Main Street", AddressLine2: "Apt 301", City: "Philadelphia", State: "PA",
			PostalCode: "54465", HomePhone: "1234567890", MobilePhone: "1357924680", WorkPhone: "9998887770",
			DriversLicenseState: "PA", DriversLicenseNumber: "10637365", BestContactTime: "morning",
			IsMilitary: false, Housing: "rent", Email: "charliechappie@gmail.com", MonthsAtAddress: &residence,
			IsCitizen: true, ConsentMarketing: true, IncomeSource: "employed", PayMethod: "direct_deposit",
			EmploymentType: "full_time", EmployedSince: day("2020-02-28"), EmployerName: "Anime Pub",
			EmployerAddress: "west block, Clinton Lane", EmployerPhone: "9998887776", SupervisorName: "William Hill",
			JobTitle: "Bartender", PayFrequency: "twice_monthly", LastPayDate: day("2021-05-29"),
			NextPayDate: day("2021-06-14"), SecondPayDate: day("2021-06-29"), MonthlyIncome: 3500,
			BankName: "ABCD bank", BankAccountType: "checking", BankRoutingNumber: "123456789",
			BankAccountNumber: "98765432", BankMonths: &bank, ConsentSMS: true,
			ConsentTerms: true, ConsentTCPA: true,
		},
	}, cfg
}

// The fields of the document's example that no canonical field feeds: all
// optional in the document, so they are left out, never sent empty.
var notCollected = []string{
	"num_installments", "interest_rate", "language", "employment_address2", "employment_city",
	"employment_state", "employment_zip_code", "employment_phone_ext", "employment_fax",
	"supervisor_phone", "supervisor_phone_ext", "work_shift", "gross_monthly_income",
	"bank_account_holder", "bank_phone", "outstanding_amt", "reference_first_name",
	"reference_last_name", "reference_phone", "reference_relationship",
}

func TestMappingMatchesDocumentExample(t *testing.T) {
	s, cfg := documentExample()
	got, err := json.MarshalIndent(toWire(s, cfg), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	providertest.GoldenJSON(t, "testdata/process_lp_lead.golden.json", got)

	// The golden itself must be the document's example: every value we send
	// is the example's, and what we leave out is optional and not collected.
	raw, err := os.ReadFile("testdata/document_example.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc, g map[string]any
	json.Unmarshal(raw, &doc)
	json.Unmarshal(got, &g)
	for k, v := range g {
		if !reflect.DeepEqual(doc[k], v) {
			t.Errorf("%s: got %v, the document's example has %v", k, v, doc[k])
		}
	}
	for k := range doc {
		if _, sent := g[k]; !sent && !slices.Contains(notCollected, k) {
			t.Errorf("%s: in the document's example but not sent", k)
		}
	}
}

func TestMappingCutsToDocumentedLengths(t *testing.T) {
	s, cfg := documentExample()
	s.Application.FirstName = strings.Repeat("é", 80)
	s.Application.AddressLine2 = strings.Repeat("a", 150)
	s.Application.PostalCode = "544651234"
	s.ID = strings.Repeat("x", 100)
	w := toWire(s, cfg)
	for _, tt := range []struct {
		field string
		got   string
		max   int
	}{{"first_name", w.FirstName, 50}, {"address2", w.Address2, 100}, {"request_id", w.RequestID, 64}} {
		if n := len([]rune(tt.got)); n != tt.max {
			t.Errorf("%s: got %d characters, want %d", tt.field, n, tt.max)
		}
	}
	if w.ZipCode != "54465-1234" {
		t.Errorf("zip_code: got %q, want 54465-1234", w.ZipCode)
	}
	// The work phone's extension, when one was typed, is the employer's.
	s.Application.WorkPhoneExt = "214"
	if w := toWire(s, cfg); w.EmploymentPhoneExt != "214" {
		t.Errorf("employment_phone_ext: got %q, want 214", w.EmploymentPhoneExt)
	}
}

// A consent is sent as the consumer gave it, each on its own: never one
// the consumer did not tick.
func TestConsentsSentAsGiven(t *testing.T) {
	for _, tc := range []struct{ marketing, sms bool }{{true, false}, {false, true}, {false, false}, {true, true}} {
		s, cfg := documentExample()
		s.Application.ConsentMarketing, s.Application.ConsentSMS = tc.marketing, tc.sms
		w := toWire(s, cfg)
		if w.IsSubscribedFutureOffers != tc.marketing || w.SMSOptIn != tc.sms {
			t.Errorf("marketing %v, sms %v: sent is_subscribed_future_offers %v, sms_opt_in %v", tc.marketing, tc.sms, w.IsSubscribedFutureOffers, w.SMSOptIn)
		}
	}
}

func TestMappingAttribution(t *testing.T) {
	s, cfg := documentExample()
	s.Attribution = providers.Attribution{Source: "cashcat.ph", Campaign: "us spring/2026<script>"}
	if got, want := toWire(s, cfg).AffiliateSubID, "cashcat-ph_us-spring-2026script"; got != want {
		t.Errorf("affiliate_sub_id: got %q, want %q", got, want)
	}
}

func serve(t *testing.T, status int, body string) (*Client, *[]*http.Request) {
	t.Helper()
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		got = append(got, r.Clone(context.Background()))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	_, cfg := documentExample()
	cfg.BaseURL = srv.URL
	c, err := New(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c, &got
}

func TestSubmitAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    providers.Decision
		wantErr error
	}{
		{"approved", 200, `{"request_id": "64109500301", "decision": "Approved", "redirect_url": "https://www.lokyata.com", "comment": ""}`,
			providers.Decision{Outcome: providers.Accepted, RedirectURL: "https://www.lokyata.com", Price: 25}, nil},
		{"denied", 200, `{"request_id": "64109500301", "decision": "Denied", "redirect_url": null, "comment": "Denial Reason"}`,
			providers.Decision{Outcome: providers.Declined, Reason: "lokyata: Denial Reason"}, nil},
		{"hourly cap", 200, `{"request_id": "64109500301", "decision": "Denied", "redirect_url": null, "comment": "Not Accepting Leads - Hourly Cap Reached"}`,
			providers.Decision{Outcome: providers.Declined, Reason: "lokyata: Not Accepting Leads - Hourly Cap Reached"}, nil},
		{"request id as a number", 200, `{"request_id": 64109500301, "decision": "Approved", "redirect_url": "https://www.lokyata.com"}`,
			providers.Decision{Outcome: providers.Accepted, RedirectURL: "https://www.lokyata.com", Price: 25}, nil},
		{"failure 500", 500, `{"request_id": "64109500301", "decision": "Denied", "redirect_url": null, "comment": "Failure Reason"}`,
			providers.Decision{}, providers.ErrUnavailable},
		{"bad key", 401, `{"message": "Forbidden"}`, providers.Decision{}, providers.ErrUnauthorized},
		{"missing field", 400, `{"comment": "ssn is required"}`, providers.Decision{}, providers.ErrRejectedRequest},
		{"garbage", 200, `<html>oops</html>`, providers.Decision{}, providers.ErrBadResponse},
		{"approved without url", 200, `{"request_id": "64109500301", "decision": "Approved", "redirect_url": null}`, providers.Decision{}, providers.ErrBadResponse},
		{"approved to javascript:", 200, `{"request_id": "64109500301", "decision": "Approved", "redirect_url": "javascript:alert(1)"}`, providers.Decision{}, providers.ErrBadResponse},
		{"another request", 200, `{"request_id": "999", "decision": "Approved", "redirect_url": "https://www.lokyata.com"}`, providers.Decision{}, providers.ErrBadResponse},
		{"unknown decision", 200, `{"request_id": "64109500301", "decision": "Maybe"}`, providers.Decision{}, providers.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, reqs := serve(t, tt.status, tt.body)
			s, _ := documentExample()
			got, err := c.Submit(context.Background(), s, "")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err: got %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decision: got %+v, want %+v", got, tt.want)
			}
			r := (*reqs)[0]
			if r.URL.Path != "/process-lp-lead" || r.Method != http.MethodPost {
				t.Errorf("request: got %s %s, want POST /process-lp-lead", r.Method, r.URL.Path)
			}
			if r.Header.Get("x-api-key") != "0VIBkISQiaQS4z6iggxT11JKqvw0subW" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers: got %v", r.Header)
			}
			if err != nil && strings.Contains(err.Error(), "Charlie") {
				t.Errorf("error carries personal data: %v", err)
			}
		})
	}
}

// With redirect_hosts set, an approval that sends the consumer anywhere
// else counts as Lokyata failing (SPEC §3).
func TestRedirectHosts(t *testing.T) {
	approved := `{"request_id": "64109500301", "decision": "Approved", "redirect_url": "https://www.lokyata.com/offer"}`
	for _, tc := range []struct {
		hosts []string
		want  error
	}{
		{nil, nil},
		{[]string{"www.lokyata.com"}, nil},
		{[]string{"lender.example"}, providers.ErrBadResponse},
	} {
		c, _ := serve(t, 200, approved)
		c.cfg.RedirectHosts = tc.hosts
		s, _ := documentExample()
		d, err := c.Submit(context.Background(), s, "")
		if !errors.Is(err, tc.want) || (tc.want == nil && (err != nil || d.RedirectURL != "https://www.lokyata.com/offer")) {
			t.Errorf("hosts %v: got %+v, %v; want %v", tc.hosts, d, err, tc.want)
		}
	}
}

func TestSubmitUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, cfg := documentExample()
	cfg.BaseURL = srv.URL
	c, _ := New(cfg, &http.Client{Timeout: time.Second})
	s, _ := documentExample()
	if _, err := c.Submit(context.Background(), s, ""); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
}

func BenchmarkMapping(b *testing.B) {
	s, cfg := documentExample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(toWire(s, cfg)); err != nil {
			b.Fatal(err)
		}
	}
}

// A lead_price no post can carry (NaN or an infinity cannot be written as
// JSON) or no lead sells for stops the start, naming the key.
func TestConfigRefusesAnAbsurdLeadPrice(t *testing.T) {
	for _, price := range []float64{-25, math.NaN(), math.Inf(1), 5e9} {
		c := Config{BuyerConfig: providers.BuyerConfig{BaseURL: "https://lokyata.example"}, APIKey: "k", LeadPrice: price}
		c.Defaults(false)
		if err := c.Validate(false); err == nil || !strings.Contains(err.Error(), "lead_price") {
			t.Errorf("lead_price %v: got %v, want an error naming lead_price", price, err)
		}
	}
	ok := Config{BuyerConfig: providers.BuyerConfig{BaseURL: "https://lokyata.example"}, APIKey: "k", LeadPrice: 25}
	ok.Defaults(false)
	if err := ok.Validate(false); err != nil {
		t.Errorf("lead_price 25: %v", err)
	}
}
