package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// lighthouseCategories are the four scored, each asserted at 100.
var lighthouseCategories = []string{"performance", "accessibility", "best-practices", "seo"}

// lighthouseRuns is how many times at most each flow's page is measured:
// see TestLighthouse for why performance counts its best run. Alone on a
// quiet machine the es page once scored 98, 98, 99, 100 in a row (and 100
// at once the next time): four tries left a flow failing about one CI run
// in ten.
const lighthouseRuns = 8

// lighthouseRun is one Lighthouse report: each category's score out of
// 100, and the audits that cost each category points.
type lighthouseRun struct {
	scores  map[string]int
	failing map[string][]string // category → "id (title: value)"
	metrics string              // the performance metrics, for the log
	cookie  string              // the Cookie header Lighthouse sent
}

// landing is what a consumer from Cashcat lands on: the token link answers
// 303 to the clean URL with the session cookie, and the clean URL with
// that cookie is the prefilled form. It returns the clean URL and the
// cookie.
func landing(t *testing.T, g *instance, tokenPath string) (string, *http.Cookie) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(g.URL + tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "leadgate" {
			cookie = &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || cookie == nil || strings.Contains(loc, "action_token") {
		t.Fatalf("%s: got %d to %q (cookie %v), want a 303 to the clean URL with the session cookie", tokenPath, resp.StatusCode, loc, cookie != nil)
	}
	// The page measured is the prefilled form, as the consumer sees it.
	req, _ := http.NewRequest("GET", g.URL+loc, nil)
	req.AddCookie(cookie)
	page, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, page.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body.String(), "data-prefilled") {
		t.Fatalf("%s with the session cookie is not the prefilled form", loc)
	}
	return g.URL + loc, cookie
}

// lighthouse runs the Lighthouse CLI once on url with the session cookie,
// on its mobile preset (the default: a Moto G Power's screen, simulated
// slow 4G and a 4× slower CPU) in Debian's Chromium.
func lighthouse(t *testing.T, bin, chrome, url string, cookie *http.Cookie) lighthouseRun {
	t.Helper()
	dir := t.TempDir()
	headers := filepath.Join(dir, "headers.json")
	h, _ := json.Marshal(map[string]string{"Cookie": cookie.String()})
	if err := os.WriteFile(headers, h, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, url, "--quiet", "--output=json", "--output-path=stdout",
		"--only-categories="+strings.Join(lighthouseCategories, ","),
		"--extra-headers="+headers, "--chrome-flags=--headless=new --no-sandbox")
	// Chrome's profile and Lighthouse's own files go to the test's
	// directory, removed after it.
	cmd.Env = append(os.Environ(), "CHROME_PATH="+chrome, "HOME="+dir, "TMPDIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w\n%s", err, ee.Stderr)
		}
		t.Fatalf("lighthouse %s: %v", url, err)
	}
	run := readLighthouse(t, url, out)
	if run.cookie != cookie.String() {
		t.Fatalf("lighthouse %s: sent Cookie %q, want the session's", url, run.cookie)
	}
	return run
}

// readLighthouse reads a Lighthouse JSON report.
func readLighthouse(t *testing.T, url string, out []byte) lighthouseRun {
	t.Helper()
	type audit struct {
		Score        *float64 `json:"score"`
		Title        string   `json:"title"`
		DisplayValue string   `json:"displayValue"`
	}
	var report struct {
		FinalDisplayedURL string `json:"finalDisplayedUrl"`
		ConfigSettings    struct {
			ExtraHeaders map[string]string `json:"extraHeaders"`
		} `json:"configSettings"`
		RuntimeError *struct{ Code, Message string }
		Categories   map[string]struct {
			Score     *float64 `json:"score"`
			AuditRefs []struct {
				ID     string  `json:"id"`
				Weight float64 `json:"weight"`
			} `json:"auditRefs"`
		} `json:"categories"`
		Audits map[string]audit `json:"audits"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("lighthouse %s: reading its report: %v", url, err)
	}
	if report.RuntimeError != nil {
		t.Fatalf("lighthouse %s: %s: %s", url, report.RuntimeError.Code, report.RuntimeError.Message)
	}
	if report.FinalDisplayedURL != url {
		t.Fatalf("lighthouse measured %s, want %s", report.FinalDisplayedURL, url)
	}
	run := lighthouseRun{scores: map[string]int{}, failing: map[string][]string{}, cookie: report.ConfigSettings.ExtraHeaders["Cookie"]}
	for _, id := range lighthouseCategories {
		c, ok := report.Categories[id]
		if !ok || c.Score == nil {
			t.Fatalf("lighthouse %s: no %s score (the page did not load?)", url, id)
		}
		run.scores[id] = int(*c.Score*100 + 0.5)
		for _, ref := range c.AuditRefs {
			if a := report.Audits[ref.ID]; ref.Weight > 0 && a.Score != nil && *a.Score < 1 {
				run.failing[id] = append(run.failing[id], fmt.Sprintf("%s (%s: %s)", ref.ID, a.Title, a.DisplayValue))
			}
		}
	}
	var m []string
	for _, id := range []string{"first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift", "speed-index"} {
		m = append(m, id+" "+report.Audits[id].DisplayValue)
	}
	run.metrics = strings.Join(m, ", ")
	return run
}

// TestLighthouse: the landing page of each flow, as a consumer from
// Cashcat lands on it, scores 100 in Lighthouse's performance,
// accessibility, best practices and SEO (npm lighthouse 12.2.3, its
// mobile preset, Debian's Chromium).
//
// The page measured is the prefilled form at the clean URL, with the
// session cookie the token link set (sent by Lighthouse as a header): the
// token link itself is a 303 to that URL, and Lighthouse measures a
// redirected URL's redirect into the page's own load times and warns that
// the page may not be what was meant. The redirect is one round trip the
// server answers in microseconds (README, "Performance").
//
// Accessibility, best practices and SEO do not depend on timing: each is
// asserted at 100 in every run. Performance is measured on this machine
// with Lighthouse's simulated throttling, which multiplies the main-thread
// time it observes; on a 2-CPU machine shared with other tests (CI runs
// the packages in parallel) another process's work lengthens that time,
// and nothing shortens it, so the noise only lowers the score. Lighthouse's
// own guidance on variability names this ("client resource contention",
// high impact) and says to run several times. The page is measured up to
// lighthouseRuns times and its best run must score 100: a page that
// regresses (a layout shift, a render-blocking resource, more work on the
// main thread) scores under 100 in every run. Every run is logged.
// The test does not call t.Parallel: the package's parallel tests wait
// until it is done, so they do not load the machine while it measures.
// Other packages' tests do not wait: in the race pass (every package at
// once, each instrumented) all four runs of the es page scored 97–99 in
// one CI run of four, so it is not run there; .ci/run runs it alone after that pass,
// without the race detector.
func TestLighthouse(t *testing.T) {
	if raceEnabled {
		t.Skip("Lighthouse scores the CPU a page takes: not in the race pass, where every package runs at once (.ci/run runs it alone afterwards: go test -run '^TestLighthouse$' ./cmd/leadgate)")
	}
	bin := npmTool(t, "LEADGATE_LIGHTHOUSE", "lighthouse@12.2.3", filepath.Join(".bin", "lighthouse"))
	chrome := chromiumPath(t)
	g := start(t, "")
	for _, flow := range []struct{ name, path string }{
		{"us", "/?utm_source=cashcat.ph&action_token=usdemo0000000001"},
		{"es", "/?utm_source=cashcat.ph&utm_campaign=es-demo&action_token=esdemo0000000001"},
	} {
		url, cookie := landing(t, g, flow.path)
		var best lighthouseRun
		var perf []int
		for try := 1; try <= lighthouseRuns; try++ {
			run := lighthouse(t, bin, chrome, url, cookie)
			t.Logf("%s flow, run %d: %v; %s", flow.name, try, run.scores, run.metrics)
			for _, id := range lighthouseCategories[1:] {
				if run.scores[id] != 100 {
					t.Errorf("%s flow (%s): %s %d in run %d, want 100; failing: %s", flow.name, url, id, run.scores[id], try, strings.Join(run.failing[id], "; "))
				}
			}
			perf = append(perf, run.scores["performance"])
			if best.scores == nil || run.scores["performance"] > best.scores["performance"] {
				best = run
			}
			if best.scores["performance"] == 100 {
				break
			}
		}
		sort.Ints(perf)
		t.Logf("%s flow: performance best %d of %v", flow.name, best.scores["performance"], perf)
		if best.scores["performance"] != 100 {
			t.Errorf("%s flow (%s): performance %d at best of %d runs, want 100; failing: %s", flow.name, url,
				best.scores["performance"], len(perf), strings.Join(best.failing["performance"], "; "))
		}
	}
}
