package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// sandboxSwitchConfig is a gateway whose upstreams are all elsewhere (and
// never called here), with the sandbox on or off.
const sandboxSwitchConfig = `
server:
  addr: "127.0.0.1:0"
  admin_addr: "127.0.0.1:0"
  public_url: "http://127.0.0.1:8080"
  session_secret: "sandbox-switch-test-secret-0123456789abcdef"
admin: { password: test-admin }
storage:
  dsn: "sqlite://%s"
  encryption_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
cashcat: { base_url: "http://127.0.0.1:9/cashcat" }
providers:
  casheddy: { base_url: "http://127.0.0.1:9/casheddy", username: u, password: p }
flows:
  - { name: es, form: es, currency: EUR, buyers: [casheddy], default: true }
sandbox: { enabled: %t }
`

// With sandbox.enabled: false, nothing of the emulators is served: a
// production gateway must not hand out sandbox leads, count calls, or
// accept posts under /sandbox/. The same requests reach the emulators
// with the sandbox on, so a 404 here is the switch, not a wrong path.
func TestSandboxOffAnswers404(t *testing.T) {
	requests := []struct{ method, path string }{
		{"GET", "/sandbox/"},
		{"GET", "/sandbox/calls"},
		{"GET", "/sandbox/cashcat/api/v1/actions/action/esdemo0000000001"},
		{"POST", "/sandbox/casheddy/v1/lead/send"},
		{"POST", "/sandbox/lokyata/process-lp-lead"},
		{"POST", "/sandbox/astoria/v2/fulldirect/"},
		{"GET", "/sandbox/cashfin/business/lead/list"},
		{"GET", "/sandbox/lender/form"},
	}
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("enabled=%v", enabled), func(t *testing.T) {
			g := start(t, fmt.Sprintf(sandboxSwitchConfig, filepath.Join(t.TempDir(), "leadgate.db"), enabled))
			for _, r := range requests {
				req, _ := http.NewRequest(r.method, g.URL+r.path, strings.NewReader("{}"))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.StatusCode == http.StatusNotFound; got != !enabled {
					t.Errorf("%s %s: got %d; want 404 only with the sandbox off", r.method, r.path, resp.StatusCode)
				}
			}
		})
	}
}

// An explicit lead_mode 0 outside sandbox mode starts (an operator may
// test against Astoria's live endpoint) but says at start that nothing is
// sold.
func TestAstoriaTestModeWarnsOutsideSandbox(t *testing.T) {
	for _, mode := range []int{0, 1} {
		t.Run(fmt.Sprintf("lead_mode=%d", mode), func(t *testing.T) {
			cfg := fmt.Sprintf(sandboxSwitchConfig, filepath.Join(t.TempDir(), "leadgate.db"), false)
			cfg = strings.Replace(cfg, "providers:\n", fmt.Sprintf("providers:\n  astoria: { base_url: \"http://127.0.0.1:9/astoria\", vendor_id: \"76\", lead_mode: %d }\n", mode), 1)
			g := start(t, cfg)
			warned := strings.Contains(g.logs.all(), "providers.astoria.lead_mode is 0")
			if warned != (mode == 0) {
				t.Errorf("lead_mode %d: warned %v, want a warning only for test mode", mode, warned)
			}
		})
	}
}
