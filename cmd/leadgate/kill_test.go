package main

import (
	"bufio"
	"fmt"
	"net/http"
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
  dsn: "sqlite://%[1]s"
  encryption_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
cashcat: { base_url: "%[2]s/sandbox/cashcat" }
providers:
  lokyata: { base_url: "%[2]s/sandbox/lokyata", api_key: 0VIBkISQiaQS4z6iggxT11JKqvw0subW, lead_provider_id: LP, campaign_id: C, affiliate_id: A, lead_price: 25 }
  astoria: { base_url: "%[2]s/sandbox/astoria", vendor_id: "76", tiers: [tier100, tier50] }
  cashfin: { enabled: true, base_url: "%[2]s/sandbox/cashfin", client_secret: cs_sandbox_secret }
submission: { wait: 200ms, lease: 3s }
flows:
  - { name: us, form: us, currency: USD, buyers: [lokyata, astoria], default: true }
sandbox: { enabled: false }
`

// TestSurvivesSIGKILL builds the real binary, submits an application to a
// slow buyer, kills leadgate with SIGKILL while the post is in flight,
// starts it again on the same database, and shows the application decided
// with exactly one post per buyer and tier, the consumer's status page
// leading to the right place, and one CRM lead.
func TestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := binary(t)
	sandboxURL := startSandbox(t, bin)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(killConfig, filepath.Join(dir, "leadgate.db"), sandboxURL)), 0o600)
	first, url1 := startProcess(t, bin, serving, "--config", cfg)

	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, page := get(t, c, url1+"/?utm_source=cashcat.ph")
	form := completeUS(formSecrets(t, page), "kill+lokyata-slow@example.com", "78702")
	resp, _ := post(t, c, url1+"/apply", form)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/status/") {
		t.Fatalf("apply: got %d to %q, want the waiting page", resp.StatusCode, loc)
	}
	posts := func(key string) int { return sandboxCalls(t, sandboxURL)[key] }
	// Kill it while Lokyata holds the post (the emulator answers in 8 s).
	for deadline := time.Now().Add(10 * time.Second); posts("lokyata:process-lp-lead") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the post to Lokyata never left")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown at all
		t.Fatal(err)
	}
	first.cmd.Wait()

	_, url2 := startProcess(t, bin, serving, "--config", cfg)
	// The same browser session, on the restarted gateway. Lokyata may have
	// the lead (its post was in flight): it is not posted again; the
	// waterfall went on to Astoria.
	if next := advance(t, c, url2+loc, 30*time.Second); !strings.Contains(next, "buyer=Astoria") {
		t.Errorf("after the restart the consumer goes to %q, want Astoria's page", next)
	}
	if l, a := posts("lokyata:process-lp-lead"), posts("astoria:fulldirect"); l != 1 || a != 1 {
		t.Errorf("posts: lokyata %d, astoria %d; want exactly 1 each", l, a)
	}
	for deadline := time.Now().Add(10 * time.Second); posts("cashfin:lead/create") != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("CRM leads: got %d, want 1", posts("cashfin:lead/create"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
