package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// documentRequest is the Casheddy document's example request, with its
// pay date moved after today (the document's 2023 date is in the past now).
func documentRequest(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../casheddy/testdata/send_request.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["remuneration_deadline"] = time.Now().AddDate(0, 0, 10).Format("2006-01-02")
	return m
}

func send(t *testing.T, srv *httptest.Server, body map[string]any, user, pass string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", srv.URL+"/sandbox/casheddy/v1/lead/send", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// fields lists the fields of a 422's results, in the documented shape.
func fields(out map[string]any) []string {
	var got []string
	data, _ := out["data"].(map[string]any)
	responses, _ := data["responses"].([]any)
	for _, r := range responses {
		results, _ := r.(map[string]any)["results"].([]any)
		for _, res := range results {
			got = append(got, res.(map[string]any)["field"].(string))
		}
	}
	return got
}

func TestCasheddyEmulatorAcceptsTheDocumentExample(t *testing.T) {
	s := New(Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	status, out := send(t, srv, documentRequest(t), CasheddyUsername, CasheddyPassword)
	data, _ := out["data"].(map[string]any)
	if status != 200 || out["success"] != true || !strings.Contains(data["redirect_url"].(string), "/sandbox/lender/welcome") {
		t.Fatalf("got %d %v", status, out)
	}
	if s.Calls(CallsCasheddy) != 1 {
		t.Errorf("got %d counted posts, want 1", s.Calls(CallsCasheddy))
	}
}

func TestCasheddyEmulatorRules(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	tests := []struct {
		field string
		value any
		want  string // the field named in the 422 results
	}{
		{"phone", "608819736", "phone"}, // unformatted: "6xx xxx xxx" is required
		{"personal_id", "1234", "personal_id"},
		{"first_name", "Ky", "first_name"},
		{"gender", "male", "gender"},
		{"nationality", "Spain", "nationality"},
		{"housing_type", "FRIEND", "housing_type"},
		{"birth_date", time.Now().AddDate(-17, 0, 0).Format("2006-01-02"), "birth_date"},
		{"employed_since", time.Now().AddDate(0, 0, 1).Format("2006-01-02"), "employed_since"},
		{"remuneration_deadline", "2023-05-02", "remuneration_deadline"},
		{"neto_income", "0", "neto_income"},
		{"bank_account", "DE89370400440532013000", "bank_account"},
		{"ip_address", "2001:db8::1", "ip_address"},
		{"car_plate_number", "", "car_plate_number"}, // car_owner is YES
	}
	for _, tt := range tests {
		body := documentRequest(t)
		body[tt.field] = tt.value
		status, out := send(t, srv, body, CasheddyUsername, CasheddyPassword)
		got := fields(out)
		if status != 422 || out["success"] != false || len(got) == 0 || got[0] != tt.want {
			t.Errorf("%s=%v: got %d with fields %v, want 422 on %s", tt.field, tt.value, status, got, tt.want)
		}
	}
	body := documentRequest(t)
	body["address"].(map[string]any)["city"] = "Ribadesella 2"
	if _, out := send(t, srv, body, CasheddyUsername, CasheddyPassword); strings.Join(fields(out), ",") != "address[city]" {
		t.Errorf("address city: got fields %v", fields(out))
	}
}

func TestCasheddyEmulatorAuthAndSwitches(t *testing.T) {
	srv := httptest.NewServer(New(Options{Slow: 10 * time.Millisecond}))
	defer srv.Close()
	if status, _ := send(t, srv, documentRequest(t), CasheddyUsername, "wrong"); status != 401 {
		t.Errorf("wrong password: got %d, want 401", status)
	}
	body := documentRequest(t)
	body["email"] = "kyle+decline@blendit.eu"
	if status, out := send(t, srv, body, CasheddyUsername, CasheddyPassword); status != 200 || out["success"] != false || len(fields(out)) != 0 {
		t.Errorf("+decline: got %d %v", status, out)
	}
	body["email"] = "kyle+fix@blendit.eu"
	if _, out := send(t, srv, body, CasheddyUsername, CasheddyPassword); strings.Join(fields(out), ",") != "phone_plan" {
		t.Errorf("+fix: got fields %v", fields(out))
	}
	body["email"] = "kyle+fail@blendit.eu"
	if status, _ := send(t, srv, body, CasheddyUsername, CasheddyPassword); status != 500 {
		t.Errorf("+fail: got %d", status)
	}
}

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
