package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Durations in the JSON logs read as the config writes them, not as
// nanoseconds.
func TestLogDurationsAsText(t *testing.T) {
	var buf bytes.Buffer
	newLogger(&buf, "").Info("shutting down", "timeout", 20*time.Second, "lease", 1500*time.Millisecond)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["timeout"] != "20s" || line["lease"] != "1.5s" {
		t.Errorf("got timeout %v, lease %v; want 20s, 1.5s", line["timeout"], line["lease"])
	}
}

// A person at a terminal gets one line saying what to open; anything else
// (a pipe, a log collector) gets the JSON lines only.
func TestAnnounce(t *testing.T) {
	tests := []struct {
		name                  string
		tty, sandbox, sandPwd bool
		public                string
		want                  string
	}{
		{"not a terminal", false, true, true, "http://localhost:8080", ""},
		{"sandbox", true, true, true, "http://localhost:8080",
			"leadgate is serving the sandbox: open http://localhost:8080/?utm_source=cashcat.ph&action_token=usdemo0000000001 · admin: http://127.0.0.1:9090/admin (admin / sandbox)\n"},
		{"sandbox with its own admin password", true, true, false, "http://localhost:8080",
			"leadgate is serving the sandbox: open http://localhost:8080/?utm_source=cashcat.ph&action_token=usdemo0000000001 · admin: http://127.0.0.1:9090/admin\n"},
		{"production", true, false, false, "https://apply.lender.example/",
			"leadgate is serving https://apply.lender.example · admin: http://127.0.0.1:9090/admin\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		announce(&buf, tt.tty, tt.sandbox, tt.public, "http://127.0.0.1:9090/admin", "admin", tt.sandPwd)
		if got := buf.String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	for addr, want := range map[string]string{"[::]:9090": "http://localhost:9090", "0.0.0.0:9090": "http://localhost:9090", "127.0.0.1:9090": "http://127.0.0.1:9090"} {
		tcp, _ := net.ResolveTCPAddr("tcp", addr)
		if got := browseURL(tcp); got != want {
			t.Errorf("browseURL(%s): got %s, want %s", addr, got, want)
		}
	}
}

// An upstream's client keeps a connection for each call its user makes
// at once: the second round of 64 calls at once (64 CRM mirror
// workers) opens none, where a pool of 32 idle connections opened 32 new
// ones every round.
func TestUpstreamClientKeepsAConnectionPerCall(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond) // every call in flight at once
		io.WriteString(w, `{}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	const atOnce = 64
	hc := buyerHTTP(5*time.Second, atOnce)
	for round := range 3 {
		var wg sync.WaitGroup
		for range atOnce {
			wg.Go(func() {
				resp, err := hc.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
		if n := opened.Load(); n > atOnce {
			t.Fatalf("round %d: %d connections opened for %d calls at once; want the first round's %d kept", round+1, n, atOnce, atOnce)
		}
	}
}
