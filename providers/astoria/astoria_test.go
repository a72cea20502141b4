package astoria

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/providertest"
)

var day = providertest.Day

// documentExample is the application behind the document's example request.
func documentExample() (*providers.Submission, Config) {
	residence, bank := 36, 36
	cfg := Config{VendorID: "76", LeadMode: new(0), Tiers: []string{"ALL"}, TimeLimit: 60 * time.Second}
	return &providers.Submission{
		ID: "92370132", PageURL: "http://ratechecker.com/payday/", IPAddress: "3.232.96.22",
		UserAgent:   "CCBot/2.0 (https://commoncrawl.org/faq/)",
		Attribution: providers.Attribution{Source: "6"},
		Consents:    []providers.Consent{{Field: "consent_tcpa", Text: "By submitting this form...", Given: true}},
		// 2021-01-18 05:27:39 in New York (EST, UTC-5).
		SubmittedAt: time.Date(2021, 1, 18, 10, 27, 39, 0, time.UTC),
		Application: providers.Application{
			FirstName: "John", LastName: "Smith", Email: "test@test.com", AddressLine1: "123 High Street",
			PostalCode: "35222", MobilePhone: "6105551212", BirthDate: day("1995-11-13"), Housing: "rent",
			MonthsAtAddress: &residence, SSN: "123456789", DriversLicenseNumber: "123456", DriversLicenseState: "PA",
			EmployerName: "Big Company, LLC", JobTitle: "Shop Foreman", BestContactTime: "any",
			EmployedSince: day("2018-01-18"), LoanAmount: 5000, IncomeSource: "employed", PayMethod: "direct_deposit",
			PayFrequency: "weekly", NextPayDate: day("2021-01-18"), SecondPayDate: day("2021-01-25"),
			MonthlyIncome: 5000, IsMilitary: false, BankAccountType: "checking", BankName: "TD Bank",
			BankRoutingNumber: "123456789", BankAccountNumber: "09876543", BankMonths: &bank, ConsentTCPA: true,
		},
	}, cfg
}

func TestEncodeMatchesDocumentExample(t *testing.T) {
	s, cfg := documentExample()
	got := encode(s, cfg, "ALL")
	providertest.GoldenText(t, "testdata/fulldirect.golden.txt", got)
	// The golden is the document's example string, byte for byte, plus the
	// time_limit the document's example leaves at its default.
	doc, err := os.ReadFile("testdata/document_example.txt")
	if err != nil {
		t.Fatal(err)
	}
	withLimit := strings.Replace(strings.TrimSpace(string(doc)), "&tier=ALL&", "&tier=ALL&time_limit=60&", 1)
	if got != withLimit {
		t.Errorf("request differs from the document's example\n got: %s\n doc: %s", got, withLimit)
	}
}

func TestEncodeRules(t *testing.T) {
	s, cfg := documentExample()
	cfg.TimeLimit = 90 * time.Second
	s.Application.Gender = "female"
	s.Application.PostalCode = "352221234"
	ten := 130
	s.Application.MonthsAtAddress = &ten
	old := 150
	s.Application.BankMonths = &old
	s.Application.BestContactTime = ""
	s.Application.PayMethod = "cash"
	s.Application.ConsentTCPA = false
	s.Attribution = providers.Attribution{Source: "cashcat.ph", Campaign: "summer sale/2026 <b>very long campaign name indeed</b>"}
	s.SubmittedAt = time.Date(2026, 7, 1, 16, 0, 0, 0, time.UTC) // EDT, UTC-4
	got, err := url.ParseQuery(encode(s, cfg, "tier50"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ key, want string }{
		{"gender", "1"}, {"zip", "35222"}, {"years_at_residence", "10"}, {"months_at_residence", "10"},
		{"bank_account_length_months", "99"}, {"time_limit", "90"}, {"tier", "tier50"},
		{"tcpa_optin", "0"}, {"origination_datetime", "2026-07-01 12:00:00"}, {"origination_timezone", "1"},
		{"sub_id", "cashcat-ph_summer-sale-2026-bvery-l"},
	} {
		if g := got.Get(tt.key); g != tt.want {
			t.Errorf("%s: got %q, want %q", tt.key, g, tt.want)
		}
	}
	for _, absent := range []string{"best_time_contact", "income_payment_type", "tcpa_text", "secondary_phone"} {
		if got.Has(absent) {
			t.Errorf("%s: sent as %q, want it left out", absent, got.Get(absent))
		}
	}
	for k, v := range got {
		if v[0] == "" {
			t.Errorf("%s: sent empty", k)
		}
	}
	if sub := got.Get("sub_id"); len(sub) > 35 || strings.Trim(sub, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		t.Errorf("sub_id %q breaks Astoria's rule", sub)
	}
}

func TestParseEveryDocumentedResponse(t *testing.T) {
	files, _ := filepath.Glob("testdata/responses/*.xml")
	if len(files) != 15 {
		t.Fatalf("got %d documented responses, want 15", len(files))
	}
	c := &Client{cfg: Config{}}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			body, _ := os.ReadFile(f)
			d, err := c.decide(body)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case name == "accepted":
				want := providers.Decision{Outcome: providers.Accepted, Price: 6,
					RedirectURL: "http://api.astoriacompany.com/redirect/index/12345678901/98765432109/1/1", BuyerRef: "12345678901"}
				if !reflect.DeepEqual(d, want) {
					t.Errorf("got %+v, want %+v", d, want)
				}
			case strings.HasPrefix(name, "rejected_unable_to_monetize"):
				if d.Outcome != providers.Declined || d.Final {
					t.Errorf("got %+v, want a decline a lower tier may change", d)
				}
			default:
				if d.Outcome != providers.Declined || !d.Final {
					t.Errorf("got %+v, want a decline that ends the ride", d)
				}
			}
			if d.Outcome == providers.Declined && !strings.HasPrefix(d.Reason, "astoria: ") {
				t.Errorf("reason %q", d.Reason)
			}
		})
	}
	body, _ := os.ReadFile("testdata/responses/rejected_errors_detected.xml")
	d, _ := c.decide(body)
	if want := "astoria: Errors Detected: The following errors were detected in this lead: 1; 2; 3"; d.Reason != want {
		t.Errorf("errors: got %q, want %q", d.Reason, want)
	}
}

func TestDecideBadAnswers(t *testing.T) {
	c := &Client{cfg: Config{BuyerConfig: providers.BuyerConfig{RedirectHosts: []string{"api.astoriacompany.com"}}}}
	for name, body := range map[string]string{
		"not xml":             `{"ok": true}`,
		"html":                `<html><body>502 Bad Gateway</body></html>`,
		"unknown response":    `<PostResponse><Response>Pending</Response></PostResponse>`,
		"accepted no url":     `<PostResponse><Response>Accepted</Response><Price>6.00</Price></PostResponse>`,
		"accepted bad price":  `<PostResponse><Response>Accepted</Response><Price>six</Price><RedirectURL>http://api.astoriacompany.com/r</RedirectURL></PostResponse>`,
		"accepted at NaN":     `<PostResponse><Response>Accepted</Response><Price>NaN</Price><RedirectURL>http://api.astoriacompany.com/r</RedirectURL></PostResponse>`,
		"accepted at Inf":     `<PostResponse><Response>Accepted</Response><Price>Inf</Price><RedirectURL>http://api.astoriacompany.com/r</RedirectURL></PostResponse>`,
		"accepted below 0":    `<PostResponse><Response>Accepted</Response><Price>-6</Price><RedirectURL>http://api.astoriacompany.com/r</RedirectURL></PostResponse>`,
		"accepted other host": `<PostResponse><Response>Accepted</Response><Price>6.00</Price><RedirectURL>https://evil.example/r</RedirectURL></PostResponse>`,
		"empty":               ``,
	} {
		if _, err := c.decide([]byte(body)); !errors.Is(err, providers.ErrBadResponse) {
			t.Errorf("%s: got %v, want ErrBadResponse", name, err)
		}
	}
	// With an XML declaration and no whitespace: still read.
	d, err := c.decide([]byte(`<?xml version="1.0" encoding="UTF-8"?><PostResponse><Response>Accepted</Response><Confirmation>1</Confirmation><Price>12.50</Price><RedirectURL>http://api.astoriacompany.com/r/1</RedirectURL></PostResponse>`))
	if err != nil || d.Price != 12.5 {
		t.Errorf("got %+v, %v; want accepted at 12.50", d, err)
	}
}

func TestSortTiers(t *testing.T) {
	got := SortTiers([]string{"tier50", "tier.50", "tier150", "tier2.25", "tier100"})
	want := []string{"tier150", "tier100", "tier50", "tier2.25", "tier.50"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSubmitPostsForm(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r, string(b)
		w.Header().Set("Content-Type", "text/xml")
		b, _ = os.ReadFile("testdata/responses/accepted.xml")
		w.Write(b)
	}))
	defer srv.Close()
	s, cfg := documentExample()
	cfg.BaseURL = srv.URL
	cfg.Tiers = []string{"tier50", "tier150"}
	c, err := New(cfg, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Tiers(), []string{"tier150", "tier50"}) {
		t.Errorf("tiers: got %v", c.Tiers())
	}
	d, err := c.Submit(context.Background(), s, "tier50")
	if err != nil || d.Outcome != providers.Accepted {
		t.Fatalf("got %+v, %v", d, err)
	}
	if got.URL.Path != "/v2/fulldirect/" || got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("request: %s %s", got.URL.Path, got.Header.Get("Content-Type"))
	}
	if v, _ := url.ParseQuery(body); v.Get("tier") != "tier50" {
		t.Errorf("tier: got %q", v.Get("tier"))
	}
}

// A client built without a lead mode refuses to start rather than post
// every lead as a test lead (the config requires it outside sandbox mode).
func TestNewWantsALeadMode(t *testing.T) {
	_, cfg := documentExample()
	cfg.BaseURL, cfg.LeadMode = "https://api.astoriacompany.com", nil
	if _, err := New(cfg, http.DefaultClient); err == nil || !strings.Contains(err.Error(), "lead_mode") {
		t.Errorf("got %v, want an error naming lead_mode", err)
	}
}

func TestSubmitFailures(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"500": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) },
		"reset": func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		},
	} {
		srv := httptest.NewServer(h)
		s, cfg := documentExample()
		cfg.BaseURL = srv.URL
		c, _ := New(cfg, srv.Client())
		if _, err := c.Submit(context.Background(), s, ""); !errors.Is(err, providers.ErrUnavailable) {
			t.Errorf("%s: got %v, want ErrUnavailable", name, err)
		}
		srv.Close()
	}
}

// redirectRule is SPEC §3's rule for a redirect, written apart from
// providers.CheckRedirect so that the fuzzer holds the parser to the
// contract rather than to its own code: http or https, a host name (not a
// port alone), no user info, and nothing a browser reads another way
// (whitespace, control characters, backslashes).
var redirectRule = regexp.MustCompile(`^https?://[^/?#@:\\\s\x00-\x1f\x7f][^/?#@\\\s\x00-\x1f\x7f]*(?:[/?#][^\\\s\x00-\x1f\x7f]*)?$`)

// FuzzParseResponse: whatever Astoria answers, the decision is an
// acceptance with a price and a redirect a consumer may be sent to, a
// decline with a readable reason, or ErrBadResponse.
func FuzzParseResponse(f *testing.F) {
	files, err := filepath.Glob("testdata/responses/*.xml")
	if err != nil || len(files) == 0 {
		f.Fatalf("the documented responses are the seeds: found %d (%v)", len(files), err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	accepted := func(price, url string) []byte {
		return []byte("<PostResponse><Response>Accepted</Response><Price>" + price + "</Price><RedirectURL>" + url + "</RedirectURL></PostResponse>")
	}
	for _, b := range [][]byte{
		accepted("NaN", "https://l.example/r"), accepted("+Inf", "https://l.example/r"), accepted("-0", "https://l.example/r"),
		accepted("6", "https://:443/r"), accepted("6", "https://u:p@l.example/r"), accepted("6", "javascript://l.example/%0aalert(1)"),
		accepted("6", "HTTPS://l.example/r"), accepted("6", " https://l.example/a b "),
	} {
		f.Add(b)
	}
	c := &Client{}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := c.decide(body)
		if err != nil {
			if !errors.Is(err, providers.ErrBadResponse) {
				t.Errorf("got %v, want ErrBadResponse for an answer that is not a decision", err)
			}
			return
		}
		switch d.Outcome {
		case providers.Accepted:
			if !redirectRule.MatchString(d.RedirectURL) {
				t.Errorf("accepted with a redirect a consumer must not be sent to: %q", d.RedirectURL)
			}
			if math.IsNaN(d.Price) || math.IsInf(d.Price, 0) || d.Price < 0 {
				t.Errorf("accepted at a price that is no revenue: %v", d.Price)
			}
		case providers.Declined:
			if !utf8.ValidString(d.Reason) || !strings.HasPrefix(d.Reason, "astoria: ") || utf8.RuneCountInString(d.Reason) > len("astoria: ")+500 {
				t.Errorf("declined with a reason the audit trail cannot keep: %q", d.Reason)
			}
		default:
			t.Errorf("got outcome %q without an error", d.Outcome)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	s, cfg := documentExample()
	b.ReportAllocs()
	for b.Loop() {
		encode(s, cfg, "ALL")
	}
}
