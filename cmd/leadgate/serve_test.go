package main

import (
	"bytes"
	"encoding/json"
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
