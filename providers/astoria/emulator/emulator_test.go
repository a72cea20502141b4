package emulator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/astoria"
	"github.com/leadgate/leadgate/providers/emulate"
	"github.com/leadgate/leadgate/providers/providertest"
)

func TestAstoriaEmulatorThroughTheClient(t *testing.T) {
	srv := httptest.NewServer(New(emulate.Env{Slow: 50 * time.Millisecond}))
	defer srv.Close()
	client := func(vendor string, mode int) *astoria.Client {
		c, err := astoria.New(astoria.Config{BuyerConfig: providers.BuyerConfig{BaseURL: srv.URL}, VendorID: vendor, LeadMode: &mode,
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
		{"even zip accepted", VendorID, "a@example.com", "78702", "tier100", 0, providers.Accepted, 100, false, ""},
		{"odd zip: no coverage", VendorID, "b@example.com", "78701", "tier100", 0, providers.Declined, 0, false, "astoria: No Coverage"},
		{"zip ending in 0", VendorID, "c@example.com", "78710", "tier100", 0, providers.Declined, 0, false, "astoria: No Coverage"},
		{"under the tier switch", VendorID, "d+tier50@example.com", "78702", "tier100", 0, providers.Declined, 0, false, "astoria: Unable to Monetize"},
		{"at the tier switch", VendorID, "d+tier50@example.com", "78702", "tier50", 0, providers.Accepted, 50, false, ""},
		{"live mode of a test vendor", VendorID, "e@example.com", "78702", "tier100", 1, providers.Declined, 0, true, "astoria: Provided vendor_id is in TEST MODE"},
		{"unknown vendor", "999", "f@example.com", "78702", "tier100", 0, providers.Declined, 0, true, "astoria: Invalid vendor_id"},
		{"blacklisted", VendorID, "g+blacklist@example.com", "78702", "tier100", 0, providers.Declined, 0, true, "astoria: Blacklisted Data"},
		{"daily cap", VendorID, "h+cap@example.com", "78702", "tier100", 0, providers.Declined, 0, true, "astoria: Daily Cap Exhausted"},
	}
	for i, tt := range tests {
		id := "app-" + string(rune('a'+i))
		d, err := client(tt.vendor, tt.mode).Submit(ctx, providertest.USSubmission(id, tt.email, tt.zip), tt.tier)
		if err != nil || d.Outcome != tt.want || d.Price != tt.price || d.Final != tt.final || !strings.HasPrefix(d.Reason, tt.reason) {
			t.Errorf("%s: got %+v, %v; want %s at %v, final %v, reason %q", tt.name, d, err, tt.want, tt.price, tt.final, tt.reason)
		}
	}
	// One lead to one tier twice: a duplicate, which ends the ride.
	d, _ := client(VendorID, 0).Submit(ctx, providertest.USSubmission("app-a", "a@example.com", "78702"), "tier100")
	if d.Outcome != providers.Declined || !d.Final || !strings.Contains(d.Reason, "Duplicate Lead") {
		t.Errorf("second post to one tier: got %+v", d)
	}
	// What our mapping must never do: send a field empty, or an unknown tier.
	post := func(body string) string {
		resp, err := http.Post(srv.URL+"/v2/fulldirect/", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return b.String()
	}
	v := url.Values{"lead_type": {"1"}, "lead_mode": {"0"}, "vendor_id": {VendorID}, "job_title": {""}, "tier": {"tier7"}}
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
