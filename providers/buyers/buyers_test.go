package buyers

import (
	"net/http"
	"testing"
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
