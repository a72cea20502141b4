// Package emulate is what the sandbox gives the upstream emulators and
// what they share: call counting, the sandbox lender page, the slow
// delay, and answering as an API does. Each buyer's emulator lives in its
// buyer's folder (providers/lokyata/emulator) and shares no code with the
// client beside it: it checks the buyer's document on its own, so that a
// mistake in the client shows up as the buyer would show it.
package emulate

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Env is the sandbox an emulator runs in.
type Env struct {
	// PublicURL is where consumers reach the sandbox (for the lender
	// page of redirect URLs); empty: the request's own host.
	PublicURL string
	// Slow is how long a "slow" switch waits.
	Slow time.Duration
	// OnCall, when set, is told of each call under a key such as
	// "lokyata:process-lp-lead" (the sandbox's /sandbox/calls).
	OnCall func(key string)
}

// Count records one call under key.
func (e Env) Count(key string) {
	if e.OnCall != nil {
		e.OnCall(key)
	}
}

// Base is the sandbox's public base URL, as a consumer reaches it.
func (e Env) Base(r *http.Request) string {
	if e.PublicURL != "" {
		return strings.TrimRight(e.PublicURL, "/")
	}
	return "http://" + r.Host
}

// LenderPage is the sandbox lender page an accepting emulator sends the
// consumer to, so that a demo ends somewhere.
func (e Env) LenderPage(r *http.Request, buyer, leadID string) string {
	return e.Base(r) + "/sandbox/lender/welcome?" + url.Values{"buyer": {buyer}, "lead_id": {leadID}}.Encode()
}

// Sleep waits the slow delay; false when the caller went away first.
func (e Env) Sleep(r *http.Request) bool {
	select {
	case <-time.After(e.Slow):
		return true
	case <-r.Context().Done():
		return false
	}
}

// Seen remembers keys, for an emulator to answer a second post of one
// lead as its API does (a duplicate). The zero value is ready.
type Seen struct {
	mu   sync.Mutex
	keys map[string]bool
}

// Again records key and reports whether it was recorded before.
func (s *Seen) Again(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	again := s.keys[key]
	s.keys[key] = true
	return again
}

// Switch reports a switch in an email's local part: "+fail" switches
// every emulator, "+lokyata-fail" only the named one, so one application
// can make its first buyer fail and its second accept.
func Switch(email, buyer, sw string) bool {
	local, _, _ := strings.Cut(email, "@")
	return strings.Contains(local, "+"+sw) || strings.Contains(local, "+"+buyer+"-"+sw)
}

// IsJSON reports whether the request says its body is JSON.
func IsJSON(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json"
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteRaw answers body as it is, labelled JSON: what an API sends when
// its body is not what it says (a proxy's error page, a document's
// single-quoted errors).
func WriteRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}
