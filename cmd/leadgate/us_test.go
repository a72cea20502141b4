package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// completeUS is what a consumer completes on the us form (the sandbox lead
// prefills the name, email, birth date, city and amount).
func completeUS(secrets url.Values, email, zip string) url.Values {
	day := func(days int) string { return time.Now().AddDate(0, 0, days).Format("2006-01-02") }
	v := url.Values{
		"loan_amount": {"500"}, "first_name": {"John"}, "last_name": {"Smith"}, "birth_date": {"1985-07-04"},
		"ssn": {"876-54-3210"}, "is_citizen": {"1"}, "is_military": {"0"},
		"drivers_license_number": {"D1234567"}, "drivers_license_state": {"TX"},
		"email": {email}, "mobile_phone": {"(512) 555-0134"}, "home_phone": {"512 555 0135"}, "work_phone": {"512-555-0136"},
		"address_line1": {"1 Congress Ave"}, "city": {"Austin"}, "state": {"TX"}, "postal_code": {zip},
		"housing": {"rent"}, "months_at_address": {"30"},
		"income_source": {"employed"}, "employment_type": {"full_time"}, "employer_name": {"Acme Corp"},
		"employer_phone": {"5125550100"}, "employer_address": {"2 Main St"}, "supervisor_name": {"Jane Roe"},
		"employed_since": {"2022-03-01"}, "monthly_income": {"3,500"}, "pay_frequency": {"biweekly"},
		"pay_method": {"direct_deposit"}, "last_pay_date": {day(-5)}, "next_pay_date": {day(9)},
		"bank_name": {"Chase"}, "bank_routing_number": {"021000021"}, "bank_account_number": {"12345678"},
		"bank_account_type": {"checking"}, "bank_months": {"40"},
		"consent_terms": {"1"}, "consent_tcpa": {"1"},
	}
	for k := range secrets {
		v.Set(k, secrets.Get(k))
	}
	return v
}

// openUS is a new consumer on the us form (the default flow), completed.
func openUS(t *testing.T, g *instance, email, zip string) (*http.Client, url.Values) {
	t.Helper()
	c := browser(t)
	_, page := get(t, c, g.URL+"/?utm_source=cashcat.ph&utm_campaign=us-spring")
	return c, completeUS(formSecrets(t, page), email, zip)
}

// audit reads an application's attempts from the operator listener.
func audit(t *testing.T, g *instance, id string) (app map[string]any, attempts []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.AdminURL+"/admin/api/applications/"+id, nil)
	req.SetBasicAuth("admin", "test-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		App      map[string]any   `json:"application"`
		Attempts []map[string]any `json:"attempts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("audit %s: %d %v", id, resp.StatusCode, err)
	}
	return out.App, out.Attempts
}

// attemptsLine writes attempts as "buyer/tier:outcome" for comparison.
func attemptsLine(atts []map[string]any) string {
	var parts []string
	for _, a := range atts {
		tier, _ := a["tier"].(string)
		parts = append(parts, fmt.Sprintf("%s/%s:%s", a["buyer"], tier, a["outcome"]))
	}
	return strings.Join(parts, " ")
}

// A consumer at a Puerto Rico or military post address is told beside
// the ZIP code, and in the summary, that the form takes the 50 states and
// DC: not sent to a state list without theirs with "This field is
// required.". Nothing is stored or sent.
func TestUSZIPOutsideTheStatesSaysWhy(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	for _, zip := range []string{"00901", "09012"} {
		c, form := openUS(t, g, "ana@example.com", zip)
		form.Del("state")
		form.Del("drivers_license_state")
		resp, page := post(t, c, g.URL+"/apply", form)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("ZIP %s: %d at %s, want the form again (422)", zip, resp.StatusCode, resp.Request.URL)
		}
		const why = "We can only take addresses in the 50 states and DC, not territories or APO/FPO/DPO."
		if !strings.Contains(page, `id="f-postal_code-error">`+why) || !strings.Contains(page, `<a href="#f-postal_code">ZIP code: `+why) {
			t.Errorf("ZIP %s: the page does not say why beside the ZIP code and in the summary", zip)
		}
		if strings.Contains(page, `id="f-state-error"`) || strings.Contains(page, `id="f-drivers_license_state-error"`) {
			t.Errorf("ZIP %s: the state lists still say \"required\"", zip)
		}
	}
}

// TestUSJourney: the US sandbox token with no campaign lands on the us
// flow's English form, prefilled; the completed form ends on the page of
// the first buyer, Lokyata.
func TestUSJourney(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c := browser(t)
	resp, page := get(t, c, g.URL+"/?utm_source=cashcat.ph&action_token=usdemo0000000001")
	if resp.StatusCode != 200 || strings.Contains(resp.Request.URL.String(), "action_token") {
		t.Fatalf("landing: got %d at %s", resp.StatusCode, resp.Request.URL)
	}
	for _, want := range []string{`lang="en"`, "Complete your application", `value="John"`, `value="Smith"`, `value="500"`,
		`value="1985-07-04"`, `value="Austin"`, `name="ssn"`, `name="bank_routing_number"`, `<option value="TX">Texas</option>`,
		"ZIP code", "automatic telephone dialing system", `name="is_citizen" value="1"`, `<option value="full_time" selected>`} {
		if !strings.Contains(page, want) {
			t.Errorf("us form lacks %q", want)
		}
	}
	form := completeUS(formSecrets(t, page), "john.smith@example.com", "78702")
	form.Set("work_phone", "512-555-0136 ext. 7") // a switchboard's number
	resp, page = post(t, c, g.URL+"/apply", form)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/sandbox/lender/welcome" || !strings.Contains(page, "Lokyata") {
		t.Fatalf("after apply: got %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if l, a := calls(t, g, "lokyata:process-lp-lead"), calls(t, g, "astoria:fulldirect"); l != 1 || a != 0 {
		t.Errorf("posts: lokyata %d, astoria %d; want 1 and 0", l, a)
	}
	id := resp.Request.URL.Query().Get("lead_id") // Lokyata's redirect carries our request_id
	app, atts := audit(t, g, id)
	if app["status"] != "accepted" || app["buyer"] != "lokyata" || app["revenue"] != 25.0 || attemptsLine(atts) != "lokyata/:accepted" {
		t.Errorf("audit: got %v %s", app, attemptsLine(atts))
	}
	// The CRM mirror runs in the background: the lead reaches Cashfin once.
	deadline := time.Now().Add(10 * time.Second)
	for app["crm_status"] != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("never mirrored to the CRM: %v", app)
		}
		time.Sleep(200 * time.Millisecond)
		app, _ = audit(t, g, id)
	}
	if app["crm_ref"] == "" || calls(t, g, "cashfin:lead/create") != 1 {
		t.Errorf("crm: got %v with %d creations", app, calls(t, g, "cashfin:lead/create"))
	}
	// The operator's Prometheus scrape shows the journey.
	_, metrics := get(t, http.DefaultClient, g.AdminURL+"/metrics")
	for _, want := range []string{
		`leadgate_http_requests_total{route="/",status="303"} 1`, `leadgate_http_requests_total{route="/apply",status="303"} 1`,
		`leadgate_cashcat_calls_total{result="ok"} 1`, `leadgate_cashcat_cache_total{result="miss"} 1`,
		`leadgate_cashcat_balance_available_requests 249`, `leadgate_buyer_attempts_total{buyer="lokyata",outcome="accepted"} 1`,
		`leadgate_applications_decided_total{flow="us",status="accepted"} 1`, `leadgate_revenue_total{flow="us"} 25`,
		`leadgate_breaker_state{upstream="lokyata"} 0`, `leadgate_crm_leads_mirrored_total 1`,
		`leadgate_http_request_duration_seconds_bucket{route="/apply"`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, pii := range []string{"876543210", "876-54-3210", "021000021", "12345678", "5125550134", "john.smith", "Congress"} {
		if strings.Contains(g.logs.all(), pii) {
			t.Errorf("logs contain %q", pii)
		}
	}
}

// The waterfall: Lokyata declines, Astoria is ridden down its tiers.
func TestUSWaterfallAndTierRideDown(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	tests := []struct {
		name, email, zip string
		wantAttempts     string
		wantBuyer        string
		wantRevenue      float64
	}{
		{"declined then sold at the top tier", "a+decline@example.com", "78702", "lokyata/:declined astoria/tier100:accepted", "astoria", 100},
		{"ridden down to tier50", "b+decline+tier50@example.com", "78702", "lokyata/:declined astoria/tier100:declined astoria/tier50:accepted", "astoria", 50},
		{"Lokyata failing (500) falls through", "c+lokyata-fail+tier10@example.com", "78702", "lokyata/:error astoria/tier100:declined astoria/tier50:declined astoria/tier10:accepted", "astoria", 10},
		{"a final rejection ends the ride", "d+cap+blacklist@example.com", "78702", "lokyata/:declined astoria/tier100:declined", "", 0},
		{"no coverage on every tier", "e+decline@example.com", "78701", "lokyata/:declined astoria/tier100:declined astoria/tier50:declined astoria/tier10:declined", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, form := openUS(t, g, tt.email, tt.zip)
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, _ := post(t, c, g.URL+"/apply", form)
			loc := resp.Header.Get("Location")
			var id string
			if tt.wantBuyer != "" {
				if !strings.Contains(loc, "/sandbox/lender/welcome?buyer=Astoria") {
					t.Fatalf("got %d to %q, want Astoria's page", resp.StatusCode, loc)
				}
				// The sandbox lender page shows our vendor_lead_id.
				u, _ := url.Parse(loc)
				id = u.Query().Get("lead_id")
			} else {
				if !strings.HasPrefix(loc, "/status/") {
					t.Fatalf("got %d to %q, want the no-offer page", resp.StatusCode, loc)
				}
				id = strings.TrimPrefix(loc, "/status/")
				_, page := get(t, c, g.URL+loc)
				if !strings.Contains(page, "No offer right now") {
					t.Errorf("declined page:\n%s", page)
				}
			}
			app, atts := audit(t, g, id)
			if got := attemptsLine(atts); got != tt.wantAttempts {
				t.Errorf("attempts: got %s, want %s", got, tt.wantAttempts)
			}
			if app["revenue"] != tt.wantRevenue {
				t.Errorf("revenue: got %v, want %v", app["revenue"], tt.wantRevenue)
			}
		})
	}
}

// Support answers "why was this lead not sold?" from the audit: what each
// buyer was sent and answered, through the real clients and emulators,
// with the consumer's personal data masked in the JSON and on the page.
func TestAuditShowsWhatEachBuyerWasSentAndAnswered(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c, form := openUS(t, g, "c+lokyata-fail+tier10@example.com", "78702")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := post(t, c, g.URL+"/apply", form)
	u, _ := url.Parse(resp.Header.Get("Location"))
	id := u.Query().Get("lead_id")
	_, atts := audit(t, g, id)
	if got := attemptsLine(atts); got != "lokyata/:error astoria/tier100:declined astoria/tier50:declined astoria/tier10:accepted" {
		t.Fatalf("attempts: %s", got)
	}
	field := func(i int, k string) string { return fmt.Sprint(atts[i][k]) }
	for _, want := range []struct {
		i              int
		request        []string
		status, answer string
	}{
		{0, []string{"POST /sandbox/lokyata/process-lp-lead\n\n{", `"requested_amount":500`, `"pay_frequency":"Bi-Weekly"`, `"ssn":"•••"`, `"ip_address":"•••"`}, "500", `"comment":`},
		{1, []string{"POST /sandbox/astoria/v2/fulldirect/\n\n", "\nloan_amount=500\n", "\ntier=tier100\n", "\nssn=•••\n"}, "200", "<Response>Rejected</Response>"},
		{3, []string{"\ntier=tier10\n"}, "200", "<Response>Accepted</Response>"},
	} {
		for _, r := range want.request {
			if !strings.Contains(field(want.i, "request"), r) {
				t.Errorf("attempt %d's request lacks %q:\n%s", want.i+1, r, field(want.i, "request"))
			}
		}
		if field(want.i, "answer_status") != want.status || !strings.Contains(field(want.i, "response"), want.answer) {
			t.Errorf("attempt %d's answer: %s %s, want %s with %q", want.i+1, field(want.i, "answer_status"), field(want.i, "response"), want.status, want.answer)
		}
	}
	req, _ := http.NewRequest("GET", g.AdminURL+"/admin/applications/"+id, nil)
	req.SetBasicAuth("admin", "test-admin")
	page, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(html), "#4 astoria tier10: answered 200") || !strings.Contains(string(html), "loan_amount=500") {
		t.Errorf("the audit page does not show the exchanges")
	}
	everything := fmt.Sprint(atts) + string(html)
	for _, pii := range []string{"876543210", "876-54-3210", "021000021", "12345678", "5125550134", "512-555", "c+lokyata-fail",
		"Congress", "Smith", "Acme", "Jane Roe", "1985-07-04", "07/04/1985", "Austin", "D1234567"} {
		if strings.Contains(everything, pii) {
			t.Errorf("the audit shows %q", pii)
		}
	}
}

func TestUSFallbackURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(dir, "l.db")),
		"    buyers: [lokyata, astoria]\n", "    buyers: [lokyata, astoria]\n    fallback_url: https://lender.example/sorry\n", 1)
	g := start(t, cfg)
	c, form := openUS(t, g, "f+decline@example.com", "78701")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := post(t, c, g.URL+"/apply", form)
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || loc != "https://lender.example/sorry" {
		t.Errorf("every buyer declined: got %d to %q, want the flow's fallback_url", resp.StatusCode, loc)
	}
}

// A slow first buyer: the English waiting page, its JSON status, and the
// page advancing by itself to the buyer's URL.
func TestUSWaitingPageAdvances(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(dir, "l.db")), "submission: { wait: 5s }", "submission: { wait: 200ms }", 1)
	g := start(t, cfg)
	c, form := openUS(t, g, "g+lokyata-slow@example.com", "78702")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := post(t, c, g.URL+"/apply", form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/status/") {
		t.Fatalf("got %d to %q, want the waiting page", resp.StatusCode, loc)
	}
	resp, page := get(t, c, g.URL+loc)
	if resp.StatusCode != 200 || !strings.Contains(page, "Matching you with a lender") || !strings.Contains(page, `http-equiv="refresh"`) {
		t.Errorf("waiting page: %d\n%s", resp.StatusCode, page)
	}
	id := strings.TrimPrefix(loc, "/status/")
	_, body := get(t, c, g.URL+"/api/v1/applications/"+id)
	if !strings.Contains(body, `"status":"pending"`) {
		t.Errorf("status json while waiting: %s", body)
	}
	if next := advance(t, c, g.URL+loc, 20*time.Second); !strings.Contains(next, "/sandbox/lender/welcome?buyer=Lokyata") {
		t.Errorf("waiting page advanced to %q", next)
	}
	_, body = get(t, c, g.URL+"/api/v1/applications/"+id)
	if !strings.Contains(body, `"status":"accepted"`) || !strings.Contains(body, `buyer=Lokyata`) {
		t.Errorf("status json after: %s", body)
	}
}

// Twenty posts of one form at once (an impatient double click, a retrying
// browser): one application, one post to the buyer, the same answer to all.
func TestTwentyConcurrentSubmitsMakeOnePost(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c, form := openUS(t, g, "h@example.com", "78702")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var wg sync.WaitGroup
	locs := make([]string, 20)
	for i := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.PostForm(g.URL+"/apply", form)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			locs[i] = resp.Header.Get("Location")
		}()
	}
	wg.Wait()
	for i, loc := range locs {
		if loc != locs[0] || !strings.Contains(loc, "buyer=Lokyata") {
			t.Errorf("post %d went to %q, post 0 to %q", i, loc, locs[0])
		}
	}
	if n := calls(t, g, "lokyata:process-lp-lead"); n != 1 {
		t.Errorf("got %d Lokyata posts for one form sent 20 times, want 1", n)
	}
}

// One Cashcat call for a token asked for by the landing page and the
// prefill API together, in either order, all at once.
func TestLandingAndPrefillAPIShareOneCashcatCall(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				get(t, browser(t), g.URL+"/?action_token=usdemo0000000001")
				return
			}
			req, _ := http.NewRequest("GET", g.URL+"/api/v1/prefill/usdemo0000000001?flow=us", nil)
			req.Header.Set("X-API-Key", "lender-key-0123456789")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ Lead map[string]string }
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != 200 || body.Lead["first_name"] != "John" || body.Lead["loan_amount"] != "500" {
				t.Errorf("prefill api: got %d %v", resp.StatusCode, body.Lead)
			}
		}()
	}
	wg.Wait()
	if n := calls(t, g, "usdemo0000000001"); n != 1 {
		t.Errorf("got %d Cashcat calls, want 1", n)
	}
}

// An operator is warned, in the logs, when Cashcat reports a balance about
// to run out (the sandbox's lowbalance token says 3 requests are left).
func TestLowCashcatBalanceWarns(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	get(t, browser(t), g.URL+"/?utm_campaign=es-demo&action_token=lowbalance000001")
	// Log lines reach the test through a pipe: give the last one a moment.
	warned := func(logs string) bool {
		return strings.Contains(logs, `"alert":"cashcat_balance_low"`) && strings.Contains(logs, `"available_requests":3`)
	}
	for deadline := time.Now().Add(2 * time.Second); !warned(g.logs.all()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no low-balance warning in the logs:\n%s", g.logs.all())
		}
	}
	_, metrics := get(t, http.DefaultClient, g.AdminURL+"/metrics")
	if !strings.Contains(metrics, "leadgate_cashcat_balance_available_requests 3") {
		t.Error("the balance is not in the metrics")
	}
}
