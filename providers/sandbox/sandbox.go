// Package sandbox emulates the upstream APIs closely enough to catch
// integration mistakes: Cashcat's Actions API with a table of tokens, and
// the buyers, each checking its document's rules. It is mounted under
// /sandbox/ by the gateway, or served alone by `leadgate sandbox`.
package sandbox

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Credentials the emulators accept; the repository's config.yaml uses them.
const (
	CasheddyUsername = "sandbox"
	CasheddyPassword = "sandbox-password"
)

// Options configures the emulators.
type Options struct {
	// PublicURL is where consumers reach the sandbox (for the lender
	// welcome page of redirect URLs); empty: the request's own host.
	PublicURL string
	// Slow is how long the "slow" token and switch wait.
	Slow time.Duration
}

// Sandbox is the set of emulators.
type Sandbox struct {
	opt   Options
	mux   *http.ServeMux
	mu    sync.Mutex
	calls map[string]int
}

// New returns the emulators, routed under /sandbox/.
func New(opt Options) *Sandbox {
	if opt.Slow == 0 {
		opt.Slow = 8 * time.Second
	}
	s := &Sandbox{opt: opt, mux: http.NewServeMux(), calls: map[string]int{}}
	s.mux.HandleFunc("/sandbox/cashcat/api/v1/actions/action/{token}", s.cashcatAction)
	s.mux.HandleFunc("GET /sandbox/calls", s.callsJSON)
	s.mux.HandleFunc("/sandbox/casheddy/v1/validate", s.casheddyValidate)
	s.mux.HandleFunc("/sandbox/casheddy/v1/lead/send", s.casheddySend)
	s.mux.HandleFunc("GET /sandbox/lender/welcome", s.welcome)
	s.mux.HandleFunc("GET /sandbox/{$}", s.index)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Calls is how many times key was called: a Cashcat token, or
// "casheddy:lead/send".
func (s *Sandbox) Calls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

func (s *Sandbox) base(r *http.Request) string {
	if s.opt.PublicURL != "" {
		return strings.TrimRight(s.opt.PublicURL, "/")
	}
	return "http://" + r.Host
}

// welcomeURL is the sandbox lender page an accepting emulator sends the
// consumer to, so that a demo ends somewhere.
func (s *Sandbox) welcomeURL(r *http.Request, buyer, leadID string) string {
	return s.base(r) + "/sandbox/lender/welcome?" + url.Values{"buyer": {buyer}, "lead_id": {leadID}}.Encode()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

var welcomePage = template.Must(template.New("welcome").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Buyer}} sandbox lender</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header class="top"><span class="brand">{{.Buyer}} · sandbox lender</span></header>
<main id="main"><h1>Welcome! Your application reached {{.Buyer}}.</h1>
<p class="lead">This is the sandbox lender page a real buyer's redirect URL would lead to.</p>
<p class="small">Lead reference: <code>{{.LeadID}}</code></p></main></body></html>`))

func (s *Sandbox) welcome(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	welcomePage.Execute(w, map[string]string{"Buyer": r.URL.Query().Get("buyer"), "LeadID": r.URL.Query().Get("lead_id")})
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>leadgate sandbox</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header class="top"><span class="brand">leadgate sandbox</span></header>
<main id="main"><h1>Sandbox tokens</h1><p class="lead">Cashcat action tokens the emulator knows.</p>
<ul>{{range .}}<li><code>{{.Token}}</code>: {{.About}}</li>{{end}}</ul></main></body></html>`))

func (s *Sandbox) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	indexPage.Execute(w, Tokens)
}
