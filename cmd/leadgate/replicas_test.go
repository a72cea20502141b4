package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/store/storetest"
	"github.com/leadgate/leadgate/gateway/testenv"
)

// cuttable is a TCP proxy to Redis that a test can cut, to stop "Redis"
// for the gateways without stopping the machine's Redis.
type cuttable struct {
	ln    net.Listener
	cut   atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func proxyTo(t *testing.T, target string) *cuttable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttable{ln: ln}
	t.Cleanup(func() { p.Cut(); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.cut.Load() {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// Cut closes every connection and refuses new ones.
func (p *cuttable) Cut() {
	p.cut.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore accepts connections again: "Redis" is back.
func (p *cuttable) Restore() { p.cut.Store(false) }

const replicaConfig = `
server:
  addr: "127.0.0.1:0"
  admin_addr: "127.0.0.1:0"
  public_url: "http://127.0.0.1:8080"
  session_secret: "replicas-test-session-secret-0123456789"
admin: { password: test-admin }
storage:
  dsn: "%[1]s"
  encryption_key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
redis: { url: "redis://%[3]s/0", key_prefix: "%[4]s" }
rate_limits: { landing: "100000-M", apply: "100000-M", prefill_api: "5-M" }
# A generous Cashcat timeout: this test asks how many calls a token costs
# across replicas, and a loaded CI machine must not turn that into a
# question of deadlines (the deadline has tests of its own).
# All 200 landings come from one address, 20 new tokens at once, past the
# unknown-token budget of 10: those past ten wait for the calls in flight
# on every replica, which give their places back.
cashcat: { base_url: "%[2]s/sandbox/cashcat", timeout: 30s, breaker: { failures: 3, open_for: 1m } }
prefill_api: { keys: ["lender-key-0123456789"] }
providers:
  lokyata: { base_url: "%[2]s/sandbox/lokyata", api_key: 0VIBkISQiaQS4z6iggxT11JKqvw0subW, lead_provider_id: LP, campaign_id: C, affiliate_id: A, lead_price: 25 }
  astoria: { base_url: "%[2]s/sandbox/astoria", vendor_id: "76", lead_mode: 0, tiers: [tier100, tier50] }
submission: { wait: 200ms, lease: 3s }
flows:
  - { name: us, form: us, currency: USD, buyers: [lokyata, astoria], default: true }
sandbox: { enabled: false }
`

// replicas is three real leadgate binaries on one PostgreSQL and one
// Redis (through a proxy the test can cut), with the emulators in a
// process of their own.
type replicas struct {
	procs      []*process
	urls       []string
	admins     []string
	sandboxURL string
	redisProxy *cuttable
	run        string // this run's own key prefix and token infix
}

func startReplicas(t *testing.T) *replicas {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs three replicas")
	}
	pg := storetest.PostgresForTest(t)
	redisAddr := testenv.RedisAddr()
	if c, err := net.DialTimeout("tcp", redisAddr, time.Second); err != nil {
		if testenv.CI() {
			t.Fatalf("Redis is not reachable at %s", redisAddr)
		}
		t.Skipf("Redis is not reachable at %s: start it, or set LEADGATE_TEST_REDIS", redisAddr)
	} else {
		c.Close()
	}
	r := &replicas{redisProxy: proxyTo(t, redisAddr)}
	dir := t.TempDir()
	bin := binary(t)
	r.sandboxURL = startSandbox(t, bin)
	b := make([]byte, 5)
	rand.Read(b)
	r.run = hex.EncodeToString(b)
	cfg := filepath.Join(dir, "config.yaml")
	// Its own key prefix: this run's limits and leads are its own.
	os.WriteFile(cfg, []byte(fmt.Sprintf(replicaConfig, storetest.FreshSchema(t, pg), r.sandboxURL, r.redisProxy.ln.Addr(), "test-"+r.run+":")), 0o600)
	for range 3 {
		p, u := startProcess(t, bin, serving, "--config", cfg)
		r.procs, r.urls = append(r.procs, p), append(r.urls, u)
		var admin string
		for _, line := range printed(p) {
			if m := adminAddr.FindStringSubmatch(line); m != nil {
				admin = "http://" + m[1]
			}
		}
		if admin == "" {
			t.Fatal("no admin_addr in the start-up log")
		}
		r.admins = append(r.admins, admin)
	}
	return r
}

// auditAttempts reads an application's attempts from an admin listener.
func auditAttempts(t *testing.T, admin, id string) []struct{ Buyer, Outcome string } {
	t.Helper()
	req, _ := http.NewRequest("GET", admin+"/admin/api/applications/"+id, nil)
	req.SetBasicAuth("admin", "test-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Attempts []struct{ Buyer, Outcome string } `json:"attempts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("audit of %s: %d %v", id, resp.StatusCode, err)
	}
	return page.Attempts
}

var adminAddr = regexp.MustCompile(`"admin_addr":"([^"]+)"`)

// printed returns the lines p printed since the last call.
func printed(p *process) []string {
	var lines []string
	for {
		select {
		case l := <-p.lines:
			lines = append(lines, l)
		default:
			return lines
		}
	}
}

// TestThreeReplicas runs three real leadgate binaries on one PostgreSQL
// and one Redis, behind no load balancer but the test spreading requests.
func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	r := startReplicas(t)
	procs, urls, sandboxURL, redisProxy, run := r.procs, r.urls, r.sandboxURL, r.redisProxy, r.run
	calls := func() map[string]int { return sandboxCalls(t, sandboxURL) }
	noRedirect := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// 200 concurrent landings of 20 new tokens, spread over the replicas:
	// exactly one Cashcat call per token.
	token := func(i int) string { return fmt.Sprintf("gen%s%03d", run, i) }
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := noRedirect.Get(urls[i%3] + "/?action_token=" + token(i%20))
			if err != nil || resp.StatusCode != 303 {
				t.Errorf("landing %d: %v %v", i, resp, err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	m := calls()
	total := 0
	for i := range 20 {
		if m[token(i)] != 1 {
			t.Errorf("%s: %d Cashcat calls, want 1", token(i), m[token(i)])
		}
		total += m[token(i)]
	}
	t.Logf("200 landings of 20 new tokens on 3 replicas: %d Cashcat calls", total)
	for i, p := range procs {
		for _, line := range printed(p) {
			if strings.Contains(line, "redis unreachable") {
				t.Errorf("replica %d stopped sharing under load alone: %s", i, line)
			}
		}
	}

	redisDies(t, r)

	// Applications spread over the replicas; one replica is killed while
	// slow posts are in flight; every application ends decided, each buyer
	// and tier posted at most once.
	type consumer struct {
		c   *http.Client
		loc string
	}
	var consumers []consumer
	for i := range 9 {
		// The slow ones last, all on replica 0, so that their posts are
		// still in flight when it is killed, however loaded the machine.
		at, email := i%3, fmt.Sprintf("r%d@example.com", i)
		if i >= 6 {
			at, email = 0, fmt.Sprintf("r%d+lokyata-slow@example.com", i)
		}
		c := browser(t)
		c.CheckRedirect = noRedirect.CheckRedirect
		_, page := get(t, c, urls[at]+"/")
		resp, _ := post(t, c, urls[at]+"/apply", completeUS(formSecrets(t, page), email, "78702"))
		consumers = append(consumers, consumer{c, resp.Header.Get("Location")})
	}
	for deadline := time.Now().Add(10 * time.Second); calls()["lokyata:process-lp-lead"] < 9; {
		if time.Now().After(deadline) {
			t.Fatalf("posts did not leave: %v", calls())
		}
		time.Sleep(50 * time.Millisecond)
	}
	procs[0].cmd.Process.Kill() // SIGKILL, slow posts in flight
	procs[0].cmd.Wait()
	for i, cs := range consumers {
		if !strings.HasPrefix(cs.loc, "/status/") {
			continue // decided at once, by the buyer's page
		}
		if next := advance(t, cs.c, urls[1+i%2]+cs.loc, 30*time.Second); !strings.Contains(next, "/sandbox/lender/welcome?buyer=") {
			t.Errorf("consumer %d ended at %q, want a lender's page", i, next)
		}
	}
	m = calls()
	if m["lokyata:process-lp-lead"] != 9 {
		t.Errorf("lokyata posts: %d for 9 applications, want 9 (none re-sent)", m["lokyata:process-lp-lead"])
	}
	// The slow posts in flight on the killed replica are in doubt: those
	// applications went on to Astoria, once each (the emulator answers a
	// second post to one tier as a duplicate: a declined application);
	// no other application reached Astoria. Which slow posts were the
	// killed replica's depends on which replica claimed them first (any
	// may), so the audit trail says how many there are.
	inDoubt := 0
	for i, cs := range consumers {
		id, ok := strings.CutPrefix(cs.loc, "/status/")
		if !ok {
			continue
		}
		for _, a := range auditAttempts(t, r.admins[1], id) {
			if a.Buyer == "lokyata" && a.Outcome == "in_doubt" {
				inDoubt++
				t.Logf("consumer %d: lokyata post in doubt after the kill", i)
			}
		}
	}
	if inDoubt == 0 || m["astoria:fulldirect"] != inDoubt {
		t.Errorf("astoria posts: %d, in-doubt applications: %d; want one post per in-doubt application, and at least one", m["astoria:fulldirect"], inDoubt)
	}

	// One client's rate limit spans the replicas (prefill_api: 5-M).
	var codes []int
	for i := range 6 {
		req, _ := http.NewRequest("GET", urls[1+i%2]+"/api/v1/prefill/"+token(0), nil)
		req.Header.Set("X-API-Key", "lender-key-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 429]" {
		t.Errorf("prefill calls over two replicas: got %v, want the sixth limited", codes)
	}

	// Per-replica breakers: Cashcat failing costs at most failures (3)
	// calls per replica, however many landings arrive.
	for i := range 30 {
		resp, err := noRedirect.Get(urls[1+i%2] + "/?action_token=error00000000500")
		if err == nil {
			resp.Body.Close()
		}
	}
	if n := calls()["error00000000500"]; n > 2*3 {
		t.Errorf("a failing Cashcat got %d calls from 2 replicas, want at most 6 (3 per replica)", n)
	}

	// Redis gone: every replica keeps serving, and says so.
	redisProxy.Cut()
	for i := range 6 {
		resp, err := noRedirect.Get(urls[1+i%2] + "/?action_token=" + token(100+i))
		if err != nil || resp.StatusCode != 303 {
			t.Fatalf("landing without Redis: %v %v", resp, err)
		}
		resp.Body.Close()
		resp, page := get(t, browser(t), urls[1+i%2]+"/")
		if resp.StatusCode != 200 || !strings.Contains(page, `name="first_name"`) {
			t.Errorf("form without Redis: %d", resp.StatusCode)
		}
	}
}

// redisDies cuts Redis while landings of new tokens keep coming to the
// three replicas: every landing is answered, none waits long on the dead
// connection, and each replica says it runs unshared. Then Redis comes
// back, and each replica shares again.
func redisDies(t *testing.T, r *replicas) {
	t.Helper()
	for i, admin := range r.admins {
		if _, m := get(t, http.DefaultClient, admin+"/metrics"); !strings.Contains(m, "\nleadgate_redis_shared 1\n") {
			t.Errorf("replica %d: /metrics lacks leadgate_redis_shared 1 while Redis answers", i)
		}
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	var (
		mu                     sync.Mutex
		cutAt                  time.Time // zero until the cut
		before, after          int       // landings ended before and after the cut
		slowestBefore, slowest time.Duration
	)
	var seq atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// "x" is no hex digit: no token of the other phases.
				token := fmt.Sprintf("gen%sx%05d", r.run[:7], seq.Add(1))
				start := time.Now()
				resp, err := noRedirect.Get(r.urls[w%3] + "/?action_token=" + token)
				d := time.Since(start)
				if err != nil || resp.StatusCode != 303 {
					t.Errorf("landing on replica %d: %v %v", w%3, resp, err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				// A landing in flight when Redis was cut counts as after it.
				if cutAt.IsZero() || start.Add(d).Before(cutAt) {
					before++
					slowestBefore = max(slowestBefore, d)
				} else {
					after++
					slowest = max(slowest, d)
				}
				mu.Unlock()
			}
		}()
	}
	landed := func(n int, afterCut bool) {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			got := before
			if afterCut {
				got = after
			}
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				close(stop)
				t.Fatalf("only %d landings in a minute", got)
			}
		}
	}
	landed(90, false)
	mu.Lock()
	cutAt = time.Now()
	r.redisProxy.Cut()
	mu.Unlock()
	landed(180, true)
	close(stop)
	wg.Wait()
	t.Logf("Redis cut under 9 concurrent clients on 3 replicas: slowest landing %v (%d landings after the cut; %v before it, %d landings)",
		slowest.Round(time.Millisecond), after, slowestBefore.Round(time.Millisecond), before)
	if slowest >= time.Second {
		t.Errorf("slowest landing while Redis died: %v, want under 1s", slowest)
	}
	for i, admin := range r.admins {
		if _, body := get(t, http.DefaultClient, admin+"/readyz"); !strings.Contains(body, `"redis":"unreachable: running unshared`) {
			t.Errorf("replica %d: /readyz says %s, want redis unreachable, running unshared", i, body)
		}
		if _, m := get(t, http.DefaultClient, admin+"/metrics"); !strings.Contains(m, "\nleadgate_redis_shared 0\n") {
			t.Errorf("replica %d: /metrics lacks leadgate_redis_shared 0 after the cut", i)
		}
	}

	// Back: /readyz tries Redis again once it is due (5 s after the
	// failure), and the replica shares again.
	r.redisProxy.Restore()
	for i, admin := range r.admins {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			_, body := get(t, http.DefaultClient, admin+"/readyz")
			if strings.Contains(body, `"redis":"ok"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d: /readyz still says %s 30 s after Redis came back", i, body)
			}
		}
		if _, m := get(t, http.DefaultClient, admin+"/metrics"); !strings.Contains(m, "\nleadgate_redis_shared 1\n") {
			t.Errorf("replica %d: /metrics lacks leadgate_redis_shared 1 after Redis came back", i)
		}
	}
}
