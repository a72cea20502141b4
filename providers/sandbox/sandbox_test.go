package sandbox

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	astoria "github.com/leadgate/leadgate/providers/astoria/emulator"
	casheddy "github.com/leadgate/leadgate/providers/casheddy/emulator"
	lokyata "github.com/leadgate/leadgate/providers/lokyata/emulator"
)

func TestCashcatEmulatorTokens(t *testing.T) {
	s := New(Options{Slow: 10 * time.Millisecond})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, tt := range []struct {
		method, token string
		want          int
	}{
		{"GET", "esdemo0000000001", 200}, {"GET", "unauthorized0401", 401}, {"GET", "nofunds000000402", 402},
		{"GET", "anythingelse0000", 404}, {"GET", "method0000000405", 405}, {"POST", "esdemo0000000001", 405},
		{"GET", "error00000000500", 500}, {"GET", "slow000000000001", 200},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+"/sandbox/cashcat/api/v1/actions/action/"+tt.token, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.token, resp.StatusCode, tt.want)
		}
	}
	if n := s.Calls("esdemo0000000001"); n != 2 {
		t.Errorf("got %d counted calls, want 2", n)
	}
}

// Anyone who reaches the sandbox can ask the emulator for any path: the
// counts stay bounded. A path no token has the shape of counts under one
// key, and past maxCounted keys a new one counts under CallsOther.
func TestEmulatorCountsStayBounded(t *testing.T) {
	s := New(Options{})
	get := func(token string) {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/sandbox/cashcat/api/v1/actions/action/"+token, nil))
	}
	for i := range 3 {
		get(strings.Repeat("x", 30_000) + strconv.Itoa(i))
	}
	if n := s.Calls(CallsMalformed); n != 3 || s.Calls(strings.Repeat("x", 30_000)+"0") != 0 {
		t.Errorf("3 malformed paths: %d counted under %q, want 3 and none under their own", n, CallsMalformed)
	}
	for i := range maxCounted + 5 {
		s.countToken(fmt.Sprintf("key%d", i))
	}
	if n := s.Calls(CallsOther); n < 5 || len(s.calls) > maxCounted+1 {
		t.Errorf("past the bound: %d keys, %d under %q", len(s.calls), n, CallsOther)
	}
	// A fixed name seen first past the bound still counts as itself.
	s.count(CallsCashfinCreate)
	if s.Calls(CallsCashfinCreate) != 1 {
		t.Errorf("%s past the bound: %d, want 1", CallsCashfinCreate, s.Calls(CallsCashfinCreate))
	}
}

// The lender form loads prefill.js only from the sandbox's own origins (or
// the gateway it was given), never from a ?gateway= someone put in a link:
// that script would run on the gateway's own origin. Its CSP allows
// exactly the gateway it loads the script from.
func TestLenderFormLoadsPrefillJSOnlyFromItsGateway(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	tests := []struct {
		name, query, want string
	}{
		{"default: the other loopback name", "", other},
		{"its own origin", "?gateway=" + srv.URL, srv.URL},
		{"its other loopback name, with a path", "?gateway=" + other + "/x/", other},
		{"another origin", "?gateway=https://evil.example", other},
		{"another port", "?gateway=" + srv.URL + "1", other},
		{"not http", "?gateway=javascript:alert(1)", other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/sandbox/lender/form" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page, csp := string(b), resp.Header.Get("Content-Security-Policy")
			if src := `<script src="` + tt.want + `/prefill.js"`; !strings.Contains(page, src) {
				t.Errorf("page loads prefill.js from elsewhere, want %s:\n%s", src, page)
			}
			for _, want := range []string{"script-src " + tt.want + ";", "connect-src " + tt.want + ";", "default-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q, want %q in it", csp, want)
				}
			}
			if strings.Contains(page+csp, "evil") || strings.Contains(page+csp, "javascript") || strings.Contains(page+csp, srv.URL+"1") {
				t.Errorf("a ?gateway= that is not the sandbox's own was used:\n%s\n%s", csp, page)
			}
		})
	}
	// `leadgate sandbox --gateway`: the gateway it was given, by default.
	srv2 := httptest.NewServer(New(Options{Gateway: "http://localhost:8080/"}))
	defer srv2.Close()
	for query, want := range map[string]string{"": "http://localhost:8080", "?gateway=https://evil.example": "http://localhost:8080", "?gateway=" + srv2.URL: srv2.URL} {
		resp, err := http.Get(srv2.URL + "/sandbox/lender/form" + query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `<script src="`+want+`/prefill.js"`) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src "+want+";") {
			t.Errorf("%q: want prefill.js from %s, got %s\n%s", query, want, resp.Header.Get("Content-Security-Policy"), b)
		}
	}
}

// Every buyer's emulator answers under /sandbox/<buyer>/, and its calls
// show in /sandbox/calls with the Cashcat tokens.
func TestBuyerEmulatorsAreMountedAndCounted(t *testing.T) {
	s := New(Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(path, contentType string, auth func(*http.Request)) int {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", contentType)
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		path, contentType string
		auth              func(*http.Request)
		want              int
		calls             string
	}{
		{"/sandbox/casheddy/v1/lead/send", "application/json", func(r *http.Request) { r.SetBasicAuth(casheddy.Username, casheddy.Password) }, 422, casheddy.Calls},
		{"/sandbox/lokyata/process-lp-lead", "application/json", func(r *http.Request) { r.Header.Set("x-api-key", lokyata.APIKey) }, 400, lokyata.Calls},
		{"/sandbox/astoria/v2/fulldirect/", "application/x-www-form-urlencoded", func(*http.Request) {}, 200, astoria.Calls},
	}
	for _, tt := range tests {
		if got := post(tt.path, tt.contentType, tt.auth); got != tt.want {
			t.Errorf("POST %s: got %d, want %d", tt.path, got, tt.want)
		}
		if n := s.Calls(tt.calls); n != 1 {
			t.Errorf("POST %s: counted %d calls under %s, want 1", tt.path, n, tt.calls)
		}
	}
	resp, err := http.Get(srv.URL + "/sandbox/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, tt := range tests {
		if !strings.Contains(string(b), `"`+tt.calls+`":1`) {
			t.Errorf("/sandbox/calls: %s, want %s counted", b, tt.calls)
		}
	}
}

// The sample terms and privacy pages the sandbox flows link to: one per
// language, in that language, and nothing for another.
func TestLegalPages(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	for _, tt := range []struct {
		path      string
		want      int
		lang, has string
	}{
		{"/sandbox/terms/en", 200, `lang="en"`, "<h1>Terms of Use</h1>"},
		{"/sandbox/privacy/en", 200, `lang="en"`, "<h1>Privacy Policy</h1>"},
		{"/sandbox/terms/es", 200, `lang="es"`, "<h1>Términos y condiciones</h1>"},
		{"/sandbox/privacy/es", 200, `lang="es"`, "<h1>Política de procesamiento de datos</h1>"},
		{"/sandbox/terms/fr", 404, "", ""},
	} {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || !strings.Contains(string(b), tt.lang) || !strings.Contains(string(b), tt.has) {
			t.Errorf("%s: got %d %.200q, want %d with %s and %s", tt.path, resp.StatusCode, b, tt.want, tt.lang, tt.has)
		}
	}
}

// The emulated CRM keeps at most maxCashfinLeads leads, the newest: its
// secret is public, and anyone who reaches the sandbox can post.
func TestCashfinEmulatorKeepsItsNewestLeads(t *testing.T) {
	defer func(n int) { maxCashfinLeads = n }(maxCashfinLeads)
	maxCashfinLeads = 3
	s := New(Options{})
	for i := range 5 {
		r := httptest.NewRequest("POST", "/sandbox/cashfin/business/lead/create", strings.NewReader(fmt.Sprintf(`{"name":"lead %d"}`, i)))
		r.Header.Set("Authorization", CashfinSecret)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("lead %d: %d %s", i, w.Code, w.Body)
		}
	}
	var names []string
	for _, l := range s.cashfinLeads {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "lead 2,lead 3,lead 4" {
		t.Errorf("leads kept: %v, want the newest 3", names)
	}
}
