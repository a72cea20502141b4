package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play the server child, as the command does.
func TestMain(m *testing.M) {
	if os.Getenv("LOADTEST_ROLE") == "server" {
		if err := serve(os.Stdout); err != nil {
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// A short run reports every figure the README quotes, p99 beside each
// throughput, without errors; the one-token bursts cost one Cashcat call
// per token; the CRM backlog and the heap per lead through both paths are
// reported.
func TestLoadTestReports(t *testing.T) {
	if testing.Short() {
		t.Skip("a short load test")
	}
	generators := []string{"go"}
	if _, err := exec.LookPath("wrk"); err == nil {
		generators = append(generators, "wrk")
	} else {
		t.Log("wrk is not installed: only the Go generator is tried (apt-get install -y wrk nginx-light)")
	}
	for _, gen := range generators {
		t.Run(gen, func(t *testing.T) {
			var out bytes.Buffer
			prof := filepath.Join(t.TempDir(), "server.pprof")
			heap := filepath.Join(t.TempDir(), "heap.pprof")
			applyProf := filepath.Join(t.TempDir(), "apply.pprof")
			openTrace := filepath.Join(t.TempDir(), "open.trace")
			args := []string{"-generator", gen, "-warmup", "1s", "-duration", "1s", "-runs", "1", "-conns", "4",
				"-apply", "2s", "-leads", "2000", "-cpuprofile", prof, "-applyprofile", applyProf, "-heapprofile", heap,
				"-opentrace", openTrace}
			if err := run(args, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			checkReport(t, out.String(), gen)
			// The profiles are pprof's gzipped protobuf, ready for go tool pprof.
			for _, p := range []string{prof, applyProf, heap} {
				if b, err := os.ReadFile(p); err != nil || len(b) < 100 || b[0] != 0x1f || b[1] != 0x8b {
					t.Errorf("%s: %d bytes, %v", p, len(b), err)
				}
			}
			// The execution trace is the runtime's, for go tool trace, and
			// the report says where it is.
			if b, err := os.ReadFile(openTrace); err != nil || !bytes.HasPrefix(b, []byte("go 1.")) {
				t.Errorf("%s: %.20q, %v", openTrace, b, err)
			}
			if want := "in " + openTrace + ": go tool trace " + openTrace + ")"; !strings.Contains(out.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, out.String())
			}
		})
	}
}

func checkReport(t *testing.T, report, gen string) {
	t.Helper()
	want := []string{"generator: " + map[string]string{"go": "Go net/http", "wrk": "wrk -t1 -c4"}[gen], strings.Join(serverGC(), " ") + ";",
		tPrefill, tBareJSON, tPage, tBarePage, tToken, "landing with cookie / bare Gin same page:",
		"applications", "applications, open loop", "CRM backlog (due, not mirrored)", "CRM leads created:",
		"1.00 Cashcat calls per token (10 tokens)", "bare Gin, one 50 ms wait, same 303", "via prefill", "via landing"}
	if _, err := exec.LookPath("nginx"); err == nil {
		want = append(want, tNginx, "prefill JSON / nginx proxy_cache:", "nginx proxy_cache_lock             1.00 Cashcat calls")
	}
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("report lacks %q:\n%s", w, report)
		}
	}
	// The bursts on a server that has served the cached reads only, and
	// after the apply journey, each costing one call per token.
	if n := strings.Count(report, "1.00 Cashcat calls per token (10 tokens)"); n != 2 {
		t.Errorf("got %d bursts of one call per token, want 2 (before and after the apply journey):\n%s", n, report)
	}
	// Every throughput line has its p99 and its error count, and no errors.
	lines := regexp.MustCompile(`(?m)^.* p99 .*$|^.*[0-9.]+ ms +[0-9.]+ ms .*errors\)$`).FindAllString(report, -1)
	if len(lines) < 7 {
		t.Errorf("got %d lines with a p99, want at least 7:\n%s", len(lines), report)
	}
	for _, line := range regexp.MustCompile(`(?m)^.*errors\)$`).FindAllString(report, -1) {
		if !strings.Contains(line, "(0 errors)") {
			t.Errorf("errors under load: %s", line)
		}
	}
	// Each apply loop reports its two requests' latencies, apart.
	steps := regexp.MustCompile(`(?m)^    each request: the form page p50 [0-9.]+ ms, p99 ([0-9.]+) ms; the POST \(store write, buyer, 303\) p50 [0-9.]+ ms, p99 ([0-9.]+) ms`).FindAllStringSubmatch(report, -1)
	if len(steps) != 2 {
		t.Errorf("got %d lines of each request's latency, want 2 (closed and open loop):\n%s", len(steps), report)
	}
	for _, m := range steps {
		if m[1] == "0.00" || m[2] == "0.00" {
			t.Errorf("a request's p99 of 0: %s", m[0])
		}
	}
	if m := regexp.MustCompile(`via prefill +(\d+) bytes per lead`).FindStringSubmatch(report); m == nil || m[1] == "0" {
		t.Errorf("no heap per lead via prefill:\n%s", report)
	}
}

// A record the server refuses (a second execution trace while one runs
// is a 500 with a sentence) is reported as missing, not written as a
// file go tool cannot read; a file no flag can write stops the load test
// before it starts, not after minutes of measuring.
func TestFailedRecordsAreSaid(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/pprof/trace" || r.URL.Query().Get("seconds") != "3" {
			t.Errorf("asked %s", r.URL)
		}
		http.Error(w, "Could not enable tracing: execution tracer already enabled", http.StatusInternalServerError)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "open.trace")
	var out bytes.Buffer
	recorded(&out, record(srv.URL, "trace", file, 3*time.Second), "server execution trace", file, "go tool trace")
	want := "  (no server execution trace: the server answered 500 Internal Server Error: Could not enable tracing: execution tracer already enabled)\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("%s written: %v", file, err)
	}

	start := time.Now()
	err := run([]string{"-opentrace", filepath.Join(t.TempDir(), "no", "such", "dir", "open.trace")}, &out)
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") || time.Since(start) > 5*time.Second {
		t.Errorf("run with an unwritable -opentrace: %v after %s, want its error at once", err, time.Since(start))
	}
}

// The server runs with the README's production GC setting unless the
// caller's environment says otherwise, one variable at a time.
func TestServerGC(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	t.Setenv("GOGC", "150")
	if got := strings.Join(serverGC(), " "); got != "GOGC=150 GOMEMLIMIT=1GiB" {
		t.Errorf("with GOGC=150 set: %q, want GOGC=150 GOMEMLIMIT=1GiB", got)
	}
	os.Unsetenv("GOGC")
	if got := strings.Join(serverGC(), " "); got != "GOGC=400 GOMEMLIMIT=1GiB" {
		t.Errorf("with neither set: %q, want GOGC=400 GOMEMLIMIT=1GiB", got)
	}
	t.Setenv("GOGC", "")
	if got := strings.Join(serverGC(), " "); got != "GOGC=400 GOMEMLIMIT=1GiB" {
		t.Errorf("with GOGC set empty (Go's default): %q, want GOGC=400 GOMEMLIMIT=1GiB", got)
	}
}

// wrk's report is read for requests/s, the 50th and 99th percentiles and
// every kind of error it counts.
func TestParseWrk(t *testing.T) {
	out := `Running 10s test @ http://127.0.0.1:1/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.21ms  300.00us  12.00ms   90.00%
    Req/Sec    52.00k     1.00k   54.00k    70.00%
  Latency Distribution
     50%    1.10ms
     75%    1.30ms
     90%    1.50ms
     99%  850.00us
  520000 requests in 10.00s, 500.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  52000.50
Transfer/sec:     50.00MB
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps != 52000.5 || r.p50 != 1100*time.Microsecond || r.p99 != 850*time.Microsecond || r.errors != 7 {
		t.Errorf("got %+v, want 52000.5 req/s, p50 1.1ms, p99 850µs, 7 errors", r)
	}
	if _, err := parseWrk("connection refused"); err == nil {
		t.Error("a report without Requests/sec was read")
	}
}

// Issue 17's kilobyte: the heap per cached lead at 100,000 tokens reached
// through either path, every per-token cache counted (the lead's record,
// the parsed leads and answers of the tokens in use, the per-token
// rate-limit counters, the opened cookies). Not under -race, whose
// runtime is ten times slower and allocates for itself: .ci/run runs it
// in a build without the race detector.
func TestHeapPerLead(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("100,000 tokens through a gateway: not in a short or race build (.ci/run runs it without -race)")
	}
	ch, err := newChild(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ch.st.Close()
	for _, via := range []string{"prefill", "landing"} {
		r, err := ch.memoryPerLead(via, 100_000, os.Getenv("LOADTEST_HEAPPROFILE_"+via))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("via %s: %.0f bytes per lead, %d cached", via, r.BytesPerLead, r.Cached)
		// Each lead keeps at least its record (588 bytes here): a figure
		// under that is a baseline that still held an earlier gateway.
		if r.BytesPerLead > 1024 || r.BytesPerLead < 588 || r.Cached != 100_000 {
			t.Errorf("via %s: got %.0f bytes per lead and %d leads cached, want 588–1,024 and 100,000", via, r.BytesPerLead, r.Cached)
		}
	}
}

// BenchmarkApplyJourney: one consumer's whole application (the form, the
// POST, the store write, the instant buyer, the 303), on the load test's
// server in process.
func BenchmarkApplyJourney(b *testing.B) {
	ch, err := newChild(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer ch.st.Close()
	h, _, err := ch.gateway("", true)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	i := 0
	for b.Loop() {
		i++
		if err := oneApplication(tr, srv.URL, fmt.Sprint("bench", i), nil); err != nil {
			b.Fatal(err)
		}
	}
}
