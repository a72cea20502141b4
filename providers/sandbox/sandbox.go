// Package sandbox emulates the upstream APIs closely enough to catch
// integration mistakes: Cashcat's Actions API with a table of tokens, the
// Cashfin CRM, and every buyer of the table (providers/buyers), each
// checking its document's rules in its own folder
// (providers/<buyer>/emulator). It also serves a demo's lender pages. It
// is mounted under /sandbox/ by the gateway, or served alone by
// `leadgate sandbox`.
package sandbox

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leadgate/leadgate/providers/buyers"
	"github.com/leadgate/leadgate/providers/emulate"
)

// Options configures the emulators.
type Options struct {
	// PublicURL is where consumers reach the sandbox (for the lender
	// welcome page of redirect URLs); empty: the request's own host.
	PublicURL string
	// Slow is how long the "slow" token and switch wait.
	Slow time.Duration
	// Gateway is the gateway whose prefill.js the lender form loads when
	// the sandbox runs alone (`leadgate sandbox --gateway`); empty: this
	// server under its other loopback name, as when the gateway mounts it.
	Gateway string
}

// Sandbox is the set of emulators.
type Sandbox struct {
	opt          Options
	env          emulate.Env
	mux          *http.ServeMux
	mu           sync.Mutex
	calls        map[string]int
	cashfinLeads []cashfinLead
	fillJS       []byte
	// the postback receiver's log, and how many answers it is to fail
	postbacks     []received
	postbackFails int
}

// New returns the emulators, routed under /sandbox/.
func New(opt Options) *Sandbox {
	if opt.Slow == 0 {
		opt.Slow = 8 * time.Second
	}
	s := &Sandbox{opt: opt, mux: http.NewServeMux(), calls: map[string]int{}, fillJS: fillScript()}
	s.env = emulate.Env{PublicURL: opt.PublicURL, Slow: opt.Slow, OnCall: s.count}
	s.mux.HandleFunc("/sandbox/cashcat/api/v1/actions/action/{token}", s.cashcatAction)
	s.mux.HandleFunc("GET /sandbox/calls", s.callsJSON)
	for _, b := range buyers.All() {
		if b.Emulator != nil {
			s.mux.Handle("/sandbox/"+b.Name+"/", http.StripPrefix("/sandbox/"+b.Name, b.Emulator(s.env)))
		}
	}
	s.mux.HandleFunc("/sandbox/cashfin/business/lead/create", s.cashfinCreate)
	s.mux.HandleFunc("GET /sandbox/cashfin/business/lead/list", s.cashfinList)
	s.mux.HandleFunc("GET /sandbox/lender/welcome", s.welcome)
	s.mux.HandleFunc("GET /sandbox/lender/form", s.lenderForm)
	s.mux.HandleFunc("GET /sandbox/fill.js", s.fill)
	s.mux.HandleFunc("POST /sandbox/postback/fail", s.postbackFail)
	s.mux.HandleFunc("/sandbox/postback", s.postback)
	s.mux.HandleFunc("GET /sandbox/postbacks", s.postbacksJSON)
	s.mux.HandleFunc("GET /sandbox/terms/{lang}", s.legal("terms"))
	s.mux.HandleFunc("GET /sandbox/privacy/{lang}", s.legal("privacy"))
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

var lenderFormPage = template.Must(template.New("lender-form").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A lender's own form (prefill.js demo)</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header class="top"><span class="brand">Sandbox lender · own form</span></header>
<main id="main"><h1>Apply with us</h1>
<p class="lead">This page is a lender's own form on another origin. <code>prefill.js</code> from the gateway fills it from the <code>action_token</code> in this page's URL.</p>
<p class="small">Hello, <span data-prefill="first_name">there</span>!</p>
<form class="apply" method="post" action="#">
<div class="field"><label for="first_name">First name</label><input id="first_name" name="first_name" type="text" autocomplete="given-name"></div>
<div class="field"><label for="last_name">Last name</label><input id="last_name" name="last_name" type="text" autocomplete="family-name"></div>
<div class="field"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email"></div>
<div class="field"><label for="birth_date">Date of birth</label><input id="birth_date" name="birth_date" type="date"></div>
<div class="field"><label for="city">City</label><input id="city" name="city" type="text" autocomplete="address-level2"></div>
<div class="field"><label for="amount">Amount</label><input id="amount" data-prefill="loan_amount" name="amount" type="number"></div>
<div class="field"><label for="gender">Gender</label><select id="gender" name="gender"><option value="">Choose</option><option value="female">Female</option><option value="male">Male</option></select></div>
<button class="primary" type="submit">Apply</button>
</form></main>
<script src="{{.Gateway}}/prefill.js" data-flow="{{.Flow}}" defer></script>
</body></html>`))

// lenderForm serves a lender's own form using prefill.js, for demos and
// browser tests. The script comes from the gateway (see gatewayFor), and
// the page's CSP allows exactly that origin: the gateway's own strict CSP,
// which this answer replaces, would block it.
func (s *Sandbox) lenderForm(w http.ResponseWriter, r *http.Request) {
	gw := s.gatewayFor(r)
	flow := r.URL.Query().Get("flow")
	if flow == "" {
		flow = "us"
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+gw+"; style-src 'self'; img-src 'self' data:; connect-src "+gw+"; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	lenderFormPage.Execute(w, map[string]string{"Gateway": gw, "Flow": flow})
}

// gatewayFor is the origin the lender form loads prefill.js from: the
// configured gateway when the sandbox runs alone, else this server under
// its other loopback name, so the call is cross-origin as in real life.
// ?gateway= may pick another of those origins, never any other: when the
// gateway mounts the sandbox, a script from elsewhere would run on the
// gateway's own origin.
func (s *Sandbox) gatewayFor(r *http.Request) string {
	own := origin(s.env.Base(r))
	allowed := []string{origin(otherLoopback(own)), own}
	if s.opt.Gateway != "" {
		allowed = append([]string{origin(s.opt.Gateway)}, allowed...)
	}
	if gw := origin(r.URL.Query().Get("gateway")); gw != "" && slices.Contains(allowed, gw) {
		return gw
	}
	return allowed[0]
}

// origin is raw's scheme://host in lower case, or "" when raw is not an
// absolute http(s) URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// otherLoopback swaps localhost and 127.0.0.1: the same gateway, seen from
// the page as another origin.
func otherLoopback(base string) string {
	switch {
	case strings.Contains(base, "://localhost"):
		return strings.Replace(base, "://localhost", "://127.0.0.1", 1)
	case strings.Contains(base, "://127.0.0.1"):
		return strings.Replace(base, "://127.0.0.1", "://localhost", 1)
	}
	return base
}
