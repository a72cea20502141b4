package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// moneyConfig is the sandbox with a traffic source's postback (to a test
// receiver on this machine), a duplicate window on the us flow and the
// price of a Cashcat call.
const moneyConfig = `
server: { addr: "127.0.0.1:0", admin_addr: "127.0.0.1:0", public_url: "http://127.0.0.1:8080" }
storage: { dsn: "sqlite://%[1]s" }
admin: { password: test-admin }
cashcat: { base_url: "/sandbox/cashcat", timeout: 2s, cost_per_call: { amount: 0.05, currency: USD } }
providers:
  lokyata: { base_url: "/sandbox/lokyata", api_key: 0VIBkISQiaQS4z6iggxT11JKqvw0subW, lead_provider_id: LP, campaign_id: C, affiliate_id: A, lead_price: 25 }
  astoria: { base_url: "/sandbox/astoria", vendor_id: "76", tiers: [tier100, tier50] }
submission: { wait: 5s }
attribution: { click_params: { "partner*": [click_id] } }
postbacks:
  - name: ads
    match: { utm_source: ["google*"] }
    on: [accepted, redirected]
    url: "%[2]s/pb?click={gclid}&payout={revenue}&currency={currency}&event={event}&txn={application_id}"
flows:
  - name: us
    form: us
    currency: USD
    buyers: [lokyata, astoria]
    default: true
    dedupe: { window: 720h, keys: [ssn, email, mobile_phone] }
sandbox: { enabled: true }
`

// The money loop, end to end: a consumer from an ad click applies and is
// sold; the sale is reported back to the source with the click id; the
// visit's Cashcat call is its spend; the same consumer applying again
// skips the buyer that had her. The click id never reaches a log or a
// URL, and shows masked on the audit page.
func TestMoneyLoop(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []url.Values
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Query())
		mu.Unlock()
	}))
	defer rcv.Close()
	g := start(t, fmt.Sprintf(moneyConfig, filepath.Join(t.TempDir(), "money.db"), rcv.URL))

	const click = "CjwKCAiAclickID123"
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	landing := "/?utm_source=google&utm_campaign=spring&gclid=" + click + "&action_token=usdemo0000000001"
	resp, _ := get(t, c, g.URL+landing)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || strings.Contains(loc, click) || strings.Contains(loc, "gclid") {
		t.Fatalf("token exchange: %d to %q, want a 303 without the click id", resp.StatusCode, loc)
	}
	_, page := get(t, c, g.URL+resp.Header.Get("Location"))
	resp, _ = post(t, c, g.URL+"/apply", completeUS(formSecrets(t, page), "john@example.com", "78702"))
	buyerPage := resp.Header.Get("Location")
	if !strings.Contains(buyerPage, "/sandbox/lender/welcome?buyer=Lokyata") {
		t.Fatalf("the first application ended at %q, want Lokyata's page", buyerPage)
	}
	id := appID(buyerPage)

	// The sale and the redirect are reported back, each once, with the
	// click id and the application id.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a second delivery would have come by now
	mu.Lock()
	events := map[string]url.Values{}
	for _, q := range got {
		events[q.Get("event")] = q
	}
	if len(got) != 2 || events["accepted"] == nil || events["redirected"] == nil {
		t.Fatalf("postbacks received: %v, want one on accepted and one on redirected", got)
	}
	if q := events["accepted"]; q.Get("click") != click || q.Get("txn") != id || q.Get("payout") != "25.00" || q.Get("currency") != "USD" {
		t.Errorf("the sale's postback: %v", q)
	}
	mu.Unlock()

	// The audit trail: the click id masked, both postbacks delivered.
	app, _ := audit(t, g, id)
	if clicks := fmt.Sprint(app["click_ids"]); !strings.Contains(clicks, "gclid CjwK…23") {
		t.Errorf("audit click ids: %s, want gclid masked", clicks)
	}
	req, _ := http.NewRequest("GET", g.AdminURL+"/admin/applications/"+id, nil)
	req.SetBasicAuth("admin", "test-admin")
	auditPage, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(auditPage.Body)
	auditPage.Body.Close()
	if strings.Contains(string(body), click) || !strings.Contains(string(body), "<td>ads</td><td>accepted</td><td>delivered</td>") {
		t.Errorf("audit page: the click id in clear, or the postback not shown as delivered")
	}

	// The same consumer again (same SSN): Lokyata, who had her, is skipped;
	// Astoria gets her.
	c2 := browser(t)
	c2.CheckRedirect = c.CheckRedirect
	_, page = get(t, c2, g.URL+"/?utm_source=google&utm_campaign=spring")
	resp, _ = post(t, c2, g.URL+"/apply", completeUS(formSecrets(t, page), "john.other@example.com", "78702"))
	second := resp.Header.Get("Location")
	if !strings.Contains(second, "buyer=Astoria") {
		t.Errorf("the second application ended at %q, want Astoria's page", second)
	}
	_, atts := audit(t, g, appID(second))
	if line := attemptsLine(atts); !strings.HasPrefix(line, "lokyata/:skipped") {
		t.Errorf("second application's attempts: %s, want Lokyata skipped", line)
	} else if reason := fmt.Sprint(atts[0]["reason"]); !strings.HasPrefix(reason, "posted to this buyer on ") {
		t.Errorf("skip reason %q", reason)
	}

	// Spend: the first visit's paid call (the second consumer came
	// without a token), at 0.05 USD, against both sales (25 + Astoria's
	// 100); the second application counts as one duplicate.
	records := funnelCSV(t, g)
	col := columns(records[0])
	for _, r := range records[1:] {
		if r[col["utm_source"]] == "google" && r[col["utm_campaign"]] == "spring" {
			if r[col["revenue"]] != "125.00" || r[col["paid_calls"]] != "1" || r[col["spend"]] != "0.05 USD" || r[col["profit"]] != "124.95" || r[col["duplicates"]] != "1" {
				t.Errorf("funnel line %v: want revenue 125.00, 1 paid call, 0.05 USD spend, 124.95 profit, 1 duplicate", r)
			}
		}
	}
	if logs := g.logs.all(); strings.Contains(logs, click) || strings.Contains(logs, "876543210") || strings.Contains(logs, "876-54-3210") {
		t.Error("a click id or the SSN reached the log")
	}
}

// An ad click auto-tagged by Google (a gclid, and no utm_* at all, as
// Google Ads sends by default) is a click from Google: its sale is
// reported back to the postback that matches google*, and the dashboard
// counts its visit, spend and sale under google, not under no source.
func TestAutoTaggedClickIsReportedBack(t *testing.T) {
	t.Parallel()
	got := make(chan url.Values, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.URL.Query() }))
	defer rcv.Close()
	g := start(t, fmt.Sprintf(moneyConfig, filepath.Join(t.TempDir(), "money.db"), rcv.URL))

	const click = "EAIaIQobChMIautoTagged42"
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := get(t, c, g.URL+"/?gclid="+click+"&action_token=usdemo0000000001")
	_, page := get(t, c, g.URL+resp.Header.Get("Location"))
	resp, _ = post(t, c, g.URL+"/apply", completeUS(formSecrets(t, page), "ann@example.com", "78702"))
	id := appID(resp.Header.Get("Location"))
	if id == "" {
		t.Fatalf("the application ended at %q, want a buyer's page", resp.Header.Get("Location"))
	}
	select {
	case q := <-got:
		if q.Get("click") != click || q.Get("txn") != id {
			t.Errorf("postback %v, want the click id and the application", q)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no postback for a sale from an auto-tagged Google click")
	}
	funnelCSV(t, g) // fails unless a google line holds the visit's paid call
}

// A flow for Google's clicks gets the auto-tagged ones, with a token or
// without (the landing then goes to its clean URL, the gclid dropped):
// the flow, the dashboard line and the postbacks all read the click as
// google.
func TestAutoTaggedClickGetsTheGoogleFlow(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(fmt.Sprintf(baseConfig, filepath.Join(t.TempDir(), "l.db")), `match: { utm_campaign: ["es-*"] }`, `match: { utm_source: ["google*"] }`, 1)
	g := start(t, cfg)
	for _, link := range []string{"/?gclid=EAIaIQobChMIflow42", "/?gclid=EAIaIQobChMIflow43&action_token=esdemo0000000001",
		"/?utm_source=ann%40example.com&gclid=EAIaIQobChMIflow44"} {
		resp, page := get(t, browser(t), g.URL+link)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `lang="es"`) || strings.Contains(resp.Request.URL.RawQuery, "gclid") {
			t.Errorf("%s: %d at %s, lang es %v; want the google flow's (es) form at a URL without the click id",
				link, resp.StatusCode, resp.Request.URL, strings.Contains(page, `lang="es"`))
		}
	}
	if _, page := get(t, browser(t), g.URL+"/?utm_source=cashcat.ph&gclid=EAIaIQobChMIflow45"); !strings.Contains(page, `lang="en"`) {
		t.Error("a link's own utm_source did not win over its gclid")
	}
}

// Where consumers drop off counts those who left and did not send: a
// consumer whose page fired its pagehide beacon (a reload, another app)
// and who came back to send is taken back off the step funnel's leavers,
// in the dashboard and in /metrics; one who left for good stays counted.
func TestLeaveTakenBackWhenTheConsumerSends(t *testing.T) {
	t.Parallel()
	g := start(t, fmt.Sprintf(moneyConfig, filepath.Join(t.TempDir(), "money.db"), "http://127.0.0.1:9"))
	leave := func(email, field string) (*http.Client, url.Values) {
		c := browser(t)
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, _ := get(t, c, g.URL+"/?utm_source=google&utm_campaign=leavers&action_token=usdemo0000000001")
		_, page := get(t, c, g.URL+resp.Header.Get("Location"))
		secrets := formSecrets(t, page)
		for _, path := range []string{"/draft", "/draft/left"} {
			resp, _ := post(t, c, g.URL+path, url.Values{"csrf_token": {secrets.Get("csrf_token")}, "flow": {"us"}, field: {"Chase"}, "field": {field}})
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("POST %s: %d, want 204", path, resp.StatusCode)
			}
		}
		return c, completeUS(secrets, email, "78702")
	}
	c, form := leave("back@example.com", "bank_name")
	leave("gone@example.com", "employer_name") // never comes back
	if resp, _ := post(t, c, g.URL+"/apply", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the consumer who came back: %d, want a 303", resp.StatusCode)
	}
	funnelCSV(t, g) // the visits, and the steps with them, are flushed
	req, _ := http.NewRequest("GET", g.AdminURL+"/admin/last-fields.csv?flow=us&source=google&campaign=leavers", nil)
	req.SetBasicAuth("admin", "test-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || fmt.Sprint(records[1:]) != "[[employer_name 1 1.0000]]" {
		t.Errorf("last fields of those who left: %q (%v), want employer_name alone, once", records, err)
	}
	_, metrics := get(t, http.DefaultClient, g.AdminURL+"/metrics")
	for _, want := range []string{`leadgate_funnel_steps_total{flow="us",stage="left",step="`, `leadgate_funnel_steps_total{flow="us",stage="returned",step="`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s…", want)
		}
	}
}

// appID reads the application id of a lender welcome page's URL.
func appID(welcome string) string {
	u, _ := url.Parse(welcome)
	return u.Query().Get("lead_id")
}

// columns maps a CSV header's names to their indexes.
func columns(header []string) map[string]int {
	c := map[string]int{}
	for i, name := range header {
		c[name] = i
	}
	return c
}

// readFunnelCSV reads the dashboard's CSV as it is now.
func readFunnelCSV(t *testing.T, g *instance) [][]string {
	t.Helper()
	req, _ := http.NewRequest("GET", g.AdminURL+"/admin/funnel.csv", nil)
	req.SetBasicAuth("admin", "test-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	records, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("funnel.csv: %v %v", records, err)
	}
	return records
}

// funnelCSV reads the dashboard's CSV (after the visits were flushed).
func funnelCSV(t *testing.T, g *instance) [][]string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		records := readFunnelCSV(t, g)
		c := columns(records[0])
		for _, r := range records[1:] {
			if r[c["utm_source"]] == "google" && r[c["paid_calls"]] != "0" {
				return records
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the funnel never showed the visit's spend: %v", records)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// A process killed after the decision, before its postback was taken
// (the source's endpoint was down), delivers it after the restart,
// exactly once.
func TestPostbackSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := binary(t)
	sandboxURL := startSandbox(t, bin)
	// The source's endpoint: a port nobody listens on yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "config.yaml")
	config := fmt.Sprintf(killConfig, "sqlite://"+filepath.Join(dir, "leadgate.db"), sandboxURL) +
		"postbacks:\n  - { name: ads, on: [accepted], url: \"" + endpoint + "/pb?txn={application_id}\" }\n"
	os.WriteFile(cfg, []byte(config), 0o600)
	first, url1 := startProcess(t, bin, serving, "--config", cfg)

	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, page := get(t, c, url1+"/?utm_source=cashcat.ph")
	resp, _ := post(t, c, url1+"/apply", completeUS(formSecrets(t, page), "pb@example.com", "78702"))
	id := appID(resp.Header.Get("Location"))
	if id == "" {
		t.Fatalf("apply: %d to %q, want Lokyata's page", resp.StatusCode, resp.Header.Get("Location"))
	}
	admin := adminOf(t, first)
	for deadline := time.Now().Add(10 * time.Second); postbackTries(t, admin, id) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the postback was never tried")
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.cmd.Process.Kill()
	first.cmd.Wait()

	var mu sync.Mutex
	var received []string
	ln, err = net.Listen("tcp", endpoint[len("http://"):])
	if err != nil {
		t.Skipf("the endpoint's port was taken meanwhile: %v", err)
	}
	rcv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.URL.Query().Get("txn"))
		mu.Unlock()
	})}}
	rcv.Start()
	defer rcv.Close()
	second, _ := startProcess(t, bin, serving, "--config", cfg)
	admin = adminOf(t, second)
	for deadline := time.Now().Add(20 * time.Second); ; {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a second delivery would have come by now
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 1 || received[0] != id {
		t.Errorf("the source got %v, want the application %s once", received, id)
	}
}

// adminOf is the admin listener of a leadgate process, from its start-up
// log.
func adminOf(t *testing.T, p *process) string {
	t.Helper()
	for _, line := range printed(p) {
		if m := adminAddr.FindStringSubmatch(line); m != nil {
			return "http://" + m[1]
		}
	}
	t.Fatal("no admin_addr in the start-up log")
	return ""
}

// postbackTries is how many times the application's postbacks were tried.
func postbackTries(t *testing.T, admin, id string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", admin+"/admin/api/applications/"+id, nil)
	req.SetBasicAuth("admin", "test-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Postbacks []struct{ Tries int } `json:"postbacks"`
	}
	json.NewDecoder(resp.Body).Decode(&page)
	n := 0
	for _, p := range page.Postbacks {
		n += p.Tries
	}
	return n
}
