package casheddy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/providertest"
)

var day = providertest.Day

// DocumentExample is the application behind the document's example request.
func documentExample() *providers.Submission {
	one := 1
	return &providers.Submission{
		ID:        "app-1",
		IPAddress: "180.190.166.143",
		Application: providers.Application{
			LoanAmount: 200, LoanPeriodDays: 91,
			FirstName: "Kyle", LastName: "Trazo", SecondLastName: "Pogi",
			NationalID: "60604016M", Email: "kyle@blendit.eu", MobilePhone: "608819736",
			ConsentTerms: true, ConsentMarketing: true,
			PostalCode: "33560", City: "Ribadesella", AddressLine1: "Maestro Puig Valera",
			HouseNumber: "35", AddressLine2: "13", Housing: "rent_room", Gender: "male",
			BirthDate: day("1985-06-18"), Nationality: "ES", MaritalStatus: "married",
			PhonePlan: "contract", IncomeSource: "employed", MonthlyIncome: 10000, MonthlyExpenses: 1000,
			EmployedSince: day("2021-03-02"), NextPayDate: day("2023-05-02"), Dependants: &one,
			CarOwner: true, CarPlateNumber: "1234 RST", IBAN: "ES5020803294338752239563",
		},
	}
}

var sameJSON = providertest.SameJSON

func server(t *testing.T, status int, answer string, seen *[]byte) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "pass" {
			t.Errorf("basic auth: got %q %q %v", u, p, ok)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		if seen != nil {
			*seen, _ = io.ReadAll(r.Body)
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BuyerConfig: providers.BuyerConfig{BaseURL: srv.URL + "/wp-json/api"}, Username: "user", Password: "pass"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const accepted = `{ "data": { "lead_id": "1af30231-ad0d-4e9e-a0ab-b28ceedcf983", "message": "accepted", "redirect_url": "https://dev.casheddy.es/redirect?lead_id=1af30231-ad0d-4e9e-a0ab-b28ceedcf983", "responses": [ { "status": 200, "error_message": null } ] }, "message": "OK", "success": true }`

// The document's error sample, with its trailing comma removed: as printed
// it is not JSON.
const fieldError = `{ "data": { "status": "failed", "responses": [ { "status": 422, "results": [ { "field": "phone_plan", "message": "Tipo de contrato no puede estar vacío." } ], "error_message": null } ] }, "message": "Error", "success": false }`

func TestSubmitMatchesDocumentExample(t *testing.T) {
	var body []byte
	c := server(t, 200, accepted, &body)
	d, err := c.Submit(context.Background(), documentExample(), "")
	if err != nil {
		t.Fatal(err)
	}
	providertest.GoldenJSON(t, "testdata/send_request.golden.json", body)
	if d.Outcome != providers.Accepted || d.RedirectURL != "https://dev.casheddy.es/redirect?lead_id=1af30231-ad0d-4e9e-a0ab-b28ceedcf983" {
		t.Errorf("got %+v", d)
	}
	if d.BuyerRef != "1af30231-ad0d-4e9e-a0ab-b28ceedcf983" {
		t.Errorf("got lead id %q", d.BuyerRef)
	}
	if d.Price != 0 {
		t.Errorf("no lead_price configured, got price %v", d.Price)
	}
}

// Casheddy's answer carries no price: an accepted lead is priced at the
// configured lead_price, the flow's revenue; a negative one is refused.
func TestAcceptedLeadIsPricedAtTheConfiguredPrice(t *testing.T) {
	c := server(t, 200, accepted, nil)
	c.cfg.LeadPrice = 18.5
	if d, err := c.Submit(context.Background(), documentExample(), ""); err != nil || d.Price != 18.5 {
		t.Errorf("got %+v, %v; want accepted at 18.5", d, err)
	}
	for _, price := range []float64{-1, math.NaN(), math.Inf(1), 5e9} {
		bad := Config{BuyerConfig: providers.BuyerConfig{BaseURL: "https://casheddy.example/wp-json/api"}, Username: "u", Password: "p", LeadPrice: price}
		bad.Defaults(false)
		if err := bad.Validate(false); err == nil || !strings.Contains(err.Error(), "lead_price") {
			t.Errorf("lead_price %v: got %v, want an error naming lead_price", price, err)
		}
	}
}

func TestSubmitOmitsEmptyOptionals(t *testing.T) {
	var body []byte
	c := server(t, 200, accepted, &body)
	s := documentExample()
	s.Application.SecondLastName, s.Application.AddressLine2, s.Application.PhonePlan = "", "", ""
	s.Application.Dependants, s.Application.CarOwner = nil, false
	if _, err := c.Submit(context.Background(), s, ""); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(body, &got)
	for _, k := range []string{"second_last_name", "phone_plan", "dependant_count", "car_plate_number"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s sent although empty", k)
		}
	}
	if got["car_owner"] != "NO" {
		t.Errorf("car_owner: got %v, want NO", got["car_owner"])
	}
	if _, ok := got["address"].(map[string]any)["flat_number"]; ok {
		t.Error("address[flat_number] sent although empty")
	}
}

func TestDecisions(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		answer  string
		outcome providers.Outcome
		err     error
	}{
		{"accepted", 200, accepted, providers.Accepted, nil},
		{"field errors 200", 200, fieldError, providers.NeedsFix, nil},
		{"field errors 422", 422, fieldError, providers.NeedsFix, nil},
		{"declined", 200, `{"data":{"status":"failed","responses":[{"status":200}]},"message":"No partner accepted","success":false}`, providers.Declined, nil},
		{"error on a field we fill", 422, `{"data":{"responses":[{"status":422,"results":[{"field":"ip_address","message":"bad"}]}]},"success":false}`, "", providers.ErrRejectedRequest},
		{"accepted without url", 200, `{"data":{},"success":true}`, "", providers.ErrBadResponse},
		{"relative redirect", 200, `{"data":{"redirect_url":"/steal"},"success":true}`, "", providers.ErrBadResponse},
		{"script redirect", 200, `{"data":{"redirect_url":"javascript:alert(1)"},"success":true}`, "", providers.ErrBadResponse},
		{"garbage", 200, `<html>`, "", providers.ErrBadResponse},
		{"unauthorized", 401, `{"message":"Unauthorized.","success":false}`, "", providers.ErrUnauthorized},
		{"bad request", 400, `{"message":"Invalid request.","success":false}`, "", providers.ErrRejectedRequest},
		{"server error", 500, `{"message":"Server error."}`, "", providers.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := server(t, tt.status, tt.answer, nil)
			d, err := c.Submit(context.Background(), documentExample(), "")
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || d.Outcome != tt.outcome {
				t.Fatalf("got %+v, %v; want outcome %s", d, err, tt.outcome)
			}
			if tt.outcome == providers.NeedsFix && d.FieldErrors["phone_plan"] != "Tipo de contrato no puede estar vacío." {
				t.Errorf("got field errors %v", d.FieldErrors)
			}
		})
	}
}

func TestRedirectHosts(t *testing.T) {
	c := server(t, 200, accepted, nil)
	c.cfg.RedirectHosts = []string{"lender.example"}
	if _, err := c.Submit(context.Background(), documentExample(), ""); !errors.Is(err, providers.ErrBadResponse) {
		t.Errorf("got %v, want a redirect off the allowed hosts refused", err)
	}
	c.cfg.RedirectHosts = []string{"dev.casheddy.es"}
	if d, err := c.Submit(context.Background(), documentExample(), ""); err != nil || d.Outcome != providers.Accepted {
		t.Errorf("got %+v, %v", d, err)
	}
}

// A consent is sent as the consumer gave it, each on its own: never one
// the consumer did not tick.
func TestConsentsSentAsGiven(t *testing.T) {
	for _, tc := range []struct{ terms, marketing bool }{{true, false}, {false, true}, {false, false}, {true, true}} {
		s := documentExample()
		s.Application.ConsentTerms, s.Application.ConsentMarketing = tc.terms, tc.marketing
		w := toWire(s)
		if w.Agreements.LegalConsent != tc.terms || w.Agreements.Subscription != tc.marketing {
			t.Errorf("terms %v, marketing %v: sent legal_consent %v, subscription %v", tc.terms, tc.marketing, w.Agreements.LegalConsent, w.Agreements.Subscription)
		}
	}
}

func TestFieldNamesMapBack(t *testing.T) {
	tests := map[string]string{
		"address[city]": "city", "address.city": "city", "city": "city",
		"personal_id": "national_id", "bank_account": "iban", "agreements[legal_consent]": "consent_terms",
	}
	for wire, want := range tests {
		if got, ok := canonicalField(wire); !ok || got != want {
			t.Errorf("canonicalField(%q) = %q, %v; want %q", wire, got, ok, want)
		}
	}
	if _, ok := canonicalField("ip_address"); ok {
		t.Error("ip_address maps to a form field")
	}
}

func TestIPv6ClientIsNotPosted(t *testing.T) {
	var body []byte
	c := server(t, 200, accepted, &body)
	s := documentExample()
	s.IPAddress = "2001:db8::1"
	if _, err := c.Submit(context.Background(), s, ""); !errors.Is(err, providers.ErrRejectedRequest) {
		t.Errorf("got %v, want ErrRejectedRequest", err)
	}
	if body != nil {
		t.Error("posted a lead Casheddy's ip_address rule refuses")
	}
}

func TestValidate(t *testing.T) {
	var body []byte
	ok := server(t, 200, `{ "data": { "message": "User is valid!" }, "message": "OK", "success": true }`, &body)
	if err := ok.Validate(context.Background()); err != nil {
		t.Errorf("got %v", err)
	}
	sameJSON(t, body, []byte(`{"username":"user","password":"pass"}`))
	bad := server(t, 200, `{ "message": "Invalid/incorrect username or password", "success": false }`, nil)
	if err := bad.Validate(context.Background()); !errors.Is(err, providers.ErrUnauthorized) {
		t.Errorf("got %v, want ErrUnauthorized", err)
	}
}

func TestPhone(t *testing.T) {
	if got := Phone("608819736"); got != "608 819 736" {
		t.Errorf("got %q", got)
	}
}
