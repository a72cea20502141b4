package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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

// A short run reports every figure the README quotes, without errors, and
// the one-token burst costs one Cashcat call.
func TestLoadTestReports(t *testing.T) {
	if testing.Short() {
		t.Skip("a short load test")
	}
	var out bytes.Buffer
	prof := filepath.Join(t.TempDir(), "server.pprof")
	if err := run([]string{"-duration", "300ms", "-conns", "4", "-cpuprofile", prof}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// The profile is pprof's gzipped protobuf, ready for go tool pprof.
	if b, err := os.ReadFile(prof); err != nil || len(b) < 100 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("server CPU profile: %d bytes, %v", len(b), err)
	}
	report := out.String()
	for _, want := range []string{"prefill JSON (cached)", "landing page (cached)", "bare Gin, page bytes",
		"applications/s", "Cashcat calls: 1;", "resident memory per cached lead:"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	lines := regexp.MustCompile(`(?m)^.*errors?\)?$`).FindAllString(report, -1)
	if len(lines) != 7 {
		t.Errorf("got %d measurements with an error count, want 7:\n%s", len(lines), report)
	}
	for _, line := range lines {
		if !strings.Contains(line, " 0 errors") && !strings.Contains(line, "(0 errors)") {
			t.Errorf("errors under load: %s", line)
		}
	}
}
