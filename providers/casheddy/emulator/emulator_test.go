package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadgate/leadgate/providers/emulate"
)

// documentRequest is the Casheddy document's example request, with its
// pay date moved after today (the document's 2023 date is in the past now).
func documentRequest(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../testdata/send_request.golden.json")
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
	req, _ := http.NewRequest("POST", srv.URL+"/v1/lead/send", strings.NewReader(string(b)))
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
	var calls atomic.Int64
	srv := httptest.NewServer(New(emulate.Env{OnCall: func(key string) {
		if key == Calls {
			calls.Add(1)
		}
	}}))
	defer srv.Close()
	status, out := send(t, srv, documentRequest(t), Username, Password)
	data, _ := out["data"].(map[string]any)
	if status != 200 || out["success"] != true || !strings.Contains(data["redirect_url"].(string), "/sandbox/lender/welcome") {
		t.Fatalf("got %d %v", status, out)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("got %d counted posts, want 1", n)
	}
}

func TestCasheddyEmulatorRules(t *testing.T) {
	srv := httptest.NewServer(New(emulate.Env{}))
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
		status, out := send(t, srv, body, Username, Password)
		got := fields(out)
		if status != 422 || out["success"] != false || len(got) == 0 || got[0] != tt.want {
			t.Errorf("%s=%v: got %d with fields %v, want 422 on %s", tt.field, tt.value, status, got, tt.want)
		}
	}
	body := documentRequest(t)
	body["address"].(map[string]any)["city"] = "Ribadesella 2"
	if _, out := send(t, srv, body, Username, Password); strings.Join(fields(out), ",") != "address[city]" {
		t.Errorf("address city: got fields %v", fields(out))
	}
}

func TestCasheddyEmulatorAuthAndSwitches(t *testing.T) {
	srv := httptest.NewServer(New(emulate.Env{Slow: 10 * time.Millisecond}))
	defer srv.Close()
	if status, _ := send(t, srv, documentRequest(t), Username, "wrong"); status != 401 {
		t.Errorf("wrong password: got %d, want 401", status)
	}
	body := documentRequest(t)
	body["email"] = "kyle+decline@blendit.eu"
	if status, out := send(t, srv, body, Username, Password); status != 200 || out["success"] != false || len(fields(out)) != 0 {
		t.Errorf("+decline: got %d %v", status, out)
	}
	body["email"] = "kyle+fix@blendit.eu"
	if _, out := send(t, srv, body, Username, Password); strings.Join(fields(out), ",") != "phone_plan" {
		t.Errorf("+fix: got fields %v", fields(out))
	}
	body["email"] = "kyle+fail@blendit.eu"
	if status, _ := send(t, srv, body, Username, Password); status != 500 {
		t.Errorf("+fail: got %d", status)
	}
}
