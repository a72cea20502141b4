package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leadgate/leadgate/gateway/testenv"
)

// lighthouseBin is the Lighthouse CLI (npm lighthouse, installed by .ci/run
// beside axe-core): LEADGATE_LIGHTHOUSE, or the place .ci/run puts it.
func lighthouseBin(t *testing.T) string {
	t.Helper()
	path := os.Getenv("LEADGATE_LIGHTHOUSE")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "leadgate", "node_modules", ".bin", "lighthouse")
	}
	if _, err := os.Stat(path); err != nil {
		msg := "Lighthouse is not installed at " + path + ": npm install lighthouse@12.2.3 (see .ci/run), or set LEADGATE_LIGHTHOUSE"
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// lighthouseScores runs Lighthouse's mobile preset (its default) on url
// with Debian's Chromium and returns each category's score out of 100,
// with the failing audits of any category under 100.
func lighthouseScores(t *testing.T, bin, chrome, url string) (map[string]int, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, url, "--quiet", "--output=json", "--output-path=stdout",
		"--only-categories=performance,accessibility,best-practices,seo",
		"--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking --disable-component-update --disable-sync --no-first-run")
	cmd.Env = append(os.Environ(), "CHROME_PATH="+chrome, "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("lighthouse %s: %v\n%s", url, err, stderr)
	}
	var report struct {
		Categories map[string]struct {
			Score     *float64 `json:"score"`
			AuditRefs []struct {
				ID     string  `json:"id"`
				Weight float64 `json:"weight"`
			} `json:"auditRefs"`
		} `json:"categories"`
		Audits map[string]struct {
			Score *float64 `json:"score"`
			Title string   `json:"title"`
		} `json:"audits"`
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("lighthouse %s: reading its report: %v", url, err)
	}
	scores := map[string]int{}
	var failing []string
	for id, c := range report.Categories {
		if c.Score == nil {
			t.Fatalf("lighthouse %s: no %s score (the page did not load?)", url, id)
		}
		scores[id] = int(*c.Score*100 + 0.5)
		if scores[id] == 100 {
			continue
		}
		for _, ref := range c.AuditRefs {
			if a := report.Audits[ref.ID]; ref.Weight > 0 && a.Score != nil && *a.Score < 1 {
				failing = append(failing, id+": "+ref.ID+" ("+a.Title+")")
			}
		}
	}
	return scores, failing
}

// The landing page of each flow scores 100 in Lighthouse's performance,
// accessibility, best practices and SEO on its mobile preset. Performance
// is measured on this machine, which other tests load: a run under 100 is
// tried again (three runs at most) before it counts.
func TestLighthouse(t *testing.T) {
	bin := lighthouseBin(t)
	chrome := os.Getenv("LEADGATE_CHROMIUM")
	if chrome == "" {
		chrome = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(chrome); err != nil {
		msg := "Chromium is not installed at " + chrome + ": apt-get install chromium, or set LEADGATE_CHROMIUM"
		if testenv.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	g := start(t, "")
	for flow, path := range map[string]string{"us": "/", "es": "/?utm_campaign=es-demo"} {
		var scores map[string]int
		var failing []string
		for try := 1; try <= 3; try++ {
			scores, failing = lighthouseScores(t, bin, chrome, g.URL+path)
			if len(failing) == 0 && allHundred(scores) {
				break
			}
			t.Logf("%s flow, run %d: %v %s", flow, try, scores, strings.Join(failing, "; "))
		}
		for _, cat := range []string{"performance", "accessibility", "best-practices", "seo"} {
			if scores[cat] != 100 {
				t.Errorf("%s flow (%s): %s %d, want 100; failing: %s", flow, path, cat, scores[cat], strings.Join(failing, "; "))
			}
		}
		t.Logf("%s flow: %v", flow, scores)
	}
}

func allHundred(scores map[string]int) bool {
	for _, s := range scores {
		if s != 100 {
			return false
		}
	}
	return len(scores) == 4
}
