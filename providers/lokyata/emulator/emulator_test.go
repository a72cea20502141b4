package emulator

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/emulate"
	"github.com/leadgate/leadgate/providers/lokyata"
	"github.com/leadgate/leadgate/providers/providertest"
)

func TestLokyataEmulatorThroughTheClient(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(New(emulate.Env{Slow: 50 * time.Millisecond, OnCall: func(key string) {
		if key == Calls {
			calls.Add(1)
		}
	}}))
	defer srv.Close()
	client := func(key, testType string) *lokyata.Client {
		c, err := lokyata.New(lokyata.Config{BuyerConfig: providers.BuyerConfig{BaseURL: srv.URL}, APIKey: key, LeadProviderID: "LP",
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
		d, err := client(APIKey, tt.testType).Submit(ctx, providertest.USSubmission("app-"+string(rune('a'+i)), tt.email, "78701"), "")
		if err != nil || d.Outcome != tt.want || (tt.reason != "" && d.Reason != tt.reason) {
			t.Errorf("%s: got %+v, %v; want %s %q", tt.name, d, err, tt.want, tt.reason)
		}
		if d.Outcome == providers.Accepted && (!strings.Contains(d.RedirectURL, "/sandbox/lender/welcome") || d.Price != 25) {
			t.Errorf("%s: got %+v, want the welcome page at the lead price", tt.name, d)
		}
	}
	// The same request_id again is refused: a double post shows.
	if d, _ := client(APIKey, "").Submit(ctx, providertest.USSubmission("app-a", "a@example.com", "78701"), ""); d.Outcome != providers.Declined {
		t.Errorf("second post of one request_id: got %+v", d)
	}
	if _, err := client("wrong-key", "").Submit(ctx, providertest.USSubmission("app-x", "x@example.com", "78701"), ""); !errors.Is(err, providers.ErrUnauthorized) {
		t.Errorf("wrong key: got %v", err)
	}
	for _, sw := range []struct {
		email string
		want  error
	}{{"g+fail@example.com", providers.ErrUnavailable}, {"h+garbage@example.com", providers.ErrBadResponse}} {
		if _, err := client(APIKey, "").Submit(ctx, providertest.USSubmission("app-"+sw.email[:1], sw.email, "78701"), ""); !errors.Is(err, sw.want) {
			t.Errorf("%s: got %v, want %v", sw.email, err, sw.want)
		}
	}
	// A mapping mistake (a required field missing) is refused, by name.
	bad := providertest.USSubmission("app-bad", "bad@example.com", "78701")
	bad.Application.SSN = ""
	_, err := client(APIKey, "").Submit(ctx, bad, "")
	if !errors.Is(err, providers.ErrRejectedRequest) || !strings.Contains(err.Error(), "ssn is required") {
		t.Errorf("missing ssn: got %v", err)
	}
	// Every post is counted but the one with a wrong key (refused first).
	if got := calls.Load(); got != 10 {
		t.Errorf("counted %d posts, want 10", got)
	}
}
