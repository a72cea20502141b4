package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	serving   = regexp.MustCompile(`"msg":"serving","url":"([^"]+)"`)
	emulating = regexp.MustCompile(`emulators on (http://[^ ]+)/sandbox/`)

	buildOnce sync.Once
	built     string // the leadgate binary, built once for the tests that run it
	buildErr  error
)

// binary builds leadgate once per test run, for the tests that start real
// processes (a SIGKILL, several replicas).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "leadgate-bin")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "leadgate")
		out, err := exec.Command("go", "build", "-o", built, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

// startSandbox runs the emulators in their own process: they outlive a
// killed gateway and count every post any gateway makes.
func startSandbox(t *testing.T, bin string) string {
	t.Helper()
	_, u := startProcess(t, bin, emulating, "sandbox", "--addr", "127.0.0.1:0")
	return u
}

// process is a real leadgate binary running for a test.
type process struct {
	cmd   *exec.Cmd
	lines chan string
}

// startProcess runs bin with args and returns once a line matching ready
// is printed, with the first submatch of ready.
func startProcess(t *testing.T, bin string, ready *regexp.Regexp, args ...string) (*process, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 1000)}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case v := <-found:
		return p, v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s %v did not start", bin, args)
	}
	return nil, ""
}

const killConfig = `
server:
  addr: "127.0.0.1:0"
  admin_addr: "127.0.0.1:0"
  public_url: "http://127.0.0.1:8080"
  session_secret: "kill-test-session-secret-0123456789abcdef"
admin: { password: test-admin }
storage:
  dsn: "%[1]s"
  encryption_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
cashcat: { base_url: "%[2]s/sandbox/cashcat" }
providers:
  lokyata: { base_url: "%[2]s/sandbox/lokyata", api_key: 0VIBkISQiaQS4z6iggxT11JKqvw0subW, lead_provider_id: LP, campaign_id: C, affiliate_id: A, lead_price: 25 }
  astoria: { base_url: "%[2]s/sandbox/astoria", vendor_id: "76", lead_mode: 0, tiers: [tier100, tier50] }
  cashfin: { enabled: true, base_url: "%[2]s/sandbox/cashfin", client_secret: cs_sandbox_secret }
submission: { wait: 200ms, lease: 10s }
flows:
  - { name: us, form: us, currency: USD, buyers: [lokyata, astoria], default: true }
sandbox: { enabled: false }
`

// recoveryBound is how soon a killed process's application must move on:
// the target is 2 s, the rest is room for a loaded machine. It is well
// under the 10 s lease of the tests' configs, so waiting for the dead
// process's lease to run out fails it.
const recoveryBound = 5 * time.Second

// applyToSlowLokyata applies as a consumer landing on landing, to the US
// flow, and returns once the post to Lokyata has left (the emulator holds
// it 8 s): the consumer's client, which does not follow redirects, and
// their waiting page.
func applyToSlowLokyata(t *testing.T, landing, sandboxURL, who string) (*http.Client, string) {
	t.Helper()
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, page := get(t, c, landing)
	u, _ := url.Parse(landing)
	form := completeUS(formSecrets(t, page), who+"+lokyata-slow@example.com", "78702")
	resp, _ := post(t, c, u.Scheme+"://"+u.Host+"/apply", form)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/status/") {
		t.Fatalf("apply: got %d to %q, want the waiting page", resp.StatusCode, loc)
	}
	for deadline := time.Now().Add(10 * time.Second); sandboxCalls(t, sandboxURL)["lokyata:process-lp-lead"] == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the post to Lokyata never left")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c, loc
}

// movesOn waits until the application moves on to its next buyer (Astoria
// is posted), logs how long that took from since (the moment named by
// what), and fails the test past recoveryBound.
func movesOn(t *testing.T, sandboxURL string, since time.Time, what string) {
	t.Helper()
	for sandboxCalls(t, sandboxURL)["astoria:fulldirect"] == 0 {
		if time.Since(since) > 30*time.Second {
			t.Fatal("the application never moved on to the next buyer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	moved := time.Since(since).Round(time.Millisecond)
	t.Logf("%s to the next buyer's post: %v", what, moved)
	if moved > recoveryBound {
		t.Errorf("the application moved on %v after the %s, want within %v", moved, what, recoveryBound)
	}
}

// endsAtAstoria follows the consumer's waiting page at statusURL to its
// end: Lokyata may have the lead (its post was in flight), so it is not
// posted again, and the waterfall went on to Astoria, posted once.
func endsAtAstoria(t *testing.T, c *http.Client, statusURL, sandboxURL string) {
	t.Helper()
	if next := advance(t, c, statusURL, 30*time.Second); !strings.Contains(next, "buyer=Astoria") {
		t.Errorf("the consumer goes to %q, want Astoria's page", next)
	}
	if m := sandboxCalls(t, sandboxURL); m["lokyata:process-lp-lead"] != 1 || m["astoria:fulldirect"] != 1 {
		t.Errorf("posts: lokyata %d, astoria %d; want exactly 1 each", m["lokyata:process-lp-lead"], m["astoria:fulldirect"])
	}
}

// TestSurvivesSIGKILL builds the real binary, submits an application to a
// slow buyer, kills leadgate with SIGKILL while the post is in flight,
// starts it again on the same database, and shows the application moving
// on at once (the restarted process owns the file, so the lease it finds
// is a dead one), decided with exactly one post per buyer and tier, the
// consumer's status page leading to the right place, and one CRM lead.
func TestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := binary(t)
	sandboxURL := startSandbox(t, bin)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(killConfig, "sqlite://"+filepath.Join(dir, "leadgate.db"), sandboxURL)), 0o600)
	first, url1 := startProcess(t, bin, serving, "--config", cfg)

	c, loc := applyToSlowLokyata(t, url1+"/?utm_source=cashcat.ph", sandboxURL, "kill")
	posts := func(key string) int { return sandboxCalls(t, sandboxURL)[key] }
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown at all
		t.Fatal(err)
	}
	first.cmd.Wait()

	restarted := time.Now()
	_, url2 := startProcess(t, bin, serving, "--config", cfg)
	t.Logf("restart to serving: %v", time.Since(restarted).Round(time.Millisecond))
	movesOn(t, sandboxURL, restarted, "restart")
	// The same browser session, on the restarted gateway.
	endsAtAstoria(t, c, url2+loc, sandboxURL)
	for deadline := time.Now().Add(10 * time.Second); posts("cashfin:lead/create") != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("CRM leads: got %d, want 1", posts("cashfin:lead/create"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
