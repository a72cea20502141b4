package main

import (
	"bytes"
	"encoding/json"
	"net"
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
