package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// instance is a leadgate started by run() for a test.
type instance struct {
	URL      string
	AdminURL string
	logs     *logBuffer
}

type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) all() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}

const baseConfig = `
server:
  addr: "127.0.0.1:0"
  admin_addr: "127.0.0.1:0"
  public_url: "http://127.0.0.1:8080"
storage:
  dsn: "sqlite://%s"
rate_limits: { landing: "10000-M", apply: "10000-M", prefill_api: "10000-M" }
cashcat:
  base_url: "/sandbox/cashcat"
  timeout: 1s
  breaker: { failures: 3, open_for: 1m }
providers:
  casheddy:
    base_url: "/sandbox/casheddy"
    username: sandbox
    password: sandbox-password
  lokyata:
    base_url: "/sandbox/lokyata"
    api_key: 0VIBkISQiaQS4z6iggxT11JKqvw0subW
    lead_provider_id: LP
    campaign_id: SANDBOX
    affiliate_id: leadgate
    lead_price: 25
  astoria:
    base_url: "/sandbox/astoria"
    vendor_id: "76"
    tiers: [tier100, tier50, tier10]
  cashfin: { enabled: true, base_url: "/sandbox/cashfin", client_secret: cs_sandbox_secret }
admin: { password: test-admin }
prefill_api: { keys: ["lender-key-0123456789"], allowed_origins: ["http://lender.localhost:9000"] }
submission: { wait: 5s }
flows:
  - name: es
    form: es
    currency: EUR
    buyers: [casheddy]
    match: { utm_campaign: ["es-*"] }
  - name: us
    form: us
    currency: USD
    buyers: [lokyata, astoria]
    default: true
sandbox:
  enabled: true
`

// start runs the gateway with cfg (baseConfig when empty) until the test
// ends, and waits for /healthz.
func start(t *testing.T, cfg string) *instance {
	t.Helper()
	dir := t.TempDir()
	if cfg == "" {
		cfg = fmt.Sprintf(baseConfig, filepath.Join(dir, "leadgate.db"))
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	g := &instance{logs: &logBuffer{}}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			g.logs.mu.Lock()
			g.logs.lines = append(g.logs.lines, line)
			g.logs.mu.Unlock()
			var m struct {
				Msg, URL string
				Admin    string `json:"admin_addr"`
			}
			if json.Unmarshal([]byte(line), &m) == nil {
				switch m.Msg {
				case "starting":
					g.logs.mu.Lock()
					g.AdminURL = "http://" + m.Admin
					g.logs.mu.Unlock()
				case "serving":
					urlc <- m.URL
				}
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--config", path}, func(string) string { return "" }, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	})
	select {
	case g.URL = <-urlc:
	case err := <-done:
		t.Fatalf("run ended at start: %v\n%s", err, g.logs.all())
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start")
	}
	resp, err := http.Get(g.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	return g
}

// browser is a client with a cookie jar, as a consumer's browser.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var hidden = regexp.MustCompile(`name="(csrf_token|submission_id)" value="([^"]*)"`)

// formSecrets reads the hidden fields of a rendered form.
func formSecrets(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hidden.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], m[2])
	}
	if v.Get("csrf_token") == "" || v.Get("submission_id") == "" {
		t.Fatalf("form without its hidden fields:\n%s", page)
	}
	return v
}

// completeES is what a consumer completes on the Spanish form.
func completeES(secrets url.Values) url.Values {
	v := url.Values{
		"loan_amount": {"300"}, "loan_period_days": {"30"}, "first_name": {"Lucía"}, "last_name": {"García"},
		"gender": {"female"}, "birth_date": {"1990-04-12"}, "national_id": {"60604016M"}, "nationality": {"ES"},
		"marital_status": {"single"}, "email": {"lucia.garcia@example.es"}, "mobile_phone": {"612 345 678"},
		"address_line1": {"Calle Mayor"}, "house_number": {"5"}, "postal_code": {"33560"}, "city": {"Ribadesella"},
		"housing": {"rent"}, "income_source": {"employed"}, "employed_since": {"2020-01-01"},
		"monthly_income": {"1500"}, "monthly_expenses": {"600"},
		"next_pay_date": {time.Now().AddDate(0, 0, 10).Format("2006-01-02")},
		"iban":          {"ES5020803294338752239563"}, "consent_terms": {"1"}, "consent_marketing": {"1"},
	}
	for k := range secrets {
		v.Set(k, secrets.Get(k))
	}
	return v
}

// openForm is a new consumer on the es form, with the form completed.
func openForm(t *testing.T, g *instance) (*http.Client, url.Values) {
	t.Helper()
	c := browser(t)
	_, page := get(t, c, g.URL+"/?utm_campaign=es-demo")
	return c, completeES(formSecrets(t, page))
}

func calls(t *testing.T, g *instance, key string) int {
	t.Helper()
	return sandboxCalls(t, g.URL)[key]
}

// sandboxCalls reads the emulators' call counts at base.
func sandboxCalls(t *testing.T, base string) map[string]int {
	t.Helper()
	_, body := get(t, http.DefaultClient, base+"/sandbox/calls")
	var m map[string]int
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("calls: %v: %s", err, body)
	}
	return m
}

// TestSpanishJourney walks landing → prefilled form → apply → the sandbox
// lender's welcome page, as a consumer's browser does.
func TestSpanishJourney(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c := browser(t)
	resp, page := get(t, c, g.URL+"/?utm_source=cashcat.ph&utm_campaign=es-demo&action_token=esdemo0000000001")
	if resp.StatusCode != 200 {
		t.Fatalf("landing: got %d", resp.StatusCode)
	}
	if strings.Contains(resp.Request.URL.String(), "action_token") {
		t.Errorf("the token stayed in the address bar: %s", resp.Request.URL)
	}
	if resp.Request.URL.Query().Get("utm_campaign") != "es-demo" {
		t.Errorf("utm parameters lost on the clean URL: %s", resp.Request.URL)
	}
	for _, want := range []string{`lang="es"`, "Completa tu solicitud", `value="Lucía"`, `value="García"`, `value="300"`, `value="1990-04-12"`, `<option value="female" selected>`} {
		if !strings.Contains(page, want) {
			t.Errorf("form lacks %q", want)
		}
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("form page Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
	}

	form := completeES(formSecrets(t, page))
	resp, page = post(t, c, g.URL+"/apply", form)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/sandbox/lender/welcome" || !strings.Contains(page, "Casheddy") {
		t.Fatalf("after apply: got %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}

	// The same form again (a double click, or back and resubmit) replays
	// the first result: same lender page, no second Casheddy post.
	again, _ := post(t, c, g.URL+"/apply", form)
	if again.Request.URL.String() != resp.Request.URL.String() {
		t.Errorf("resubmit went to %s, want %s", again.Request.URL, resp.Request.URL)
	}
	// Straight there, as the first post went: not through the waiting page
	// (the resubmit carries the cookie the first answer rotated).
	direct := *c
	direct.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if third, _ := post(t, &direct, g.URL+"/apply", form); third.StatusCode != 303 || third.Header.Get("Location") != resp.Request.URL.String() {
		t.Errorf("resubmit answered %d to %q, want 303 to %s", third.StatusCode, third.Header.Get("Location"), resp.Request.URL)
	}
	if n := calls(t, g, "casheddy:lead/send"); n != 1 {
		t.Errorf("got %d Casheddy posts for one form sent twice, want 1", n)
	}
	if n := calls(t, g, "esdemo0000000001"); n != 1 {
		t.Errorf("got %d Cashcat calls, want 1", n)
	}
	// Personal data never appears in the logs.
	logs := g.logs.all()
	for _, pii := range []string{"Lucía", "García", "lucia.garcia", "60604016M", "ES5020803294338752239563", "612345678", "612 345 678", "esdemo0000000001"} {
		if strings.Contains(logs, pii) {
			t.Errorf("logs contain %q", pii)
		}
	}
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMistakesComeBackInSpanish(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c, form := openForm(t, g)
	form.Set("national_id", "60604016A")
	form.Set("iban", "ES5020803294338752239564")
	form.Set("first_name", `"><script>alert(1)</script>`)
	resp, page := post(t, c, g.URL+"/apply", form)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("got %d, want 422", resp.StatusCode)
	}
	for _, want := range []string{
		"La letra no corresponde al número", "Este IBAN no es correcto",
		`value="Calle Mayor"`, `aria-describedby="f-national_id-hint f-national_id-error"`, `aria-invalid="true"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("422 page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert(1)") {
		t.Error("the consumer's own input reached the page unescaped")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the entered value was not kept (escaped) in the form")
	}
	if n := calls(t, g, "casheddy:lead/send"); n != 0 {
		t.Errorf("an invalid form reached Casheddy (%d posts)", n)
	}
}

// tickedConsent is a consent's box rendered ticked.
var tickedConsent = regexp.MustCompile(`<input[^>]*name="consent_[a-z_]+"[^>]*checked|<input[^>]*checked[^>]*name="consent_[a-z_]+"`)

// Casheddy's own 422 field errors come back on the form, data kept.
func TestCasheddyFieldErrorsComeBack(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c, form := openForm(t, g)
	form.Set("email", "lucia+fix@example.es")
	resp, page := post(t, c, g.URL+"/apply", form)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, "/status/") {
		t.Fatalf("got %d at %s", resp.StatusCode, resp.Request.URL)
	}
	for _, want := range []string{"Tipo de contrato no puede estar vacío.", `value="Calle Mayor"`, `value="lucia&#43;fix@example.es"`} {
		if !strings.Contains(page, want) {
			t.Errorf("correction form lacks %q", want)
		}
	}
	// Sending it gives the consents again: only the consumer's tick may.
	if m := tickedConsent.FindString(page); m != "" || !strings.Contains(page, `name="consent_terms"`) {
		t.Errorf("correction form: consent shown ticked (%q), or not shown", m)
	}
	// Fixing it and sending again makes a new application that goes through.
	form = completeES(formSecrets(t, page))
	form.Set("phone_plan", "contract")
	resp, _ = post(t, c, g.URL+"/apply", form)
	if resp.Request.URL.Path != "/sandbox/lender/welcome" {
		t.Errorf("corrected form ended at %s", resp.Request.URL)
	}
}

// Casheddy, the es flow's only lender, considers an application only
// with the marketing consent. Sent without it, no lender is asked: the
// consumer gets their form back saying so beside the box (unticked, their
// answers kept), not a no-offer page telling them to try tomorrow. Ticking
// it and sending again goes through.
func TestWithoutTheConsentItsOnlyLenderNeedsTheFormSaysSo(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c, form := openForm(t, g)
	form.Del("consent_marketing")
	resp, page := post(t, c, g.URL+"/apply", form)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.Path, "/status/") {
		t.Fatalf("got %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if strings.Contains(page, "mañana") {
		t.Error("told to try again tomorrow: no lender was asked")
	}
	box := regexp.MustCompile(`<input type="checkbox" id="f-consent_marketing"[^>]*>`).FindString(page)
	for _, want := range []string{"No hemos enviado tu solicitud",
		`id="f-consent_marketing-error">El prestamista de esta oferta solo estudia solicitudes con este consentimiento`, `value="Calle Mayor"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if !strings.Contains(box, `aria-invalid="true"`) || strings.Contains(box, "checked") {
		t.Errorf("marketing box %q: want it marked as the problem, unticked", box)
	}
	if n := calls(t, g, "casheddy:lead/send"); n != 0 {
		t.Errorf("Casheddy was posted %d times without its consent", n)
	}
	// Still on their way, not declined (no "declined" postback, the CRM
	// lead not lost).
	if _, body := get(t, c, g.URL+"/api/v1/applications/"+strings.TrimPrefix(resp.Request.URL.Path, "/status/")); !strings.Contains(body, `"status":"needs_fix"`) {
		t.Errorf("the application reads %s, want needs_fix", body)
	}
	// Back to the landing page: this form again, not "you have sent it".
	first := resp.Request.URL.Path
	if back, again := get(t, c, g.URL+"/"); back.Request.URL.Path != first || !strings.Contains(again, "No hemos enviado tu solicitud") {
		t.Errorf("back to the landing page: at %s, want the form of %s again", back.Request.URL.Path, first)
	}
	form = completeES(formSecrets(t, page))
	resp, _ = post(t, c, g.URL+"/apply", form)
	if resp.Request.URL.Path != "/sandbox/lender/welcome" {
		t.Errorf("sent again with the consent, it ended at %s", resp.Request.URL)
	}
	// Back from the lender to the first one's page: the session changed
	// at the second send; the page of what was sent, in Spanish, not a
	// "not found".
	if back, sent := get(t, c, g.URL+first); back.StatusCode != 200 || !strings.Contains(sent, "Ya has enviado esta solicitud") {
		t.Errorf("back to %s: got %d, want the page of the application sent", first, back.StatusCode)
	}
	// One consumer, one application to the marketer: the correction
	// counts, the application it corrects does not (it read 2, 200 %).
	records := readFunnelCSV(t, g)
	col := columns(records[0])
	apps, accepted := 0, 0
	for _, r := range records[1:] {
		n, _ := strconv.Atoi(r[col["applications"]])
		a, _ := strconv.Atoi(r[col["accepted"]])
		apps, accepted = apps+n, accepted+a
	}
	if apps != 1 || accepted != 1 {
		t.Errorf("the funnel counts %d applications, %d accepted; want 1, 1: %v", apps, accepted, records)
	}
}

func TestFiftyConcurrentLandingsMakeOneCashcatCall(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := browser(t)
			resp, err := c.Get(g.URL + "/?utm_campaign=es-demo&action_token=usdemo0000000001")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("got %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if n := calls(t, g, "usdemo0000000001"); n != 1 {
		t.Errorf("got %d Cashcat calls for 50 concurrent landings, want 1", n)
	}
}

// Cashcat failing never breaks the page, and the breaker stops the calls.
func TestCashcatDownStillShowsTheFormAndBreakerStopsCalls(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	for i := range 8 {
		c := browser(t)
		begin := time.Now()
		resp, page := get(t, c, g.URL+"/?utm_campaign=es-demo&action_token=error00000000500")
		if resp.StatusCode != 200 || !strings.Contains(page, `name="first_name"`) {
			t.Fatalf("landing %d: got %d", i, resp.StatusCode)
		}
		if strings.Contains(page, "Hemos rellenado") {
			t.Errorf("landing %d: claims a prefill it did not get", i)
		}
		if d := time.Since(begin); d > time.Second {
			t.Errorf("landing %d took %v", i, d)
		}
	}
	if n := calls(t, g, "error00000000500"); n != 3 {
		t.Errorf("got %d Cashcat calls, want 3 (the breaker opens after 3 failures)", n)
	}
}

func TestCashcatErrorsNeverBreakThePage(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	for _, token := range []string{"unauthorized0401", "nofunds000000402", "notfound00000404", "method0000000405", "not-a-token!", "slow000000000001"} {
		c := browser(t)
		begin := time.Now()
		resp, page := get(t, c, g.URL+"/?action_token="+url.QueryEscape(token))
		if resp.StatusCode != 200 || !strings.Contains(page, `name="first_name"`) {
			t.Errorf("%s: got %d", token, resp.StatusCode)
		}
		if d := time.Since(begin); d > 3*time.Second {
			t.Errorf("%s: took %v", token, d)
		}
	}
	if n := calls(t, g, "not-a-token!"); n != 0 {
		t.Errorf("a malformed token was sent to Cashcat")
	}
}

func TestScriptInALeadIsEscaped(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c := browser(t)
	resp, page := get(t, c, g.URL+"/?action_token=xss0000000000001")
	if resp.StatusCode != 200 {
		t.Fatalf("got %d", resp.StatusCode)
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Errorf("script from the lead reached the page:\n%s", page)
	}
	if calls(t, g, "xss0000000000001") != 1 {
		t.Error("the lead was not fetched: the test checks nothing")
	}
}

func TestStatusIsOnlyForItsSession(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	c, form := openForm(t, g)
	form.Set("email", "lucia+decline@example.es")
	resp, page := post(t, c, g.URL+"/apply", form)
	if !strings.HasPrefix(resp.Request.URL.Path, "/status/") || !strings.Contains(page, "no tenemos una oferta") {
		t.Fatalf("declined: got %d at %s", resp.StatusCode, resp.Request.URL)
	}
	status := resp.Request.URL.String()
	other := browser(t)
	if r, _ := get(t, other, status); r.StatusCode != 404 {
		t.Errorf("another session got %d for the status page, want 404", r.StatusCode)
	}
	id := strings.TrimPrefix(resp.Request.URL.Path, "/status/")
	r, body := get(t, c, g.URL+"/api/v1/applications/"+id)
	if r.StatusCode != 200 || !strings.Contains(body, `"status":"declined"`) {
		t.Errorf("status json: %d %s", r.StatusCode, body)
	}
	if r, _ := get(t, other, g.URL+"/api/v1/applications/"+id); r.StatusCode != 404 {
		t.Errorf("another session got %d for the status json, want 404", r.StatusCode)
	}
}

// A slow buyer: the consumer waits on the status page, which advances.
func TestSlowBuyerWaitingPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(dir, "l.db")), "submission: { wait: 5s }", "submission: { wait: 200ms }", 1)
	g := start(t, cfg)
	c, form := openForm(t, g)
	form.Set("email", "lucia+slow@example.es")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := post(t, c, g.URL+"/apply", form)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/status/") {
		t.Fatalf("got %d to %q, want 303 to the waiting page", resp.StatusCode, loc)
	}
	resp, page := get(t, c, g.URL+loc)
	if resp.StatusCode != 200 || !strings.Contains(page, `http-equiv="refresh"`) || !strings.Contains(page, "buscando tu prestamista") {
		t.Errorf("waiting page: %d\n%s", resp.StatusCode, page)
	}
	// The page advances by itself once the buyer answers (8s in the
	// sandbox): reloading it, as its meta refresh does, ends at the lender.
	if next := advance(t, c, g.URL+loc, 20*time.Second); !strings.Contains(next, "/sandbox/lender/welcome") {
		t.Errorf("waiting page advanced to %q", next)
	}
}

// advance reloads a waiting page, as its refresh does, until it redirects,
// and returns where to. c must not follow redirects.
func advance(t *testing.T, c *http.Client, statusURL string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, _ := get(t, c, statusURL)
		if resp.StatusCode == http.StatusSeeOther {
			return resp.Header.Get("Location")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the waiting page %s never advanced", statusURL)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("flows:\n  - name: es\n    form: es\n    currency: EUR\n    buyers: [lokyta]\n"), 0o600)
	err := run(context.Background(), []string{"--config", path}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `flows[0].buyers[0]: unknown buyer "lokyta"`) {
		t.Errorf("got %v", err)
	}
	if err == nil || !strings.Contains(err.Error(), "storage.encryption_key") {
		t.Errorf("got %v, want the missing encryption key named", err)
	}
}

// `leadgate sandbox` serves only the emulators, for lenders' own tests.
func TestSandboxCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sandbox", "--addr", "127.0.0.1:0"}, func(string) string { return "" }, pw, io.Discard)
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	base := regexp.MustCompile(`http://\S+/sandbox/`).FindString(line)
	if base == "" {
		t.Fatalf("no address in %q", line)
	}
	resp, _ := get(t, http.DefaultClient, base+"cashcat/api/v1/actions/action/esdemo0000000001")
	if resp.StatusCode != 200 {
		t.Errorf("cashcat emulator: got %d", resp.StatusCode)
	}
	resp, _ = get(t, http.DefaultClient, base+"lender/welcome?buyer=Casheddy&lead_id=x")
	if resp.StatusCode != 200 {
		t.Errorf("welcome page: got %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("sandbox command ended with %v", err)
	}
	pw.Close()
}

// The sandbox lender form, served by the gateway, allows the script of
// exactly the gateway it loads prefill.js from; every other page keeps
// the strict CSP.
func TestSandboxLenderFormCSP(t *testing.T) {
	t.Parallel()
	g := start(t, "")
	other := strings.Replace(g.URL, "127.0.0.1", "localhost", 1)
	resp, page := get(t, http.DefaultClient, g.URL+"/sandbox/lender/form?action_token=usdemo0000000001&gateway=https://evil.example")
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src "+other+";") || !strings.Contains(csp, "connect-src "+other+";") || !strings.Contains(page, `src="`+other+`/prefill.js"`) {
		t.Errorf("lender form: CSP %q, want prefill.js from %s allowed and loaded", csp, other)
	}
	if strings.Contains(csp+page, "evil") {
		t.Errorf("lender form used ?gateway=https://evil.example: %s", csp)
	}
	for _, path := range []string{"/", "/sandbox/", "/sandbox/lender/welcome?buyer=Lokyata&lead_id=x", "/prefill.js"} {
		resp, _ := get(t, http.DefaultClient, g.URL+path)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "connect-src 'self';") {
			t.Errorf("%s: CSP %q, want the strict one", path, csp)
		}
	}
}
