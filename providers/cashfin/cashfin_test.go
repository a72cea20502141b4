package cashfin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/providertest"
)

func submission() *providers.Submission {
	return &providers.Submission{
		ID: "0123456789abcdef0123456789abcdef", Flow: "us", Currency: "USD", Country: "US",
		Attribution: providers.Attribution{Source: "cashcat.ph", Campaign: "spring"},
		Application: providers.Application{FirstName: "John", MiddleName: "Quincy", LastName: "Smith",
			Email: "john.smith@example.com", MobilePhone: "5125550134", State: "TX", LoanAmount: 500},
	}
}

func TestToLeadMatchesGolden(t *testing.T) {
	got, _ := json.Marshal(ToLead(submission(), "accepted"))
	providertest.GoldenJSON(t, "testdata/create_request.golden.json", got)
	for status, want := range map[providers.Status]string{"accepted": "converted", "declined": "lost", "needs_fix": "new"} {
		if got := ToLead(submission(), status).Status; got != want {
			t.Errorf("%s: got status %q, want %q", status, got, want)
		}
	}
	es := submission()
	es.Country, es.Application.MobilePhone = "ES", "612345678"
	if l := ToLead(es, "declined"); l.Phone != "+34612345678" || l.Country != "Spain" {
		t.Errorf("es lead: got %+v", l)
	}
	// The experiment variant goes to the CRM with the source.
	b := submission()
	b.Attribution.Variant = "short"
	if got := ToLead(b, "accepted").Source; got != "cashcat.ph (variant short)" {
		t.Errorf("source with a variant: got %q, want %q", got, "cashcat.ph (variant short)")
	}
}

// fakeCashfin answers with the document's bodies and records requests.
func fakeCashfin(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, ClientSecret: "cs_your_client_secret"}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateAndFind(t *testing.T) {
	var auth, path, search string
	c := fakeCashfin(t, func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		switch r.URL.Path {
		case "/business/lead/create":
			b, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(b), `"name":"John Quincy Smith"`) {
				t.Errorf("create body: %s", b)
			}
			io.WriteString(w, `{"success": true, "message": "Lead created successfully", "data": {"_id": "507f1f77bcf86cd799439050", "name": "John Quincy Smith", "status": "converted", "createdat": "2024-01-15T12:00:00.000Z"}}`)
		case "/business/lead/list":
			search = r.URL.Query().Get("search")
			page := r.URL.Query().Get("page")
			// Two pages: ours is on the second.
			if page == "1" {
				io.WriteString(w, `{"success": true, "data": [{"_id": "a1", "request": "loan of 300 USD (us flow) · leadgate application ffff"}], "pagination": {"total": 2, "page": 1, "limit": 1, "pages": 2}}`)
			} else {
				io.WriteString(w, `{"success": true, "data": [{"_id": "b2", "request": "loan of 500 USD (us flow) · leadgate application 0123456789abcdef0123456789abcdef"}], "pagination": {"total": 2, "page": 2, "limit": 1, "pages": 2}}`)
			}
		}
	})
	id, err := c.Create(context.Background(), ToLead(submission(), "accepted"))
	if err != nil || id != "507f1f77bcf86cd799439050" {
		t.Fatalf("create: got %q, %v", id, err)
	}
	if auth != "cs_your_client_secret" || path != "/business/lead/create" {
		t.Errorf("create: Authorization %q, path %q", auth, path)
	}
	id, err = c.Find(context.Background(), "john.smith@example.com", Marker(submission().ID))
	if err != nil || id != "b2" || search != "john.smith@example.com" {
		t.Errorf("find: got %q, %v (search %q), want b2", id, err, search)
	}
	if id, err := c.Find(context.Background(), "john.smith@example.com", Marker("not-there")); err != nil || id != "" {
		t.Errorf("find missing: got %q, %v", id, err)
	}
}

func TestErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		status int
		body   string
		want   error
	}{
		"missing name": {400, `{"success": false, "error": "Key: 'ApiLeadRequest.Name' Error:Field validation for 'Name' failed on the 'required' tag"}`, providers.ErrRejectedRequest},
		"internal":     {500, `{"success": false, "error": "Error creating lead"}`, providers.ErrUnavailable},
		"bad secret":   {401, `{"success": false, "error": "unauthorized"}`, providers.ErrUnauthorized},
		"garbage":      {200, `<html>`, providers.ErrBadResponse},
		"no id":        {200, `{"success": true, "data": {}}`, providers.ErrBadResponse},
	} {
		c := fakeCashfin(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			io.WriteString(w, tt.body)
		})
		if _, err := c.Create(context.Background(), ToLead(submission(), "declined")); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", name, err, tt.want)
		}
	}
}
