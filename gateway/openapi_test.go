package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/errors"

	"github.com/leadgate/leadgate/gateway/form"
	"github.com/leadgate/leadgate/providers"
)

// exchanged is one real exchange with a running server.
type exchanged struct {
	req  *http.Request
	res  *http.Response
	body []byte
}

// exchange makes a real HTTP request to srv (redirects not followed).
func roundTrip(t *testing.T, client *http.Client, method, target string, headers map[string]string, body url.Values) exchanged {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return exchanged{req: req, res: res, body: b}
}

func newClient(t *testing.T, jar bool) *http.Client {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// apiDocument fetches the served document and builds a validator from it.
func apiDocument(t *testing.T, base string) validator.Validator {
	t.Helper()
	a := roundTrip(t, newClient(t, false), "GET", base+"/api/v1/openapi.json", nil, nil)
	if a.res.StatusCode != 200 {
		t.Fatalf("openapi.json: got %d %s", a.res.StatusCode, a.body)
	}
	doc, err := libopenapi.NewDocument(a.body)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("building the validator: %v", errs)
	}
	return v
}

// problems validates a request and its answer against the document (the
// request only when wantValidRequest) and lists what does not match.
func problems(v validator.Validator, a exchanged, wantValidRequest bool) []string {
	a.res.Body = io.NopCloser(bytes.NewReader(a.body))
	var errs []*errors.ValidationError
	if wantValidRequest {
		_, errs = v.ValidateHttpRequestResponse(a.req, a.res)
	} else {
		_, errs = v.ValidateHttpResponse(a.req, a.res)
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func errorCodeOf(body []byte) string {
	var e apiError
	json.Unmarshal(body, &e)
	return e.Error.Code
}

// The document is valid OpenAPI 3.1, names the deployment from
// server.public_url, is cacheable, and lists the form's own field names
// and choices as the lead's: a field added to a form must be documented.
func TestOpenAPIDocument(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{}, "100-M", func(d *Deps) { d.Config.Server.PublicURL = "https://apply.lender.example/" })
	srv := httptest.NewServer(h)
	defer srv.Close()
	a := roundTrip(t, newClient(t, false), "GET", srv.URL+"/api/v1/openapi.json", nil, nil)
	if a.res.StatusCode != 200 || a.res.Header.Get("Content-Type") != "application/json" || a.res.Header.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("got %d, Content-Type %q, Cache-Control %q; want 200, application/json, public, max-age=3600",
			a.res.StatusCode, a.res.Header.Get("Content-Type"), a.res.Header.Get("Cache-Control"))
	}
	doc, err := libopenapi.NewDocument(a.body)
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.GetVersion(); got != "3.1.0" {
		t.Errorf("openapi version %q, want 3.1.0", got)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("document: %v", e)
		}
	}

	var parsed struct {
		Servers    []struct{ URL string }
		Components struct {
			Schemas struct {
				Lead struct {
					Properties map[string]struct{ Enum []string }
				}
			}
		}
	}
	if err := json.Unmarshal(a.body, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Servers) != 1 || parsed.Servers[0].URL != "https://apply.lender.example" {
		t.Errorf("servers %+v, want the one public_url", parsed.Servers)
	}
	props := parsed.Components.Schemas.Lead.Properties
	fields := map[string]bool{}
	for _, f := range form.Forms {
		for _, fd := range f.Fields() {
			fields[fd.Name] = true
			p, ok := props[fd.Name]
			if !ok {
				t.Errorf("form %s field %s: not in the Lead schema", f.Name, fd.Name)
				continue
			}
			for _, o := range fd.Options {
				if fd.List == "" && !slices.Contains(p.Enum, o) {
					t.Errorf("form %s field %s: option %q not in the Lead schema's enum %v", f.Name, fd.Name, o, p.Enum)
				}
			}
		}
	}
	for name := range props {
		if !fields[name] {
			t.Errorf("Lead schema property %s: no form has that field", name)
		}
	}
}

// Every documented answer of the public API, made for real against a
// running server, matches the served document: status, headers, body.
func TestOpenAPIAnswersMatchDocument(t *testing.T) {
	origin := map[string]string{"Origin": "https://lender.example"}
	tests := []struct {
		name    string
		leads   fakeLeads
		rate    string
		calls   int // the last of this many identical calls is checked
		method  string
		path    string
		headers map[string]string
		status  int
		code    string
		// invalidRequest: the document itself says the request is wrong
		// (a malformed token breaks the path's pattern).
		invalidRequest bool
		check          func(t *testing.T, a exchanged)
	}{
		{name: "200 with a key", path: "/api/v1/prefill/esdemo0000000001", headers: withKey, status: 200, check: func(t *testing.T, a exchanged) {
			var got map[string]json.RawMessage
			json.Unmarshal(a.body, &got)
			if len(got["source"]) == 0 || string(got["source"]) == "null" {
				t.Errorf("body %s: a key gets Cashcat's record under source", a.body)
			}
		}},
		// The new contract (issue 11): an Origin header proves nothing, so a
		// keyless browser call gets the form's fields, never source.
		{name: "200 keyless from an allowed origin", path: "/api/v1/prefill/esdemo0000000001?flow=es", headers: origin, status: 200, check: func(t *testing.T, a exchanged) {
			var got map[string]json.RawMessage
			json.Unmarshal(a.body, &got)
			if _, ok := got["source"]; ok || len(got["lead"]) < 3 {
				t.Errorf("body %s: want lead only, without source", a.body)
			}
			if a.res.Header.Get("Access-Control-Allow-Origin") != origin["Origin"] {
				t.Errorf("Access-Control-Allow-Origin %q", a.res.Header.Get("Access-Control-Allow-Origin"))
			}
		}},
		{name: "400 malformed token", path: "/api/v1/prefill/short", headers: withKey, status: 400, code: "malformed_token", invalidRequest: true},
		{name: "400 unknown flow", path: "/api/v1/prefill/esdemo0000000001?flow=fr", headers: withKey, status: 400, code: "unknown_flow"},
		{name: "401 no key, no origin", path: "/api/v1/prefill/esdemo0000000001", status: 401, code: "unauthorized"},
		{name: "404 unknown token", leads: fakeLeads{err: providers.ErrNotFound}, path: "/api/v1/prefill/esdemo0000000001", headers: withKey, status: 404, code: "unknown_token"},
		{name: "429 rate limited", rate: "1-M", calls: 2, path: "/api/v1/prefill/esdemo0000000001", headers: withKey, status: 429, code: "rate_limited"},
		{name: "503 cashcat unavailable", leads: fakeLeads{err: providers.ErrUnavailable}, path: "/api/v1/prefill/esdemo0000000001", headers: withKey, status: 503, code: "cashcat_unavailable"},
		{name: "204 preflight", method: "OPTIONS", path: "/api/v1/prefill/esdemo0000000001", headers: map[string]string{"Origin": "https://lender.example", "Access-Control-Request-Method": "GET"}, status: 204},
		{name: "403 preflight", method: "OPTIONS", path: "/api/v1/prefill/esdemo0000000001", headers: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, status: 403, code: "origin_not_allowed"},
		{name: "200 the document itself", path: "/api/v1/openapi.json", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.leads.lead == nil && tt.leads.err == nil {
				tt.leads.lead = sampleLead()
			}
			if tt.rate == "" {
				tt.rate = "1000-M"
			}
			if tt.method == "" {
				tt.method = "GET"
			}
			h, _ := newLimitedServer(t, tt.leads, tt.rate)
			srv := httptest.NewServer(h)
			defer srv.Close()
			v := apiDocument(t, srv.URL)
			var a exchanged
			for range max(tt.calls, 1) {
				a = roundTrip(t, newClient(t, false), tt.method, srv.URL+tt.path, tt.headers, nil)
			}
			if a.res.StatusCode != tt.status || errorCodeOf(a.body) != tt.code {
				t.Fatalf("got %d %s, want %d %s", a.res.StatusCode, a.body, tt.status, tt.code)
			}
			for _, p := range problems(v, a, !tt.invalidRequest) {
				t.Errorf("does not match the document: %s", p)
			}
			if tt.invalidRequest {
				if _, errs := v.ValidateHttpRequest(a.req); len(errs) == 0 {
					t.Errorf("the document accepts the request %s, answered %d", tt.path, tt.status)
				}
			}
			if tt.check != nil {
				tt.check(t, a)
			}
		})
	}
}

// The application status, as the waiting page reads it: a real consumer's
// session, a real application, each status the page can see.
func TestOpenAPIApplicationStatusMatchesDocument(t *testing.T) {
	h, st := newLimitedServer(t, fakeLeads{err: providers.ErrNotFound}, "3-M")
	srv := httptest.NewServer(h)
	defer srv.Close()
	v := apiDocument(t, srv.URL)
	consumer := newClient(t, true)

	landing := roundTrip(t, consumer, "GET", srv.URL+"/", nil, nil)
	posted := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(landing.body), -1) {
		posted.Set(m[1], m[2])
	}
	for k, val := range validES() {
		posted[k] = val
	}
	applied := roundTrip(t, consumer, "POST", srv.URL+"/apply", nil, posted)
	id := strings.TrimPrefix(applied.res.Header.Get("Location"), "/status/")
	if applied.res.StatusCode != http.StatusSeeOther || len(id) != 44 {
		t.Fatalf("apply: got %d to %q", applied.res.StatusCode, applied.res.Header.Get("Location"))
	}

	check := func(name string, a exchanged, status int, want string) {
		t.Helper()
		if a.res.StatusCode != status || !strings.Contains(string(a.body), want) {
			t.Errorf("%s: got %d %s, want %d with %s", name, a.res.StatusCode, a.body, status, want)
		}
		for _, p := range problems(v, a, true) {
			t.Errorf("%s: does not match the document: %s", name, p)
		}
	}
	check("unknown id", roundTrip(t, consumer, "GET", srv.URL+"/api/v1/applications/"+strings.Repeat("0", 32), nil, nil), 404, `"not_found"`)
	check("pending", roundTrip(t, consumer, "GET", srv.URL+"/api/v1/applications/"+id, nil, nil), 200, `"status":"pending"`)

	ctx := context.Background()
	if _, err := st.Claim(ctx, "w", time.Minute, 10); err != nil {
		t.Fatal(err)
	}
	if err := st.Decide(ctx, id, "w", providers.Verdict{Status: providers.StatusAccepted, RedirectURL: "https://lender.example/welcome?ref=1"}); err != nil {
		t.Fatal(err)
	}
	check("accepted", roundTrip(t, consumer, "GET", srv.URL+"/api/v1/applications/"+id, nil, nil), 200, `"redirect_url":"https://lender.example/welcome?ref=1"`)
	// The waiting page polls: past the limit it gets the API's own error.
	check("rate limited", roundTrip(t, consumer, "GET", srv.URL+"/api/v1/applications/"+id, nil, nil), 429, `"rate_limited"`)
}

// The check itself fails on drift: an answer with one more field in the
// error body, or a 429 without Retry-After, does not match the document.
func TestOpenAPICheckCatchesDrift(t *testing.T) {
	h, _ := newLimitedServer(t, fakeLeads{lead: sampleLead()}, "1-M")
	srv := httptest.NewServer(h)
	defer srv.Close()
	v := apiDocument(t, srv.URL)
	client := newClient(t, false)
	target := srv.URL + "/api/v1/prefill/esdemo0000000001"

	ok := roundTrip(t, client, "GET", target, withKey, nil)
	limited := roundTrip(t, client, "GET", target, withKey, nil)
	if ok.res.StatusCode != 200 || limited.res.StatusCode != 429 || len(problems(v, limited, true)) > 0 {
		t.Fatalf("got %d then %d (%v), want 200 then a 429 that matches", ok.res.StatusCode, limited.res.StatusCode, problems(v, limited, true))
	}
	extra := limited
	extra.body = bytes.Replace(limited.body, []byte(`"code":`), []byte(`"detail":"x","code":`), 1)
	noRetry, res := limited, *limited.res
	res.Header = res.Header.Clone()
	res.Header.Del("Retry-After")
	noRetry.res = &res
	unknownCode := limited
	unknownCode.body = bytes.Replace(limited.body, []byte(`"rate_limited"`), []byte(`"slow_down"`), 1)
	leadExtra := ok
	leadExtra.body = bytes.Replace(ok.body, []byte(`"lead":{`), []byte(`"lead":{"ext_id":"x",`), 1)
	for name, a := range map[string]exchanged{"extra error field": extra, "no Retry-After": noRetry, "unknown code": unknownCode, "lead field not canonical": leadExtra} {
		if len(problems(v, a, true)) == 0 {
			t.Errorf("%s: the check passes an exchanged the document does not allow", name)
		}
	}
}
