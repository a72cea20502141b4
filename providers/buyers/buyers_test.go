package buyers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/astoria"
	astoriaemu "github.com/leadgate/leadgate/providers/astoria/emulator"
	"github.com/leadgate/leadgate/providers/casheddy"
	casheddyemu "github.com/leadgate/leadgate/providers/casheddy/emulator"
	"github.com/leadgate/leadgate/providers/emulate"
	"github.com/leadgate/leadgate/providers/lokyata"
	lokyataemu "github.com/leadgate/leadgate/providers/lokyata/emulator"
	"github.com/leadgate/leadgate/providers/providertest"
)

// A row's name is the buyer's key in the config, in flows, in the
// breakers' and metrics' names and in the audit trail: the client must
// answer to it.
func TestEveryRowMakesItsBuyer(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range All() {
		if seen[r.Name] {
			t.Errorf("%s is in the table twice", r.Name)
		}
		seen[r.Name] = true
		cfg := r.NewConfig()
		cfg.Common().BaseURL = "https://" + r.Name + ".example"
		cfg.Defaults(true)
		b, err := r.New(cfg, http.DefaultClient)
		if err != nil {
			t.Errorf("%s: %v", r.Name, err)
			continue
		}
		if b.Name() != r.Name {
			t.Errorf("the %s row makes a client named %q", r.Name, b.Name())
		}
		if r.Emulator == nil {
			t.Errorf("%s has no sandbox emulator", r.Name)
		}
	}
}

// Every buyer's audit record keeps what support needs (the amount it was
// sent, the buyer's verdict in its own words) and none of the consumer's
// values: each buyer's real request, answered by its emulator, masked by
// its own Audit. A field added to a wire format is masked until its
// buyer's Audit names it.
func TestEveryBuyersAuditHidesTheConsumer(t *testing.T) {
	us := providertest.USSubmission("app-audit-1", "john.smith+decline@example.com", "78702")
	es := providertest.ESSubmission("app-audit-2", "kyle.trazo+fix@example.com")
	for _, r := range All() {
		t.Run(r.Name, func(t *testing.T) {
			srv := httptest.NewServer(r.Emulator(emulate.Env{}))
			defer srv.Close()
			cfg := r.NewConfig()
			cfg.Common().BaseURL = srv.URL
			s, amount, verdict := us, `500`, "Denied"
			switch c := cfg.(type) {
			case *casheddy.Config:
				c.Username, c.Password = casheddyemu.Username, casheddyemu.Password
				s, amount, verdict = es, `"loan_sum":200`, "Tipo de contrato no puede estar vacío."
			case *lokyata.Config:
				c.APIKey, c.LeadProviderID, c.CampaignID, c.AffiliateID = lokyataemu.APIKey, "1", "2", "3"
				amount = `"requested_amount":500`
			case *astoria.Config:
				c.VendorID = astoriaemu.VendorID
				amount, verdict = "loan_amount=500", "<Response>Accepted</Response>"
			}
			cfg.Defaults(true)
			if err := cfg.Validate(true); err != nil {
				t.Fatal(err)
			}
			b, err := r.New(cfg, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			ctx, rec := providers.WithRecording(context.Background())
			if _, err := b.Submit(ctx, s, ""); err != nil {
				t.Fatal(err)
			}
			x := b.Audit().Mask(rec, &s.Application)
			if !strings.HasPrefix(x.Request, "POST /") || !strings.Contains(x.Request, amount) || x.Status == 0 || !strings.Contains(x.Response, verdict) {
				t.Errorf("the record lacks the request line, %s or %q:\n%s\n\n%d %s", amount, verdict, x.Request, x.Status, x.Response)
			}
			providertest.NoPersonalData(t, x.Request+"\n"+x.Response, s)
		})
	}
}
